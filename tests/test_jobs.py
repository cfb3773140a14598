"""Job entry points chained as the workflow chains them, on tiny synthetic data (no Snakemake)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from tue_core import io, jobs
from tue_core.data import load_prepared, prepare_dataset
from tue_core.data.config import SyntheticSpec
from tue_core.perturb.artifact import PerturbationFileError, load_perturbation

SUPERVISED = {"epochs": 1, "batch_size": 16, "width": 4}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("jobs")
    paths = {}
    for name, classes in (("ten", 4), ("more", 6)):
        spec = SyntheticSpec(
            source="synthetic",
            num_classes=classes,
            train_per_class=6,
            test_per_class=2,
            image_size=8,
        )
        out = {s: root / name / f"{s}.npz" for s in ("train", "test")}
        prepare_dataset(spec, name, out)
        paths.update({f"{name}_{s}": p for s, p in out.items()})
    paths["root"] = root
    return paths


def assert_times_the_training(record: dict, before: datetime) -> None:
    """The sidecar's ``started_at``/``wall_seconds`` are the job's, not those of writing the file."""
    started = datetime.fromisoformat(record["started_at"])
    assert before <= started <= before + timedelta(seconds=5), (record["started_at"], before)
    assert record["wall_seconds"] > 0 and record["wall_seconds"] == record["extra"]["wall_seconds"]


def test_generate_swap_transfer_evaluate(data: dict[str, Path]) -> None:
    root = data["root"]
    delta = root / "perturbations" / "sn" / "delta.npz"
    jobs.generate_perturbation(
        data["ten_train"], delta, {"method": "sn", "patch_size": 4}, seed=0, device="cpu"
    )
    assert io.read_json(delta.with_suffix(".json"))["kind"] == "perturbation"

    jobs.swap_perturbation(delta, data["ten_train"], root / "swap", "inter", seed=0)
    swapped = load_perturbation(root / "swap" / "perturbation.npz")
    original = load_perturbation(delta)
    assert not np.array_equal(swapped.delta, original.delta)
    assert np.array_equal(swapped.labels, original.labels)

    jobs.transfer_perturbation(
        delta, data["more_train"], root / "transfer", {"strategy": "auto"}, seed=0
    )
    transferred = load_perturbation(root / "transfer" / "perturbation.npz")
    assert len(transferred) == len(load_prepared(data["more_train"]))

    metrics = root / "eval" / "metrics.json"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    jobs.evaluate_supervised(
        data["ten_train"],
        data["ten_test"],
        metrics,
        SUPERVISED,
        delta_path=root / "swap" / "perturbation.npz",
        device="cpu",
    )
    record = io.read_json(metrics)
    assert 0.0 <= record["metrics"]["final_acc"] <= 1.0  # fractions; the report shows percent
    assert str(root / "swap" / "perturbation.npz") in record["inputs"]
    assert metrics.with_suffix(".history.jsonl").read_text().count("\n") == 1
    assert_times_the_training(record, before)
    assert not jobs.default_checkpoint(metrics).exists()  # removed once the result is written


def test_poisoning_refuses_a_perturbation_of_another_dataset(data: dict[str, Path]) -> None:
    root = data["root"]
    delta = root / "other" / "delta.npz"
    jobs.generate_perturbation(
        data["more_train"], delta, {"method": "sn", "patch_size": 4}, seed=0, device="cpu"
    )
    with pytest.raises(
        PerturbationFileError, match=r"perturbation set has 36 rows but dataset ten/train has 24"
    ):
        jobs.evaluate_supervised(
            data["ten_train"],
            data["ten_test"],
            root / "bad" / "metrics.json",
            SUPERVISED,
            delta_path=delta,
            device="cpu",
        )
    assert not (root / "bad" / "metrics.json").exists()


def test_linear_probe_job_writes_fractions_and_cleans_up(data: dict[str, Path]) -> None:
    metrics = data["root"] / "probe" / "metrics.json"
    setup = {
        "ssl": {"name": "simclr"},
        "pretrain": {"epochs": 1, "batch_size": 8},
        "probe": {"epochs": 1, "batch_size": 8, "augment": "none"},
    }
    before = datetime.now(timezone.utc).replace(microsecond=0)
    jobs.evaluate_linear_probe(
        data["ten_train"], data["ten_test"], metrics, setup, model_width=4, device="cpu"
    )
    record = io.read_json(metrics)
    assert_times_the_training(record, before)
    assert 0.0 <= record["metrics"]["best_acc"] <= 1.0 and record["extra"]["poison"] == "clean"
    assert record["extra"]["ssl"] == "simclr" and record["extra"]["model_width"] == 4
    assert not list(metrics.parent.glob(".checkpoint*"))
