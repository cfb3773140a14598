"""reference_results/<scale>/: the small outputs of a scale, never its arrays."""

from __future__ import annotations

from pathlib import Path

import pytest

from tue_core import io
from tue_core.report.reference import ReferenceError, export_reference, files_to_copy

TSV = "s\th:m:s\tmax_rss\n{}\t0:00:01\t10\n"


def _results(root):
    io.atomic_write_json(root / "eval/supervised/c/clean/metrics.json", {"code_version": "v1"})
    io.atomic_write_text(root / "eval/supervised/c/clean/metrics.history.jsonl", "{}\n")
    io.atomic_write_json(root / "perturbations/c/emn/delta.json", {"code_version": "v2"})
    io.atomic_write_bytes(root / "perturbations/c/emn/delta.npz", b"\0" * 64)
    io.atomic_write_bytes(root / "data/c/train.npz", b"\0" * 64)
    io.atomic_write_text(root / "tables/table4.csv", "a,b\n")
    io.atomic_write_text(root / "benchmarks/eval/supervised/c/clean.tsv", TSV.format(30.5))
    io.atomic_write_text(root / "benchmarks/eval/supervised/c/c/emn/original.tsv", TSV.format(9.5))
    io.atomic_write_text(root / "benchmarks/perturbations/c/emn.tsv", TSV.format(100))
    return root


def test_export_copies_small_files_and_never_arrays(tmp_path) -> None:
    results = _results(tmp_path / "results")
    manifest = export_reference(results, tmp_path / "ref")
    copied = {p.relative_to(tmp_path / "ref").as_posix() for p in (tmp_path / "ref").rglob("*")}
    assert "eval/supervised/c/clean/metrics.json" in copied
    assert "perturbations/c/emn/delta.json" in copied and "tables/table4.csv" in copied
    assert not any(p.endswith(".npz") for p in copied)
    assert manifest["code_versions"] == ["v1", "v2"]
    assert manifest["rule_wall_seconds"] == {
        "eval/supervised": {"jobs": 2, "seconds": 40.0},
        "perturbations": {"jobs": 1, "seconds": 100.0},
    }
    assert io.read_json(tmp_path / "ref" / "MANIFEST.json")["files"] == manifest["files"]


def test_an_oversized_file_or_an_empty_folder_is_refused(tmp_path) -> None:
    with pytest.raises(ReferenceError, match="no such results folder"):
        files_to_copy(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReferenceError, match="no evaluation metrics or tables"):
        files_to_copy(tmp_path / "empty")
    results = _results(tmp_path / "results")
    io.atomic_write_text(results / "tables/huge.csv", "x" * (1 << 20 | 1))
    with pytest.raises(ReferenceError, match=r"huge.csv: .* over the"):
        export_reference(results, tmp_path / "ref")
    assert not (tmp_path / "ref").exists()  # checked before anything is written


def test_partial_tables_mark_unrun_cells_missing(tmp_path, monkeypatch) -> None:
    import pandas as pd

    from tue_core.report.reference import partial_tables

    config = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"
    monkeypatch.chdir(tmp_path)
    metrics = {"metrics": {"final_acc": 0.5, "best_acc": 0.6}}
    io.atomic_write_json("results/demo/eval/supervised/synthetic10/clean/metrics.json", metrics)
    written = partial_tables(config, "results/demo")
    assert Path("results/demo/tables/table4.csv") in written
    table4 = pd.read_csv("results/demo/tables/table4.csv")
    clean = table4[
        (table4["method"] == "clean")
        & (table4["evaluation"] == "supervised")
        & (table4["protected_dataset"] == "cifar10")
    ]
    assert set(clean["status"]) == {"ok"} and set(clean["ours"]) == {50.0}
    assert set(table4[table4["method"] == "EMN"]["status"]) == {"missing"}
    # the robustness grid too: its no-defense clean cell is the same supervised run
    assert Path("results/demo/tables/robustness.csv") in written
    robust = pd.read_csv("results/demo/tables/robustness.csv")
    plain = robust[(robust["run"] == "clean") & (robust["defense"] == "none")]
    plain = plain[plain["model"] == "resnet18"]
    assert list(plain["status"]) == ["ok"] and list(plain["peak"]) == [60.0]
    assert set(robust[robust["defense"] != "none"]["status"]) == {"missing"}
    with pytest.raises(ReferenceError, match="is not the results folder"):
        partial_tables(config, "results/other")


def test_restore_then_missing_lists_only_what_the_next_sitting_must_make(
    tmp_path, monkeypatch
) -> None:
    from tue_core.report.reference import missing_metrics, restore_metrics

    config = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"
    monkeypatch.chdir(tmp_path)
    done = "eval/supervised/synthetic10/clean/metrics.json"
    io.atomic_write_json(Path("ref") / done, {"metrics": {"final_acc": 0.5}})
    io.atomic_write_json(Path("results/demo") / "eval/supervised/x/clean/metrics.json", {"a": 1})
    before = len(missing_metrics(config))
    assert restore_metrics("ref", "results/demo") == [Path("results/demo") / done]
    assert restore_metrics("ref", "results/demo") == []  # nothing is overwritten
    after = missing_metrics(config)
    assert len(after) == before - 1 and f"results/demo/{done}" not in after
