"""Figures 1 and 7: supervised vs linear-probe accuracy after training on each protected set.

The paper's Figure 1 (§3.2.1) shows clean and EMN-perturbed CIFAR-10; Figure 7 (Appendix A)
adds SN and UCL: supervised unlearnable examples (EMN, SN) protect only against supervised
training, UCL only against contrastive pre-training + linear probing. We add TUE, which should
be low in both. Each bar is ours; a black tick marks the paper's value (Figure 7's numbers as
quoted in the text, Table 4 for TUE and for other backbones / datasets).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tue_core.report.figure_io import FIGURE_FORMATS, add_scale_note, new_figure, save_figure
from tue_core.report.join import find_result, results_lookup
from tue_core.report.palette import EVALUATION_HATCHES, PAPER_MARKER, method_color
from tue_core.report.paper import (
    BACKBONE_LABELS,
    DATASET_LABELS,
    EVALUATION_LABELS,
    METHOD_LABELS,
    METHODS,
    load_paper_results,
)

BAR_EVALUATIONS: tuple[str, ...] = ("supervised", "linear_probe")
FIGURE1_METHODS: tuple[str, ...] = ("clean", "EMN", "SN")
FIGURE7_METHODS: tuple[str, ...] = ("clean", "EMN", "SN", "UCL", "TUE")


def _paper_values(paper: pd.DataFrame, dataset: str, backbone: str) -> dict[tuple[str, str], float]:
    """(method, evaluation) -> paper accuracy: Figure 7's numbers first, then Table 4's."""
    rows = paper[
        paper["table"].isin(["figure7", "table4"])
        & (paper["protected_dataset"] == dataset)
        & (paper["source_dataset"] == dataset)
        & (paper["backbone"] == backbone)
        & (paper["correspondence"] == "original")
    ]
    rows = rows.sort_values("table", key=lambda s: s != "figure7", kind="stable")
    values: dict[tuple[str, str], float] = {}
    for row in rows.to_dict("records"):
        values.setdefault((row["method"], row["evaluation"]), float(row["accuracy"]))
    return values


def bar_values(
    ours: pd.DataFrame | None,
    *,
    dataset: str = "cifar10",
    backbone: str = "simclr",
    methods: Sequence[str] = FIGURE7_METHODS,
    paper: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (method, evaluation): ``ours``, ``ours_std``, ``n_runs``, ``paper``, ``status``."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or dataset not in DATASET_LABELS or backbone not in BACKBONE_LABELS or not backbone:
        raise ValueError(
            f"bar_values: methods {list(methods)} (valid {list(METHODS)}), dataset {dataset!r} "
            f"(valid {list(DATASET_LABELS)}), backbone {backbone!r} (valid: simclr, moco, simsiam)"
        )
    paper_values = _paper_values(
        load_paper_results() if paper is None else paper, dataset, backbone
    )
    lookup = results_lookup(ours)
    rows = []
    for method in methods:
        for evaluation in BAR_EVALUATIONS:
            cell = {
                "protected_dataset": dataset,
                "source_dataset": dataset,
                "method": method,
                "backbone": backbone,
                "correspondence": "original",
                "evaluation": evaluation,
            }
            found = find_result(cell, lookup)
            status = found["status"] if found is not None else "missing"
            ok = status == "ok"
            rows.append(
                {
                    "method": method,
                    "evaluation": evaluation,
                    "ours": float(found["ours"]) if ok else math.nan,
                    "ours_std": float(found["ours_std"]) if ok else math.nan,
                    "n_runs": int(found["n_runs"]) if ok else 0,
                    "paper": paper_values.get((method, evaluation), math.nan),
                    "status": status,
                }
            )
    return pd.DataFrame(rows)


def _draw_bar(axes: Any, x: float, width: float, row: Mapping[str, Any]) -> None:
    color = method_color(row["method"])
    hatch = EVALUATION_HATCHES[row["evaluation"]]
    if row["status"] == "ok":
        error = row["ours_std"] if row["n_runs"] > 1 else None
        axes.bar(x, row["ours"], width, color=color, hatch=hatch, edgecolor="black", yerr=error)
        top = max(row["ours"], 0.0 if math.isnan(row["paper"]) else row["paper"])
        axes.text(x, top + 1.5, f"{row['ours']:.1f}", ha="center", va="bottom", fontsize=7)
    else:
        axes.bar(x, 100, width, fill=False, edgecolor=color, linestyle=":", linewidth=1)
        low_paper = math.isnan(row["paper"]) or row["paper"] < 50  # keep clear of its tick
        y, va = (97, "top") if low_paper else (2, "bottom")
        axes.text(x, y, row["status"], ha="center", va=va, rotation=90, fontsize=7)
    if not math.isnan(row["paper"]):
        axes.plot([x], [row["paper"]], **PAPER_MARKER)


def plot_accuracy_bars(
    ours: pd.DataFrame | None,
    out_stem: str | os.PathLike[str],
    *,
    dataset: str = "cifar10",
    backbone: str = "simclr",
    methods: Sequence[str] = FIGURE7_METHODS,
    title: str | None = None,
    scale: Mapping[str, Any] | None = None,
    paper: pd.DataFrame | None = None,
    formats: tuple[str, ...] = FIGURE_FORMATS,
) -> list[Path]:
    """Render Figure 1 / 7 as grouped bars (ours) with the paper's values as black ticks.

    Args:
        ours: our results (:func:`~tue_core.report.collect.collect_results`).
        out_stem: output path without suffix; ``.png`` and ``.pdf`` are written.
        dataset, backbone: the protected dataset and the SSL method of the linear probe.
        methods: bar groups, e.g. :data:`FIGURE1_METHODS` or :data:`FIGURE7_METHODS`.
        title: figure title (default: Figure 7's caption for ``dataset``).
        scale: printed under the plot (see :mod:`tue_core.report.scale`).

    Returns:
        The files written.
    """
    values = bar_values(ours, dataset=dataset, backbone=backbone, methods=methods, paper=paper)
    figure = new_figure(1.3 * len(methods) + 2.5, 4.2)
    axes = figure.subplots()
    width = 0.38
    for i, method in enumerate(methods):
        for j, evaluation in enumerate(BAR_EVALUATIONS):
            row = values[(values["method"] == method) & (values["evaluation"] == evaluation)]
            _draw_bar(axes, i + (j - 0.5) * width, width, row.iloc[0].to_dict())
    axes.set_xticks(range(len(methods)), [METHOD_LABELS[m] for m in methods])
    for tick, method in zip(axes.get_xticklabels(), methods, strict=True):
        tick.set_color(method_color(method))
        tick.set_fontweight("bold")
    axes.set_xlabel(f"Protection applied to the {DATASET_LABELS[dataset]} training set")
    axes.set_ylabel(f"Accuracy on clean {DATASET_LABELS[dataset]} test set (%)")
    axes.set_ylim(0, 105)
    axes.grid(axis="y", alpha=0.3)
    handles = [
        Patch(facecolor="0.8", edgecolor="black", label=f"{EVALUATION_LABELS['supervised']} (CE)"),
        Patch(
            facecolor="0.8",
            edgecolor="black",
            hatch=EVALUATION_HATCHES["linear_probe"],
            label=f"Unsupervised ({BACKBONE_LABELS[backbone]} + linear probe)",
        ),
        Line2D([], [], **PAPER_MARKER, label="Paper"),
    ]
    axes.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8
    )
    axes.set_title(
        title or f"Figure 7: test accuracy after training on unlearnable {DATASET_LABELS[dataset]}",
        fontsize=10,
    )
    add_scale_note(figure, scale, width=110)
    return save_figure(figure, out_stem, formats)
