"""Defenses an unauthorised trainer uses against poisoned (unlearnable) training data.

APBench's set (github.com/lafeat/apbench): preprocessing (grayscale, JPEG, bit-depth reduction,
Gaussian blur, ISS) applied once to the uint8 training set, and training-time transforms (cutout,
mixup, cutmix, UEraser, PGD adversarial training) applied to each batch, returning soft targets
for :func:`soft_cross_entropy`. ``build_defense(cfg)`` is the entry point.
"""

from __future__ import annotations

from tue_core.defend.base import (
    Defense,
    PreprocessDefense,
    TrainTimeDefense,
    one_hot,
    soft_cross_entropy,
)
from tue_core.defend.config import (
    AdversarialTrainingConfig,
    BitDepthConfig,
    CutMixConfig,
    CutoutConfig,
    DefenseConfig,
    GaussianBlurConfig,
    GrayscaleConfig,
    ISSConfig,
    JPEGConfig,
    MixupConfig,
    UEraserConfig,
)
from tue_core.defend.preprocess import ISS, JPEG, BitDepthReduction, GaussianBlur, Grayscale
from tue_core.defend.registry import DEFENSES, build_defense, parse_defense_config
from tue_core.defend.train_time import AdversarialTraining, CutMix, Cutout, Mixup, UEraser

__all__ = [
    "DEFENSES",
    "ISS",
    "JPEG",
    "AdversarialTraining",
    "AdversarialTrainingConfig",
    "BitDepthConfig",
    "BitDepthReduction",
    "CutMix",
    "CutMixConfig",
    "Cutout",
    "CutoutConfig",
    "Defense",
    "DefenseConfig",
    "GaussianBlur",
    "GaussianBlurConfig",
    "Grayscale",
    "GrayscaleConfig",
    "ISSConfig",
    "JPEGConfig",
    "Mixup",
    "MixupConfig",
    "PreprocessDefense",
    "TrainTimeDefense",
    "UEraser",
    "UEraserConfig",
    "build_defense",
    "one_hot",
    "parse_defense_config",
    "soft_cross_entropy",
]
