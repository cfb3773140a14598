"""On-device, per-sample, differentiable augmentations for SSL views and supervised training.

``SSLAugment`` is the SimCLR/MoCo/SimSiam view transform of the references: RandomResizedCrop
(scale 0.08-1 in TUE, 0.2-1 in UCL/CP), horizontal flip p 0.5, ColorJitter(0.4, 0.4, 0.4, 0.1)
with p 0.8 and RandomGrayscale p 0.2, no blur, no normalisation (spec §2.4, §5). TUE trains with
kornia's per-sample version of it; UCL/CP and the evaluation code with torchvision image by image.
Both draw fresh parameters for every image, and so does this module, from an explicit
``torch.Generator`` (reproducible, and saved in checkpoints). The formulas are torchvision's
(see ``augment_ops``), in torch alone: kornia's modules cannot take a generator, and kornia is not
a dependency.

``SupervisedAugment`` is ``RandomCrop(32, padding=4)`` (zero padding) + flip (spec §2.7).
"""

from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import Tensor

from tue_core.ssl import augment_ops as ops
from tue_core.strict import Strict


class AugmentConfig(Strict):
    """SSL view augmentation (paper defaults: TUE's kornia pipeline; UCL uses crop_scale (0.2, 1))."""

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = Field(default=0.5, ge=0.0, le=1.0)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)  # brightness..hue
    jitter_p: float = Field(default=0.8, ge=0.0, le=1.0)
    gray_p: float = Field(default=0.2, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_ranges(self) -> AugmentConfig:
        low, high = self.crop_scale
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")
        if not 0.0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < low <= high, got {self.crop_ratio}")
        if min(self.jitter) < 0 or self.jitter[3] > 0.5:
            raise ValueError(f"jitter must be >= 0 with hue <= 0.5, got {self.jitter}")
        return self


def _check_batch(x: Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
        raise ValueError(
            f"expected a float batch (B, 3, H, W) in [0, 1], got {x.dtype} {tuple(x.shape)}"
        )


class SSLAugment:
    """Random resized crop -> flip -> colour jitter (p) -> grayscale (p), parameters per sample.

    Args:
        cfg: the augmentation hyperparameters.
        generator: default source of randomness (on the batch's device); a generator passed to
            ``__call__`` takes precedence; with neither, torch's global RNG is used.
    """

    def __init__(self, cfg: AugmentConfig | None = None, generator: torch.Generator | None = None):
        self.cfg = cfg or AugmentConfig()
        self.generator = generator

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """float (B, 3, H, W) in [0, 1] -> augmented batch of the same shape (differentiable)."""
        _check_batch(x)
        cfg, gen = self.cfg, generator if generator is not None else self.generator
        batch = x.shape[0]
        boxes = ops.sample_crop_boxes(x, cfg.crop_scale, cfg.crop_ratio, gen)
        out = ops.resized_crop(x, boxes, ops.bernoulli(batch, cfg.flip_p, x, gen))
        if cfg.jitter_p > 0 and any(cfg.jitter):
            factors, order = ops.sample_jitter(x, cfg.jitter, gen)
            apply = ops.bernoulli(batch, cfg.jitter_p, x, gen)  # (B,)
            out = ops.color_jitter_rows(out, factors, order, apply)
        if cfg.gray_p > 0:
            apply = ops.bernoulli(batch, cfg.gray_p, x, gen).view(-1, 1, 1, 1)
            out = torch.where(apply, ops.grayscale(out).expand_as(out), out)
        return out

    def __repr__(self) -> str:
        return f"SSLAugment({self.cfg!r})"


class SupervisedAugment:
    """``RandomCrop(H, padding)`` with zero padding, then horizontal flip, parameters per sample."""

    def __init__(
        self,
        padding: int = 4,
        flip_p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        if padding < 0 or not 0.0 <= flip_p <= 1.0:
            raise ValueError(f"need padding >= 0 and flip_p in [0, 1], got {padding}, {flip_p}")
        self.padding, self.flip_p, self.generator = padding, flip_p, generator

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """float (B, 3, H, W) -> shifted (by up to ``padding`` px) and mirrored batch."""
        _check_batch(x)
        gen = generator if generator is not None else self.generator
        batch = x.shape[0]
        offsets = torch.randint(0, 2 * self.padding + 1, (batch, 2), generator=gen, device=x.device)
        return ops.padded_crop(x, offsets, self.padding, ops.bernoulli(batch, self.flip_p, x, gen))

    def __repr__(self) -> str:
        return f"SupervisedAugment(padding={self.padding}, flip_p={self.flip_p})"
