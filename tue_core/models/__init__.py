"""Backbones: the ``MODELS`` registry and :func:`build_model`.

CIFAR variants of ResNet-18, VGG-16, MobileNetV2, DenseNet-121 and a small ViT, each scaled by
``width`` (64 is the standard size). Every model exposes ``embed_dim``, ``forward_features``,
``embed`` (pooled feature, used by SSL and the linear probe), ``forward_head``, ``forward``
(logits, used by supervised training) and ``reset_classifier``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from tue_core.models.densenet import DenseNet121
from tue_core.models.mobilenetv2 import MobileNetV2
from tue_core.models.norm import SplitBatchNorm2d, set_bn_splits
from tue_core.models.resnet import ResNet18
from tue_core.models.vgg import VGG16
from tue_core.models.vit import ViTSmall
from tue_core.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
MODELS.register("resnet18")(ResNet18)
MODELS.register("vgg16")(VGG16)
MODELS.register("mobilenetv2")(MobileNetV2)
MODELS.register("densenet121")(DenseNet121)
MODELS.register("vit_small")(ViTSmall)


def build_model(
    name: str = "resnet18",
    num_classes: int = 10,
    width: int = 64,
    normalize_features: bool = False,
) -> nn.Module:
    """Build the model called ``name`` (see ``MODELS.names()``); ``width=64`` is the standard size."""
    return MODELS.get(name)(
        num_classes=num_classes, width=width, normalize_features=normalize_features
    )


__all__ = [
    "MODELS",
    "VGG16",
    "DenseNet121",
    "MobileNetV2",
    "ResNet18",
    "SplitBatchNorm2d",
    "ViTSmall",
    "build_model",
    "set_bn_splits",
]
