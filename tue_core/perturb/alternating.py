"""Pieces shared by the alternating min-min generators (EMN, UCL, TUE).

Each of them alternates a *model phase* (a few optimiser steps of the surrogate on ``x + delta``)
with a *noise phase* (a PGD pass over the whole training set that rewrites the delta bank); they
differ in the surrogate, the objective and the schedule (Appendix B.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.device_data import DeviceData, epoch_batches
from tue_core.perturb.pgd import PGD


def stream_seed(seed: int) -> int:
    """Seed of the generator behind batch order, random start and S2 augmentations: derived from
    ``seed`` but distinct from the seed the surrogate's trainer gives its own generator."""
    return (seed * 1_000_003 + 0x5EED) % 2**63


def initial_bank(
    data: DeviceData,
    ball: LinfBall,
    *,
    random_start: bool,
    generator: torch.Generator,
    init: np.ndarray | None = None,
) -> DeltaBank:
    """The starting delta: a given array (already checked), ``U(-eps, eps)`` or zeros; projected."""
    if init is not None:
        bank = DeltaBank.from_numpy(init, data.device)
        bank.project_all(data.images, ball)
        return bank
    if random_start:
        return DeltaBank.uniform(data.images, ball, generator)
    return DeltaBank.zeros(data.images)


def perturbed_images(data: DeviceData, bank: DeltaBank, index: Tensor) -> tuple[Tensor, Tensor]:
    """``x + delta`` (float (B, 3, H, W) in [0, 1]) and the labels of rows ``index``."""
    batch = data.batch(index)
    return batch.images + bank.gather(index), batch.labels


@dataclass(frozen=True)
class PassLosses:
    """Mean objective over one noise pass, before the first and before the last PGD step."""

    first_step: float
    last_step: float


def refine_bank(
    pgd: PGD,
    model: nn.Module | None,
    data: DeviceData,
    bank: DeltaBank,
    *,
    batch_size: int,
    generator: torch.Generator,
    shuffle: bool = True,
) -> PassLosses:
    """One noise phase: PGD on every sample of the set, written back into ``bank`` by sample id."""
    batches = epoch_batches(
        len(data),
        batch_size,
        shuffle=shuffle,
        drop_last=False,
        generator=generator,
        device=data.device,
    )
    first = torch.zeros((), device=data.device)
    last = torch.zeros((), device=data.device)
    for index in batches:
        batch = data.batch(index)
        result = pgd(model, batch, bank.gather(index), generator=generator)
        bank.scatter(index, result.delta)
        first += result.losses[0] * len(index)
        last += result.losses[-1] * len(index)
    return PassLosses(first_step=float(first) / len(data), last_step=float(last) / len(data))
