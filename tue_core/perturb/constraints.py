"""The threat model: an L-inf ball of radius ``eps`` around each image, intersected with [0, 1].

Paper §3.1 and Appendix B.1: every PGD-made perturbation satisfies ``||delta_i||_inf <= eps`` with
``eps = 8/255`` in pixel units of [0, 1]. The projection also keeps ``x + delta`` a valid image, as
the reference PGD does (``clip(x + delta, 0, 1) - x`` after clamping to the ball), so pixels near 0
or 1 cannot carry the full budget in the saturating direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
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

    def sample_uniform(
        self, shape: tuple[int, ...], *, device: torch.device, generator: torch.Generator
    ) -> Tensor:
        """``U(-eps, eps)`` of ``shape`` (the reference ``--random_start``), not yet projected."""
        noise = torch.rand(shape, device=device, generator=generator)
        return (2.0 * noise - 1.0) * self.eps
