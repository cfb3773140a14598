"""Pieces shared by the alternating min-min generators (EMN, UCL, TUE).

Each of them alternates a *model phase* (a few optimiser steps of the surrogate on ``x + delta``)
with a *noise phase* (a PGD pass over the whole training set that rewrites the delta bank); they
differ in the surrogate, the objective and the schedule (Appendix B.1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from tue_core.device import prefers_grouped_noise_passes
from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.device_data import DeviceData, epoch_batches
from tue_core.perturb.objectives import PerturbBatch
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


# Values (rows x C x H x W) refined by one grouped PGD call: 2**28 floats = 1 GiB per full-chunk
# float32 tensor (87,381 CIFAR rows; fewer for larger images). A grouped call holds about eight
# such tensors at once (images, delta, its gradient, the CSD's centred rows, projection temps).
GROUPED_MAX_VALUES = 2**28


def refine_bank(
    pgd: PGD,
    model: nn.Module | None,
    data: DeviceData,
    bank: DeltaBank,
    *,
    batch_size: int,
    generator: torch.Generator,
    shuffle: bool = True,
    grouped: bool | None = None,
) -> PassLosses:
    """One noise phase: PGD on every sample of the set, written back into ``bank`` by sample id.

    The set is split into shuffled mini-batches of ``batch_size`` and each gets its own PGD run,
    as in the references. With a model-free objective that accepts grouped batches (TUE's
    released, CSD-only objective) the mini-batches can instead be refined together, many per PGD
    call: the gradient signs are each batch's own, so the delta is the same up to float rounding
    (bit-identical in tests/perturb/test_csd_grouped.py). ``grouped=None`` follows
    ``tue_core.device.prefers_grouped_noise_passes``: on CUDA, where it replaces ~100 launch-bound
    small steps per PGD step with one; not on the CPU, where the per-batch loop is faster (a
    256-row batch stays in cache: one CIFAR-sized PGD-20 pass took 1.24 s looped and 4.7 s grouped).
    """
    batches = epoch_batches(
        len(data),
        batch_size,
        shuffle=shuffle,
        drop_last=False,
        generator=generator,
        device=data.device,
    )
    can_group = model is None and getattr(pgd.objective, "accepts_groups", False)
    if grouped and not can_group:
        raise ValueError("grouped noise passes need a model-free objective that accepts groups")
    if grouped is None:
        grouped = can_group and prefers_grouped_noise_passes(data.device)
    max_rows = max(1, GROUPED_MAX_VALUES // data.images[0].numel())  # values per row: C * H * W
    chunks = _group_chunks(batches, max_rows) if grouped else [[index] for index in batches]
    first = torch.zeros((), device=data.device)
    last = torch.zeros((), device=data.device)
    for chunk in chunks:
        batch = _stacked_batch(data, chunk)
        result = pgd(model, batch, bank.gather(batch.index), generator=generator)
        bank.scatter(batch.index, result.delta)
        first += result.losses[0] * len(batch.index)  # a grouped loss is already size-weighted
        last += result.losses[-1] * len(batch.index)
    return PassLosses(first_step=float(first) / len(data), last_step=float(last) / len(data))


def _group_chunks(batches: list[Tensor], max_rows: int) -> list[list[Tensor]]:
    """Consecutive mini-batches packed into chunks of at most ``max_rows`` rows (at least one)."""
    chunks: list[list[Tensor]] = [[]]
    rows = 0
    for index in batches:
        if chunks[-1] and rows + len(index) > max_rows:
            chunks.append([])
            rows = 0
        chunks[-1].append(index)
        rows += len(index)
    return chunks


def _stacked_batch(data: DeviceData, chunk: list[Tensor]) -> PerturbBatch:
    """One mini-batch as it is, or several stacked into a grouped batch (``groups`` set)."""
    if len(chunk) == 1:
        return data.batch(chunk[0])
    index = torch.cat(chunk)
    sizes = torch.tensor([len(i) for i in chunk], device=data.device)
    groups = torch.repeat_interleave(torch.arange(len(chunk), device=data.device), sizes)
    return replace(data.batch(index), groups=groups, num_groups=len(chunk))
