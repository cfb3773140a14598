"""Class-wise random noise: the control for every class-wise shortcut (no model, no optimisation).

Each class gets one fixed pattern, drawn once from the seed: by default independent random signs
times ``eps`` per pixel and channel (``pattern = "sign"``: the L-inf corners that TUE's CSD
converges to, docs/tue-cpu-scale.md §1), or uniform values in [-eps, eps] (``"uniform"``). Every
image of the class gets its class's pattern, projected so that ``x + delta`` stays a valid image.
Class-wise noise of this kind is the "class-wise" baseline of Huang et al. 2021 (EMN, Table 1) and
the control in benchmarks/cpu_calibration.py; comparing a method with it separates what the
method's optimisation adds from what any class-wise pattern does.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from tue_core.checkpoint import Checkpoint
from tue_core.perturb.base import MethodOutput
from tue_core.perturb.config import ClasswiseRandomConfig
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.sn import project_to_valid
from tue_core.seeding import make_generator

log = logging.getLogger(__name__)


class ClasswiseRandomNoise:
    """One random ±eps (or uniform) pattern per class, shared by every image of the class."""

    def __init__(self, cfg: ClasswiseRandomConfig) -> None:
        self.cfg = cfg

    def generate(
        self,
        data: DeviceData,
        *,
        seed: int,
        init: np.ndarray | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> MethodOutput:
        """One seeded draw (drawn on the CPU, so the same seed gives the same delta anywhere)."""
        if init is not None:
            raise ValueError("class-wise random noise is sampled, not optimised: no init delta")
        cfg = self.cfg
        shape = (data.num_classes, *data.images.shape[1:])  # (K, 3, H, W)
        generator = make_generator(seed)
        if cfg.pattern == "sign":
            patterns = torch.randint(0, 2, shape, generator=generator).float().mul_(2).sub_(1)
        else:
            patterns = torch.rand(shape, generator=generator).mul_(2).sub_(1)
        patterns = (patterns * cfg.eps).to(data.device)
        delta = project_to_valid(patterns[data.labels].contiguous(), data.images)  # (N, 3, H, W)
        log.info(
            "class-wise %s noise: %d classes, eps %.4g", cfg.pattern, data.num_classes, cfg.eps
        )
        return MethodOutput(
            delta=delta,
            norm="linf",
            eps=cfg.eps,
            schedule={"pattern": cfg.pattern, "classes": data.num_classes},
        )
