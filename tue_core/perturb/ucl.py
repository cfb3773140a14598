"""UCL: unsupervised contrastive poisoning (He, Zha & Katabi, ICLR 2023), sample-wise.

delta minimises the SSL loss of the surrogate through differentiable augmentations of
``x + delta`` (Eq. 5 without the CSD term), alternating with SSL training of the surrogate (Eq. 6),
for SimCLR, MoCo and SimSiam, with the schedules of Appendix B.1 (TUE's, with PGD-10 for MoCo).
Augmentations are drawn per sample and re-drawn at every PGD step (as contrastive poisoning does).
The noise starts from ``U(-eps, eps)`` or zeros per backbone, or from a given perturbation file
(``init_path``: the reference initialises CP-S from its class-wise poison).
"""

from __future__ import annotations

import numpy as np

from tue_core.checkpoint import Checkpoint
from tue_core.perturb.base import MethodOutput
from tue_core.perturb.config import UCLConfig
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.objectives import SSLObjective
from tue_core.perturb.ssl_minmin import MinMinPlan, run_ssl_minmin


class ContrastivePoisoning:
    """UCL / CP-S (He et al. 2023): PGD on the contrastive loss, alternating with SSL training."""

    def __init__(self, cfg: UCLConfig) -> None:
        self.cfg = cfg

    def generate(
        self,
        data: DeviceData,
        *,
        seed: int,
        init: np.ndarray | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> MethodOutput:
        update_queue, target_grad = self.cfg.pgd_update_queue, self.cfg.pgd_target_grad
        plan = MinMinPlan(
            objective=lambda augment: SSLObjective(
                augment, update_queue=update_queue, target_grad=target_grad
            ),
            uses_model=True,
        )
        out = run_ssl_minmin(self.cfg, plan, data, seed=seed, init=init, checkpoint=checkpoint)
        out.extra.update({"backbone": self.cfg.backbone})
        return out
