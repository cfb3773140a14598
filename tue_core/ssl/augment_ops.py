"""Batched image operations with explicit per-sample parameters (the pure half of ``augment.py``).

Each function takes a float batch (B, 3, H, W) in [0, 1] plus per-sample parameters and is
differentiable with respect to the batch, so gradients reach a perturbation added before the
augmentation (UCL and TUE push PGD gradients through these ops, spec §2.4 and §5). The formulas are
torchvision's (``RandomResizedCrop``, ``ColorJitter``, ``RandomGrayscale``, ``RandomCrop(pad)``)
so that a batch here has the distribution of torchvision applied image by image; the parameter
samplers mirror ``get_params`` of those transforms. Hue is a torch-only RGB->HSV->RGB round trip
(``adjust_hue``), differentiable everywhere including gray pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale (ITU-R 601-2 luma)
_CROP_ATTEMPTS = 10  # torchvision's RandomResizedCrop.get_params tries 10 times


def _uniform(
    shape: tuple[int, ...], low: float, high: float, like: Tensor, generator: torch.Generator | None
) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=like.device)


def bernoulli(batch: int, p: float, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Per-sample coin flips (B,) bool with probability ``p``."""
    return torch.rand(batch, generator=generator, device=like.device) < p


# --------------------------------------------------------------------------- geometry
def sample_crop_boxes(
    x: Tensor,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator | None,
) -> Tensor:
    """Per-sample ``(top, left, height, width)`` boxes (B, 4) as ``RandomResizedCrop.get_params``.

    Each sample gets up to 10 draws of area fraction ~ U(scale) and log aspect ~ U(log ratio);
    the first draw that fits is used, else the central crop clamped to ``ratio``.
    """
    batch, _, height, width = x.shape
    shape = (batch, _CROP_ATTEMPTS)
    area = height * width * _uniform(shape, scale[0], scale[1], x, generator)
    aspect = torch.exp(_uniform(shape, math.log(ratio[0]), math.log(ratio[1]), x, generator))
    crop_w = torch.round(torch.sqrt(area * aspect))
    crop_h = torch.round(torch.sqrt(area / aspect))
    fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)  # (B, attempts)
    top = torch.floor(
        torch.rand(shape, generator=generator, device=x.device) * (height - crop_h + 1)
    )
    left = torch.floor(
        torch.rand(shape, generator=generator, device=x.device) * (width - crop_w + 1)
    )
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # first attempt that fits
    boxes = torch.stack([top, left, crop_h, crop_w], dim=2)  # (B, attempts, 4)
    chosen = boxes.gather(1, first[..., None].expand(-1, 1, 4)).squeeze(1)  # (B, 4)
    return torch.where(fits.any(dim=1, keepdim=True), chosen, _central_box(x, ratio))


def _central_box(x: Tensor, ratio: tuple[float, float]) -> Tensor:
    """torchvision's fallback: the largest central crop whose aspect lies within ``ratio``."""
    height, width = x.shape[-2:]
    crop_h, crop_w = height, width
    if width / height < ratio[0]:
        crop_h = round(width / ratio[0])
    elif width / height > ratio[1]:
        crop_w = round(height * ratio[1])
    box = [(height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w]
    # filled on the device: a host-to-device copy of a Python list would sync CUDA every call
    return torch.stack([x.new_full((x.shape[0],), v, dtype=torch.float32) for v in box], dim=1)


def _sample_coords(start: Tensor, length: Tensor, size: int, flip: Tensor | None) -> Tensor:
    """Normalised grid coordinates (B, size) that resize ``[start, start + length)`` to ``size``.

    Bilinear with ``align_corners=False`` on the crop, coordinates clamped to the crop's edge
    pixels: what ``resize(crop(x))`` computes (upsampling, where antialiasing changes nothing).
    """
    steps = torch.arange(size, device=start.device, dtype=torch.float32)  # (size,)
    if flip is not None:
        steps = torch.where(flip[:, None], size - 1 - steps, steps)  # (B, size)
    pixels = start[:, None] + (steps + 0.5) * (length[:, None] / size) - 0.5
    pixels = torch.minimum(torch.maximum(pixels, start[:, None]), (start + length - 1)[:, None])
    return pixels


def resized_crop(x: Tensor, boxes: Tensor, flip: Tensor | None = None) -> Tensor:
    """Crop each sample to its box and resize it back to (H, W), optionally mirrored.

    Args:
        x: float (B, C, H, W).
        boxes: (B, 4) ``(top, left, height, width)`` in pixels, within the image.
        flip: optional (B,) bool; ``True`` mirrors that sample horizontally after the crop.

    Returns:
        float (B, C, H, W), differentiable with respect to ``x``.
    """
    batch, _, height, width = x.shape
    cols = _sample_coords(boxes[:, 1], boxes[:, 3], width, flip)  # (B, W) pixel x
    rows = _sample_coords(boxes[:, 0], boxes[:, 2], height, None)  # (B, H) pixel y
    grid_x = ((2 * cols + 1) / width - 1)[:, None, :].expand(batch, height, width)
    grid_y = ((2 * rows + 1) / height - 1)[:, :, None].expand(batch, height, width)
    grid = torch.stack([grid_x, grid_y], dim=-1).to(x.dtype)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def padded_crop(x: Tensor, offsets: Tensor, padding: int, flip: Tensor | None = None) -> Tensor:
    """``RandomCrop(size, padding)`` with zero padding: (B, C, H, W) -> (B, C, H, W).

    Args:
        x: float (B, C, H, W).
        offsets: int64 (B, 2) ``(top, left)`` in ``[0, 2 * padding]`` within the padded image.
        padding: zero border added on every side before cropping.
        flip: optional (B,) bool, mirror horizontally after the crop.
    """
    batch, _, height, width = x.shape
    padded = F.pad(x, (padding,) * 4)  # (B, C, H + 2p, W + 2p)
    rows = offsets[:, :1] + torch.arange(height, device=x.device)  # (B, H)
    cols = offsets[:, 1:] + torch.arange(width, device=x.device)  # (B, W)
    if flip is not None:
        cols = torch.where(flip[:, None], cols.flip(1), cols)
    index = torch.arange(batch, device=x.device)[:, None, None]
    out = padded[index, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


# --------------------------------------------------------------------------- colour
def grayscale(x: Tensor) -> Tensor:
    """Luma (B, 1, H, W) of an RGB batch, torchvision's weights."""
    r, g, b = x.unbind(dim=1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def sample_jitter(
    x: Tensor, strength: tuple[float, float, float, float], generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Per-sample jitter factors (B, 4) and application orders (B, 4), as ``ColorJitter.get_params``.

    Brightness, contrast and saturation factors ~ U(max(0, 1 - s), 1 + s); hue shift ~ U(-h, h)
    in turns of the colour circle; the order is a uniform random permutation of the four ops.
    """
    batch = x.shape[0]
    factors = [_uniform((batch,), max(0.0, 1 - s), 1 + s, x, generator) for s in strength[:3]]
    factors.append(_uniform((batch,), -strength[3], strength[3], x, generator))
    order = torch.rand((batch, 4), generator=generator, device=x.device).argsort(dim=1)
    return torch.stack(factors, dim=1), order


def _blend_stage(x: Tensor, op: Tensor, factors: Tensor, active: Tensor) -> Tensor:
    """Apply op ``op[i]`` in {0: brightness, 1: contrast, 2: saturation} to sample i where active.

    All three are torchvision's ``_blend``: ``clamp(f * x + (1 - f) * target)`` with target 0,
    the mean luma, or the luma image. Samples that are inactive or whose op is hue get f = 1,
    which leaves them exactly unchanged.
    """
    view = (-1, 1, 1, 1)
    use = active & (op < 3)
    factor = torch.where(use, factors.gather(1, op.clamp(max=2)[:, None]).squeeze(1), 1.0)
    gray = grayscale(x)  # (B, 1, H, W)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    target = gray * (use & (op == 2)).view(view) + mean * (use & (op == 1)).view(view)
    factor = factor.view(view).to(x.dtype)
    return (factor * x + (1 - factor) * target).clamp(0.0, 1.0)


def _hue_sector(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Value, chroma and hue in sixths of the colour circle (each (B, H, W)) of an RGB batch.

    torchvision's ``_rgb2hsv`` (transforms/_functional_tensor.py): ``v = max``, chroma
    ``c = max - min``, hue ``(g - b) / c`` where max is r, ``2 + (b - r) / c`` where max is g
    (and not r), else ``4 + (r - g) / c``; a gray pixel (``c = 0``) gets hue 0, via a unit divisor
    that keeps forward and backward finite. Hue is left in [-1, 5) here (the caller wraps it).
    """
    r, g, b = x.unbind(dim=1)  # each (B, H, W)
    value = x.amax(dim=1)
    chroma = value - x.amin(dim=1)
    divisor = chroma + (chroma == 0).to(x.dtype)  # 1 where gray, where the numerator is 0
    max_r = value == r
    max_g = (value == g) & ~max_r
    numerator = torch.where(max_r, g - b, torch.where(max_g, b - r, r - g))
    sector = (2.0 * max_g + 4.0 * ~(max_r | max_g)).to(x.dtype)  # 0, 2 or 4, no gradient
    hue = numerator / divisor + sector
    return value, chroma, hue


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """torchvision's ``adjust_hue`` per sample: RGB -> HSV, ``h = (h + shift) mod 1``, HSV -> RGB.

    Args:
        x: float (B, 3, H, W), meant in [0, 1].
        shift: (B,) hue shift in turns of the colour circle, in [-0.5, 0.5].

    Returns:
        float (B, 3, H, W), differentiable with respect to ``x``.

    HSV -> RGB is torchvision's ``_hsv2rgb`` (sector ``i = floor(6h)``, fraction ``f``, channels
    picked from ``v, p = v(1 - s), q = v(1 - sf), t = v(1 - s(1 - f))``) written in its closed
    form: channel n in (R, G, B) = (5, 3, 1) is ``v - v s clamp(min(k, 4 - k), 0, 1)`` with
    ``k = (n + 6h) mod 6``, and ``v s = max - min``. It is continuous across the wrap (k = 0 and
    6 agree), so no per-sector selection is needed. torchvision's clamps of p, q, t to [0, 1] are
    no-ops for inputs in [0, 1] and are not applied (nor were they by kornia's op, used before).
    """
    value, chroma, hue = _hue_sector(x)  # (B, H, W) each
    # channel offsets (5, 3, 1) made on the device: a host list would be a blocking CUDA copy
    offsets = torch.arange(5, 0, -2, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    turn = (6 * shift).to(x.dtype).view(-1, 1, 1, 1)  # (B, 1, 1, 1) in sixths
    k = torch.remainder(hue.unsqueeze(1) + (turn + offsets), 6.0)  # (B, 3, H, W)
    weight = (2.0 - (k - 2.0).abs()).clamp(0.0, 1.0)  # min(k, 4 - k) = 2 - |k - 2|
    return value.unsqueeze(1) - chroma.unsqueeze(1) * weight


def color_jitter(x: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """torchvision's ``ColorJitter`` with per-sample factors (B, 4) and op orders (B, 4).

    Every sample applies its four ops in its own order. The three blend ops are evaluated stage
    by stage with identity factors for the samples whose op differs; hue (an HSV round trip,
    the costly op) runs once for all samples, between the ops each sample applies before and after it.
    """
    hue_stage = (order == 3).to(torch.int64).argmax(dim=1)  # (B,) position of hue in the order
    out = x
    for index in range(3):  # ops that come before hue (hue is never after position 3)
        out = _blend_stage(out, order[:, index], factors, hue_stage > index)
    out = adjust_hue(out, factors[:, 3])
    for index in range(1, 4):  # ops that come after hue (hue is never before position 0)
        out = _blend_stage(out, order[:, index], factors, hue_stage < index)
    return out


def color_jitter_rows(x: Tensor, factors: Tensor, order: Tensor, apply: Tensor) -> Tensor:
    """``color_jitter`` on the rows where ``apply`` (B,) bool is set; the others pass unchanged.

    Equals ``torch.where(apply, color_jitter(x, factors, order), x)`` but computes (and
    backpropagates through) only the selected rows. Finding them syncs a CUDA stream once.
    """
    rows = apply.nonzero().squeeze(1)  # (n,) int64
    jittered = color_jitter(x.index_select(0, rows), factors[rows], order[rows])  # (n, 3, H, W)
    return x.index_copy(0, rows, jittered)
