"""Figures 3, 4 and 5: t-SNE of the perturbations in input space, coloured by class (§5.4).

* Figure 3: EMN vs SN vs TUE — SN and TUE form clean class clusters, EMN mixes classes.
* Figure 4: TUE from CIFAR-10 interpolated onto SVHN (Eq. 8) and CIFAR-100 (Eq. 7) — the
  clusters survive interpolation.
* Figure 5: UCL vs TUE — UCL's perturbations carry no class structure.

Each panel embeds a seeded random subsample of one perturbation set (flattened ``delta``, PCA to
``pca_dims`` first, then t-SNE) and prints the set's CSD (Eq. 4, lower = more separable) and the
training accuracy of a linear classifier on ``delta`` (the SN authors' linear-separability test)
in its title: the generator's whole-set values from the sidecar when present, otherwise computed
here on the subsample (the title says which).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from tue_core import io
from tue_core.perturb.artifact import load_perturbation
from tue_core.report import separability
from tue_core.report.figure_io import FIGURE_FORMATS, add_scale_note, new_figure, save_figure
from tue_core.report.palette import class_colors, method_color

log = logging.getLogger(__name__)

TSNE_FIGURES: dict[str, str] = {
    "figure3": "Figure 3: t-SNE of EMN, SN and TUE perturbations (linear separability of "
    "supervised unlearnable examples)",
    "figure4": "Figure 4: t-SNE of TUE from CIFAR-10 interpolated onto SVHN and CIFAR-100",
    "figure5": "Figure 5: t-SNE of UCL and TUE perturbations (supervised vs unsupervised "
    "unlearnability)",
}
MAX_LEGEND_CLASSES = 10


@dataclass(frozen=True)
class TsnePanel:
    """One perturbation set to embed: ``delta`` float (N, 3, H, W), ``labels`` int (N,)."""

    title: str  # e.g. "TUE (SimCLR)" or "TUE: CIFAR-10 -> SVHN"
    method: str  # palette key (EMN, SN, UCL, TUE, ...)
    delta: np.ndarray
    labels: np.ndarray
    csd: float | None = None  # whole-set CSD from the sidecar, if known
    linear_separability: float | None = None  # whole-set training accuracy, fraction
    linear_separability_heldout: float | None = None  # whole-set held-out accuracy, fraction
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.delta.ndim != 4 or self.labels.shape != (self.delta.shape[0],):
            raise ValueError(
                f"panel {self.title!r}: delta must be (N, C, H, W) and labels (N,), got "
                f"{self.delta.shape} and {self.labels.shape}"
            )


@dataclass(frozen=True)
class TsneSettings:
    """Seeded, configurable embedding of each panel."""

    subsample: int = 2000  # points per panel (all when the set is smaller)
    perplexity: float = 30.0  # clamped below (n - 1) / 3 for tiny sets
    seed: int = 0
    pca_dims: int = 50  # PCA before t-SNE (0: none)
    max_iter: int = 1000
    threads: int = 1  # BLAS / OpenMP threads: 1 gives the same picture on every machine


def _fraction(value: Any, where: str) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not 0 <= value <= 100:
        raise ValueError(f"{where}: linear separability {value!r} is neither a fraction nor a %")
    return value / 100 if value > 1 else value


def separability_from_metrics(metrics: Mapping[str, Any], where: str) -> tuple[float | None, ...]:
    """``(csd, train, heldout)`` from a sidecar's ``metrics``: ``linear_separability`` may be a
    number (training accuracy) or the dict of ``tue_core.perturb.diagnostics``."""
    value = metrics.get("linear_separability")
    train, heldout = value, None
    if isinstance(value, Mapping):
        train, heldout = value.get("train_accuracy"), value.get("heldout_accuracy")
    csd = metrics.get("csd")
    return (
        None if csd is None else float(csd),
        _fraction(train, where),
        _fraction(heldout, where),
    )


def load_tsne_panel(
    path: str | os.PathLike[str], *, title: str, method: str, class_names: Sequence[str] = ()
) -> TsnePanel:
    """A panel from a perturbation ``.npz``; ``metrics.csd`` / ``metrics.linear_separability``
    are taken from its JSON sidecar when present."""
    pset = load_perturbation(path)
    sidecar = io.sidecar_path(path)
    metrics = io.read_json(sidecar).get("metrics", {}) if sidecar.is_file() else {}
    csd, train, heldout = separability_from_metrics(metrics, str(sidecar))
    return TsnePanel(
        title=title,
        method=method,
        delta=pset.delta,
        labels=pset.labels,
        csd=csd,
        linear_separability=train,
        linear_separability_heldout=heldout,
        class_names=tuple(class_names),
    )


def subsample_indices(size: int, wanted: int, seed: int) -> np.ndarray:
    """A sorted seeded random subset of ``range(size)`` of ``min(size, wanted)`` indices."""
    if wanted < 1:
        raise ValueError(f"subsample must be >= 1, got {wanted}")
    if size <= wanted:
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).choice(size, size=wanted, replace=False))


def embed(delta: np.ndarray, settings: TsneSettings) -> np.ndarray:
    """(n, 2) t-SNE coordinates of flattened ``delta`` (n, ...)."""
    flat = delta.reshape(len(delta), -1).astype(np.float64)  # (n, D)
    if len(flat) < 5:
        raise ValueError(f"t-SNE needs at least 5 points, got {len(flat)}")
    dims = min(settings.pca_dims, *flat.shape)
    if settings.pca_dims and dims < flat.shape[1]:
        with threadpool_limits(limits=settings.threads):
            flat = PCA(n_components=dims, random_state=settings.seed).fit_transform(flat)
    perplexity = min(settings.perplexity, (len(flat) - 1) / 3)
    if perplexity < settings.perplexity:
        log.info(
            "t-SNE perplexity %.1f -> %.1f for %d points",
            settings.perplexity,
            perplexity,
            len(flat),
        )
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        random_state=settings.seed,
        max_iter=settings.max_iter,
    )
    with threadpool_limits(limits=settings.threads):
        return tsne.fit_transform(flat)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def panel_title(panel: TsnePanel, chosen: np.ndarray, settings: TsneSettings) -> str:
    """``title``, then ``CSD x | lin. sep. train y% / held-out z% (whole set | subsample n)``.

    The sidecar's whole-set values are used when it gave CSD and the training accuracy;
    otherwise all three are computed on the subsample ``chosen``.
    """
    csd, train = panel.csd, panel.linear_separability
    heldout, where = panel.linear_separability_heldout, "whole set"
    if csd is None or train is None:
        delta, labels = panel.delta[chosen], panel.labels[chosen]
        csd = separability.csd(delta, labels)
        result = separability.linear_separability(
            delta, labels, seed=settings.seed, threads=settings.threads
        )
        train, heldout = result.train, result.heldout
        where = f"subsample n={len(chosen)}" if len(chosen) < len(panel.labels) else "whole set"
    return (
        f"{panel.title}\nCSD {csd:.3f} | linear sep.: train {_percent(train)}, "
        f"held-out {_percent(heldout)}\n({where})"
    )


def _draw_panel(axes: Any, panel: TsnePanel, settings: TsneSettings) -> None:
    chosen = subsample_indices(len(panel.labels), settings.subsample, settings.seed)
    points = embed(panel.delta[chosen], settings)  # (n, 2)
    labels = panel.labels[chosen]
    num_classes = int(panel.labels.max()) + 1
    colors = class_colors(num_classes)
    for k in np.unique(labels):
        name = panel.class_names[k] if k < len(panel.class_names) else f"class {k}"
        mask = labels == k
        axes.scatter(*points[mask].T, s=6, color=colors[k], alpha=0.8, linewidths=0, label=name)
    axes.set_title(
        panel_title(panel, chosen, settings), color=method_color(panel.method), fontsize=9
    )
    axes.set_xlabel("t-SNE 1")
    axes.set_ylabel("t-SNE 2")
    axes.set_xticks([])
    axes.set_yticks([])
    if num_classes <= MAX_LEGEND_CLASSES:
        axes.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.08),
            ncol=5,
            fontsize=6,
            markerscale=2,
            title="class",
            title_fontsize=7,
            frameon=False,
        )
    else:
        axes.text(
            0.5,
            -0.08,
            f"colour = class ({num_classes} classes)",
            transform=axes.transAxes,
            ha="center",
            va="top",
            fontsize=7,
        )


def plot_tsne_figure(
    panels: Sequence[TsnePanel],
    out_stem: str | os.PathLike[str],
    *,
    title: str,
    settings: TsneSettings | None = None,
    scale: Mapping[str, Any] | None = None,
    formats: tuple[str, ...] = FIGURE_FORMATS,
) -> list[Path]:
    """Render one t-SNE panel per perturbation set side by side (Figures 3, 4, 5).

    Args:
        panels: the sets to compare, e.g. ``[emn, sn, tue]`` for Figure 3 (see :func:`load_tsne_panel`).
        out_stem: output path without suffix; ``.png`` and ``.pdf`` are written.
        title: figure title, e.g. ``TSNE_FIGURES["figure3"]``.
        settings: subsample size, perplexity, seed, PCA dims, iterations (default TsneSettings()).
        scale: printed under the panels.
    """
    if not panels:
        raise ValueError("plot_tsne_figure needs at least one panel")
    settings = settings or TsneSettings()
    figure = new_figure(4.2 * len(panels), 5.0)
    for axes, panel in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        _draw_panel(axes, panel, settings)
    sizes = ", ".join(str(min(len(p.labels), settings.subsample)) for p in panels)
    figure.suptitle(
        f"{title}\n(points per panel: {sizes}; perplexity <= {settings.perplexity:g}; "
        f"seed {settings.seed})",
        fontsize=10,
    )
    add_scale_note(figure, scale, width=int(45 * len(panels)))
    return save_figure(figure, out_stem, formats)
