"""Table builders (paper layout, paper values joined, missing / disabled cells) and writers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tue_core.report.tables import TABLE_NAMES, build_table, build_tables
from tue_core.report.writers import (
    CSV_COLUMNS,
    format_cell,
    table_latex,
    table_markdown,
    write_table_outputs,
)


def test_table_layouts_follow_the_paper(paper: pd.DataFrame) -> None:
    tables = build_tables(None, paper=paper)
    assert tables["table2"].rows == (("Original",), ("Intra-class swap",), ("Inter-class swap",))
    assert tables["table2"].columns == (
        ("CIFAR-10", "EMN"),
        ("CIFAR-10", "SN"),
        ("CIFAR-100", "EMN"),
        ("CIFAR-100", "SN"),
    )
    assert tables["table3"].rows == (("SVHN-small",), ("CIFAR-10",))
    t4 = tables["table4"]
    assert t4.rows[:2] == (("SimCLR", "Clean Data"), ("SimCLR", "EMN"))
    assert len(t4.rows) == 15 and t4.columns[:2] == (
        ("CIFAR-10", "Supervised"),
        ("CIFAR-10", "Unsupervised"),
    )
    assert ("CIFAR-100", "TUE (SimSiam)") in tables["table5"].rows
    assert tables["table5"].columns == (("Original",), ("Intra",), ("Inter",))
    assert tables["table6"].columns == (("SVHN-small",), ("CIFAR-100",), ("SVHN",))
    for name in TABLE_NAMES:  # every paper cell has exactly one position
        assert len(tables[name].cells) == len(paper[paper["table"] == name])


def test_paper_values_are_joined_and_ours_fill_cells(paper: pd.DataFrame, ours) -> None:
    t4 = build_table("table4", ours, paper=paper)
    tue = t4.cell(("SimCLR", "TUE"), ("CIFAR-10", "Supervised"))
    assert tue["paper"] == pytest.approx(10.67)
    assert tue["ours"] == pytest.approx(12.0) and tue["n_runs"] == 2  # two seeds averaged
    assert tue["diff"] == pytest.approx(12.0 - 10.67)
    assert tue["status"] == "ok"


def test_backbone_free_supervised_runs_fill_every_backbone_block(paper, ours) -> None:
    t4 = build_table("table4", ours, paper=paper)
    for backbone in ("SimCLR", "MoCo", "SimSiam"):
        cell = t4.cell((backbone, "EMN"), ("CIFAR-10", "Supervised"))
        assert cell["ours"] == pytest.approx(20.0)
    probe = t4.cell(("MoCo", "EMN"), ("CIFAR-10", "Unsupervised"))
    assert probe["status"] == "missing"  # a SimCLR probe never fills a MoCo cell


def test_missing_and_disabled_cells_are_marked(paper, ours) -> None:
    t4 = build_table("table4", ours, disabled=[{"backbone": "simsiam"}], paper=paper)
    assert t4.cell(("MoCo", "TUE"), ("CIFAR-10", "Supervised"))["status"] == "disabled"  # record
    assert t4.cell(("SimSiam", "UCL"), ("CIFAR-10", "Supervised"))["status"] == "disabled"
    assert t4.cell(("SimCLR", "SN"), ("CIFAR-10", "Unsupervised"))["status"] == "missing"
    assert t4.cell(("SimCLR", "TUE"), ("CIFAR-100", "Supervised"))["status"] == "missing"
    with pytest.raises(ValueError, match="unknown"):
        build_table("table4", ours, disabled=[{"gpu": "yes"}], paper=paper)


def test_table2_takes_its_correspondences_from_our_results(paper, ours) -> None:
    t2 = build_table("table2", ours, paper=paper)
    assert t2.cell(("Intra-class swap",), ("CIFAR-10", "EMN"))["ours"] == pytest.approx(40.0)
    assert t2.cell(("Inter-class swap",), ("CIFAR-10", "EMN"))["status"] == "missing"


def test_format_cell_shows_ours_then_paper() -> None:
    ok = {"status": "ok", "ours": 12.0, "ours_std": 1.0, "n_runs": 2, "paper": 10.67}
    assert format_cell(ok) == "12.00±1.00 (10.67)"
    assert format_cell({**ok, "n_runs": 1}) == "12.00 (10.67)"
    assert format_cell({**ok, "status": "disabled"}) == "disabled (10.67)"
    assert format_cell(None) == ""
    # 2 of 3 planned seeds measured: the mean says so
    assert format_cell({**ok, "n_missing": 1}) == "12.00±1.00 [2/3 runs] (10.67)"


def test_markdown_has_paper_layout_cells_and_scale(paper, ours, demo_scale) -> None:
    text = table_markdown(build_table("table4", ours, paper=paper), demo_scale)
    assert "| Backbone | Method | CIFAR-10 Supervised | CIFAR-10 Unsupervised |" in text
    assert "| SimCLR | Clean Data | 80.00 (93.79) | 70.00 (90.04) |" in text
    assert "disabled (10.06)" in text and "missing (" in text
    assert "**Scale:** demo" in text and "NOT paper scale" in text
    note = table_markdown(build_table("table5", ours, paper=paper), demo_scale)
    assert "33.91) [1]" in note and "[1] paper note: table2 prints 30.15" in note


def test_latex_table4_groups_columns_and_escapes(paper, ours, demo_scale) -> None:
    tex = table_latex(build_table("table4", ours, paper=paper), demo_scale)
    assert r"\multicolumn{2}{c}{CIFAR-10}" in tex and r"\cmidrule(lr){3-4}" in tex
    assert r"\toprule" in tex and tex.count(r"\midrule") == 3  # header + 2 backbone breaks
    assert r"accuracy (\%)" in tex
    assert "SimCLR & Clean Data & 80.00 (93.79)" in tex
    assert "Scale: demo" in tex


def test_write_table_outputs_csv_one_row_per_cell(tmp_path: Path, paper, ours, demo_scale) -> None:
    t4 = build_table("table4", ours, paper=paper)
    files = write_table_outputs(t4, tmp_path, demo_scale)
    assert sorted(files) == ["csv", "md", "tex"]
    frame = pd.read_csv(files["csv"], keep_default_na=False)
    assert list(frame.columns) == list(CSV_COLUMNS) and len(frame) == 60
    row = frame[(frame["row"] == "SimCLR / TUE") & (frame["column"] == "CIFAR-10 / Supervised")]
    assert float(row["diff"].iloc[0]) == pytest.approx(1.33)
    assert set(frame["scale_name"]) == {"demo"}
    t2 = write_table_outputs(build_table("table2", ours, paper=paper), tmp_path, demo_scale)
    assert sorted(t2) == ["csv", "md"]  # LaTeX only for Table 4 by default
    with pytest.raises(ValueError, match="name"):
        write_table_outputs(t4, tmp_path, {"description": "no name"})


def test_cells_outside_the_enabled_set_read_disabled(paper, ours) -> None:
    enabled = [  # what the planner would list: Table 2's CIFAR-10 EMN column only
        {
            "table": "table2",
            "protected_dataset": "cifar10",
            "source_dataset": "cifar10",
            "method": "EMN",
            "backbone": "",
            "correspondence": corr,
            "evaluation": "supervised",
        }
        for corr in ("original", "intra", "inter")
    ]
    t2 = build_table("table2", ours, enabled=enabled, paper=paper)
    assert t2.cell(("Inter-class swap",), ("CIFAR-10", "EMN"))["status"] == "missing"
    assert t2.cell(("Intra-class swap",), ("CIFAR-10", "SN"))["status"] == "disabled"
    assert t2.cell(("Original",), ("CIFAR-10", "SN"))["ours"] == pytest.approx(15.0)  # has a number
    t5 = build_table("table5", ours, enabled=enabled, paper=paper)  # the table must match too
    assert t5.cell(("CIFAR-10", "EMN"), ("Inter",))["status"] == "disabled"


def test_one_run_listed_by_several_tables_counts_once(paper, ours) -> None:
    shared = ours[ours["method"] == "EMN"].assign(table="table2")
    both = pd.concat([ours, shared.assign(table="table5"), shared], ignore_index=True)
    cell = build_table("table5", both, paper=paper).cell(("CIFAR-10", "EMN"), ("Original",))
    assert cell["n_runs"] == 1 and cell["ours"] == pytest.approx(20.0)
