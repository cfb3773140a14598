"""One look for every figure: a colour per method, a hatch per evaluation, colours per class.

The method colours (Okabe-Ito, readable by colour-blind readers and in grey-scale print) are
the same in Figure 1/7's bars, in the t-SNE panel titles (Figures 3-5) and in Figure 6's row
labels, so EMN is blue everywhere and TUE is vermillion everywhere.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps

METHOD_COLORS: dict[str, str] = {
    "clean": "#7F7F7F",  # grey
    "EMN": "#0072B2",  # blue
    "SN": "#E69F00",  # orange
    "UCL": "#009E73",  # bluish green
    "TUE": "#D55E00",  # vermillion
}
FALLBACK_COLOR = "#CC79A7"  # reddish purple, for a method outside the paper's five

# Supervised training vs linear probing after contrastive pre-training (Figure 1/7).
EVALUATION_HATCHES: dict[str, str] = {"supervised": "", "linear_probe": "///"}
PAPER_MARKER: dict[str, object] = {
    "marker": "_",
    "color": "black",
    "markersize": 18,
    "markeredgewidth": 2.5,
    "linestyle": "none",
}


def method_color(method: str) -> str:
    """The palette colour of ``method`` (a fixed fallback for unknown methods)."""
    return METHOD_COLORS.get(method, FALLBACK_COLOR)


def class_colors(num_classes: int) -> np.ndarray:
    """RGBA (num_classes, 4): tab10 up to 10 classes, tab20 up to 20, then a spread of turbo."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if num_classes <= 10:
        return _listed("tab10", num_classes)
    if num_classes <= 20:
        return _listed("tab20", num_classes)
    return colormaps["turbo"](np.linspace(0.05, 0.95, num_classes))


def _listed(name: str, count: int) -> np.ndarray:
    colors = np.asarray(colormaps[name].colors, dtype=float)[:count]  # (count, 3)
    return np.concatenate([colors, np.ones((count, 1))], axis=1)
