"""SSL losses against values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import torch

from tue_core.ssl.losses import info_nce_with_queue, moco_logits, negative_cosine, nt_xent


def _nt_xent_by_hand(z0: list, z1: list, tau: float) -> float:
    """Eq. 1 of SimCLR, written out with loops over the 2B anchors."""
    views = [torch.tensor(v) / torch.tensor(v).norm() for v in z0 + z1]
    batch, total = len(z0), 0.0
    for i, anchor in enumerate(views):
        positive = (i + batch) % (2 * batch)
        logits = {j: float(anchor @ other) / tau for j, other in enumerate(views) if j != i}
        total += -logits[positive] + math.log(sum(math.exp(v) for v in logits.values()))
    return total / (2 * batch)


def test_nt_xent_matches_a_hand_computed_value() -> None:
    z0, z1 = [[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [2.0, 0.0]]
    # views a=(1,0) b=(0,1) c=(.6,.8) d=(1,0), tau 0.5; per anchor -pos + log(sum over others):
    # a: -1.2 + log(1 + e^1.2 + e^2) = 1.2604     b: log(2 + e^1.6) = 1.9392
    # c: -1.2 + log(2 e^1.2 + e^1.6) = 1.2505     d: log(e^2 + 1 + e^1.2) = 2.4604
    loss = nt_xent(torch.tensor(z0), torch.tensor(z1), temperature=0.5)
    assert math.isclose(loss.item(), (1.2604 + 1.9392 + 1.2505 + 2.4604) / 4, abs_tol=2e-4)
    assert math.isclose(loss.item(), _nt_xent_by_hand(z0, z1, 0.5), rel_tol=1e-5)


def test_nt_xent_of_identical_embeddings_is_log_2b_minus_1() -> None:
    z = torch.ones(3, 4)
    assert math.isclose(nt_xent(z, z, 0.5).item(), math.log(5), rel_tol=1e-5)


def test_nt_xent_is_symmetric_in_the_two_views() -> None:
    torch.manual_seed(0)
    z0, z1 = torch.randn(5, 8), torch.randn(5, 8)
    torch.testing.assert_close(nt_xent(z0, z1, 0.5), nt_xent(z1, z0, 0.5))


def test_moco_logits_and_loss_with_a_queue() -> None:
    q, k = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.6, 0.8]])
    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    logits = moco_logits(q, k, queue, temperature=0.2)
    torch.testing.assert_close(logits, torch.tensor([[3.0, 0.0, -5.0]]))
    loss = info_nce_with_queue(q, k, queue, temperature=0.2)
    assert math.isclose(loss.item(), math.log(1 + math.exp(-3) + math.exp(-8)), rel_tol=1e-5)


def test_negative_cosine_values_and_stop_gradient() -> None:
    p = torch.tensor([[1.0, 1.0], [1.0, 0.0]], requires_grad=True)
    z = torch.tensor([[2.0, 2.0], [0.0, 3.0]], requires_grad=True)
    loss = negative_cosine(p, z)
    assert math.isclose(loss.item(), -0.5, abs_tol=1e-6)  # mean of -cos: -1 and 0
    loss.backward()
    assert z.grad is None and p.grad is not None and p.grad.abs().sum() > 0
    negative_cosine(p, z, stop_gradient=False).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
