"""Put each of our numbers next to the paper's: one row per cell of a paper table.

A cell of the paper (Tables 2-6, Figure 7) is found in our results by its key without ``table``
(:data:`~tue_core.report.paper.MATCH_COLUMNS`). When no exact match exists and the cell names an
SSL backbone, a result with ``backbone == ""`` fills it: the paper's Table 4 repeats the same
supervised number of Clean / EMN / SN under SimCLR, MoCo and SimSiam because that experiment
involves no backbone, and we run it once.

A cell without a number says why: ``disabled`` when the config switched its experiment off (a
``disabled`` record, a cell outside ``enabled``, or one matching a pattern in ``disabled``),
else ``missing``. A number is shown whenever we have one, even for a disabled cell (a run made
for another table fills it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from tue_core.report.collect import aggregate_results
from tue_core.report.paper import KEY_COLUMNS, MATCH_COLUMNS, expected_cells

CellPattern = Mapping[str, str]  # e.g. {"backbone": "moco"} or {"evaluation": "linear_probe"}

JOINED_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS,
    "ours",
    "ours_std",
    "ours_best",
    "n_runs",
    "n_missing",
    "paper",
    "diff",
    "status",
    "note",
)


def check_patterns(patterns: Iterable[CellPattern]) -> list[dict[str, str]]:
    """Validate ``disabled`` patterns: non-empty mappings over :data:`KEY_COLUMNS`."""
    checked = []
    for pattern in patterns:
        unknown = sorted(set(pattern) - set(KEY_COLUMNS))
        if not pattern or unknown:
            raise ValueError(
                f"disabled pattern {dict(pattern)!r}: keys must be a non-empty subset of "
                f"{list(KEY_COLUMNS)} (unknown: {unknown})"
            )
        checked.append({key: str(value) for key, value in pattern.items()})
    return checked


def matches_any(cell: Mapping[str, Any], patterns: list[dict[str, str]]) -> bool:
    """Whether ``cell`` agrees with every key of at least one pattern."""
    return any(all(str(cell[k]) == v for k, v in pattern.items()) for pattern in patterns)


def results_lookup(ours: pd.DataFrame | None) -> dict[tuple[str, ...], dict[str, Any]]:
    if ours is None or len(ours) == 0:
        return {}
    aggregated = aggregate_results(ours)
    return {tuple(row[col] for col in MATCH_COLUMNS): row for row in aggregated.to_dict("records")}


def find_result(
    cell: Mapping[str, Any], lookup: Mapping[tuple[str, ...], Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """Our aggregated row for ``cell``: exact key, else the same cell with ``backbone == ""``."""
    key = tuple(str(cell[col]) for col in MATCH_COLUMNS)
    found = lookup.get(key)
    if (found is None or found["status"] != "ok") and cell["backbone"]:
        fallback = lookup.get(
            tuple("" if col == "backbone" else v for col, v in zip(MATCH_COLUMNS, key, strict=True))
        )
        if fallback is not None and (found is None or fallback["status"] == "ok"):
            found = fallback
    return found


def _joined_row(cell: dict[str, Any], found: Mapping[str, Any] | None, disabled: bool) -> dict:
    row = dict(cell)
    status = found["status"] if found is not None else "missing"
    if status != "ok" and disabled:
        status = "disabled"
    row["status"] = status
    ok = status == "ok"
    row["ours"] = float(found["ours"]) if ok else math.nan
    row["ours_std"] = float(found["ours_std"]) if ok else math.nan
    row["ours_best"] = float(found["ours_best"]) if ok else math.nan
    row["n_runs"] = int(found["n_runs"]) if ok else 0
    row["n_missing"] = int(found["n_missing"]) if ok else 0
    row["diff"] = row["ours"] - row["paper"] if ok else math.nan
    return row


def join_with_paper(
    table: str,
    ours: pd.DataFrame | None,
    *,
    enabled: Iterable[Mapping[str, Any]] | None = None,
    disabled: Iterable[CellPattern] = (),
    paper: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every cell of the paper's ``table`` with our value, the paper's and the difference.

    Args:
        table: ``table2`` ... ``table6`` or ``figure7``.
        ours: our results (:func:`~tue_core.report.collect.collect_results`); None for none yet.
        enabled: the cells the config runs (e.g. the planner's ``Cell.record()`` dicts); a paper
            cell outside them without a number is ``disabled``. None: every cell is enabled.
        disabled: patterns of cells whose experiment the config disabled, e.g.
            ``[{"backbone": "moco"}]``; a cell without a number that matches one is ``disabled``.
        paper: the paper's numbers (default: the packaged CSV).

    Returns:
        :data:`JOINED_COLUMNS`, one row per paper cell in the paper's order; ``diff`` is ours
        minus the paper's, in percentage points; ``n_runs`` is how many runs were averaged.
    """
    patterns = check_patterns(disabled)
    cells = expected_cells(table, paper, enabled)
    lookup = results_lookup(ours)
    rows = []
    for cell in cells.to_dict("records"):
        switched_off = not cell.pop("enabled") or matches_any(cell, patterns)
        rows.append(_joined_row(cell, find_result(cell, lookup), switched_off))
    return pd.DataFrame(rows, columns=list(JOINED_COLUMNS))
