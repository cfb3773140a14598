"""SSL losses as pure functions of embeddings (no modules, no state).

* ``nt_xent``: SimCLR's normalised-temperature cross-entropy (Chen et al. 2020, arXiv:2002.05709,
  Eq. 1) over the 2B views of a batch; each view's negatives are the other 2B - 2 views and the
  positive stays in the denominator, as in TUE's SimCLR (spec §2.4).
* ``moco_logits`` / ``info_nce_with_queue``: MoCo's InfoNCE with one positive key and a queue of
  negative keys (He et al. 2020, arXiv:1911.05722, Eq. 1 and Algorithm 1).
* ``negative_cosine``: SimSiam's D(p, z) = -cos(p, stopgrad(z)) (Chen & He 2021,
  arXiv:2011.10566, Eq. 1-2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nt_xent(z0: Tensor, z1: Tensor, temperature: float) -> Tensor:
    """Mean NT-Xent loss of the positive pairs ``(z0[i], z1[i])``.

    Args:
        z0, z1: (B, D) projections of the two views (normalised here).
        temperature: tau > 0 (0.5 in TUE's SimCLR).

    Returns:
        scalar: mean over the 2B anchors of ``-log softmax(sim / tau)[positive]``, where the
        softmax runs over every other view in the batch (self-similarity excluded).
    """
    batch = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]), dim=1)  # (2B, D)
    sim = z @ z.T / temperature  # (2B, 2B)
    self_mask = torch.eye(2 * batch, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    positives = torch.arange(2 * batch, device=z.device).roll(batch)  # i <-> i + B
    return F.cross_entropy(sim, positives)


def moco_logits(q: Tensor, k: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """Logits (B, 1 + K): column 0 is ``q.k`` (the positive), then ``q.queue[j]``, all over tau.

    Args:
        q: (B, D) normalised queries; k: (B, D) normalised positive keys;
        queue: (K, D) normalised negative keys; temperature: tau > 0.
    """
    positive = (q * k).sum(dim=1, keepdim=True)  # (B, 1)
    negative = q @ queue.T.to(q.dtype)  # (B, K)
    return torch.cat([positive, negative], dim=1) / temperature


def info_nce_with_queue(q: Tensor, k: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """MoCo's InfoNCE: cross-entropy of :func:`moco_logits` with the positive as the target."""
    logits = moco_logits(q, k, queue, temperature)
    return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))


def negative_cosine(p: Tensor, z: Tensor, stop_gradient: bool = True) -> Tensor:
    """SimSiam's ``D(p, z) = -mean_i cos(p_i, z_i)``, with no gradient through ``z`` by default.

    ``stop_gradient=False`` is TUE's ``k_grad`` variant, used only in perturbation steps.
    """
    if stop_gradient:
        z = z.detach()
    return -F.cosine_similarity(p, z, dim=1).mean()
