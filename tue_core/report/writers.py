"""Write a :class:`~tue_core.report.tables.ResultTable` as CSV, Markdown and LaTeX.

* CSV (machine-readable): one row per paper cell with ``ours``, ``paper`` and ``diff`` (ours
  minus paper, percentage points), the status, the cell's key and the scale it was produced at
  (``scale_name`` and a one-line ``scale`` column, so the file stands on its own).
* Markdown (human-readable): the paper's layout, each cell ``ours (paper)``; a cell whose
  experiment the config disabled reads ``disabled (paper)``, one that was not produced
  ``missing (paper)``. The caption, a legend and the scale follow the table.
* LaTeX (Table 4 in the paper, any table here): booktabs, grouped column headers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tue_core import io
from tue_core.report.join import JOINED_COLUMNS
from tue_core.report.scale import check_scale, format_scale
from tue_core.report.tables import Label, ResultTable

# The joined cell (keys, ours, paper, diff, status...) placed in the paper's layout, plus the scale.
CSV_COLUMNS: tuple[str, ...] = (
    "table",
    "row",
    "column",
    *JOINED_COLUMNS[1:],
    "scale_name",
    "scale",
)
LEGEND = (
    "Each cell: ours (paper), test accuracy in %. `disabled`: the config switched this "
    "experiment off; `missing`: enabled but no result was produced."
)


def pretty_name(name: str) -> str:
    """``table4`` -> ``Table 4``, ``figure7`` -> ``Figure 7``; other names unchanged."""
    for prefix in ("table", "figure"):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return f"{prefix.capitalize()} {name[len(prefix) :]}"
    return name


def table_frame(table: ResultTable, scale: Mapping[str, Any]) -> pd.DataFrame:
    """The CSV content: :data:`CSV_COLUMNS`, one row per cell, in the paper's order."""
    check_scale(scale)
    frame = table.cells.copy()
    frame["row"] = [" / ".join(label) for label in frame["row"]]
    frame["column"] = [" / ".join(label) for label in frame["column"]]
    for col in ("ours", "ours_std", "ours_best", "diff"):
        frame[col] = frame[col].astype(float).round(4)
    frame["scale_name"] = str(scale["name"])
    frame["scale"] = format_scale(scale)
    return frame[list(CSV_COLUMNS)]


def write_table_csv(table: ResultTable, path: str | os.PathLike[str], scale: Mapping) -> Path:
    return io.atomic_write_text(path, table_frame(table, scale).to_csv(index=False))


def format_cell(cell: Mapping[str, Any] | None, digits: int = 2) -> str:
    """``ours (paper)``; ``ours±std (paper)`` over several runs, with ``[n/m runs]`` while some
    planned runs have no number yet; ``disabled/missing (paper)``."""
    if cell is None:
        return ""
    paper = f"{cell['paper']:.{digits}f}"
    if cell["status"] != "ok":
        return f"{cell['status']} ({paper})"
    ours = f"{cell['ours']:.{digits}f}"
    if cell["n_runs"] > 1 and not math.isnan(cell["ours_std"]):
        ours += f"±{cell['ours_std']:.{digits}f}"
    absent = int(cell.get("n_missing", 0))
    if absent:
        ours += f" [{cell['n_runs']}/{cell['n_runs'] + absent} runs]"
    return f"{ours} ({paper})"


def _note_numbers(table: ResultTable) -> dict[str, int]:
    notes = [n for n in table.cells["note"] if n]
    return {note: i + 1 for i, note in enumerate(dict.fromkeys(notes))}


def _summary(table: ResultTable) -> str:
    counts = table.cells["status"].value_counts()
    parts = [f"{int(counts.get(s, 0))} {s}" for s in ("ok", "disabled", "missing")]
    partial = int((table.cells["n_missing"] > 0).sum())
    if partial:
        parts[0] += f" ({partial} of them a mean of fewer runs than planned)"
    diffs = table.cells["diff"].dropna()
    gap = f"; mean |ours - paper| = {diffs.abs().mean():.2f} pp" if len(diffs) else ""
    return f"{len(table.cells)} cells: {', '.join(parts)}{gap}."


def _row_labels(rows: tuple[Label, ...]) -> list[list[str]]:
    """Row labels with a repeated leading level left blank (the paper prints it once)."""
    shown, previous = [], None
    for label in rows:
        head = list(label)
        if len(label) > 1 and previous is not None and label[0] == previous[0]:
            head[0] = ""
        shown.append(head)
        previous = label
    return shown


def table_markdown(table: ResultTable, scale: Mapping[str, Any], digits: int = 2) -> str:
    """The table in Markdown, with caption, legend, notes and the scale underneath."""
    check_scale(scale)
    notes = _note_numbers(table)
    header = [*table.layout.row_header, *(" ".join(col) for col in table.columns)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":--"] * len(table.layout.row_header) + ["--:"] * len(table.columns)) + "|",
    ]
    for shown, row in zip(_row_labels(table.rows), table.rows, strict=True):
        values = []
        for column in table.columns:
            cell = table.cell(row, column)
            text = format_cell(cell, digits)
            if cell is not None and cell["note"]:
                text += f" [{notes[cell['note']]}]"
            values.append(text)
        lines.append("| " + " | ".join([*shown, *values]) + " |")
    footer = [f"*{table.layout.caption}*", "", LEGEND + " " + _summary(table)]
    footer += [f"[{n}] paper note: {note}" for note, n in notes.items()]
    footer += ["", f"**Scale:** {format_scale(scale)}"]
    return "\n".join([f"### {pretty_name(table.name)}", "", *lines, "", *footer]) + "\n"


def write_table_markdown(table: ResultTable, path: str | os.PathLike[str], scale: Mapping) -> Path:
    return io.atomic_write_text(path, table_markdown(table, scale))


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "±": r"$\pm$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_header(table: ResultTable) -> list[str]:
    n_rows = len(table.layout.row_header)
    if max(len(col) for col in table.columns) == 1:
        cells = [*table.layout.row_header, *(col[0] for col in table.columns)]
        return [" & ".join(latex_escape(c) for c in cells) + r" \\"]
    groups: list[tuple[str, int]] = []
    for col in table.columns:
        if groups and groups[-1][0] == col[0]:
            groups[-1] = (col[0], groups[-1][1] + 1)
        else:
            groups.append((col[0], 1))
    top = [""] * n_rows + [rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(g)}}}" for g, n in groups]
    rules, start = [], n_rows + 1
    for _, n in groups:
        rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    bottom = [*table.layout.row_header, *(" ".join(col[1:]) for col in table.columns)]
    return [
        " & ".join(top) + r" \\",
        " ".join(rules),
        " & ".join(latex_escape(c) for c in bottom) + r" \\",
    ]


def table_latex(table: ResultTable, scale: Mapping[str, Any], digits: int = 2) -> str:
    """A booktabs ``table`` environment in the paper's layout, cells ``ours (paper)``."""
    check_scale(scale)
    spec = "l" * len(table.layout.row_header) + "c" * len(table.columns)
    body: list[str] = []
    for shown, row in zip(_row_labels(table.rows), table.rows, strict=True):
        if len(row) > 1 and shown[0] and body:
            body.append(r"\midrule")
        values = [format_cell(table.cell(row, col), digits) for col in table.columns]
        body.append(" & ".join(latex_escape(v) for v in [*shown, *values]) + r" \\")
    caption = f"{table.layout.caption} Each cell: ours (paper)."
    lines = [
        f"% {table.name}: generated by tue_core.report; scale: {format_scale(scale)}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{tab:{table.name}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        *_latex_header(table),
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\par\smallskip\footnotesize " + latex_escape(f"Scale: {format_scale(scale)}"),
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def write_table_latex(table: ResultTable, path: str | os.PathLike[str], scale: Mapping) -> Path:
    return io.atomic_write_text(path, table_latex(table, scale))


def write_table_outputs(
    table: ResultTable,
    out_dir: str | os.PathLike[str],
    scale: Mapping[str, Any],
    formats: tuple[str, ...] | None = None,
) -> dict[str, Path]:
    """Write ``<out_dir>/<name>.csv``, ``.md`` and, for Table 4 by default, ``.tex``.

    Returns ``{"csv": path, "md": path, ...}`` for the files written.
    """
    writers = {"csv": write_table_csv, "md": write_table_markdown, "tex": write_table_latex}
    if formats is None:
        formats = ("csv", "md", "tex") if table.name == "table4" else ("csv", "md")
    unknown = sorted(set(formats) - set(writers))
    if unknown:
        raise ValueError(f"unknown table formats {unknown}; valid: {sorted(writers)}")
    out = Path(out_dir)
    return {fmt: writers[fmt](table, out / f"{table.name}.{fmt}", scale) for fmt in formats}
