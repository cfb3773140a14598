"""Classwise Separability Discriminant (CSD), paper Eq. 2-4, as the released TUE code computes it.

For the classes present in a batch of flattened perturbations:

* centroid ``c_k`` = mean of the class's rows;
* spread ``sigma_k`` = mean Euclidean (not squared) distance of the class's rows to ``c_k`` (Eq. 2);
* ``d_ij`` = Euclidean distance between centroids (Eq. 3);
* CSD = mean over ordered pairs ``i != j`` of ``(sigma_i + sigma_j + 1e-5) / (d_ij + 1e-5)`` (Eq. 4,
  which averages over ``j != i`` then over ``i``: the same as the mean over ordered pairs).

The ``1e-5`` terms are the reference's (spec §2.3). Classes absent from the batch are skipped; with
at most one class present the value is 0. The reference packs the spreads into a fresh tensor, so
no gradient flows through them and only the centroid distances are optimised (``detach_spread``,
default True); ``detach_spread=False`` differentiates Eq. 4 in full.
"""

from __future__ import annotations

import torch
from torch import Tensor

CSD_STABILISER = 1e-5  # added to numerator and denominator, as the reference does


def class_statistics(delta_flat: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Centroids and spreads of each class present in the batch (vectorised, no Python loop).

    Args:
        delta_flat: float (B, D).
        labels: int64 (B,).

    Returns:
        centroids (M, D), spreads (M,), counts (M,) for the M classes present, in label order.
    """
    _, centroids, spreads, counts = _key_statistics(delta_flat, labels)
    return centroids, spreads, counts


def _key_statistics(delta_flat: Tensor, keys: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The present keys (M,) and their rows' centroids (M, D), spreads (M,) and counts (M,)."""
    present, inverse = torch.unique(keys, return_inverse=True)  # (M,), (B,)
    num_present = present.numel()
    counts = torch.bincount(inverse, minlength=num_present).to(delta_flat.dtype)  # (M,)
    sums = delta_flat.new_zeros(num_present, delta_flat.shape[1]).index_add(0, inverse, delta_flat)
    centroids = sums / counts[:, None]  # (M, D)
    distances = (delta_flat - centroids[inverse]).norm(dim=1)  # (B,)
    spreads = delta_flat.new_zeros(num_present).index_add(0, inverse, distances) / counts  # (M,)
    return present, centroids, spreads, counts


def separability_from_statistics(centroids: Tensor, spreads: Tensor) -> Tensor:
    """Eq. 4 from class centroids (M, D) and spreads (M,): mean over i != j of the overlap ratio."""
    num_classes = centroids.shape[0]
    if num_classes < 2:  # no pair: a constant, so PGD leaves delta as it is
        return centroids.new_zeros(())
    present = torch.ones(1, num_classes, dtype=torch.bool, device=centroids.device)
    return _padded_separability(centroids[None], spreads[None], present)[0]


def classwise_separability(
    delta_flat: Tensor, labels: Tensor, *, detach_spread: bool = True
) -> Tensor:
    """CSD (Eq. 4) of one batch of flattened perturbations; lower means more linearly separable.

    Args:
        delta_flat: float (B, D), e.g. ``delta.flatten(1)`` of a (B, 3, H, W) batch.
        labels: int64 (B,), the class of each row.
        detach_spread: cut the gradient through the spreads ``sigma_k`` (the reference's choice).

    Returns:
        A scalar tensor (0 when fewer than two classes are present).
    """
    if delta_flat.ndim != 2 or labels.shape != delta_flat.shape[:1]:
        raise ValueError(
            f"expected delta_flat (B, D) and labels (B,), got {tuple(delta_flat.shape)} and "
            f"{tuple(labels.shape)}"
        )
    centroids, spreads, _ = class_statistics(delta_flat.float(), labels)
    if detach_spread:
        spreads = spreads.detach()
    return separability_from_statistics(centroids, spreads)


# Pairwise-distance backward buffer of one chunk of groups, in elements (cdist's backward holds
# groups x classes^2 x D values): 2**26 floats = 256 MiB.
_GROUP_BUFFER_ELEMENTS = 2**26


def grouped_classwise_separability(
    delta_flat: Tensor,
    labels: Tensor,
    groups: Tensor,
    num_groups: int,
    *,
    detach_spread: bool = True,
) -> Tensor:
    """CSD (Eq. 4) of each of ``num_groups`` mini-batches at once: the value per group (G,).

    Row ``b`` belongs to mini-batch ``groups[b]``; each group's value is what
    :func:`classwise_separability` gives for that group's rows alone (0 with fewer than two
    classes present), so the gradient of a positive combination of the values reaches every row
    as its own batch's gradient would, with its sign unchanged (up to float rounding, which can
    flip the sign of a gradient within an ulp of 0). This lets one sign-PGD call refine
    a whole noise pass of model-free CSD steps (TUE's released objective) instead of one call per
    mini-batch. Centroids are padded to (G, C, D) with a presence mask; groups are processed in
    chunks that bound the pairwise-distance backward buffer.

    Args:
        delta_flat: float (N, D).
        labels: int64 (N,) class of each row.
        groups: int64 (N,) mini-batch of each row, in ``[0, num_groups)``.
        num_groups: G.
        detach_spread: cut the gradient through the spreads (the reference's choice).
    """
    if delta_flat.ndim != 2 or labels.shape != delta_flat.shape[:1] or groups.shape != labels.shape:
        raise ValueError(
            f"expected delta_flat (N, D), labels (N,) and groups (N,), got "
            f"{tuple(delta_flat.shape)}, {tuple(labels.shape)} and {tuple(groups.shape)}"
        )
    delta_flat = delta_flat.float()
    num_classes = int(labels.max()) + 1  # one device sync per call
    dim = delta_flat.shape[1]
    present, centroids, spreads, _ = _key_statistics(delta_flat, groups * num_classes + labels)
    if detach_spread:
        spreads = spreads.detach()
    slots = num_groups * num_classes
    padded = delta_flat.new_zeros(slots, dim).index_copy(0, present, centroids)
    padded_spread = delta_flat.new_zeros(slots).index_copy(0, present, spreads)
    is_present = torch.zeros(slots, dtype=torch.bool, device=delta_flat.device)
    is_present[present] = True
    padded = padded.view(num_groups, num_classes, dim)  # (G, C, D)
    padded_spread = padded_spread.view(num_groups, num_classes)  # (G, C)
    is_present = is_present.view(num_groups, num_classes)  # (G, C)
    chunk = max(1, _GROUP_BUFFER_ELEMENTS // (num_classes * num_classes * dim))
    values = [
        _padded_separability(
            padded[start : start + chunk],
            padded_spread[start : start + chunk],
            is_present[start : start + chunk],
        )
        for start in range(0, num_groups, chunk)
    ]
    return torch.cat(values)


def _padded_separability(centroids: Tensor, spreads: Tensor, present: Tensor) -> Tensor:
    """Eq. 4 per group from padded centroids (G, C, D), spreads (G, C) and presence (G, C)."""
    num_classes = centroids.shape[1]
    # Exact pairwise distances (the matmul shortcut loses precision and its gradient at d = 0).
    pair_dist = torch.cdist(
        centroids, centroids, compute_mode="donot_use_mm_for_euclid_dist"
    )  # (G, C, C)
    pair_spread = spreads[:, :, None] + spreads[:, None, :]  # (G, C, C)
    off_diagonal = ~torch.eye(num_classes, dtype=torch.bool, device=centroids.device)
    valid = present[:, :, None] & present[:, None, :] & off_diagonal  # (G, C, C)
    ratio = (pair_spread + CSD_STABILISER) / (pair_dist + CSD_STABILISER)
    ratio = torch.where(valid, ratio, torch.zeros_like(ratio))  # absent pairs: no value, no grad
    pairs = valid.sum(dim=(1, 2))  # (G,) M (M - 1), 0 with fewer than two classes
    return ratio.sum(dim=(1, 2)) / pairs.clamp(min=1).to(ratio.dtype)
