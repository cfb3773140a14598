"""Report jobs: one call per workflow rule (tables, figures, the Markdown report).

Each takes the paths and params its rule declares and writes its outputs atomically. The cells a
table job receives are :meth:`tue_core.plan.cells.Cell.record` dicts: the paper's key columns
plus the path of the metrics file that holds our number for that cell.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tue_core.data.base import load_prepared
from tue_core.perturb.artifact import load_perturbation
from tue_core.report.collect import collect_results
from tue_core.report.figures_bars import FIGURE1_METHODS, FIGURE7_METHODS, plot_accuracy_bars
from tue_core.report.figures_samples import plot_perturbation_samples
from tue_core.report.figures_tsne import (
    TSNE_FIGURES,
    TsneSettings,
    load_tsne_panel,
    plot_tsne_figure,
)
from tue_core.report.markdown import (
    ReportFigure,
    ReportTable,
    default_provenance,
    write_markdown_report,
)
from tue_core.report.tables import build_table
from tue_core.report.writers import write_table_outputs

PathLike = str | os.PathLike[str]
log = logging.getLogger(__name__)

FIGURE_CAPTIONS = {
    "figure1": "Figure 1: supervised and linear-probe accuracy after training on EMN, SN and UCL data.",
    "figure7": "Figure 7: supervised and linear-probe accuracy after training on unlearnable CIFAR-10.",
    "figure6": "Figure 6: unlearnable examples and their perturbations (rescaled from [-eps, eps] to [0, 1]).",
    **TSNE_FIGURES,
}


def table_job(
    name: str,
    cells: Sequence[Mapping[str, Any]],
    out_dir: PathLike,
    scale: Mapping[str, Any],
    *,
    missing_ok: bool = False,
) -> None:
    """Write ``<out_dir>/<name>.{csv,md[,tex]}``: our numbers beside the paper's.

    ``missing_ok``: a cell whose metrics file does not exist yet reads ``missing`` (a grid
    reported part-way) instead of failing.
    """
    ours = collect_results(cells, missing_ok=missing_ok)
    table = build_table(name, ours, enabled=cells)
    written = write_table_outputs(table, out_dir, scale)
    log.info("%s: %s", name, ", ".join(str(p) for p in written.values()))


def bars_job(
    name: str,
    cells: Sequence[Mapping[str, Any]],
    out_stem: PathLike,
    scale: Mapping[str, Any],
    *,
    dataset: str,
    backbone: str,
) -> None:
    """Figure 1 (clean, EMN, SN, UCL) or Figure 7 (and TUE): grouped accuracy bars."""
    methods = FIGURE1_METHODS if name == "figure1" else FIGURE7_METHODS
    plot_accuracy_bars(
        collect_results(cells),
        out_stem,
        dataset=dataset,
        backbone=backbone,
        methods=methods,
        title=FIGURE_CAPTIONS[name],
        scale=scale,
    )


def tsne_job(
    name: str,
    panels: Sequence[Mapping[str, str]],
    out_stem: PathLike,
    scale: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> None:
    """Figures 3-5: t-SNE of perturbation sets; ``panels`` are ``{path, title, method}`` dicts."""
    loaded = [load_tsne_panel(p["path"], title=p["title"], method=p["method"]) for p in panels]
    tsne = TsneSettings(
        subsample=settings["max_points"], perplexity=settings["perplexity"], seed=settings["seed"]
    )
    plot_tsne_figure(loaded, out_stem, title=FIGURE_CAPTIONS[name], settings=tsne, scale=scale)


def samples_job(
    train_path: PathLike,
    perturbations: Mapping[str, PathLike],
    out_stem: PathLike,
    scale: Mapping[str, Any],
    *,
    classes: Sequence[int],
    per_class: int,
    seed: int,
) -> None:
    """Figure 6: clean samples, poisoned samples and perturbations for two classes per method."""
    sets = {label: load_perturbation(path) for label, path in perturbations.items()}
    plot_perturbation_samples(
        load_prepared(train_path),
        sets,
        out_stem,
        classes=list(classes),
        per_class=per_class,
        seed=seed,
        scale=scale,
    )


def _siblings(markdown: Path) -> list[Path]:
    """The other formats of one table (CSV, LaTeX) written next to its Markdown."""
    return sorted(p for p in markdown.parent.glob(f"{markdown.stem}.*") if p != markdown)


def report_job(
    out_path: PathLike,
    tables: Sequence[PathLike],
    figures: Sequence[PathLike],
    scale: Mapping[str, Any],
    config: Mapping[str, Any],
) -> None:
    """``results/report.md``: every table inline, every figure shown and linked, provenance."""
    report_tables = [
        ReportTable(Path(md).stem, Path(md), tuple(_siblings(Path(md)))) for md in tables
    ]
    report_figures = [
        ReportFigure(
            Path(png).stem,
            FIGURE_CAPTIONS.get(Path(png).stem, Path(png).stem),
            (Path(png), Path(png).with_suffix(".pdf")),
        )
        for png in figures
    ]
    write_markdown_report(
        out_path,
        tables=report_tables,
        figures=report_figures,
        scale=scale,
        provenance=default_provenance(dict(config)),
    )
