"""Figure 6 (§5.5, case study): samples of two classes and their perturbations, per method.

The paper shows horse and airplane from CIFAR-10 for EMN, UCL and TUE: EMN and TUE have
class-wise patterns (every perturbation of a class looks alike), UCL's are sample-wise, and TUE
has both. Rows here: the clean images, then per method the unlearnable image ``x + delta`` and
the perturbation rescaled from ``[-eps, eps]`` to ``[0, 1]`` (``(delta + eps) / (2 eps)``; for an
L2 set such as SN, whose ``eps`` is infinite, ``eps`` is the largest ``|delta|`` shown).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tue_core.data.base import PreparedDataset
from tue_core.perturb.artifact import PerturbationSet, check_matches
from tue_core.report.figure_io import FIGURE_FORMATS, add_scale_note, new_figure, save_figure
from tue_core.report.palette import method_color

DEFAULT_CLASSES: tuple[str, str] = ("horse", "airplane")  # the paper's two CIFAR-10 classes


def pick_classes(dataset: PreparedDataset, classes: Sequence[str | int] | None) -> tuple[int, int]:
    """Two class ids: ``classes`` (names or ids), else horse / airplane, else the first two."""
    if classes is None:
        names = set(dataset.class_names)
        classes = DEFAULT_CLASSES if names.issuperset(DEFAULT_CLASSES) else (0, 1)
    if len(classes) != 2:
        raise ValueError(f"Figure 6 shows exactly two classes, got {list(classes)}")
    ids = []
    for item in classes:
        if isinstance(item, str):
            if item not in dataset.class_names:
                raise KeyError(f"class {item!r} not in {dataset.name}: {list(dataset.class_names)}")
            ids.append(dataset.class_names.index(item))
        elif not 0 <= int(item) < dataset.num_classes:
            raise ValueError(
                f"class id {item} outside [0, {dataset.num_classes}) for {dataset.name}"
            )
        else:
            ids.append(int(item))
    if ids[0] == ids[1]:
        raise ValueError(f"the two classes must differ, got {list(classes)}")
    return ids[0], ids[1]


def pick_samples(
    labels: np.ndarray, class_ids: Sequence[int], per_class: int, seed: int
) -> np.ndarray:
    """``per_class`` seeded random indices of each class, class by class (in increasing index)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for k in class_ids:
        members = np.flatnonzero(labels == k)
        if len(members) < per_class:
            raise ValueError(
                f"class {k} has {len(members)} images, fewer than per_class={per_class}"
            )
        chosen.append(np.sort(rng.choice(members, size=per_class, replace=False)))
    return np.concatenate(chosen)


def rescale_perturbation(delta: np.ndarray, eps: float) -> tuple[np.ndarray, float]:
    """``(delta + eps) / (2 eps)`` clipped to [0, 1], and the eps used (max |delta| if eps is inf)."""
    if not math.isfinite(eps) or eps <= 0:
        eps = float(np.abs(delta).max()) or 1.0
    return np.clip((delta + eps) / (2 * eps), 0.0, 1.0), eps


def _rows(
    dataset: PreparedDataset, perturbations: Mapping[str, PerturbationSet], chosen: np.ndarray
) -> list[tuple[str, str, np.ndarray]]:
    """(row label, palette method, images (n, H, W, 3) in [0, 1]) for the whole grid."""
    clean = dataset.images[chosen].astype(np.float32) / 255.0  # (n, H, W, 3)
    rows = [("clean x", "clean", clean)]
    for label, pset in perturbations.items():
        delta = pset.delta[chosen].transpose(0, 2, 3, 1)  # (n, H, W, 3)
        shown, eps = rescale_perturbation(delta, pset.eps)
        method = label.split()[0]
        rows.append((f"{label}\nx + δ", method, np.clip(clean + delta, 0.0, 1.0)))
        rows.append((f"{label}\nδ, ±{eps * 255:.1f}/255 → [0, 1]", method, shown))
    return rows


def plot_perturbation_samples(
    dataset: PreparedDataset,
    perturbations: Mapping[str, PerturbationSet],
    out_stem: str | os.PathLike[str],
    *,
    classes: Sequence[str | int] | None = None,
    per_class: int = 4,
    seed: int = 0,
    title: str = "Figure 6: unlearnable examples and their perturbations",
    scale: Mapping[str, Any] | None = None,
    formats: tuple[str, ...] = FIGURE_FORMATS,
) -> list[Path]:
    """Render Figure 6: a block of rows per method, ``per_class`` columns per class.

    Args:
        dataset: the clean training split the perturbations were made for (same order).
        perturbations: row label -> set, e.g. ``{"EMN": ..., "UCL (SimCLR)": ..., "TUE (SimCLR)": ...}``;
            the first word of the label picks the palette colour.
        classes: two class names or ids (default horse and airplane when present).
        per_class, seed: how many samples of each class, drawn with ``seed``.
        scale: printed under the grid.
    """
    if not perturbations:
        raise ValueError("plot_perturbation_samples needs at least one perturbation set")
    for label, pset in perturbations.items():
        try:
            check_matches(pset, dataset.labels, dataset.image_size, dataset.name)
        except ValueError as err:
            raise ValueError(f"perturbation {label!r}: {err}") from err
    class_ids = pick_classes(dataset, classes)
    chosen = pick_samples(dataset.labels, class_ids, per_class, seed)
    rows = _rows(dataset, perturbations, chosen)
    figure = new_figure(1.0 * len(chosen) + 1.8, 1.0 * len(rows) + 1.0)
    grid = figure.subplots(len(rows), len(chosen), squeeze=False)
    for r, (label, method, images) in enumerate(rows):
        for c, image in enumerate(images):
            axes = grid[r, c]
            axes.imshow(image, interpolation="nearest", vmin=0.0, vmax=1.0)
            axes.set_xticks([])
            axes.set_yticks([])
            if c == 0:
                axes.set_ylabel(
                    label,
                    rotation=0,
                    ha="right",
                    va="center",
                    fontsize=8,
                    color=method_color(method),
                )
    for i, k in enumerate(class_ids):
        grid[0, i * per_class].set_title(f"class: {dataset.class_names[k]}", loc="left", fontsize=9)
    figure.suptitle(title, fontsize=10)
    add_scale_note(figure, scale, width=int(14 * len(chosen) + 20))
    return save_figure(figure, out_stem, formats)
