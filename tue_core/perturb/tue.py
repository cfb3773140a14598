"""TUE: transferable unlearnable examples (Ren et al., ICLR 2023), Eq. 5-6.

S2 minimises ``ssl_weight * L_CL(f(T1(x + delta)), f(T2(x + delta))) + lambda * CSD(delta, y)``
(Eq. 5, with CSD of Eq. 4 computed per mini-batch on the flattened delta), alternating with S1, SSL
training of the surrogate on ``x + delta``, with the per-backbone schedules of Appendix B.1.

Two modes, recorded in every output:

* ``paper`` (default): both terms, as Eq. 5 states (``ssl_weight`` 1, ``lambda`` = the demo's).
* ``released``: the public ``demo.sh`` weights, ``ssl_weight`` 0 and ``lambda`` 0.1 for SimCLR and
  SimSiam (S2 is then CSD alone and runs no network), 1 and 1 for MoCo (spec §1.1).

The per-batch CSD gradient (spreads detached) is the same for every sample of a class in the batch,
so one batch reaches its own class-wise fixed point within about ``2 eps / step_size`` sign steps;
only reshuffled noise passes pull the samples of a class from different batches onto one pattern.
A schedule's strength is therefore its number of passes (``epochs * ceil(batches / train_steps)``,
recorded as ``noise_passes``), not its steps per pass (tests/perturb/test_csd_passes.py).

Augmentations in S2 are drawn per sample and re-drawn at every PGD step; the reference draws one
torchvision parameter set per batch there (spec §2.4), which we do not copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from tue_core.checkpoint import Checkpoint
from tue_core.perturb.base import MethodOutput
from tue_core.perturb.config import PatchTUEConfig, TUEConfig
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.objectives import ClasswiseSeparability, Objective, SSLObjective, WeightedSum
from tue_core.perturb.ssl_minmin import MinMinPlan, run_ssl_minmin


class TransferableUnlearnableExamples:
    """TUE (Ren et al. 2023, Eq. 5-6): PGD on ``ssl_weight * L_CL + lambda * CSD`` with SSL training."""

    def __init__(self, cfg: TUEConfig) -> None:
        self.cfg = cfg

    def objective(self, augment: Callable[..., torch.Tensor]) -> Objective:
        """The S2 objective of Eq. 6 for this config's weights."""
        ssl_weight, csd_weight = self.cfg.weights()
        return WeightedSum(
            (
                (
                    ssl_weight,
                    SSLObjective(
                        augment,
                        update_queue=self.cfg.pgd_update_queue,
                        target_grad=self.cfg.pgd_target_grad,
                    ),
                ),
                (csd_weight, ClasswiseSeparability(detach_spread=self.cfg.csd_detach_spread)),
            )
        )

    def generate(
        self,
        data: DeviceData,
        *,
        seed: int,
        init: np.ndarray | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> MethodOutput:
        ssl_weight, csd_weight = self.cfg.weights()
        plan = MinMinPlan(objective=self.objective, uses_model=self.cfg.s2_uses_network())
        out = run_ssl_minmin(self.cfg, plan, data, seed=seed, init=init, checkpoint=checkpoint)
        out.extra.update(
            {
                "backbone": self.cfg.backbone,
                "mode": self.cfg.mode,
                "ssl_weight": ssl_weight,
                "csd_weight": csd_weight,
                "csd_detach_spread": self.cfg.csd_detach_spread,
            }
        )
        return out


class PatchTransferableUnlearnableExamples(TransferableUnlearnableExamples):
    """TUE over block-constant perturbations (ours): the same Eq. 5-6 and schedules, with delta
    constrained to ``PatchTUEConfig.patch_size`` blocks (``PatchLinfBall``) so that the class-wise
    patterns CSD converges to survive crop shifts of a few pixels (docs/tue-patch.md)."""

    def __init__(self, cfg: PatchTUEConfig) -> None:
        super().__init__(cfg)
