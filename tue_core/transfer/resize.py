"""Resizing perturbations to another image size (cross-dataset transfer, the protect command).

A perturbation made for ``h x w`` images is resized to ``H x W`` with bilinear interpolation
(``antialias=True`` when shrinking), area averaging, or nearest neighbour (each source pixel
becomes a block of pixels: a per-pixel pattern keeps its full amplitude instead of being blurred),
then clamped back to ``[-eps, eps]``. All three filters have non-negative weights, so the clamp
only removes float rounding; it is kept so that the budget holds by construction. The per-pixel amplitude is kept: an L2-bounded perturbation (SN) is
not renormalised, so its L2 norm grows with the number of pixels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ResizeMode = Literal["bilinear", "area", "nearest"]
RESIZE_MODES: tuple[str, ...] = ("bilinear", "area", "nearest")
_CHUNK = 4096  # rows per block (bounded float32 temporaries)


def resize_perturbation(
    delta: np.ndarray,
    size_hw: tuple[int, int],
    mode: ResizeMode = "bilinear",
    eps: float = float("inf"),
) -> np.ndarray:
    """float32 (N, 3, h, w) -> float32 (N, 3, H, W), clamped to [-eps, eps].

    Returns ``delta`` itself (no copy) when the size already matches.
    """
    import torch
    import torch.nn.functional as F

    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")
    height, width = (int(v) for v in size_hw)
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {size_hw}")
    if tuple(delta.shape[2:]) == (height, width):
        return delta
    out = np.empty((delta.shape[0], delta.shape[1], height, width), dtype=np.float32)
    for start in range(0, delta.shape[0], _CHUNK):
        block = torch.from_numpy(np.ascontiguousarray(delta[start : start + _CHUNK], np.float32))
        if mode == "bilinear":
            shrinking = height < delta.shape[2] or width < delta.shape[3]
            block = F.interpolate(
                block,
                size=(height, width),
                mode="bilinear",
                align_corners=False,
                antialias=shrinking,
            )
        elif mode == "nearest":  # nearest-exact: pixel centres, no half-pixel shift
            block = F.interpolate(block, size=(height, width), mode="nearest-exact")
        else:
            block = F.interpolate(block, size=(height, width), mode="area")
        out[start : start + _CHUNK] = block.clamp_(-eps, eps).numpy()
    return out
