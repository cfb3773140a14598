"""Tables 2-6 of the paper in the paper's layout, each cell holding ours and the paper's number.

* Table 2: rows = correspondence (original / intra- / inter-class swap, Fig. 2), columns =
  dataset x method (EMN, SN), supervised accuracy.
* Table 3: rows = the dataset the perturbation was generated on, columns = method; tested on
  SVHN-small.
* Table 4: rows = backbone x method (Clean Data, EMN, SN, UCL, TUE), columns = dataset x
  Supervised / Unsupervised (linear probe after contrastive pre-training).
* Table 5: rows = dataset x method (TUE per backbone), columns = correspondence.
* Table 6: rows = method, columns = the dataset protected with CIFAR-10 perturbations.

Rows and columns keep the order in which the paper's cells appear (``paper_results.csv`` lists
them row by row). The cell data is :func:`~tue_core.report.join.join_with_paper`'s frame plus a
row and a column label; writers live in :mod:`tue_core.report.writers`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tue_core.report.join import CellPattern, join_with_paper
from tue_core.report.paper import (
    BACKBONE_LABELS,
    CORRESPONDENCE_LABELS,
    DATASET_LABELS,
    EVALUATION_LABELS,
    METHOD_LABELS,
    method_label,
)

Label = tuple[str, ...]
SHORT_CORRESPONDENCE_LABELS = {"original": "Original", "intra": "Intra", "inter": "Inter"}
Cell = Mapping[str, Any]


@dataclass(frozen=True)
class TableLayout:
    """How the paper lays out one table: which key goes into rows and which into columns."""

    name: str
    caption: str  # the paper's caption
    row_header: Label  # names of the row-label levels, e.g. ("Backbone", "Method")
    row_of: Callable[[Cell], Label]
    column_of: Callable[[Cell], Label]


@dataclass(frozen=True)
class ResultTable:
    """A built table: one row per paper cell, plus the row / column order of the layout."""

    layout: TableLayout
    cells: pd.DataFrame  # JOINED_COLUMNS + "row", "column" (tuples of labels)
    rows: tuple[Label, ...]
    columns: tuple[Label, ...]

    @property
    def name(self) -> str:
        return self.layout.name

    def cell(self, row: Label, column: Label) -> Mapping[str, Any] | None:
        """The cell at ``(row, column)``, or None where the paper's table has no cell."""
        hit = self.cells[(self.cells["row"] == row) & (self.cells["column"] == column)]
        return None if hit.empty else hit.iloc[0].to_dict()


def _dataset(cell: Cell) -> str:
    return DATASET_LABELS[cell["protected_dataset"]]


LAYOUTS: dict[str, TableLayout] = {
    "table2": TableLayout(
        name="table2",
        caption="Table 2: Comparison of supervised unlearnable examples on target and "
        "non-target samples (test accuracy %, supervised training).",
        row_header=("Corresponding",),
        row_of=lambda c: (CORRESPONDENCE_LABELS[c["correspondence"]],),
        column_of=lambda c: (_dataset(c), METHOD_LABELS[c["method"]]),
    ),
    "table3": TableLayout(
        name="table3",
        caption="Table 3: Comparison of supervised unlearnable examples on target and "
        "non-target datasets (test accuracy %, tested on SVHN-small).",
        row_header=("Generated on",),
        row_of=lambda c: (DATASET_LABELS[c["source_dataset"]],),
        column_of=lambda c: (f"Tested on {_dataset(c)}", METHOD_LABELS[c["method"]]),
    ),
    "table4": TableLayout(
        name="table4",
        caption="Table 4: Performance of unlearnable effects on different algorithms and "
        "datasets in supervised and unsupervised training: accuracy (%) of supervised training "
        "and of linear probing after contrastive pre-training (SimCLR, MoCo, SimSiam).",
        row_header=("Backbone", "Method"),
        row_of=lambda c: (BACKBONE_LABELS[c["backbone"]], METHOD_LABELS[c["method"]]),
        column_of=lambda c: (_dataset(c), EVALUATION_LABELS[c["evaluation"]]),
    ),
    "table5": TableLayout(
        name="table5",
        caption="Table 5: Test accuracy (%) with different correspondings between train data "
        "and perturbations.",
        row_header=("Dataset", "Methods"),
        row_of=lambda c: (_dataset(c), method_label(c["method"], c["backbone"])),
        column_of=lambda c: (SHORT_CORRESPONDENCE_LABELS[c["correspondence"]],),
    ),
    "table6": TableLayout(
        name="table6",
        caption="Table 6: Test accuracy (%) of transferring the perturbation generated on "
        "CIFAR-10 to different datasets.",
        row_header=("Method",),
        row_of=lambda c: (method_label(c["method"], c["backbone"]),),
        column_of=lambda c: (_dataset(c),),
    ),
}
TABLE_NAMES: tuple[str, ...] = tuple(LAYOUTS)


def _in_order(labels: Iterable[Label]) -> tuple[Label, ...]:
    return tuple(dict.fromkeys(labels))


def build_table(
    name: str,
    ours: pd.DataFrame | None,
    *,
    enabled: Iterable[Mapping[str, Any]] | None = None,
    disabled: Iterable[CellPattern] = (),
    paper: pd.DataFrame | None = None,
) -> ResultTable:
    """Build paper table ``name`` (``table2`` ... ``table6``) from our results.

    Args:
        name: which table.
        ours: our results in the long format (:func:`~tue_core.report.collect.collect_results`).
        enabled: the cells the config runs (None: all); others without a number read ``disabled``.
        disabled: patterns of cells whose experiment the config disabled (see
            :func:`~tue_core.report.join.join_with_paper`).
        paper: the paper's numbers (default: the packaged CSV).
    """
    if name not in LAYOUTS:
        raise KeyError(f"unknown table {name!r}; known: {list(LAYOUTS)}")
    layout = LAYOUTS[name]
    cells = join_with_paper(name, ours, enabled=enabled, disabled=disabled, paper=paper)
    records = cells.to_dict("records")
    cells["row"] = [layout.row_of(c) for c in records]
    cells["column"] = [layout.column_of(c) for c in records]
    if cells.duplicated(["row", "column"]).any():  # a layout bug, never the data's fault
        raise AssertionError(f"{name}: two paper cells share a (row, column) position")
    return ResultTable(
        layout=layout,
        cells=cells,
        rows=_in_order(cells["row"]),
        columns=_in_order(cells["column"]),
    )


def build_tables(
    ours: pd.DataFrame | None,
    *,
    names: Iterable[str] = TABLE_NAMES,
    enabled: Iterable[Mapping[str, Any]] | None = None,
    disabled: Iterable[CellPattern] = (),
    paper: pd.DataFrame | None = None,
) -> dict[str, ResultTable]:
    """All requested tables at once (``{name: ResultTable}``)."""
    cells = None if enabled is None else list(enabled)
    patterns = list(disabled)
    return {n: build_table(n, ours, enabled=cells, disabled=patterns, paper=paper) for n in names}
