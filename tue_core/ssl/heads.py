"""Projection and prediction heads: one MLP builder shared by every SSL method.

The head layouts of the references (spec §2.4, §5):

* SimCLR (TUE): Linear(D, 512, no bias) - BN - ReLU - Linear(512, 128).
* MoCo (TUE): a single Linear(D, 128); MoCo v2 (Chen et al. 2020, arXiv:2003.04297, and CP):
  Linear(D, D) - ReLU - Linear(D, 128).
* SimSiam (CIFAR variant): projector Linear(D, 2048) - BN - ReLU - Linear(2048, 2048) - BN;
  predictor Linear(2048, 512) - BN - ReLU - Linear(512, 2048).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn


def mlp(dims: Sequence[int], *, hidden_norm: bool = True, out_norm: bool = False) -> nn.Sequential:
    """Linear layers through ``dims`` with ReLU between them, optionally with batch norm.

    A linear layer followed by batch norm has no bias (the norm's shift replaces it).

    Args:
        dims: ``(in, hidden..., out)``; two entries give a single linear layer.
        hidden_norm: BatchNorm1d after every hidden linear layer.
        out_norm: BatchNorm1d after the last linear layer.
    """
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"an MLP needs at least (in, out) positive sizes, got {list(dims)}")
    layers: list[nn.Module] = []
    for index, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
        last = index == len(dims) - 2
        norm = out_norm if last else hidden_norm
        layers.append(nn.Linear(d_in, d_out, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm1d(d_out))
        if not last:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)
