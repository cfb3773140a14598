"""The packaged paper numbers and building our results frame from per-run records."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tue_core import io
from tue_core.report.collect import aggregate_results, collect_results
from tue_core.report.paper import KEY_COLUMNS, expected_cells, load_paper_results

SHARED_CSV = Path(__file__).resolve().parents[3] / "shared" / "paper" / "paper_results.csv"


def test_packaged_paper_results_load_with_known_cells(paper: pd.DataFrame) -> None:
    counts = paper["table"].value_counts().to_dict()
    assert counts == {
        "table2": 12,
        "table3": 4,
        "table4": 60,
        "table5": 30,
        "table6": 15,
        "figure7": 8,
    }
    emn = paper[(paper["table"] == "table2") & (paper["method"] == "EMN")]
    assert emn["accuracy"].iloc[0] == pytest.approx(15.88)
    assert (paper[paper["table"] == "table2"]["backbone"] == "").all()  # empty, not NaN


@pytest.mark.skipif(not SHARED_CSV.is_file(), reason="shared paper folder not present")
def test_packaged_copy_equals_the_shared_file() -> None:
    packaged = Path(__file__).resolve().parents[2] / "tue_core" / "report" / "paper_results.csv"
    assert packaged.read_bytes() == SHARED_CSV.read_bytes()


def test_expected_cells_keep_paper_order_and_reject_unknown_tables(paper: pd.DataFrame) -> None:
    cells = expected_cells("table2", paper)
    assert list(cells["correspondence"][:3]) == ["original", "intra", "inter"]
    assert set(cells.columns) >= {*KEY_COLUMNS, "paper", "note"}
    with pytest.raises(KeyError, match="table9"):
        expected_cells("table9", paper)


def test_load_paper_results_rejects_unknown_vocabulary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "table,protected_dataset,source_dataset,method,backbone,correspondence,evaluation,accuracy\n"
        "table2,cifar10,cifar10,XYZ,,original,supervised,1.0\n"
    )
    with pytest.raises(ValueError, match="method"):
        load_paper_results(bad)


def _record(**extra: object) -> dict:
    return {
        "protected_dataset": "cifar10",
        "source_dataset": "cifar10",
        "method": "TUE",
        "backbone": "simclr",
        "correspondence": "original",
        "evaluation": "supervised",
        **extra,
    }


def _sidecar(tmp_path: Path, name: str, metrics: dict) -> Path:
    return io.atomic_write_json(tmp_path / name, {"kind": "eval", "metrics": metrics})


def test_collect_reads_fraction_metrics_as_percent(tmp_path: Path) -> None:
    path = _sidecar(tmp_path, "run.json", {"final_acc": 0.1234, "best_acc": 0.2})
    frame = collect_results([_record(metrics_path=str(path), seed=0)])
    assert frame["accuracy"].iloc[0] == pytest.approx(12.34)
    assert frame["best_accuracy"].iloc[0] == pytest.approx(20.0)
    best = collect_results([_record(metrics_path=str(path))], prefer="best")
    assert best["accuracy"].iloc[0] == pytest.approx(20.0)


def test_collect_accepts_percent_accuracy_and_status_records() -> None:
    frame = collect_results(
        [_record(accuracy=55.5), _record(status="disabled"), _record(status="missing")]
    )
    assert frame["accuracy"].iloc[0] == pytest.approx(55.5)
    assert list(frame["status"]) == ["ok", "disabled", "missing"]
    assert frame["accuracy"].iloc[1:].isna().all()


def test_collect_rejects_bad_records(tmp_path: Path) -> None:
    percent = _sidecar(tmp_path, "pct.json", {"final_acc": 55.0})
    with pytest.raises(ValueError, match="fraction"):
        collect_results([_record(metrics_path=str(percent))])
    with pytest.raises(KeyError, match="evaluation"):
        collect_results([{k: v for k, v in _record(accuracy=1).items() if k != "evaluation"}])
    with pytest.raises(ValueError, match="method"):
        collect_results([_record(method="XYZ", accuracy=1)])
    with pytest.raises(ValueError, match="percentage"):
        collect_results([_record(accuracy=150)])
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        collect_results([_record(metrics_path=str(tmp_path / "nope.json"))])


def test_collect_marks_absent_metrics_missing_when_allowed(tmp_path: Path) -> None:
    frame = collect_results([_record(metrics_path=str(tmp_path / "nope.json"))], missing_ok=True)
    assert frame["status"].iloc[0] == "missing"


def test_collect_treats_nan_keys_from_a_dataframe_as_empty() -> None:
    frame = pd.DataFrame([_record(backbone=np.nan, method="EMN", accuracy=10.0)])
    assert collect_results(frame)["backbone"].iloc[0] == ""


def test_aggregate_averages_seeds_and_keeps_status() -> None:
    frame = collect_results(
        [
            _record(accuracy=10.0, seed=0),
            _record(accuracy=14.0, seed=1),
            _record(backbone="moco", status="disabled"),
        ]
    )
    agg = aggregate_results(frame).set_index("backbone")
    assert agg.loc["simclr", "ours"] == pytest.approx(12.0)
    assert agg.loc["simclr", "ours_std"] == pytest.approx(2.0)
    assert agg.loc["simclr", "n_runs"] == 2
    assert agg.loc["moco", "status"] == "disabled"
    assert math.isnan(agg.loc["moco", "ours"])
    assert agg.loc["simclr", "n_missing"] == 0


def test_aggregate_counts_planned_runs_without_a_number(tmp_path: Path) -> None:
    """A seed whose metrics file is not there yet: the mean is of the others, and says so."""
    frame = collect_results(
        [
            _record(accuracy=10.0, seed=0),
            _record(metrics_path=str(tmp_path / "seed1" / "metrics.json"), seed=1),
        ],
        missing_ok=True,
    )
    cell = aggregate_results(frame).iloc[0]
    assert cell["status"] == "ok" and cell["ours"] == pytest.approx(10.0)
    assert cell["n_runs"] == 1 and cell["n_missing"] == 1
