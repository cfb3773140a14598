"""S2 of Eq. 6: PGD on the contrastive loss lowers it (fixed augmentation draws for the check)."""

from __future__ import annotations

import pytest
import torch
from perturb_tiny import TINY_HEADS

from tue_core.models import build_model
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.objectives import (
    ClasswiseSeparability,
    PerturbBatch,
    SSLObjective,
    WeightedSum,
    supported_options,
)
from tue_core.perturb.pgd import PGD
from tue_core.ssl.augment import SSLAugment
from tue_core.ssl.methods import build_ssl_method


@pytest.mark.parametrize("backbone", ["simclr", "moco", "simsiam"])
def test_min_min_pass_lowers_ssl_objective(backbone: str) -> None:
    torch.manual_seed(0)
    method = build_ssl_method(TINY_HEADS[backbone], build_model(num_classes=4, width=4)).eval()
    gen = torch.Generator().manual_seed(0)
    batch = PerturbBatch(
        images=torch.rand(12, 3, 16, 16, generator=gen),
        labels=torch.arange(12) % 4,
        index=torch.arange(12),
    )
    objective = WeightedSum(
        ((1.0, SSLObjective(SSLAugment(), update_queue=False)), (0.1, ClasswiseSeparability()))
    )

    def value(delta: torch.Tensor) -> float:  # the same augmentation draws for both deltas
        with torch.no_grad():
            return float(
                objective(method, batch, delta, generator=torch.Generator().manual_seed(9))
            )

    start = torch.zeros_like(batch.images)
    pgd = PGD(objective, LinfBall(8 / 255), steps=10, step_size=2 / 255)
    result = pgd(method, batch, start, generator=torch.Generator().manual_seed(5))
    assert value(result.delta) < value(start)


def test_options_follow_each_method_signature() -> None:
    backbone = build_model(num_classes=4, width=4)
    simclr = build_ssl_method(TINY_HEADS["simclr"], backbone)
    moco = build_ssl_method(TINY_HEADS["moco"], build_model(num_classes=4, width=4))
    simsiam = build_ssl_method(TINY_HEADS["simsiam"], build_model(num_classes=4, width=4))
    options = {"update_queue": False, "target_grad": True}
    assert supported_options(simclr.step, options) == {}
    assert supported_options(moco.step, options) == options
    assert supported_options(simsiam.step, options) == {"target_grad": True}
