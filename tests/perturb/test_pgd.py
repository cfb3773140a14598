"""The PGD engine: descent, invariants, frozen model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.objectives import (
    ClasswiseSeparability,
    CrossEntropy,
    PerturbBatch,
    WeightedSum,
)
from tue_core.perturb.pgd import PGD


def batch(n: int = 16, size: int = 8, classes: int = 4) -> PerturbBatch:
    gen = torch.Generator().manual_seed(1)
    return PerturbBatch(
        images=torch.rand(n, 3, size, size, generator=gen),
        labels=torch.arange(n) % classes,
        index=torch.arange(n),
    )


def classifier(size: int = 8, classes: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, classes), nn.BatchNorm1d(classes))


def test_min_min_pass_lowers_cross_entropy() -> None:
    data, model = batch(), classifier()
    pgd = PGD(CrossEntropy(), LinfBall(8 / 255), steps=10, step_size=0.8 / 255)
    result = pgd(model, data, torch.zeros_like(data.images))
    with torch.no_grad():
        after = float(CrossEntropy()(model.eval(), data, result.delta))
    assert after < float(result.losses[0]) - 1e-3
    assert result.losses.shape == (10,)


def test_pgd_lowers_csd_and_stays_in_ball() -> None:
    data = batch()
    ball = LinfBall(8 / 255)
    gen = torch.Generator().manual_seed(3)
    start = ball.project(
        ball.sample_uniform(tuple(data.images.shape), device=torch.device("cpu"), generator=gen),
        data.images,
    )
    pgd = PGD(WeightedSum(((0.1, ClasswiseSeparability()),)), ball, steps=5, step_size=0.8 / 255)
    result = pgd(None, data, start)
    csd = ClasswiseSeparability()
    assert float(csd(None, data, result.delta)) < float(csd(None, data, start))
    assert result.delta.abs().max() <= ball.eps + 1e-7
    perturbed = data.images + result.delta
    assert perturbed.min() >= 0 and perturbed.max() <= 1


def test_model_frozen_and_mode_restored() -> None:
    data, model = batch(), classifier()
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    PGD(CrossEntropy(), LinfBall(8 / 255), steps=2, step_size=1 / 255)(
        model, data, torch.zeros_like(data.images)
    )
    assert model.training
    assert all(p.requires_grad for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())


def test_constant_objective_leaves_delta_unchanged() -> None:
    data = batch()
    one_class = PerturbBatch(
        images=data.images, labels=torch.zeros(16, dtype=torch.long), index=data.index
    )
    start = torch.full_like(data.images, 1 / 255)
    start = LinfBall(8 / 255).project(start, data.images)
    result = PGD(ClasswiseSeparability(), LinfBall(8 / 255), steps=3, step_size=1 / 255)(
        None, one_class, start
    )
    assert torch.equal(result.delta, start)


def test_schedule_without_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="PGD steps must be >= 1"):
        PGD(CrossEntropy(), LinfBall(8 / 255), steps=0, step_size=0.8 / 255)
    with pytest.raises(ValueError, match="all-zero weights never update delta"):
        WeightedSum(((0.0, ClasswiseSeparability()),))
