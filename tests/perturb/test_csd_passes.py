"""Per-batch CSD (spec §2.3) builds a class-wise pattern over noise *passes*, not PGD steps.

Within one batch the detached-spread gradient is the same for every sample of a class, so a batch
reaches its own corner of the ball in about ``2 eps / alpha`` steps and further steps there do
nothing. Only reshuffled passes mix samples of different batches into one class centre, so the
whole-set CSD keeps falling with passes while extra steps in a single pass leave it where it is.
This is why the CPU schedules give TUE many cheap passes (config/cifar10-cpu.yaml).
"""

from __future__ import annotations

import torch

from tue_core.perturb.alternating import refine_bank
from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.diagnostics import dataset_csd
from tue_core.perturb.objectives import ClasswiseSeparability
from tue_core.perturb.pgd import PGD

BALL = LinfBall(8 / 255)


def toy_data(n: int = 400, classes: int = 4, size: int = 8) -> DeviceData:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), generator=gen, dtype=torch.uint8)
    return DeviceData(images=images, labels=torch.arange(n) % classes, num_classes=classes)


def within_class_deviation(delta: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over classes of the per-pixel standard deviation of delta inside the class."""
    return float(
        torch.stack([delta[labels == c].std(dim=0).mean() for c in labels.unique()]).mean()
    )


def run(passes: int, steps: int) -> DeltaBank:
    data = toy_data()
    gen = torch.Generator().manual_seed(1)
    bank = DeltaBank.uniform(data.images, BALL, gen)
    pgd = PGD(ClasswiseSeparability(), BALL, steps=steps, step_size=0.8 / 255)
    for _ in range(passes):
        refine_bank(pgd, None, data, bank, batch_size=40, generator=gen)
    return bank


def test_passes_not_steps_make_the_pattern_classwise() -> None:
    labels = toy_data().labels
    start = run(passes=0, steps=1).delta
    one_long_pass = run(passes=1, steps=200).delta
    many_passes = run(passes=10, steps=20).delta

    csd_start, csd_long, csd_many = (
        dataset_csd(d, labels) for d in (start, one_long_pass, many_passes)
    )
    assert csd_long < csd_start  # one pass already separates the classes somewhat
    assert csd_many < 0.5 * csd_long  # ... but passes keep separating them, steps do not

    eps = BALL.eps
    # one pass leaves each batch on its own corner: samples of a class still disagree
    assert within_class_deviation(one_long_pass, labels) > 0.3 * eps
    # reshuffled passes pull every sample of a class onto one pattern
    assert within_class_deviation(many_passes, labels) < 0.5 * within_class_deviation(
        one_long_pass, labels
    )
