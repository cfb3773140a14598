"""Our results in the paper's long format, built from per-run records (Tables 2-6, Figure 7).

A record describes one evaluation run by the cell it fills (:data:`~tue_core.report.paper.MATCH_COLUMNS`,
plus an optional ``table``, ``seed`` and ``status``) and says where its number is:

* ``metrics_path``: the run's JSON sidecar; its ``metrics`` hold ``final_acc`` and/or ``best_acc``
  as **fractions** in [0, 1] (the evaluation's last-epoch and best test accuracy), converted here
  to percent; or
* ``accuracy`` (and optionally ``best_accuracy``): already in **percent**.

``status`` is ``ok`` (default), ``disabled`` (the config switched the experiment off) or
``missing`` (expected but not produced); the last two carry no number.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from tue_core import io
from tue_core.report.paper import KEY_COLUMNS, MATCH_COLUMNS, STATUSES, check_vocabulary

log = logging.getLogger(__name__)

RESULT_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS,
    "accuracy",
    "best_accuracy",
    "status",
    "seed",
    "metrics_path",
)


def _text(value: Any) -> str:
    """A key value as text; None and NaN (empty CSV cells) become ``""``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _fraction_to_percent(value: Any, key: str, path: Path) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(
            f"{path}: metrics.{key} must be a fraction in [0, 1], got {value!r} "
            "(percent values belong in a record's `accuracy` field)"
        )
    return 100.0 * float(value)


def read_metrics(path: str | os.PathLike[str]) -> tuple[float, float]:
    """``(final, best)`` test accuracy in percent from a run's sidecar (NaN where absent)."""
    path = Path(path)
    data = io.read_json(path)
    metrics = data.get("metrics") if isinstance(data, Mapping) else None
    if not isinstance(metrics, Mapping):
        raise ValueError(f"{path}: no `metrics` mapping (expected metrics.final_acc / best_acc)")
    values = {
        key: _fraction_to_percent(metrics[key], key, path)
        for key in ("final_acc", "best_acc")
        if key in metrics
    }
    if not values:
        raise ValueError(
            f"{path}: metrics hold neither `final_acc` nor `best_acc` (keys: {sorted(metrics)})"
        )
    return values.get("final_acc", math.nan), values.get("best_acc", math.nan)


def _percent(value: Any, key: str, where: str) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    number = float(value)
    if not 0 <= number <= 100:
        raise ValueError(f"{where}: {key} must be a percentage in [0, 100], got {value!r}")
    return number


def _numbers(record: Mapping[str, Any], where: str, prefer: str, missing_ok: bool):
    """``(status, accuracy, best_accuracy)`` of one record, reading its sidecar when needed."""
    status = _text(record.get("status")) or "ok"
    if status not in STATUSES:
        raise ValueError(f"{where}: status {status!r} is not one of {list(STATUSES)}")
    if status != "ok":
        return status, math.nan, math.nan
    final = _percent(record.get("accuracy"), "accuracy", where)
    best = _percent(record.get("best_accuracy"), "best_accuracy", where)
    if math.isnan(final) and math.isnan(best):
        if not _text(record.get("metrics_path")):
            raise ValueError(f"{where}: status ok but neither `accuracy` nor `metrics_path` given")
        path = Path(record["metrics_path"])
        if not path.is_file():
            if missing_ok:
                log.debug("%s: %s does not exist; cell marked missing", where, path)
                return "missing", math.nan, math.nan
            raise FileNotFoundError(f"{where}: metrics file {path} does not exist")
        final, best = read_metrics(path)
    chosen = best if prefer == "best" and not math.isnan(best) else final
    return "ok", (best if math.isnan(chosen) else chosen), best


def _one_record(
    record: Mapping[str, Any], index: int, prefer: str, missing_ok: bool
) -> dict[str, Any]:
    where = f"record {index}"
    absent = [key for key in MATCH_COLUMNS if key not in record]
    if absent:
        raise KeyError(f"{where}: missing keys {absent}; every record needs {list(MATCH_COLUMNS)}")
    row: dict[str, Any] = {key: _text(record.get(key)) for key in KEY_COLUMNS}
    row["status"], row["accuracy"], row["best_accuracy"] = _numbers(
        record, where, prefer, missing_ok
    )
    row["seed"] = record.get("seed")
    row["metrics_path"] = _text(record.get("metrics_path"))
    return row


def collect_results(
    records: Iterable[Mapping[str, Any]] | pd.DataFrame,
    *,
    prefer: Literal["final", "best"] = "final",
    missing_ok: bool = False,
) -> pd.DataFrame:
    """Build our results frame (:data:`RESULT_COLUMNS`) from per-run records.

    Args:
        records: dicts (or a DataFrame's rows) with the cell keys and ``metrics_path`` or
            ``accuracy``; ``table`` is optional (a result fills every table that has its cell).
        prefer: ``final`` reports the last-epoch accuracy (our protocol; the paper's reference
            code reports the best over epochs), ``best`` the best one; both are kept.
        missing_ok: mark a record whose ``metrics_path`` does not exist as ``missing`` instead
            of raising FileNotFoundError.

    Returns:
        One row per record, accuracy in percent (NaN for disabled / missing cells).
    """
    if prefer not in ("final", "best"):
        raise ValueError(f"prefer must be 'final' or 'best', got {prefer!r}")
    if isinstance(records, pd.DataFrame):
        records = records.to_dict("records")
    rows = [_one_record(rec, i, prefer, missing_ok) for i, rec in enumerate(records)]
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    absent = frame.loc[frame["status"] == "missing", "metrics_path"]
    absent = absent[absent != ""].unique()
    if len(absent):
        log.warning(
            "%d metrics files do not exist (cells marked missing), e.g. %s", len(absent), absent[0]
        )
    check_vocabulary(frame, "our results", MATCH_COLUMNS)
    check_vocabulary(frame[frame["table"] != ""], "our results", ("table",))
    return frame


def aggregate_results(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over repeated runs (seeds) of each cell, keyed by :data:`MATCH_COLUMNS`.

    Records that differ only in ``table`` are one run and count once.

    Returns columns ``MATCH_COLUMNS + ours, ours_std, ours_best, n_runs, n_missing, status``:
    ``ok`` when at least one run of the cell produced a number, else ``disabled`` when any record
    says so, else ``missing``; ``n_missing`` counts the cell's runs that are planned but have no
    number yet (an ``ok`` cell with ``n_missing > 0`` is a mean of fewer runs than planned). The
    ``table`` column of ``results`` is ignored.
    """
    frame = results.copy()
    for col in MATCH_COLUMNS:
        if col in frame.columns:
            frame[col] = frame[col].map(_text)
    if "status" not in frame.columns:
        frame["status"] = "ok"
    frame["status"] = frame["status"].map(_text).replace("", "ok")
    for col, default in (("best_accuracy", math.nan), ("seed", None), ("metrics_path", "")):
        if col not in frame.columns:
            frame[col] = default
    check_vocabulary(frame, "our results", MATCH_COLUMNS)
    # One run listed by several tables (Table 2 and 5 share EMN/original; Table 4's blocks share
    # the supervised baselines) is one run, not several: drop records equal in all but `table`.
    frame = frame.drop_duplicates(
        subset=[*MATCH_COLUMNS, "seed", "metrics_path", "accuracy", "status"]
    )
    ok = (frame["status"] == "ok") & frame["accuracy"].notna()
    frame["ok_accuracy"] = frame["accuracy"].where(ok)
    frame["ok_best"] = frame["best_accuracy"].where(ok)
    frame["ok"] = ok
    frame["disabled"] = frame["status"] == "disabled"
    frame["absent"] = frame["status"] == "missing"
    out = (
        frame.groupby(list(MATCH_COLUMNS), sort=False, dropna=False)
        .agg(
            ours=("ok_accuracy", "mean"),
            ours_std=("ok_accuracy", lambda s: s.std(ddof=0)),
            ours_best=("ok_best", "mean"),
            n_runs=("ok", "sum"),
            n_missing=("absent", "sum"),
            any_disabled=("disabled", "any"),
        )
        .reset_index()
    )
    out["n_runs"] = out["n_runs"].astype(int)
    out["n_missing"] = out["n_missing"].astype(int)
    out.loc[out["n_runs"] < 2, "ours_std"] = math.nan  # a spread needs two runs
    out["status"] = "missing"
    out.loc[out["any_disabled"], "status"] = "disabled"
    out.loc[out["n_runs"] > 0, "status"] = "ok"
    return out.drop(columns="any_disabled")
