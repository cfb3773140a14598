"""The paper's published numbers (Tables 2-6 and Figure 7) and the vocabulary of a result cell.

``paper_results.csv`` (package data, copied from ``shared/paper``) holds every number of Ren et
al. (ICLR 2023) Tables 2-6 and the Figure 7 bars quoted in the text of §3.2.1 / Appendix A, in
long format: one row per cell keyed by :data:`KEY_COLUMNS`, with ``accuracy`` in percent and a
free-text ``note`` (e.g. Table 5 prints 33.91 where Table 2 prints 30.15 for the same cell).

Our own results use the same key columns, so a table is a join of the two on the key without
``table`` (:data:`MATCH_COLUMNS`): one run (say EMN on CIFAR-10, original correspondence,
supervised) fills a cell of Tables 2, 4 and 5 at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import pandas as pd

PAPER_RESULTS_RESOURCE = "paper_results.csv"

KEY_COLUMNS: tuple[str, ...] = (
    "table",
    "protected_dataset",
    "source_dataset",
    "method",
    "backbone",
    "correspondence",
    "evaluation",
)
MATCH_COLUMNS: tuple[str, ...] = KEY_COLUMNS[1:]  # a result belongs to every table with this cell

TABLES: tuple[str, ...] = ("table2", "table3", "table4", "table5", "table6", "figure7")
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "svhn", "svhn_small")  # the paper's roles
METHODS: tuple[str, ...] = ("clean", "EMN", "SN", "UCL", "TUE")
BACKBONES: tuple[str, ...] = ("", "simclr", "moco", "simsiam")  # "": no SSL backbone involved
CORRESPONDENCES: tuple[str, ...] = ("original", "intra", "inter")  # paper Fig. 2, Tables 2/5
EVALUATIONS: tuple[str, ...] = ("supervised", "linear_probe")
STATUSES: tuple[str, ...] = ("ok", "disabled", "missing")

# How the paper prints each value (table headers and figure labels).
DATASET_LABELS: dict[str, str] = {
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "svhn": "SVHN",
    "svhn_small": "SVHN-small",
}
METHOD_LABELS: dict[str, str] = {
    "clean": "Clean Data",
    "EMN": "EMN",
    "SN": "SN",
    "UCL": "UCL",
    "TUE": "TUE",
}
BACKBONE_LABELS: dict[str, str] = {"": "", "simclr": "SimCLR", "moco": "MoCo", "simsiam": "SimSiam"}
CORRESPONDENCE_LABELS: dict[str, str] = {
    "original": "Original",
    "intra": "Intra-class swap",
    "inter": "Inter-class swap",
}
EVALUATION_LABELS: dict[str, str] = {"supervised": "Supervised", "linear_probe": "Unsupervised"}

VOCABULARY: dict[str, tuple[str, ...]] = {
    "table": TABLES,
    "protected_dataset": DATASETS,
    "source_dataset": DATASETS,
    "method": METHODS,
    "backbone": BACKBONES,
    "correspondence": CORRESPONDENCES,
    "evaluation": EVALUATIONS,
}


def method_label(method: str, backbone: str = "") -> str:
    """``TUE (SimCLR)`` for a backbone-specific method, ``EMN`` otherwise (Tables 5 and 6)."""
    base = METHOD_LABELS.get(method, method)
    return f"{base} ({BACKBONE_LABELS.get(backbone, backbone)})" if backbone else base


def check_vocabulary(
    frame: pd.DataFrame, what: str, columns: tuple[str, ...] = KEY_COLUMNS
) -> None:
    """Raise ValueError naming the first column holding a value outside :data:`VOCABULARY`."""
    absent = [col for col in columns if col not in frame.columns]
    if absent:
        raise ValueError(f"{what}: missing columns {absent}; expected {list(columns)}")
    for col in columns:
        bad = sorted(set(frame[col].astype(str)) - set(VOCABULARY[col]))
        if bad:
            raise ValueError(f"{what}: column {col!r} has {bad}; valid: {list(VOCABULARY[col])}")


def load_paper_results(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The paper's numbers: :data:`KEY_COLUMNS` + ``accuracy`` (percent, float) + ``note``.

    Args:
        path: a CSV in the same format; default the copy shipped inside ``tue_core.report``.
    """
    if path is None:
        with resources.files("tue_core.report").joinpath(PAPER_RESULTS_RESOURCE).open() as handle:
            frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    check_vocabulary(frame, f"paper results {path or PAPER_RESULTS_RESOURCE}")
    frame["accuracy"] = pd.to_numeric(frame["accuracy"], errors="raise").astype(float)
    if "note" not in frame.columns:
        frame["note"] = ""
    duplicated = frame.duplicated(list(KEY_COLUMNS))
    if duplicated.any():
        first = frame.loc[duplicated, list(KEY_COLUMNS)].iloc[0].to_dict()
        raise ValueError(f"paper results: the cell {first} appears more than once")
    return frame[[*KEY_COLUMNS, "accuracy", "note"]].reset_index(drop=True)


def enabled_keys(enabled: Iterable[Mapping[str, Any]]) -> set[tuple[str, ...]]:
    """Keys ``(table, *MATCH_COLUMNS)`` of enabled cells (``table`` may be ``""``: any table).

    ``enabled`` holds mappings with the key columns, e.g. ``tue_core.plan.cells.Cell.record()``.
    """
    keys = set()
    for cell in enabled:
        absent = [col for col in MATCH_COLUMNS if col not in cell]
        if absent:
            raise KeyError(f"enabled cell {dict(cell)!r} lacks {absent}")
        keys.add(tuple(str(cell.get(col) or "") for col in KEY_COLUMNS))
    return keys


def expected_cells(
    table: str,
    paper: pd.DataFrame | None = None,
    enabled: Iterable[Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """The cells that exist in the paper's ``table`` (key columns, ``paper`` value, ``note``).

    Rows keep the paper's order (row by row, left to right), which the table layouts rely on.
    Column ``enabled`` says whether the config runs the cell's experiment: every cell when
    ``enabled`` is None, else the cells listed in it (matched on ``table`` too unless the listed
    cell's ``table`` is empty).
    """
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; known: {list(TABLES)}")
    paper = load_paper_results() if paper is None else paper
    cells = paper[paper["table"] == table].rename(columns={"accuracy": "paper"})
    cells = cells[[*KEY_COLUMNS, "paper", "note"]].reset_index(drop=True)
    if enabled is None:
        cells["enabled"] = True
    else:
        keys = enabled_keys(enabled)
        cells["enabled"] = [
            tuple(row) in keys or ("", *row[1:]) in keys
            for row in cells[list(KEY_COLUMNS)].itertuples(index=False)
        ]
    return cells
