"""Per-sample perturbation storage on the device, read and written by sample id.

The reference TUE code keeps the noise on the CPU and copies it sample by sample in Python loops
(spec §2.10); here the whole bank is one float32 (N, 3, H, W) tensor on the device and a batch is a
single ``index_select`` / ``index_copy_``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from tue_core.perturb.constraints import LinfBall


class DeltaBank:
    """A float32 (N, 3, H, W) perturbation per training sample, in dataset order, on one device."""

    def __init__(self, delta: Tensor) -> None:
        if delta.ndim != 4 or delta.shape[1] != 3:
            raise ValueError(f"delta must be (N, 3, H, W), got {tuple(delta.shape)}")
        self.delta = delta.float().contiguous()

    @classmethod
    def zeros(cls, images: Tensor) -> DeltaBank:
        """Zero start (EMN, TUE-MoCo) for uint8 images (N, 3, H, W)."""
        return cls(torch.zeros(images.shape, dtype=torch.float32, device=images.device))

    @classmethod
    def uniform(
        cls, images: Tensor, ball: LinfBall, generator: torch.Generator, chunk: int = 8192
    ) -> DeltaBank:
        """``U(-eps, eps)`` start (``--random_start``), projected so ``x + delta`` stays in [0, 1]."""
        bank = cls(
            ball.sample_uniform(tuple(images.shape), device=images.device, generator=generator)
        )
        bank.project_all(images, ball, chunk=chunk)
        return bank

    @classmethod
    def from_numpy(cls, delta: np.ndarray, device: torch.device) -> DeltaBank:
        return cls(torch.from_numpy(np.ascontiguousarray(delta, dtype=np.float32)).to(device))

    def __len__(self) -> int:
        return int(self.delta.shape[0])

    def gather(self, index: Tensor) -> Tensor:
        """Rows ``index`` (int64 (B,)) as a new (B, 3, H, W) tensor."""
        return self.delta.index_select(0, index)

    def scatter(self, index: Tensor, values: Tensor) -> None:
        """Write ``values`` (B, 3, H, W) into rows ``index`` (int64 (B,), no duplicates)."""
        self.delta.index_copy_(0, index, values.detach().to(self.delta.dtype))

    def project_all(self, images: Tensor, ball: LinfBall, chunk: int = 8192) -> None:
        """Project every row onto the ball around its uint8 image (chunked float temporaries)."""
        for start in range(0, len(self), chunk):
            stop = min(start + chunk, len(self))
            clean = images[start:stop].float() / 255.0
            self.delta[start:stop] = ball.project(self.delta[start:stop], clean)

    def to_numpy(self) -> np.ndarray:
        """The bank as float32 (N, 3, H, W) NumPy, in dataset order."""
        return self.delta.detach().cpu().numpy().astype(np.float32, copy=False)
