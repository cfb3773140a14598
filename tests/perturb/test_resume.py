"""Every iterative generator resumes from its checkpoint with the delta of an uninterrupted run.

The kill is simulated in-process: the checkpoint's ``on_save`` hook raises after the k-th save,
i.e. right after the state of unit k reached the disk, as a SIGKILL a moment later would leave
it. (tests/workflow/test_fault_injection.py kills real jobs with SIGKILL.)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from perturb_tiny import make_dataset, tiny_config

from tue_core import io
from tue_core.perturb import PERTURBATIONS, GenerationResult, generate

DATA = make_dataset()
# (method, backbone, overrides, unit, units in the run): 4 noise passes (2 per epoch: one
# train_step per pass) or 3 EMN rounds (stop_accuracy 1.0 is never exceeded).
RESUMABLE = {
    "emn": ("emn", "simclr", {"max_rounds": 3, "stop_accuracy": 1.0}, "round", 3),
    "ucl_simclr": ("ucl", "simclr", {"epochs": 2, "train_steps": 1}, "pass", 4),
    "tue_moco": ("tue", "moco", {"epochs": 2, "train_steps": 1}, "pass", 4),
    "tue_simsiam_released": (
        "tue",
        "simsiam",
        {"epochs": 2, "train_steps": 1, "mode": "released"},
        "pass",
        4,
    ),
    "tue_patch": ("tue_patch", "simclr", {"epochs": 2, "train_steps": 1}, "pass", 4),
}
_REFERENCE: dict[str, GenerationResult] = {}


class SimulatedKillError(Exception):
    """Stands in for SIGKILL right after a checkpoint reached the disk."""


def config(name: str) -> dict[str, Any]:
    method, backbone, overrides, _, _ = RESUMABLE[name]
    return tiny_config(method, backbone, **overrides)


def reference(name: str) -> GenerationResult:
    if name not in _REFERENCE:
        _REFERENCE[name] = generate(config(name), DATA, "cpu", seed=0)
    return _REFERENCE[name]


def kill_after(save: int):
    def hook(saves: int) -> None:
        if saves == save:
            raise SimulatedKillError(f"killed after checkpoint {save}")

    return hook


def killed_generation(cfg: dict[str, Any], checkpoint: Path, after: int) -> None:
    """Run ``cfg`` until its ``after``-th checkpoint is on disk, then 'kill' it."""
    with pytest.raises(SimulatedKillError):
        generate(
            cfg, DATA, "cpu", seed=0, checkpoint_path=checkpoint, on_checkpoint=kill_after(after)
        )


def test_every_iterative_method_is_covered() -> None:
    covered = {RESUMABLE[name][0] for name in RESUMABLE}
    closed_form = {"sn", "classwise_random"}  # one draw each: nothing to resume
    assert covered == set(PERTURBATIONS.names()) - closed_form


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_killed_generation_resumes_with_the_uninterrupted_delta(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unit, units = RESUMABLE[name][3], RESUMABLE[name][4]
    expected = reference(name)
    for kill_at in range(1, units + 1):  # after every unit, the last one included
        checkpoint = tmp_path / f"k{kill_at}.pt"
        killed_generation(config(name), checkpoint, kill_at)
        assert io.load_torch(checkpoint)["count"] == kill_at
        with caplog.at_level(logging.INFO, logger="tue_core.checkpoint"):
            resumed = generate(config(name), DATA, "cpu", seed=0, checkpoint_path=checkpoint)
        assert f"after {unit} {kill_at}" in caplog.text
        assert resumed.meta["checkpoint"]["resumed_after"] == f"{unit} {kill_at}"
        assert np.array_equal(resumed.pset.delta, expected.pset.delta), f"killed at {kill_at}"
        assert resumed.meta["losses"] == expected.meta["losses"]
        assert resumed.meta["schedule"] == expected.meta["schedule"]
        assert resumed.meta["method_extra"]["history"] == expected.meta["method_extra"]["history"]
        caplog.clear()


def test_a_checkpoint_of_another_config_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = tmp_path / "ckpt.pt"
    other = {**config("emn"), "pgd_steps": 3}
    killed_generation(other, checkpoint, 2)
    with caplog.at_level(logging.WARNING, logger="tue_core.checkpoint"):
        result = generate(config("emn"), DATA, "cpu", seed=0, checkpoint_path=checkpoint)
    assert "ignoring checkpoint" in caplog.text and "config_sha256" in caplog.text
    assert result.meta["checkpoint"]["resumed_after"] is None
    assert np.array_equal(result.pset.delta, reference("emn").pset.delta)


def test_a_checkpoint_made_on_other_images_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = tmp_path / "ckpt.pt"
    killed_generation(config("emn"), checkpoint, 1)
    shifted = make_dataset(seed=1)
    with caplog.at_level(logging.WARNING, logger="tue_core.checkpoint"):
        generate(config("emn"), shifted, "cpu", seed=0, checkpoint_path=checkpoint)
    assert "differs in inputs" in caplog.text


def test_interval_throttles_saves_but_the_last_unit_is_always_saved(tmp_path: Path) -> None:
    checkpoint = tmp_path / "ckpt.pt"
    result = generate(
        config("ucl_simclr"),
        DATA,
        "cpu",
        seed=0,
        checkpoint_path=checkpoint,
        checkpoint_interval_s=3600.0,
    )
    assert result.meta["checkpoint"]["saves"] == 1  # only the forced save after the last pass
    assert io.load_torch(checkpoint)["count"] == 4
    every = generate(config("ucl_simclr"), DATA, "cpu", seed=0, checkpoint_path=tmp_path / "e.pt")
    assert every.meta["checkpoint"]["saves"] == 4
    assert np.array_equal(every.pset.delta, result.pset.delta)  # saving never changes the run


def test_a_save_killed_mid_write_leaves_the_previous_checkpoint_and_its_temp_is_cleared(
    tmp_path: Path,
) -> None:
    checkpoint = tmp_path / "ckpt.pt"
    killed_generation(config("emn"), checkpoint, 1)
    torn = tmp_path / f".{checkpoint.name}.abc123.tmp"  # what a kill during io.save_torch leaves
    torn.write_bytes(b"half a checkpoint")
    resumed = generate(config("emn"), DATA, "cpu", seed=0, checkpoint_path=checkpoint)
    assert resumed.meta["checkpoint"]["resumed_after"] == "round 1"
    assert not torn.exists()
    assert np.array_equal(resumed.pset.delta, reference("emn").pset.delta)
