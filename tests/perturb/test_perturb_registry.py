"""The contract every registered method keeps (code-style-anchors §3.2), and the artifact it writes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from perturb_tiny import make_dataset, tiny_config

from tue_core import io
from tue_core.data.base import PreparedDataset
from tue_core.perturb import PERTURBATIONS, GenerationResult, generate
from tue_core.perturb.artifact import load_perturbation

DATA = make_dataset()
_CACHE: dict[tuple[str, str], GenerationResult] = {}


def run(method: str, backbone: str = "simclr", **overrides: Any) -> GenerationResult:
    """Generate once per (method, backbone) with seed 0 and reuse it across tests."""
    key = (method, backbone)
    if overrides:
        return generate(tiny_config(method, backbone, **overrides), DATA, "cpu", seed=0)
    if key not in _CACHE:
        _CACHE[key] = generate(tiny_config(method, backbone), DATA, "cpu", seed=0)
    return _CACHE[key]


def check_invariants(result: GenerationResult, data: PreparedDataset) -> None:
    delta = result.pset.delta
    assert delta.dtype == np.float32 and delta.shape == (len(data), 3, 16, 16)
    assert np.array_equal(result.pset.labels, data.labels)
    if result.pset.norm == "linf":
        assert np.abs(delta).max() <= result.pset.eps + 1e-6
    else:
        radius = result.meta["method_extra"]["l2_radius"]
        assert np.linalg.norm(delta.reshape(len(data), -1), axis=1).max() <= radius * (1 + 1e-5)
    perturbed = data.images.transpose(0, 3, 1, 2) / 255.0 + delta
    assert perturbed.min() >= -1e-6 and perturbed.max() <= 1 + 1e-6
    assert np.abs(delta).max() > 0


@pytest.mark.parametrize("name", PERTURBATIONS.names())
def test_contract(name: str) -> None:
    first = run(name)
    check_invariants(first, DATA)
    again = generate(tiny_config(name), DATA, "cpu", seed=0)
    assert np.array_equal(first.pset.delta, again.pset.delta)  # same seed, same delta on CPU
    meta = first.meta
    assert meta["method"] == name and meta["seed"] == 0
    assert math.isfinite(meta["csd_whole_set"])
    assert 0 <= meta["linear_separability"]["train_accuracy"] <= 1


@pytest.mark.parametrize("backbone", ["simclr", "moco", "simsiam"])
def test_tue_paper_mode_every_backbone(backbone: str) -> None:
    result = run("tue", backbone)
    check_invariants(result, DATA)
    extra = result.meta["method_extra"]
    assert (extra["mode"], extra["ssl_weight"]) == ("paper", 1.0)
    schedule = result.meta["schedule"]
    assert schedule["s2_uses_network"] is True
    assert schedule["noise_passes"] == 1  # 2 batches of 12, train_steps 2 -> one S2 pass
    assert schedule["pgd_steps_per_sample"] == 2


def test_tue_released_simclr_runs_csd_only() -> None:
    result = run("tue", "simclr", mode="released", pgd_steps=4)
    assert result.meta["method_extra"]["ssl_weight"] == 0.0
    assert result.meta["schedule"]["s2_uses_network"] is False
    losses = result.meta["losses"]
    assert losses["pgd_loss_last_step"] < losses["pgd_loss_first_step"]  # CSD goes down


def test_seed_changes_delta() -> None:
    other = generate(tiny_config("ucl"), DATA, "cpu", seed=1)
    assert not np.array_equal(run("ucl").pset.delta, other.pset.delta)


def test_ucl_moco() -> None:
    result = run("ucl", "moco")
    check_invariants(result, DATA)
    assert result.meta["schedule"]["drop_last"] is True
    assert result.meta["schedule"]["pgd_steps_per_pass"] == 2


def test_emn_records_its_stop() -> None:
    stopped = run("emn", stop_accuracy=1e-6)
    assert stopped.meta["schedule"]["stop_reason"] == "stop_accuracy"
    assert stopped.meta["schedule"]["rounds"] == 1
    capped = run("emn")  # a 2-round cap cannot reach 100% on random images
    assert capped.meta["schedule"]["stop_reason"] == "max_rounds"
    assert capped.meta["schedule"]["rounds"] == 2


def test_saved_artifact_and_sidecar(tmp_path) -> None:
    result = run("tue", "simclr")
    path = result.save(tmp_path / "tue.npz")
    loaded = load_perturbation(path)
    assert np.array_equal(loaded.delta, result.pset.delta)
    sidecar = io.read_json(io.sidecar_path(path))
    generation = sidecar["extra"]["generation"]
    for key in (
        "method",
        "backbone",
        "mode",
        "dataset",
        "eps",
        "seed",
        "schedule",
        "losses",
        "csd_whole_set",
        "linear_separability",
        "runtime_seconds",
        "started_at",
        "device",
    ):
        assert key in generation, key
    # the generation's start, not the save's
    assert sidecar["started_at"] == generation["started_at"]
    assert sidecar["wall_seconds"] == generation["runtime_seconds"]
    assert generation["mode"] == "paper" and generation["backbone"] == "simclr"
    assert sidecar["config"]["method"] == "tue" and sidecar["seed"] == 0
    assert sidecar["device"].startswith("cpu")
    assert sidecar["extra"]["perturbation"]["shape"] == [len(DATA), 3, 16, 16]


def test_classwise_random_gives_every_image_its_class_pattern() -> None:
    result = run("classwise_random")
    delta, labels = result.pset.delta, DATA.labels
    clean = DATA.images.transpose(0, 3, 1, 2) / 255.0
    for cls in np.unique(labels):
        rows = delta[labels == cls]
        inside = (clean[labels == cls] > 8 / 255 + 1e-6) & (clean[labels == cls] < 1 - 8 / 255)
        # away from the [0, 1] bounds every image of a class carries the same +-eps pattern
        reference = np.where(inside.all(axis=0), rows[0], 0)
        assert np.allclose(np.where(inside.all(axis=0), rows, 0), reference, atol=1e-6)
        assert np.allclose(np.abs(rows[inside]), 8 / 255, atol=1e-6)
    assert result.meta["linear_separability"]["train_accuracy"] == 1.0
