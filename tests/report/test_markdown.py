"""results/report.md lists every artifact, inlines the tables, links the figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tue_core.report.markdown import (
    ReportFigure,
    ReportTable,
    default_provenance,
    report_artifacts,
    write_markdown_report,
)
from tue_core.report.tables import build_table
from tue_core.report.writers import write_table_outputs


@pytest.fixture
def artifacts(tmp_path: Path, paper, ours, demo_scale) -> tuple[list, list]:
    tables = []
    for name in ("table2", "table4"):
        files = write_table_outputs(
            build_table(name, ours, paper=paper), tmp_path / "tables", demo_scale
        )
        tables.append(
            ReportTable(name, files["md"], tuple(p for k, p in files.items() if k != "md"))
        )
    figure_dir = tmp_path / "figures"
    figure_dir.mkdir()
    for suffix in ("png", "pdf"):  # stand-ins; the report only links them
        (figure_dir / f"figure3.{suffix}").write_bytes(b"x")
    figures = [
        ReportFigure(
            "figure3",
            "t-SNE of EMN, SN, TUE.",
            (figure_dir / "figure3.png", figure_dir / "figure3.pdf"),
        )
    ]
    return tables, figures


def test_report_lists_every_artifact_with_relative_links(tmp_path, artifacts, demo_scale) -> None:
    tables, figures = artifacts
    report = write_markdown_report(
        tmp_path / "report.md",
        tables=tables,
        figures=figures,
        scale=demo_scale,
        provenance={"code_version": "test", "inputs": {"results/x.json": "abc"}},
    )
    text = report.read_text()
    produced = report_artifacts(tables, figures)
    assert len(produced) == 2 * 2 + 1 + 2  # md+csv per table, table4.tex, png+pdf
    for path in produced:
        assert f"]({path.relative_to(tmp_path).as_posix()})" in text
    assert "![figure3](figures/figure3.png)" in text
    assert "### Table 4" in text and "80.00 (93.79)" in text  # the table is inlined
    assert "Not paper scale" in text and "- code_version: `test`" in text
    assert "  - results/x.json: `abc`" in text


def test_report_refuses_missing_artifacts(tmp_path, artifacts, demo_scale) -> None:
    tables, figures = artifacts
    ghost = ReportFigure("figure5", "UCL vs TUE", (tmp_path / "figures" / "figure5.png",))
    with pytest.raises(FileNotFoundError, match=r"figure5\.png"):
        write_markdown_report(
            tmp_path / "report.md",
            tables=tables,
            figures=[*figures, ghost],
            scale=demo_scale,
            provenance={},
        )
    assert not (tmp_path / "report.md").exists()


def test_paper_scale_report_has_no_warning(tmp_path, artifacts) -> None:
    tables, figures = artifacts
    text = write_markdown_report(
        tmp_path / "r.md", tables=tables, figures=figures, scale={"name": "paper"}, provenance={}
    ).read_text()
    assert "Not paper scale" not in text


def test_default_provenance_records_code_and_config() -> None:
    provenance = default_provenance({"seed": 0})
    assert provenance["code_version"].startswith("0.")
    assert len(provenance["config_sha256"]) == 64
    assert "numpy" in provenance["versions"]
