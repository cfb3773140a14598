"""Headless figures: a matplotlib ``Figure`` on the Agg canvas, saved atomically as PNG and PDF.

No ``pyplot``: figures are plain objects (no global state, no display, nothing to close), so
the report runs on a cluster node without ``$DISPLAY`` and in parallel jobs. PDFs carry no
creation date, so re-rendering the same data gives the same file.
"""

from __future__ import annotations

import io as _io
import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tue_core import io
from tue_core.report.scale import format_scale

FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}


def new_figure(width: float, height: float) -> Figure:
    """A figure (inches) already attached to the Agg canvas."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def add_scale_note(figure: Figure, scale: Mapping[str, Any] | None, width: int = 160) -> None:
    """Print the scale in small grey type at the bottom of ``figure`` (nothing when None)."""
    if scale is None:
        return
    text = "\n".join(textwrap.wrap("Scale: " + format_scale(scale), width=width))
    figure.supxlabel(text, fontsize=7, color="0.35", ha="center")


def figure_paths(out_stem: str | os.PathLike[str], formats: tuple[str, ...]) -> list[Path]:
    """``results/figures/figure3`` (a ``.png``/``.pdf`` suffix is dropped) -> one path per format."""
    stem = Path(out_stem)
    if stem.suffix.lstrip(".") in FIGURE_FORMATS:
        stem = stem.with_suffix("")
    return [stem.with_name(f"{stem.name}.{fmt}") for fmt in formats]


def save_figure(
    figure: Figure,
    out_stem: str | os.PathLike[str],
    formats: tuple[str, ...] = FIGURE_FORMATS,
    dpi: int = 150,
) -> list[Path]:
    """Write ``figure`` once per format, atomically; returns the paths written."""
    unknown = sorted(set(formats) - set(FIGURE_FORMATS))
    if unknown or not formats:
        raise ValueError(
            f"figure formats must be a non-empty subset of {FIGURE_FORMATS}, got {formats}"
        )
    written = []
    for path, fmt in zip(figure_paths(out_stem, formats), formats, strict=True):
        buffer = _io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
        written.append(io.atomic_write_bytes(path, buffer.getvalue()))
    return written
