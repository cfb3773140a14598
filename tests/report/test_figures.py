"""Every figure renders headless from tiny inputs to non-empty PNG + PDF files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tue_core import io
from tue_core.perturb.artifact import PerturbationSet
from tue_core.report.figure_io import figure_paths
from tue_core.report.figures_bars import FIGURE1_METHODS, bar_values, plot_accuracy_bars
from tue_core.report.figures_samples import (
    pick_classes,
    plot_perturbation_samples,
    rescale_perturbation,
)
from tue_core.report.figures_tsne import (
    TsnePanel,
    TsneSettings,
    load_tsne_panel,
    panel_title,
    plot_tsne_figure,
)
from tue_core.report.palette import METHOD_COLORS, class_colors

FAST_TSNE = TsneSettings(subsample=60, perplexity=5, seed=0, pca_dims=10, max_iter=250)


@pytest.fixture(autouse=True)
def _no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def assert_png_and_pdf(paths: list[Path], stem: Path) -> None:
    assert [p.name for p in paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_bar_values_take_figure7_numbers_then_table4(paper, ours) -> None:
    values = bar_values(ours, paper=paper).set_index(["method", "evaluation"])
    assert values.loc[("SN", "supervised"), "paper"] == pytest.approx(14.1)  # Figure 7 text
    assert values.loc[("TUE", "linear_probe"), "paper"] == pytest.approx(52.38)  # Table 4
    assert values.loc[("EMN", "supervised"), "ours"] == pytest.approx(20.0)  # backbone-free run
    assert values.loc[("SN", "linear_probe"), "status"] == "missing"
    with pytest.raises(ValueError, match="backbone"):
        bar_values(ours, backbone="")


def test_accuracy_bars_render(tmp_path: Path, paper, ours, demo_scale) -> None:
    stem = tmp_path / "figures" / "figure7"
    assert_png_and_pdf(plot_accuracy_bars(ours, stem, scale=demo_scale, paper=paper), stem)
    stem1 = tmp_path / "figure1.png"  # a suffix on the stem is tolerated
    paths = plot_accuracy_bars(ours, stem1, methods=FIGURE1_METHODS, paper=paper)
    assert_png_and_pdf(paths, stem1.with_suffix(""))


def test_tsne_figure_renders_from_tiny_sets(
    tmp_path: Path, labels60, make_pset, demo_scale
) -> None:
    panels = [
        TsnePanel("EMN", "EMN", make_pset(labels60, 0.5, 1.0).delta, labels60),
        TsnePanel("SN", "SN", make_pset(labels60, 1.0, 0.1, seed=1).delta, labels60),
        TsnePanel("TUE (SimCLR)", "TUE", make_pset(labels60, 0.8, 0.5, seed=2).delta, labels60),
    ]
    stem = tmp_path / "figure3"
    paths = plot_tsne_figure(panels, stem, title="Figure 3", settings=FAST_TSNE, scale=demo_scale)
    assert_png_and_pdf(paths, stem)


def test_panel_title_prefers_sidecar_values_and_says_where(labels60, make_pset) -> None:
    delta = make_pset(labels60, 1.0, 0.1).delta
    given = TsnePanel("TUE", "TUE", delta, labels60, csd=0.1234, linear_separability=0.9)
    title = panel_title(given, np.arange(30), FAST_TSNE)
    assert "CSD 0.123" in title and "train 90%" in title and "whole set" in title
    computed = panel_title(TsnePanel("TUE", "TUE", delta, labels60), np.arange(30), FAST_TSNE)
    assert "subsample n=30" in computed and "held-out" in computed


def test_load_tsne_panel_reads_sidecar_metrics(tmp_path: Path, labels60, make_pset) -> None:
    pset = make_pset(labels60, 1.0, 0.1)
    meta = io.RunMeta(
        kind="perturbation",
        metrics={
            "csd": 0.5,
            "linear_separability": {"train_accuracy": 1.0, "heldout_accuracy": 0.75},
        },
    )
    path = pset.save(tmp_path / "delta.npz", meta)
    panel = load_tsne_panel(path, title="TUE", method="TUE")
    assert (panel.csd, panel.linear_separability, panel.linear_separability_heldout) == (
        0.5,
        1.0,
        0.75,
    )
    assert panel.delta.shape == (60, 3, 8, 8)


def test_samples_figure_renders_and_checks_alignment(
    tmp_path: Path, tiny_dataset, labels60, make_pset, demo_scale
) -> None:
    sets = {
        "EMN": make_pset(labels60, 0.8, 0.3),
        "UCL (SimCLR)": make_pset(labels60, 0.0, 1.0, seed=1),
        "SN": PerturbationSet(
            make_pset(labels60, 1.0, 0.1).delta, labels60, eps=math.inf, norm="l2"
        ),
    }
    stem = tmp_path / "figure6"
    paths = plot_perturbation_samples(tiny_dataset, sets, stem, per_class=3, scale=demo_scale)
    assert_png_and_pdf(paths, stem)
    assert pick_classes(tiny_dataset, None) == (2, 0)  # horse, airplane: the paper's pair
    shuffled = PerturbationSet(sets["EMN"].delta, labels60[::-1].copy(), eps=sets["EMN"].eps)
    with pytest.raises(ValueError, match="'EMN'"):
        plot_perturbation_samples(tiny_dataset, {"EMN": shuffled}, stem)


def test_rescale_maps_the_eps_ball_onto_unit_range() -> None:
    eps = 8 / 255
    shown, used = rescale_perturbation(np.array([-eps, 0.0, eps]), eps)
    assert np.allclose(shown, [0.0, 0.5, 1.0]) and used == eps
    shown, used = rescale_perturbation(np.array([-0.5, 0.25]), math.inf)  # L2 set: max |delta|
    assert used == 0.5 and np.allclose(shown, [0.0, 0.75])


def test_palette_and_paths() -> None:
    assert set(METHOD_COLORS) == {"clean", "EMN", "SN", "UCL", "TUE"}
    assert len(set(METHOD_COLORS.values())) == 5
    assert class_colors(4).shape == (4, 4) and class_colors(100).shape == (100, 4)
    assert [p.name for p in figure_paths("a/fig.pdf", ("png", "pdf"))] == ["fig.png", "fig.pdf"]
