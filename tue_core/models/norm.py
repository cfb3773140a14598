"""Batch norm that can compute its batch statistics over interleaved sub-batches ("split BN").

MoCo's key encoder must not see the same batch statistics as its query, or the contrastive task leaks
through BatchNorm (He et al. 2020, arXiv:1911.05722, §3.3 "Shuffling BN"). On one device the MoCo
CIFAR-10 demo that TUE's MoCo copies emulates multi-GPU shuffle-BN with a ``SplitBatchNorm`` of 8
splits (spec §2.4). With ``splits == 1`` (the default) this layer *is* ``nn.BatchNorm2d``: the
state-dict keys and the arithmetic are unchanged, so every other user sees a plain ResNet.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class SplitBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training-mode statistics are taken per split of the batch.

    Sample ``n`` falls in split ``n % splits``; each split is normalised with its own mean and
    variance, and the running statistics are the average over splits.
    """

    splits: int = 1

    def forward(self, x: Tensor) -> Tensor:
        if self.splits == 1 or not self.training:
            return super().forward(x)
        batch, channels, height, width = x.shape
        splits = self.splits
        if batch % splits:
            raise ValueError(
                f"split batch norm with {splits} splits needs a batch size divisible by {splits}, "
                f"got {batch}"
            )
        momentum = 0.1 if self.momentum is None else self.momentum
        running_mean = self.running_mean.repeat(splits)  # (splits * C,)
        running_var = self.running_var.repeat(splits)
        out = F.batch_norm(
            x.reshape(batch // splits, channels * splits, height, width),
            running_mean,
            running_var,
            self.weight.repeat(splits),
            self.bias.repeat(splits),
            True,
            momentum,
            self.eps,
        )
        self.running_mean.copy_(running_mean.view(splits, channels).mean(0))
        self.running_var.copy_(running_var.view(splits, channels).mean(0))
        self.num_batches_tracked.add_(1)
        return out.view(batch, channels, height, width)


def set_bn_splits(module: nn.Module, splits: int) -> None:
    """Set the number of batch-statistics splits of every :class:`SplitBatchNorm2d` in ``module``."""
    if splits < 1:
        raise ValueError(f"bn splits must be >= 1, got {splits}")
    for layer in module.modules():
        if isinstance(layer, SplitBatchNorm2d):
            layer.splits = splits
