"""Materialising a poisoned dataset: add delta to uint8 images and quantise back to uint8.

The public references all *truncate* (``uint8(clip(x*255 + delta*255))``), which biases every
pixel down by half a level on average; we round by default and keep truncation as a switch for
fidelity checks (spec §9.3). The signed delta is added as is: no clamp-to-positive (EMN issue #13).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Quantisation = Literal["round", "truncate"]


def apply_perturbation(
    images: np.ndarray, delta: np.ndarray, quantisation: Quantisation = "round"
) -> np.ndarray:
    """Return ``uint8(clip(images + 255 * delta, 0, 255))``.

    Args:
        images: uint8 (N, H, W, 3), channels last (the prepared-dataset layout).
        delta: float (N, 3, H, W) in pixel units of [0, 1] (the perturbation-set layout).
        quantisation: ``round`` (default) or ``truncate`` (what the reference code does).
    """
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    delta_hwc = np.transpose(delta, (0, 2, 3, 1))  # (N, 3, H, W) -> (N, H, W, 3)
    if delta_hwc.shape != images.shape:
        raise ValueError(
            f"delta of shape {delta.shape} does not fit images of shape {images.shape}"
        )
    out = np.empty_like(images)
    chunk = 4096  # bounded float32 temporaries (60k CIFAR images would need 700 MB at once)
    for start in range(0, len(images), chunk):
        stop = start + chunk
        pixels = images[start:stop].astype(np.float32) + 255.0 * delta_hwc[start:stop]
        if quantisation == "round":
            pixels = np.rint(pixels)
        elif quantisation != "truncate":
            raise ValueError(f"quantisation must be 'round' or 'truncate', got {quantisation!r}")
        out[start:stop] = np.clip(pixels, 0, 255).astype(np.uint8)
    return out
