"""tables/extra.{csv,md}: each run's accuracy beside its perturbation's diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tue_core import io
from tue_core.perturb.artifact import PerturbationSet
from tue_core.perturb.registry import GenerationResult
from tue_core.report.extra import EXTRA_COLUMNS, write_extra_table


def _perturbation(path, mode: str, csd: float) -> None:
    """A sidecar written by the generator's own save path (so the format cannot drift)."""
    pset = PerturbationSet(
        delta=np.zeros((4, 3, 8, 8), np.float32), labels=np.arange(4) % 2, eps=8 / 255, norm="linf"
    )
    meta = {
        "mode": mode,
        "csd_whole_set": csd,
        "linear_separability": {"train_accuracy": 1.0, "heldout_accuracy": 0.75},
        "losses": {},
        "device": "cpu",
        "runtime_seconds": 12.5,
    }
    GenerationResult(pset=pset, meta=meta, config={"method": "tue"}).save(path)


def _cell(tmp_path, run: str) -> dict:
    return {
        "table": "extra",
        "protected_dataset": "cifar10",
        "source_dataset": "cifar10",
        "method": "TUE",
        "backbone": "simclr",
        "correspondence": "original",
        "evaluation": "supervised",
        "metrics_path": str(tmp_path / run / "metrics.json"),
        "run": run,
        "delta_sidecar": str(tmp_path / run / "delta.json"),
    }


def test_each_row_reads_its_accuracy_and_its_perturbation_diagnostics(tmp_path, demo_scale):
    _perturbation(tmp_path / "tue_a" / "delta.npz", "released", 0.01)
    _perturbation(tmp_path / "tue_b" / "delta.npz", "paper", 3.5)
    io.atomic_write_json(
        tmp_path / "tue_a" / "metrics.json", {"metrics": {"final_acc": 0.2, "best_acc": 0.4}}
    )
    cells = [_cell(tmp_path, "tue_a"), _cell(tmp_path, "tue_b")]
    paths = write_extra_table(cells, tmp_path / "tables", demo_scale)

    frame = pd.read_csv(paths["csv"])
    assert tuple(frame.columns) == EXTRA_COLUMNS
    first, second = frame.to_dict("records")
    assert (first["run"], first["mode"], first["status"]) == ("tue_a", "released", "ok")
    assert (first["ours"], first["ours_best"], first["csd_whole_set"]) == (20.0, 40.0, 0.01)
    assert (first["separability_train"], first["separability_heldout"]) == (100.0, 75.0)
    assert first["generation_seconds"] == 12.5
    assert second["status"] == "missing" and math.isnan(second["ours"])  # no metrics yet
    text = paths["md"].read_text()
    assert (
        "| CIFAR-10 | TUE (SimCLR) | `tue_a` | Original | released | 20.00 | 0.01 "
        "| 100.00 / 75.00 |" in text
    )
    assert "`tue_b` | Original | paper | missing | 3.5 |" in text


def test_a_clean_row_has_accuracy_and_no_perturbation_columns(tmp_path, demo_scale):
    io.atomic_write_json(tmp_path / "clean.json", {"metrics": {"final_acc": 0.9, "best_acc": 0.9}})
    cell = {**_cell(tmp_path, ""), "method": "clean", "backbone": "", "delta_sidecar": ""}
    cell["metrics_path"] = str(tmp_path / "clean.json")
    paths = write_extra_table([cell], tmp_path / "tables", demo_scale)
    row = pd.read_csv(paths["csv"]).iloc[0]
    assert row["ours"] == 90.0 and math.isnan(row["csd_whole_set"])
    assert "| CIFAR-10 | Clean Data | - | Original |  | 90.00 | - | - |" in paths["md"].read_text()
