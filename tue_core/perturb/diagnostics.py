"""Diagnostics of a finished perturbation set: its whole-set CSD and the linear separability of delta.

* :func:`dataset_csd` — Eq. 4 over the whole set (the generators optimise it per mini-batch).
* :func:`linear_separability` — the SN authors' diagnostic (``test_linear_separability.py``,
  spec §4): min-max normalise the perturbations to [0, 1], fit a linear classifier with LBFGS
  (lr 0.5, 50 iterations) and report its **training** accuracy. Training accuracy alone says
  little when N is not much larger than the dimension (random noise is separable there too), so a
  held-out accuracy from a second fit on a split is reported beside it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tue_core.perturb.csd import separability_from_statistics


@torch.no_grad()
def dataset_csd(delta: Tensor, labels: Tensor, chunk: int = 4096) -> float:
    """CSD (Eq. 4) of a whole perturbation set (N, ...), computed in row chunks (no N x D temps)."""
    flat_dim = int(delta[0].numel())
    num_classes = int(labels.max().item()) + 1
    sums = delta.new_zeros(num_classes, flat_dim, dtype=torch.float64)
    counts = torch.bincount(labels, minlength=num_classes).to(torch.float64)
    for start in range(0, delta.shape[0], chunk):
        rows = delta[start : start + chunk].flatten(1).double()
        sums.index_add_(0, labels[start : start + chunk], rows)
    present = counts > 0
    centroids = sums / counts.clamp_min(1)[:, None]  # (K, D)
    spread_sums = delta.new_zeros(num_classes, dtype=torch.float64)
    for start in range(0, delta.shape[0], chunk):
        lab = labels[start : start + chunk]
        rows = delta[start : start + chunk].flatten(1).double()
        spread_sums.index_add_(0, lab, (rows - centroids[lab]).norm(dim=1))
    spreads = spread_sums / counts.clamp_min(1)
    return float(separability_from_statistics(centroids[present], spreads[present]))


def minmax_normalise(x: Tensor) -> Tensor:
    """Map the whole tensor to [0, 1] (the reference normalises with the global min and max)."""
    low, high = x.min(), x.max()
    return (x - low) / (high - low).clamp_min(1e-12)


def fit_linear(features: Tensor, labels: Tensor, num_classes: int, steps: int, lr: float) -> Tensor:
    """Full-batch LBFGS softmax regression; returns the weights (D + 1, K) (last row = bias)."""
    design = torch.cat([features, features.new_ones(features.shape[0], 1)], dim=1)  # (N, D+1)
    weights = features.new_zeros(design.shape[1], num_classes, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights], lr=lr, max_iter=steps, history_size=10)

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(design @ weights, labels)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    return weights.detach()


def accuracy(features: Tensor, labels: Tensor, weights: Tensor) -> float:
    design = torch.cat([features, features.new_ones(features.shape[0], 1)], dim=1)
    return float(((design @ weights).argmax(dim=1) == labels).float().mean())


def linear_separability(
    delta: Tensor,
    labels: Tensor,
    *,
    steps: int = 50,
    lr: float = 0.5,
    holdout_fraction: float = 0.2,
    max_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """How well a linear classifier on delta alone predicts the labels.

    Args:
        delta: float (N, 3, H, W) perturbations (any device).
        labels: int64 (N,).
        steps, lr: LBFGS iterations and learning rate (reference: 50 and 0.5).
        holdout_fraction: share kept out of a second fit to report held-out accuracy (0: skip).
        max_samples: fit on a random subset of this size (None: all samples).
        generator: for the subset and the split (CPU generator).

    Returns:
        ``{"train_accuracy", "heldout_accuracy" (or None), "num_samples", "dim"}``.
    """
    features = minmax_normalise(delta.flatten(1).float())  # (N, D)
    num_classes = int(labels.max().item()) + 1
    order = torch.randperm(len(labels), generator=generator).to(labels.device)
    if max_samples is not None:
        order = order[:max_samples]
    features, labels = features[order], labels[order]
    weights = fit_linear(features, labels, num_classes, steps, lr)
    result: dict[str, Any] = {
        "train_accuracy": accuracy(features, labels, weights),
        "heldout_accuracy": None,
        "num_samples": len(labels),
        "dim": features.shape[1],
    }
    n_holdout = round(holdout_fraction * len(labels))
    if n_holdout >= 1 and len(labels) - n_holdout >= 2:
        fit_part = slice(n_holdout, None)
        weights = fit_linear(features[fit_part], labels[fit_part], num_classes, steps, lr)
        result["heldout_accuracy"] = accuracy(features[:n_holdout], labels[:n_holdout], weights)
    return result
