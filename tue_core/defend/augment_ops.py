"""Batched per-sample image operations of the training-time defenses, in torch alone.

Every function takes a float batch (B, C, H, W) in [0, 1] and per-sample parameters drawn from an
explicit ``torch.Generator`` on the batch's device; none loops over samples in Python. UEraser's
kornia pipeline (plasma brightness / contrast, channel shuffle, TrivialAugment) is re-derived here
because kornia is not a dependency and its modules cannot take a generator:

* plasma fractals: TorMentor's diamond-square maps (Nicolaou et al. 2022, ``kornia.contrib.
  diamond_square``): every new point is ``(1 - s) * mean(neighbours) + s * U(0, 1)`` with
  ``s = roughness ** level``, so maps stay in [0, 1]. Not bit-identical to kornia's (kornia starts
  from a 3x3 seed grid, weighs border points by 4/3 and can exceed 1 there), but the same
  construction: at 32x32 and roughness 0.3-0.7 the maps' mean and spread agree with kornia's to
  within ~0.05 (checked once against a port of kornia's algorithm, not shipped).
* TrivialAugment (Müller & Hutter 2021, arXiv 2103.10158) with kornia's default op list and
  magnitude ranges, one op per *sample* (kornia draws one op per batch call).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor


def uniform(
    shape: tuple[int, ...], low: float, high: float, like: Tensor, generator: torch.Generator
) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=like.device)


def bernoulli(batch: int, p: float, like: Tensor, generator: torch.Generator) -> Tensor:
    """Per-sample coin flips (B,) bool with probability ``p``."""
    return torch.rand(batch, generator=generator, device=like.device) < p


def sample_beta(
    alpha: float, batch: int, device: torch.device, generator: torch.Generator
) -> Tensor:
    """(B,) draws of Beta(alpha, alpha) from ``generator``.

    Beta(1, 1) is U(0, 1). Otherwise ``Ga / (Ga + Gb)`` of two Gamma(alpha) draws; torch's public
    samplers cannot take a generator, so this uses ``torch._standard_gamma`` (the kernel behind
    ``torch.distributions.Gamma``), which can.
    """
    if alpha == 1.0:
        return torch.rand(batch, generator=generator, device=device)
    concentration = torch.full((2, batch), float(alpha), device=device)
    gammas = torch._standard_gamma(concentration, generator=generator)
    return gammas[0] / (gammas[0] + gammas[1]).clamp_min(torch.finfo(gammas.dtype).tiny)


def random_permutation(batch: int, device: torch.device, generator: torch.Generator) -> Tensor:
    """A uniform permutation (B,) int64 (mixing partners)."""
    return torch.randperm(batch, generator=generator, device=device)


# --------------------------------------------------------------------------- masks
def box_mask(
    top: Tensor, left: Tensor, height: Tensor, width: Tensor, size: tuple[int, int]
) -> Tensor:
    """(B, 1, H, W) bool, True inside rows ``[top, top + height)`` x cols ``[left, left + width)``.

    All box tensors are (B,) or (B, n) (n boxes per sample, united); values in pixels.
    """
    rows = torch.arange(size[0], device=top.device)
    cols = torch.arange(size[1], device=top.device)
    if top.ndim == 1:
        top, left, height, width = (t[:, None] for t in (top, left, height, width))
    in_rows = (rows >= top[..., None]) & (rows < (top + height)[..., None])  # (B, n, H)
    in_cols = (cols >= left[..., None]) & (cols < (left + width)[..., None])  # (B, n, W)
    inside = in_rows[..., :, None] & in_cols[..., None, :]  # (B, n, H, W)
    return inside.any(dim=1, keepdim=True)


# --------------------------------------------------------------------------- plasma fractals
def plasma_fractal(
    maps: int,
    size: tuple[int, int],
    roughness: Tensor,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``maps`` diamond-square fractals (maps, H, W) in [0, 1], one roughness (maps,) each.

    The grid starts as 2x2 uniform corners and doubles ``ceil(log2(max(H, W) - 1))`` times to a
    side of ``2**n + 1 >= max(H, W)``, then is cropped to (H, W). At level ``l`` (1-based) every
    new point blends the mean of its known in-bounds neighbours (diamond step: the 4 corners of
    its square; square step: its 3-4 edge neighbours) with fresh U(0, 1) noise of weight
    ``roughness ** l``: a small roughness gives smooth maps, a large one rough maps.
    """
    device = roughness.device
    height, width = size
    levels = max(1, math.ceil(math.log2(max(height, width, 2) - 1)))
    grid = torch.rand((maps, 2, 2), generator=generator, device=device, dtype=dtype)
    rough = roughness.to(dtype).view(-1, 1, 1)
    scale = torch.ones_like(rough)

    def blend(mean: Tensor) -> Tensor:
        noise = torch.rand(mean.shape, generator=generator, device=device, dtype=dtype)
        return torch.lerp(mean, noise, scale.expand_as(mean))

    for _ in range(levels):
        scale = scale * rough
        side = grid.shape[-1]  # corners c (side x side), centres d (side - 1 x side - 1)
        centres = blend(
            (grid[:, :-1, :-1] + grid[:, :-1, 1:] + grid[:, 1:, :-1] + grid[:, 1:, 1:]) / 4
        )
        # edge midpoints between horizontal neighbours (side x side - 1): corners left / right,
        # centres above / below where they exist; vertical ones (side - 1 x side) likewise
        above_below = F.pad(centres, (0, 0, 1, 1))
        index = torch.arange(side, device=device)
        count_h = (4 - (index == 0).to(dtype) - (index == side - 1).to(dtype)).view(1, -1, 1)
        horizontal = blend(
            (grid[:, :, :-1] + grid[:, :, 1:] + above_below[:, :-1] + above_below[:, 1:]) / count_h
        )
        left_right = F.pad(centres, (1, 1, 0, 0))
        count_v = count_h.view(1, 1, -1)
        vertical = blend(
            (grid[:, :-1, :] + grid[:, 1:, :] + left_right[..., :-1] + left_right[..., 1:])
            / count_v
        )
        new = 2 * side - 1
        out = torch.empty((maps, new, new), device=device, dtype=dtype)
        out[:, ::2, ::2] = grid
        out[:, 1::2, 1::2] = centres
        out[:, ::2, 1::2] = horizontal
        out[:, 1::2, ::2] = vertical
        grid = out
    return grid[:, :height, :width].contiguous()


def plasma_brightness(
    x: Tensor, roughness: Tensor, intensity: Tensor, generator: torch.Generator
) -> Tensor:
    """``clamp(x + intensity * (2 * map - 1))`` with one fractal map per sample and channel.

    kornia's ``RandomPlasmaBrightness``; ``roughness`` and ``intensity`` are (B,).
    """
    batch, channels, height, width = x.shape
    rough = roughness.repeat_interleave(channels)
    fractal = plasma_fractal(batch * channels, (height, width), rough, generator, x.dtype)
    offset = (2 * fractal - 1).view_as(x) * intensity.to(x.dtype).view(-1, 1, 1, 1)
    return (x + offset).clamp(0.0, 1.0)


def plasma_contrast(x: Tensor, roughness: Tensor, generator: torch.Generator) -> Tensor:
    """``clamp((x - 0.5) * 4 * map + 0.5)``, one map per sample and channel (kornia's op)."""
    batch, channels, height, width = x.shape
    rough = roughness.repeat_interleave(channels)
    fractal = plasma_fractal(batch * channels, (height, width), rough, generator, x.dtype)
    return ((x - 0.5) * (4 * fractal.view_as(x)) + 0.5).clamp(0.0, 1.0)


def channel_shuffle(x: Tensor, permutations: Tensor) -> Tensor:
    """Reorder each sample's channels by its permutation (B, C) int64."""
    index = torch.arange(x.shape[0], device=x.device)[:, None]
    return x[index, permutations]


def sample_channel_permutations(x: Tensor, generator: torch.Generator) -> Tensor:
    """Uniform per-sample channel permutations (B, C) (argsort of uniform scores, as kornia)."""
    scores = torch.rand(x.shape[:2], generator=generator, device=x.device)
    return scores.argsort(dim=1)


def on_rows(x: Tensor, apply: Tensor, fn: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """``fn(x[rows], rows)`` on the rows where ``apply`` (B,) is set; the others pass unchanged.

    Equals ``torch.where(apply, fn(x), x)`` for row-wise ``fn`` but computes only the selected rows
    (``fn`` gets their indices to slice its per-sample parameters). Finding them syncs a CUDA
    stream once.
    """
    rows = apply.nonzero().squeeze(1)
    if rows.numel() == 0:
        return x
    return x.index_copy(0, rows, fn(x.index_select(0, rows), rows).to(x.dtype))


# --------------------------------------------------------------------------- TrivialAugment
def affine(x: Tensor, theta: Tensor) -> Tensor:
    """Per-sample affine warp, ``theta`` (B, 2, 3) mapping output to input in [-1, 1] coordinates.

    Bilinear, zero fill outside the image (kornia's defaults for its geometric ops).
    """
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _identity_theta(x: Tensor) -> Tensor:
    theta = torch.zeros((x.shape[0], 2, 3), device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    return theta


def rotate(x: Tensor, degrees: Tensor) -> Tensor:
    """Rotate each sample about its centre by ``degrees`` (B,)."""
    height, width = x.shape[-2:]
    angle = torch.deg2rad(degrees.to(x.dtype))
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = _identity_theta(x)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * height / width
    theta[:, 1, 0], theta[:, 1, 1] = sin * width / height, cos
    return affine(x, theta)


def shear(x: Tensor, factor: Tensor, axis: int) -> Tensor:
    """Shear by ``factor`` (B,) along x (``axis=1``: ``x_in = x + f * y``) or y (``axis=0``)."""
    height, width = x.shape[-2:]
    theta = _identity_theta(x)
    if axis == 1:
        theta[:, 0, 1] = factor.to(x.dtype) * height / width
    else:
        theta[:, 1, 0] = factor.to(x.dtype) * width / height
    return affine(x, theta)


def translate(x: Tensor, fraction: Tensor, axis: int) -> Tensor:
    """Shift by ``fraction`` (B,) of the width (``axis=1``) or height (``axis=0``)."""
    theta = _identity_theta(x)
    theta[:, 0 if axis == 1 else 1, 2] = -2 * fraction.to(x.dtype)
    return affine(x, theta)


def auto_contrast(x: Tensor) -> Tensor:
    """Stretch each sample's channels to [0, 1] (constant channels unchanged), as torchvision."""
    low = x.amin(dim=(-2, -1), keepdim=True)
    high = x.amax(dim=(-2, -1), keepdim=True)
    span = high - low
    flat = span == 0
    scale = torch.where(flat, torch.ones_like(span), 1.0 / torch.where(flat, 1.0, span))
    low = torch.where(flat, torch.zeros_like(low), low)
    return ((x - low) * scale).clamp(0.0, 1.0)


def equalize(x: Tensor) -> Tensor:
    """Histogram equalisation per sample and channel (torchvision's batched ``equalize``)."""
    return TF.equalize(x)


def posterize(x: Tensor, bits: Tensor) -> Tensor:
    """Keep ``bits`` (B,) int bits: ``floor(x * 2**b) / 2**b`` (torchvision's float posterize)."""
    levels = torch.pow(2.0, bits.to(x.dtype)).view(-1, 1, 1, 1)
    return torch.minimum(torch.floor(x * levels), levels - 1) / levels


def solarize(x: Tensor, threshold: Tensor) -> Tensor:
    """Invert the values at or above each sample's ``threshold`` (B,)."""
    return torch.where(x >= threshold.to(x.dtype).view(-1, 1, 1, 1), 1.0 - x, x)


def scale_values(x: Tensor, factor: Tensor) -> Tensor:
    """kornia's ``adjust_contrast``: ``clamp(x * factor)`` with ``factor`` (B,)."""
    return (x * factor.to(x.dtype).view(-1, 1, 1, 1)).clamp(0.0, 1.0)


def shift_values(x: Tensor, shift: Tensor) -> Tensor:
    """kornia's ``adjust_brightness``: ``clamp(x + shift)`` with ``shift`` (B,)."""
    return (x + shift.to(x.dtype).view(-1, 1, 1, 1)).clamp(0.0, 1.0)


def sharpness(x: Tensor, factor: Tensor) -> Tensor:
    """Blend with the smoothed image (kernel [[1,1,1],[1,5,1],[1,1,1]] / 13, border kept).

    ``factor`` (B,): 0 smooths, 1 is the identity, > 1 sharpens (torchvision / PIL / kornia).
    """
    channels = x.shape[1]
    kernel = torch.ones((3, 3), device=x.device, dtype=x.dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).expand(channels, 1, 3, 3)
    smooth = F.conv2d(x, kernel, groups=channels)  # (B, C, H - 2, W - 2)
    degenerate = x.clone()
    degenerate[..., 1:-1, 1:-1] = smooth
    f = factor.to(x.dtype).view(-1, 1, 1, 1)
    return (f * x + (1 - f) * degenerate).clamp(0.0, 1.0)


# kornia.augmentation.auto.TrivialAugment's default policy: (name, low, high) of the magnitude;
# "identity" is commented out there. Symmetric ops draw |m| ~ U(0, high) and a random sign.
# Deviations: posterize draws 1-4 bits uniformly (floor of U(1, 5); kornia's (0, 4) truncates to
# 0-3, and 0 bits is a black image); shear uses a shear *factor* of up to 0.3 (AutoAugment / torchvision's meaning, about
# 16.7 degrees), where kornia passes 0.3 * 180 degrees to RandomShear.
TRIVIAL_AUGMENT_OPS: tuple[tuple[str, float, float], ...] = (
    ("auto_contrast", 0.0, 1.0),
    ("equalize", 0.0, 1.0),
    ("rotate", -30.0, 30.0),
    ("posterize", 1.0, 5.0),
    ("solarize", 0.0, 1.0),
    ("contrast", 0.1, 1.9),
    ("brightness", 0.1, 1.9),
    ("sharpness", 0.1, 1.9),
    ("shear_x", -0.3, 0.3),
    ("shear_y", -0.3, 0.3),
    ("translate_x", -0.5, 0.5),
    ("translate_y", -0.5, 0.5),
)

_OP_BOUNDS = torch.tensor([[low, high] for _, low, high in TRIVIAL_AUGMENT_OPS])


def _trivial_op(name: str, x: Tensor, magnitude: Tensor) -> Tensor:
    """Op ``name`` on ``x`` (n, C, H, W) with magnitudes (n,) already in the op's range."""
    if name == "auto_contrast":
        return auto_contrast(x)
    if name == "equalize":
        return equalize(x)
    if name == "rotate":
        return rotate(x, magnitude)
    if name == "posterize":
        return posterize(x, magnitude.floor().clamp(max=4.0))
    if name == "solarize":
        return solarize(x, magnitude)
    if name == "contrast":
        return scale_values(x, magnitude)
    if name == "brightness":
        return shift_values(x, magnitude - 1.0)
    if name == "sharpness":
        return sharpness(x, magnitude)
    if name in ("shear_x", "shear_y"):
        return shear(x, magnitude, axis=1 if name == "shear_x" else 0)
    if name in ("translate_x", "translate_y"):
        return translate(x, magnitude, axis=1 if name == "translate_x" else 0)
    raise ValueError(f"unknown TrivialAugment op {name!r}")


def sample_trivial_augment(x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Per-sample op indices (B,) into :data:`TRIVIAL_AUGMENT_OPS` and magnitudes (B,) in range."""
    batch = x.shape[0]
    ops = torch.randint(0, len(TRIVIAL_AUGMENT_OPS), (batch,), generator=generator, device=x.device)
    unit = torch.rand(batch, generator=generator, device=x.device)
    bounds = _OP_BOUNDS.to(x.device, non_blocking=True)[ops]  # (B, 2)
    return ops, bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * unit


def trivial_augment(x: Tensor, ops: Tensor, magnitudes: Tensor) -> Tensor:
    """Apply op ``ops[i]`` with magnitude ``magnitudes[i]`` to sample i.

    The loop runs over the 12 ops, each on the rows that drew it (finding them syncs a CUDA
    stream once per op), never over samples.
    """
    out = x.clone()
    for index, (name, _, _) in enumerate(TRIVIAL_AUGMENT_OPS):
        rows = (ops == index).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        out[rows] = _trivial_op(name, x[rows], magnitudes[rows]).to(x.dtype)
    return out
