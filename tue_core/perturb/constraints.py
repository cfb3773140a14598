"""The threat model: an L-inf ball of radius ``eps`` around each image, intersected with [0, 1].

Paper §3.1 and Appendix B.1: every PGD-made perturbation satisfies ``||delta_i||_inf <= eps`` with
``eps = 8/255`` in pixel units of [0, 1]. The projection also keeps ``x + delta`` a valid image, as
the reference PGD does (``clip(x + delta, 0, 1) - x`` after clamping to the ball), so pixels near 0
or 1 cannot carry the full budget in the saturating direction.

A constraint set also owns the geometry of a PGD step (:meth:`LinfBall.step`): sign-gradient
descent for the per-pixel ball, and for :class:`PatchLinfBall` (the shift-robust TUE variant) the
same step on a coarse ``patch x patch`` parameterisation ``delta = upsample_nearest(theta)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def check_eps(eps: float) -> float:
    """Return ``eps`` if it is a usable L-inf radius in pixel units, else raise ``ValueError``."""
    if not 0.0 < float(eps) <= 1.0:
        raise ValueError(f"eps must lie in (0, 1] (pixel units, e.g. 8/255), got {eps!r}")
    return float(eps)


def check_step_size(step_size: float, eps: float) -> float:
    """Return ``step_size`` if it lies in (0, eps], else raise ``ValueError``.

    A step larger than the ball's radius makes sign-PGD jump between the ball's corners.
    """
    if not 0.0 < float(step_size) <= float(eps):
        raise ValueError(
            f"step_size must lie in (0, eps] = (0, {eps:.6g}] (e.g. 0.8/255), got {step_size!r}"
        )
    return float(step_size)


@dataclass(frozen=True)
class LinfBall:
    """L-inf ball of radius ``eps`` (pixel units of [0, 1]) intersected with valid images."""

    eps: float

    def __post_init__(self) -> None:
        check_eps(self.eps)

    def project(self, delta: Tensor, x: Tensor) -> Tensor:
        """Clamp ``delta`` to ``[-eps, eps]`` and keep ``x + delta`` inside ``[0, 1]``.

        Args:
            delta: float (B, 3, H, W), any values.
            x: float (B, 3, H, W) clean images in [0, 1].

        Returns:
            float (B, 3, H, W) with ``|delta| <= eps`` and ``0 <= x + delta <= 1``.
        """
        return (x + delta.clamp(-self.eps, self.eps)).clamp(0.0, 1.0) - x

    def step(self, delta: Tensor, grad: Tensor, step_size: float, x: Tensor) -> Tensor:
        """One sign-gradient descent step, projected: ``P(delta - step_size * sign(grad))``."""
        return self.project(delta - step_size * grad.sign(), x)

    def describe(self) -> dict[str, Any]:
        """The parameterisation, as recorded in a perturbation's sidecar."""
        return {"kind": "pixel", "norm": "linf", "eps": self.eps}

    def check_image_size(self, height: int, width: int) -> None:
        """Refuse images the parameterisation cannot cover (any size fits a per-pixel ball)."""

    def sample_uniform(
        self, shape: tuple[int, ...], *, device: torch.device, generator: torch.Generator
    ) -> Tensor:
        """``U(-eps, eps)`` of ``shape`` (the reference ``--random_start``), not yet projected."""
        noise = torch.rand(shape, device=device, generator=generator)
        return (2.0 * noise - 1.0) * self.eps


@dataclass(frozen=True)
class PatchLinfBall(LinfBall):
    """The L-inf ball restricted to perturbations constant on ``patch x patch`` pixel blocks.

    ``delta = clip_image(upsample_nearest(theta))`` with ``theta`` of shape (B, 3, H/p, W/p) and
    ``|theta| <= eps``: SN's patch structure (Yu et al. 2022, 8x8 patches) with TUE's objective, so
    a crop shift of s < p pixels leaves most of each block in place instead of decorrelating a
    per-pixel pattern. A PGD step is sign-gradient descent on ``theta``, whose gradient is the sum
    of the pixel gradients over its block (chain rule through the nearest upsampling).

    ``theta`` is not stored: it is read back from ``delta`` as each block's entry of largest
    magnitude. Clipping to [0, 1] only shrinks entries towards 0 without changing their sign, so
    that entry is ``theta`` itself unless every pixel of the block is clipped, in which case it is
    the largest value that still changes the image (the clipped ``delta`` is the same either way).
    """

    patch: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if int(self.patch) < 1:
            raise ValueError(f"patch must be >= 1 pixel, got {self.patch}")

    def check_image_size(self, height: int, width: int) -> None:
        if height % self.patch or width % self.patch:
            raise ValueError(
                f"patch_size {self.patch} does not divide the image size {height}x{width}; "
                f"choose a patch_size that divides both (e.g. 8 or 4 for 32x32 images)"
            )

    def coarse(self, delta: Tensor) -> Tensor:
        """(B, 3, H, W) -> theta (B, 3, H/p, W/p): each block's entry of largest magnitude."""
        _, where = F.max_pool2d(delta.abs(), self.patch, return_indices=True)  # flat (H*W) index
        return delta.flatten(2).gather(2, where.flatten(2)).view_as(where)

    def expand(self, theta: Tensor) -> Tensor:
        """theta (B, 3, h, w) -> (B, 3, h * p, w * p), each value repeated over its block."""
        return theta.repeat_interleave(self.patch, dim=2).repeat_interleave(self.patch, dim=3)

    def project(self, delta: Tensor, x: Tensor) -> Tensor:
        """Block-constant, ``|theta| <= eps``, and ``x + delta`` inside [0, 1] (idempotent)."""
        self.check_image_size(delta.shape[-2], delta.shape[-1])
        return self._delta(self.coarse(delta), x)

    def step(self, delta: Tensor, grad: Tensor, step_size: float, x: Tensor) -> Tensor:
        """``theta <- theta - step_size * sign(sum of grad over the block)``, projected."""
        block_grad = F.avg_pool2d(grad, self.patch)  # same sign as the block sum
        return self._delta(self.coarse(delta) - step_size * block_grad.sign(), x)

    def _delta(self, theta: Tensor, x: Tensor) -> Tensor:
        """``clip(x + expand(clamp(theta, -eps, eps)), 0, 1) - x``."""
        return (x + self.expand(theta.clamp(-self.eps, self.eps))).clamp(0.0, 1.0) - x

    def describe(self) -> dict[str, Any]:
        return {"kind": "patch", "norm": "linf", "eps": self.eps, "patch_size": self.patch}

    def sample_uniform(
        self, shape: tuple[int, ...], *, device: torch.device, generator: torch.Generator
    ) -> Tensor:
        """``U(-eps, eps)`` per block (the random start), repeated over each block's pixels."""
        *lead, height, width = shape
        self.check_image_size(height, width)
        coarse_shape = (*lead, height // self.patch, width // self.patch)
        return self.expand(super().sample_uniform(coarse_shape, device=device, generator=generator))
