"""Perturbation generators: EMN, SN, UCL, TUE, block-constant TUE (``tue_patch``) and the
class-wise random control behind one registry and one call.

``generate(cfg, train, device, seed)`` (see :mod:`tue_core.perturb.registry`) is the entry point;
the modules registered below are imported explicitly (no auto-discovery).
"""

from __future__ import annotations

from tue_core.perturb.classwise import ClasswiseRandomNoise
from tue_core.perturb.emn import ErrorMinimizingNoise
from tue_core.perturb.registry import PERTURBATIONS, GenerationResult, generate, parse_config
from tue_core.perturb.sn import SyntheticNoise
from tue_core.perturb.tue import (
    PatchTransferableUnlearnableExamples,
    TransferableUnlearnableExamples,
)
from tue_core.perturb.ucl import ContrastivePoisoning

PERTURBATIONS.register("emn")(ErrorMinimizingNoise)
PERTURBATIONS.register("sn")(SyntheticNoise)
PERTURBATIONS.register("ucl")(ContrastivePoisoning)
PERTURBATIONS.register("tue")(TransferableUnlearnableExamples)
PERTURBATIONS.register("tue_patch")(PatchTransferableUnlearnableExamples)
PERTURBATIONS.register("classwise_random")(ClasswiseRandomNoise)

__all__ = [
    "PERTURBATIONS",
    "ClasswiseRandomNoise",
    "ContrastivePoisoning",
    "ErrorMinimizingNoise",
    "GenerationResult",
    "PatchTransferableUnlearnableExamples",
    "SyntheticNoise",
    "TransferableUnlearnableExamples",
    "generate",
    "parse_config",
]
