"""CSD (Eq. 4) on hand-built sets."""

from __future__ import annotations

import math

import pytest
import torch

from tue_core.perturb.csd import classwise_separability
from tue_core.perturb.diagnostics import dataset_csd


def toy(offset: float) -> tuple[torch.Tensor, torch.Tensor]:
    # class 0: (0,0),(2,0) -> centre (1,0), spread 1
    # class 1: (0,4),(2,4) shifted by offset in y -> centre (1,4+o), spread 1
    # class 2: (0,0),(0,2) shifted to x=6 -> points (6,0),(6,2): centre (6,1), spread 1
    pts = torch.tensor(
        [[0, 0], [2, 0], [0, 4 + offset], [2, 4 + offset], [6, 0], [6, 2]], dtype=torch.float64
    )
    return pts, torch.tensor([0, 0, 1, 1, 2, 2])


def hand_value(offset: float) -> float:
    c = [(1.0, 0.0), (1.0, 4.0 + offset), (6.0, 1.0)]
    s = [1.0, 1.0, 1.0]
    total = 0.0
    for i in range(3):
        for j in range(3):
            if i != j:
                d = math.dist(c[i], c[j])
                total += (s[i] + s[j] + 1e-5) / (d + 1e-5)
    return total / 6


def test_csd_equals_hand_computation() -> None:
    pts, labels = toy(0.0)
    # pairs: d01 = 4, d02 = sqrt(26), d12 = sqrt(34); each ratio 2/d
    expected = (2 / 4 + 2 / math.sqrt(26) + 2 / math.sqrt(34)) * 2 / 6
    assert hand_value(0.0) == pytest.approx(expected, rel=1e-5)
    assert float(classwise_separability(pts, labels)) == pytest.approx(hand_value(0.0), rel=1e-6)
    assert dataset_csd(pts, labels) == pytest.approx(hand_value(0.0), rel=1e-6)


def test_csd_falls_when_classes_separate() -> None:
    near = float(classwise_separability(*toy(0.0)))
    far = float(classwise_separability(*toy(20.0)))
    assert far < near
    assert far == pytest.approx(hand_value(20.0), rel=1e-6)


def test_single_class_and_absent_classes() -> None:
    pts, _ = toy(0.0)
    assert float(classwise_separability(pts, torch.zeros(6, dtype=torch.long))) == 0.0
    # labels 0 and 5 only: absent classes are skipped (M = 2)
    labels = torch.tensor([0, 0, 0, 5, 5, 5])
    value = float(classwise_separability(pts, labels))
    assert math.isfinite(value) and value > 0


def test_detached_spread_gives_classwise_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    delta = torch.randn(8, 5, generator=gen, requires_grad=True)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    (grad,) = torch.autograd.grad(classwise_separability(delta, labels), delta)
    # only the centres move: every sample of a class gets the same gradient
    assert torch.allclose(grad[:4], grad[:1].expand(4, -1))
    assert torch.allclose(grad[4:], grad[4:5].expand(4, -1))
    full = classwise_separability(delta, labels, detach_spread=False)
    (grad_full,) = torch.autograd.grad(full, delta)
    assert not torch.allclose(grad_full[:4], grad_full[:1].expand(4, -1))


def test_zero_delta_gives_one_and_finite_gradient() -> None:
    delta = torch.zeros(6, 12, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    value = classwise_separability(delta, labels)
    assert float(value.detach()) == pytest.approx(
        1.0
    )  # (0 + 1e-5) / (0 + 1e-5): the MoCo zero start
    (grad,) = torch.autograd.grad(value, delta)
    assert torch.isfinite(grad).all()
