"""benchmarks.seed_rerun retrains a recorded cell with another seed, and refuses changed inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tue_core import io, jobs
from tue_core.data import prepare_dataset
from tue_core.data.config import SyntheticSpec

ROOT = Path(__file__).resolve().parents[2]
SUPERVISED = {"epochs": 1, "batch_size": 16, "width": 4}
UERASER_LITE = {"name": "ueraser", "variant": "lite"}


@pytest.fixture(autouse=True)
def _repo_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # `benchmarks` is a folder of the checkout


@pytest.fixture
def cell(tmp_path: Path) -> Path:
    """A measured robustness cell (seed 0, UEraser lite) on tiny synthetic data."""
    spec = SyntheticSpec(
        source="synthetic", num_classes=3, train_per_class=8, test_per_class=2, image_size=8
    )
    split = {s: tmp_path / "data" / "toy" / f"{s}.npz" for s in ("train", "test")}
    prepare_dataset(spec, "toy", split)
    metrics = tmp_path / "eval" / "robust" / "ueraser_lite" / "toy" / "clean" / "metrics.json"
    jobs.evaluate_supervised(
        split["train"], split["test"], metrics, SUPERVISED, device="cpu", defense=UERASER_LITE
    )
    return metrics


def test_rerun_keeps_the_cell_and_changes_the_seed(cell: Path, tmp_path: Path) -> None:
    from benchmarks import seed_rerun

    out = tmp_path / "spread.json"
    assert seed_rerun.main([str(cell), "--seed", "3", "--out", str(out)]) == 0
    (row,) = io.read_json(out)["cells"]
    assert row["recorded_seed"] == 0 and row["seed"] == 3
    rerun = io.read_json(row["rerun_sidecar"])
    recorded = io.read_json(cell)
    assert rerun["seed"] == 3 and rerun["config"] == recorded["config"]
    assert rerun["inputs"] == recorded["inputs"]
    assert rerun["extra"]["defense"]["parameters"] == recorded["extra"]["defense"]["parameters"]
    assert Path(row["rerun_sidecar"]).name == "robust-ueraser_lite-toy-clean-seed3.json"


def test_a_changed_input_is_refused_before_training(cell: Path, tmp_path: Path) -> None:
    from benchmarks import seed_rerun

    train = next(p for p in io.read_json(cell)["inputs"] if p.endswith("train.npz"))
    Path(train).write_bytes(Path(train).read_bytes() + b"\0")
    out = tmp_path / "spread.json"
    with pytest.raises(seed_rerun.CellError, match=r"train\.npz changed since the cell"):
        seed_rerun.main([str(cell), "--seed", "1", "--out", str(out)])
    assert not out.exists() and not out.with_suffix("").exists()
