"""Runs listed beside the paper's tables (``tables.extra``): ``tables/extra.{csv,md}``.

The paper's Table 4 has one TUE row per backbone, so a scale that fills it with TUE's released
mode cannot show the paper's mode there, and Tables 3 and 6 have no clean column. Such runs are
listed here, one row each (per correspondence: a run's intra- and inter-class swaps too): the
supervised test accuracy after training on the run's unlearnable set (or the clean set), beside the perturbation's own diagnostics from its sidecar (whole-set
CSD, Eq. 4, and the linear separability of delta alone), so an accuracy can be read against what
the generator produced.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tue_core import io
from tue_core.report.collect import read_metrics
from tue_core.report.paper import CORRESPONDENCE_LABELS, DATASET_LABELS, method_label
from tue_core.report.scale import check_scale, format_scale

EXTRA_COLUMNS: tuple[str, ...] = (
    "protected_dataset",
    "run",
    "method",
    "backbone",
    "correspondence",
    "mode",
    "status",
    "ours",
    "ours_best",
    "csd_whole_set",
    "separability_train",
    "separability_heldout",
    "generation_seconds",
    "scale_name",
)


def _generation(sidecar: Path) -> Mapping[str, Any]:
    """The generator's record (``extra.generation``) from a perturbation sidecar."""
    data = io.read_json(sidecar)
    record = data.get("extra", {}).get("generation") if isinstance(data, Mapping) else None
    if not isinstance(record, Mapping):
        raise ValueError(f"{sidecar}: not a perturbation sidecar (no extra.generation record)")
    return record


def extra_row(cell: Mapping[str, Any]) -> dict[str, Any]:
    """One row: the cell's accuracy (NaN while missing) and its perturbation's diagnostics."""
    metrics = Path(cell["metrics_path"])
    final, best = read_metrics(metrics) if metrics.exists() else (math.nan, math.nan)
    sidecar = Path(cell["delta_sidecar"]) if cell["delta_sidecar"] else None  # "": clean
    gen = _generation(sidecar) if sidecar is not None and sidecar.exists() else {}
    separability = gen.get("linear_separability") or {}
    return {
        "protected_dataset": cell["protected_dataset"],
        "run": cell["run"],
        "method": cell["method"],
        "backbone": cell["backbone"],
        "correspondence": cell["correspondence"],
        "mode": gen.get("mode") or "",
        "status": "ok" if math.isfinite(final) else "missing",
        "ours": round(final, 4),
        "ours_best": round(best, 4),
        "csd_whole_set": gen.get("csd_whole_set", math.nan),
        "separability_train": _percent(separability.get("train_accuracy")),
        "separability_heldout": _percent(separability.get("heldout_accuracy")),
        "generation_seconds": gen.get("runtime_seconds", math.nan),
    }


def _percent(fraction: float | None) -> float:
    return math.nan if fraction is None else round(100.0 * float(fraction), 2)


def extra_frame(cells: Sequence[Mapping[str, Any]], scale: Mapping[str, Any]) -> pd.DataFrame:
    """:data:`EXTRA_COLUMNS`, one row per cell, in the config's order."""
    check_scale(scale)
    frame = pd.DataFrame([extra_row(c) for c in cells], columns=list(EXTRA_COLUMNS[:-1]))
    frame["scale_name"] = str(scale["name"])
    return frame


def _cell_text(value: float, suffix: str = "") -> str:
    return "missing" if not math.isfinite(value) else f"{value:.2f}{suffix}"


def extra_markdown(frame: pd.DataFrame, scale: Mapping[str, Any]) -> str:
    lines = [
        "## Each run's accuracy beside its perturbation's diagnostics",
        "",
        "| Dataset | Method | Run | Correspondence | Mode | Supervised test acc. (%) "
        "| CSD (whole set) | Linear separability of delta, train / held out (%) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.to_dict("records"):
        run = f"`{row['run']}`" if row["run"] else "-"
        separability = (
            f"{_cell_text(row['separability_train'])} / {_cell_text(row['separability_heldout'])}"
        )
        csd = row["csd_whole_set"]
        if row["method"] == "clean":
            separability = csd = "-"
        else:
            csd = "missing" if not math.isfinite(csd) else f"{csd:.4g}"
        lines.append(
            f"| {DATASET_LABELS[row['protected_dataset']]} "
            f"| {method_label(row['method'], row['backbone'])} | {run} "
            f"| {CORRESPONDENCE_LABELS[row['correspondence']]} | {row['mode']} "
            f"| {_cell_text(row['ours'])} | {csd} "
            f"| {separability} |"
        )
    lines += ["", f"Scale: {format_scale(scale)}", ""]
    return "\n".join(lines)


def write_extra_table(
    cells: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    scale: Mapping[str, Any],
) -> dict[str, Path]:
    """Write ``<out_dir>/extra.csv`` and ``extra.md`` atomically; returns their paths."""
    frame = extra_frame(cells, scale)
    out = Path(out_dir)
    paths = {"csv": out / "extra.csv", "md": out / "extra.md"}
    io.atomic_write_text(paths["csv"], frame.to_csv(index=False))
    io.atomic_write_text(paths["md"], extra_markdown(frame, scale))
    return paths
