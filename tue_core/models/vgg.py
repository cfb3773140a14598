"""VGG-16 with batch norm, CIFAR variant (Simonyan & Zisserman 2015, arXiv:1409.1556, config D).

The CIFAR variant is the one of kuangliu/pytorch-cifar ``VGG('VGG16')``: the thirteen 3x3
convolutions of configuration D, each followed by batch norm and ReLU, five 2x2 max-pools, and a
single linear head on the 512-d vector in place of ImageNet's three fully connected layers. A 32x32
image leaves the last pool at 1x1, so the pooled feature *is* the flattened map (the reference's
``view``); ``embed`` average-pools it so that larger inputs work too. The pools round up
(``ceil_mode``), which changes nothing for the even sizes a 32x32 input reaches and lets smaller
inputs (the offline demo's 16x16) stop halving at 1x1 instead of failing. The convolutions keep their bias, as the reference's do, although the following
batch norm makes it redundant: that keeps the standard size at the reference's 14,728,266
parameters for 10 classes.

``width`` scales every convolution (``width=64`` is the standard 64-128-256-512-512 network);
CPU-scale configs use a narrow copy (width 8-16). The interface is ``ResNet18``'s (timm's split).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tue_core.models.norm import SplitBatchNorm2d

# Configuration D in units of ``width`` (64 at the standard size): five stages of 3x3 convolutions,
# each followed by a 2x2 max-pool. At 32x32 the stages run at 32, 16, 8, 4 and 2 pixels.
VGG16_STAGES: tuple[tuple[int, ...], ...] = ((1, 1), (2, 2), (4, 4, 4), (8, 8, 8), (8, 8, 8))


class VGG16(nn.Module):
    """CIFAR VGG-16-BN: 13 conv3x3-BN-ReLU layers, 5 max-pools, global average pool, linear head.

    Args:
        num_classes: size of the classifier head.
        width: channels of the first convolutions; the later ones have 2, 4 and 8 times as many.
        normalize_features: L2-normalise the pooled feature before the classifier (as
            ``ResNet18``). ``embed`` still returns the raw feature.
    """

    def __init__(
        self, num_classes: int = 10, width: int = 64, normalize_features: bool = False
    ) -> None:
        super().__init__()
        if width < 1 or num_classes < 1:
            raise ValueError(f"width and num_classes must be >= 1, got {width}, {num_classes}")
        self.width = width
        self.normalize_features = normalize_features
        self.embed_dim = 8 * width
        layers: list[nn.Module] = []
        in_channels = 3
        for stage in VGG16_STAGES:
            for multiple in stage:
                channels = multiple * width
                layers += [
                    nn.Conv2d(in_channels, channels, 3, padding=1),  # bias kept, as the reference
                    SplitBatchNorm2d(channels),
                    nn.ReLU(inplace=True),
                ]
                in_channels = channels
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))  # H/2, W/2 up
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(self.embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convolutions with zero bias and unit BN, as ``ResNet18``."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> last feature map (B, 8*width, ceil(H/32), ceil(W/32))."""
        return self.features(x)

    def embed(self, x: Tensor) -> Tensor:
        """Pooled pre-logit feature (B, embed_dim): what SSL heads and the linear probe see."""
        return torch.flatten(F.adaptive_avg_pool2d(self.forward_features(x), 1), 1)

    def forward_head(self, features: Tensor) -> Tensor:
        """Pooled feature (B, embed_dim) -> logits (B, num_classes)."""
        if self.normalize_features:
            features = F.normalize(features, dim=1)
        return self.fc(features)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> logits (B, num_classes)."""
        return self.forward_head(self.embed(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the linear head with a freshly initialised one of ``num_classes`` outputs."""
        device = self.fc.weight.device
        self.fc = nn.Linear(self.embed_dim, num_classes).to(device)
