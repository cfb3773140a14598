"""The defense registry and the one factory every caller uses.

``build_defense(cfg)`` validates a config (a :data:`~tue_core.defend.config.DefenseConfig` or a
mapping with its ``name``) and returns the registered class built from it; ``defense.kind`` says
which call shape it has (``"preprocess"``: once on the training set, ``"train_time"``: on each
batch) and ``defense.describe()`` is the record for a run's sidecar.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from tue_core.defend.base import Defense
from tue_core.defend.config import DefenseConfig
from tue_core.defend.preprocess import ISS, JPEG, BitDepthReduction, GaussianBlur, Grayscale
from tue_core.defend.train_time import AdversarialTraining, CutMix, Cutout, Mixup, UEraser
from tue_core.registry import Registry

DEFENSES: Registry[type[Defense]] = Registry("defense")
DEFENSES.register("grayscale")(Grayscale)
DEFENSES.register("jpeg")(JPEG)
DEFENSES.register("bit_depth_reduction")(BitDepthReduction)
DEFENSES.register("gaussian_blur")(GaussianBlur)
DEFENSES.register("iss")(ISS)
DEFENSES.register("cutout")(Cutout)
DEFENSES.register("mixup")(Mixup)
DEFENSES.register("cutmix")(CutMix)
DEFENSES.register("ueraser")(UEraser)
DEFENSES.register("adversarial_training")(AdversarialTraining)

_CONFIG_ADAPTER: TypeAdapter[Any] = TypeAdapter(DefenseConfig)


def parse_defense_config(raw: Any) -> Any:
    """A validated defense config from a mapping (``{"name": "jpeg", "quality": 10}``) or a config."""
    if isinstance(raw, Mapping):
        return _CONFIG_ADAPTER.validate_python(dict(raw))
    return _CONFIG_ADAPTER.validate_python(raw)


def build_defense(cfg: Any) -> Defense:
    """The defense named by ``cfg`` (a config object, a mapping, or just a name string)."""
    if isinstance(cfg, str):
        cfg = {"name": cfg}
    parsed = parse_defense_config(cfg)
    return DEFENSES.get(parsed.name)(parsed)
