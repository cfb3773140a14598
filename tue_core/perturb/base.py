"""The one call shape every perturbation method implements.

``Method(cfg).generate(data, seed=seed, init=None, checkpoint=None) -> MethodOutput``: the method
gets the training set as device tensors and returns its perturbation bank plus what it actually ran
(schedule, stop reason) and its final losses; iterative methods checkpoint through ``checkpoint``
(:mod:`tue_core.checkpoint`) and resume from it. :func:`tue_core.perturb.registry.generate` wraps this with validation,
diagnostics and the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from torch import Tensor

from tue_core.checkpoint import Checkpoint
from tue_core.perturb.device_data import DeviceData


@dataclass
class MethodOutput:
    """What a method hands back: delta and the record of how it was made."""

    delta: Tensor  # float32 (N, 3, H, W) on the device, dataset order
    norm: str  # "linf" or "l2"
    eps: float  # L-inf radius (pixel units); inf for L2 methods
    schedule: dict[str, Any] = field(default_factory=dict)  # what actually ran
    losses: dict[str, float] = field(default_factory=dict)  # final losses
    extra: dict[str, Any] = field(default_factory=dict)  # method-specific facts (l2 radius...)


class PerturbationMethod(Protocol):
    """A named recipe for unlearnable examples, built from its config."""

    def __init__(self, cfg: Any) -> None: ...

    def generate(
        self,
        data: DeviceData,
        *,
        seed: int,
        init: np.ndarray | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> MethodOutput:
        """The perturbation of ``data``; an iterative method offers its whole state to
        ``checkpoint`` after each unit of work (round, pass) and resumes from it when rerun."""
        ...
