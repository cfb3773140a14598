"""``results/report.md``: the paper's tables next to ours, the figures, the scale and provenance.

The report is built from files already on disk (what the table and figure rules wrote), so it
can run as its own Snakemake job: each table's Markdown is inlined, each figure's PNG is shown
and its PDF linked, and a closing list names every artifact with its sha256, all with paths
relative to the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tue_core import io
from tue_core.report.scale import PAPER_SCALE_SUMMARY, is_paper_scale, scale_fields
from tue_core.report.writers import pretty_name

DEFAULT_TITLE = "Transferable Unlearnable Examples (Ren et al., ICLR 2023): reproduction report"


@dataclass(frozen=True)
class ReportTable:
    """A written table: its Markdown (inlined) and other files (CSV, LaTeX; linked)."""

    name: str  # e.g. "table4"
    markdown: Path
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ReportFigure:
    """A written figure: caption and files (the first PNG is shown, every file is linked)."""

    name: str  # e.g. "figure3"
    caption: str
    files: tuple[Path, ...] = field(default_factory=tuple)


def report_artifacts(tables: Sequence[ReportTable], figures: Sequence[ReportFigure]) -> list[Path]:
    """Every file the report refers to, tables first, in the given order."""
    paths: list[Path] = []
    for table in tables:
        paths += [Path(table.markdown), *map(Path, table.files)]
    for figure in figures:
        paths += list(map(Path, figure.files))
    return list(dict.fromkeys(paths))


def default_provenance(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Code version (git SHA, ``-dirty``), library versions, time, and the config's sha256."""
    provenance: dict[str, Any] = {
        "code_version": io.code_version(),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": io.library_versions(),
    }
    if config is not None:
        provenance["config_sha256"] = io.sha256_config(config)
    return provenance


def _link(target: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), base.resolve())).as_posix()


def _bullets(mapping: Mapping[str, Any], depth: int = 0) -> list[str]:
    lines = []
    for key, value in mapping.items():
        pad = "  " * depth
        if isinstance(value, Mapping):
            lines.append(f"{pad}- {key}:")
            lines += _bullets(value, depth + 1)
        else:
            lines.append(f"{pad}- {key}: `{value}`")
    return lines


def _scale_section(scale: Mapping[str, Any]) -> list[str]:
    lines = ["## Scale", ""]
    if not is_paper_scale(scale):
        lines += [
            f"> **Not paper scale.** These numbers come from the `{scale['name']}` scale; "
            f"compare their trends, not their values, with {PAPER_SCALE_SUMMARY}.",
            "",
        ]
    return lines + [f"- {label}: {text}" for label, text in scale_fields(scale)] + [""]


def _table_section(table: ReportTable, base: Path) -> list[str]:
    text = Path(table.markdown).read_text(encoding="utf-8").rstrip()
    links = [f"[{Path(f).name}]({_link(f, base)})" for f in (table.markdown, *table.files)]
    return [text, "", "Files: " + " · ".join(links), ""]


def _figure_section(figure: ReportFigure, base: Path) -> list[str]:
    lines = [f"### {pretty_name(figure.name)}", "", figure.caption, ""]
    pngs = [f for f in figure.files if Path(f).suffix == ".png"]
    if pngs:
        lines += [f"![{figure.name}]({_link(pngs[0], base)})", ""]
    links = [f"[{Path(f).suffix.lstrip('.').upper()}]({_link(f, base)})" for f in figure.files]
    return [*lines, "Files: " + " · ".join(links), ""]


def _artifact_section(paths: list[Path], base: Path) -> list[str]:
    lines = ["## Artifacts", "", "| file | sha256 |", "|:--|:--|"]
    lines += [
        f"| [{_link(p, base)}]({_link(p, base)}) | `{io.sha256_file(p)[:16]}` |" for p in paths
    ]
    return [*lines, ""]


def write_markdown_report(
    path: str | os.PathLike[str],
    *,
    tables: Sequence[ReportTable],
    figures: Sequence[ReportFigure],
    scale: Mapping[str, Any],
    provenance: Mapping[str, Any],
    title: str = DEFAULT_TITLE,
) -> Path:
    """Write the Markdown report (tables inline, figures shown and linked, scale, provenance).

    Args:
        path: where to write, e.g. ``results/report.md``; links are relative to its folder.
        tables, figures: the produced artifacts (every file must exist).
        scale: the scale mapping (see :mod:`tue_core.report.scale`).
        provenance: e.g. :func:`default_provenance` plus the inputs' sha256.
        title: the report's heading.

    Raises:
        FileNotFoundError: naming every referenced file that does not exist (nothing written).
    """
    path = Path(path)
    artifacts = report_artifacts(tables, figures)
    absent = [str(p) for p in artifacts if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"report artifacts do not exist: {absent}")
    base = path.parent
    lines = [f"# {title}", ""]
    lines += _scale_section(scale)
    lines += ["## Provenance", "", *_bullets(provenance), ""]
    lines += ["## Tables", ""] if tables else []
    for table in tables:
        lines += _table_section(table, base)
    lines += ["## Figures", ""] if figures else []
    for figure in figures:
        lines += _figure_section(figure, base)
    lines += _artifact_section(artifacts, base)
    return io.atomic_write_text(path, "\n".join(lines))
