"""Grouped CSD: many mini-batches in one call give each batch's own value and gradient sign.

TUE's released objective is CSD alone (no network), computed per mini-batch; ``refine_bank`` refines
all mini-batches of a pass together instead of one PGD call each. These tests pin that the grouped
computation is the per-batch one: values per group, gradients row by row, and whole noise passes.
"""

from __future__ import annotations

import pytest
import torch

from tue_core.perturb.alternating import _group_chunks, refine_bank
from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.csd import classwise_separability, grouped_classwise_separability
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.objectives import (
    ClasswiseSeparability,
    CrossEntropy,
    PerturbBatch,
    WeightedSum,
)
from tue_core.perturb.pgd import PGD

BALL = LinfBall(8 / 255)
SIZES = [20, 20, 20, 7, 3]  # the last batches are small, as a pass's last batch is


def grouped_rows(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    n = sum(SIZES)
    delta = torch.randn(n, 12, generator=gen)
    labels = torch.randint(0, 5, (n,), generator=gen)
    labels[60:67] = torch.tensor([0, 0, 0, 4, 4, 4, 4])  # group 3: classes 0 and 4 only
    labels[67:] = 2  # group 4: a single class, CSD 0 and no gradient
    groups = torch.repeat_interleave(torch.arange(len(SIZES)), torch.tensor(SIZES))
    return delta, labels, groups


def per_batch(delta: torch.Tensor, labels: torch.Tensor, detach: bool):
    """Each group's CSD and the gradient of its size-weighted value, one group at a time."""
    values, grad, start = [], torch.zeros_like(delta), 0
    for size in SIZES:
        rows = delta[start : start + size].clone().requires_grad_(True)
        value = classwise_separability(rows, labels[start : start + size], detach_spread=detach)
        values.append(value.detach())
        if value.requires_grad:
            (value * size / len(delta)).backward()
            grad[start : start + size] = rows.grad
        start += size
    return torch.stack(values), grad


@pytest.mark.parametrize("detach", [True, False])
def test_grouped_values_and_gradients_equal_per_batch(detach: bool) -> None:
    delta, labels, groups = grouped_rows()
    expected_values, expected_grad = per_batch(delta, labels, detach)

    rows = delta.clone().requires_grad_(True)
    values = grouped_classwise_separability(rows, labels, groups, len(SIZES), detach_spread=detach)
    weights = torch.tensor(SIZES, dtype=torch.float32) / len(delta)
    (values * weights).sum().backward()

    assert values.shape == (len(SIZES),)
    assert torch.allclose(values, expected_values, rtol=1e-5, atol=1e-7)
    assert float(values[-1].detach()) == 0.0  # a single class: no pair
    assert torch.isfinite(rows.grad).all()
    assert torch.allclose(rows.grad, expected_grad, rtol=1e-4, atol=1e-9)
    assert (rows.grad[67:] == 0).all()


def test_objective_on_a_grouped_batch_is_the_size_weighted_mean() -> None:
    delta, labels, groups = grouped_rows(seed=1)
    images = torch.zeros(len(delta), 3, 2, 2)
    batch = PerturbBatch(
        images, labels, torch.arange(len(delta)), groups=groups, num_groups=len(SIZES)
    )
    expected, _ = per_batch(delta, labels, detach=True)
    weights = torch.tensor(SIZES, dtype=torch.float32) / len(delta)
    value = ClasswiseSeparability()(None, batch, delta.view(len(delta), 3, 2, 2))
    assert float(value) == pytest.approx(float((expected * weights).sum()), rel=1e-5)
    with pytest.raises(ValueError, match="cannot take a grouped batch"):
        CrossEntropy()(torch.nn.Flatten(), batch, delta.view(len(delta), 3, 2, 2))


def toy_data(n: int = 230, classes: int = 4, size: int = 8) -> DeviceData:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), generator=gen, dtype=torch.uint8)
    return DeviceData(images=images, labels=torch.arange(n) % classes, num_classes=classes)


def passes(grouped: bool, objective, count: int = 3) -> tuple[torch.Tensor, list]:
    data = toy_data()
    gen = torch.Generator().manual_seed(1)
    bank = DeltaBank.uniform(data.images, BALL, gen)
    pgd = PGD(objective, BALL, steps=5, step_size=0.8 / 255)
    losses = [
        refine_bank(pgd, None, data, bank, batch_size=40, generator=gen, grouped=grouped)
        for _ in range(count)
    ]
    return bank.delta, losses


def test_grouped_noise_passes_equal_per_batch_passes() -> None:
    objective = WeightedSum(((0.0, CrossEntropy()), (0.1, ClasswiseSeparability())))
    assert objective.accepts_groups and not CrossEntropy.accepts_groups
    grouped_delta, grouped_losses = passes(True, objective)
    looped_delta, looped_losses = passes(False, objective)
    # sign steps on the same gradients: the same delta (float sums may round differently, which
    # could flip the sign of a vanishing gradient; none does here)
    assert torch.equal(grouped_delta, looped_delta)
    for g, lo in zip(grouped_losses, looped_losses, strict=True):
        assert g.first_step == pytest.approx(lo.first_step, rel=1e-5)
        assert g.last_step == pytest.approx(lo.last_step, rel=1e-5)
    assert grouped_losses[-1].last_step < grouped_losses[0].first_step  # and CSD fell


def test_grouping_needs_a_model_free_objective() -> None:
    data = toy_data()
    bank = DeltaBank.zeros(data.images)
    pgd = PGD(CrossEntropy(), BALL, steps=1, step_size=0.8 / 255)
    with pytest.raises(ValueError, match="model-free"):
        refine_bank(pgd, None, data, bank, batch_size=40, generator=torch.Generator(), grouped=True)


def test_group_chunks_respect_the_row_cap() -> None:
    batches = [torch.arange(n) for n in (40, 40, 40, 30)]
    chunks = _group_chunks(batches, max_rows=85)
    assert [[len(b) for b in c] for c in chunks] == [[40, 40], [40, 30]]
    assert [[len(b) for b in c] for c in _group_chunks(batches, max_rows=10)] == [
        [40],
        [40],
        [40],
        [30],
    ]


def test_cpu_passes_stay_per_batch_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grouping is the CUDA default only (slower on the CPU: docs/benchmarks.md)."""
    import tue_core.perturb.alternating as alternating

    def refuse(*args, **kwargs):
        raise AssertionError("grouped on the CPU by default")

    monkeypatch.setattr(alternating, "_group_chunks", refuse)
    data = toy_data()
    bank = DeltaBank.zeros(data.images)
    pgd = PGD(ClasswiseSeparability(), BALL, steps=1, step_size=0.8 / 255)
    refine_bank(pgd, None, data, bank, batch_size=40, generator=torch.Generator())
    with pytest.raises(AssertionError, match="grouped on the CPU"):
        refine_bank(pgd, None, data, bank, batch_size=40, generator=torch.Generator(), grouped=True)
