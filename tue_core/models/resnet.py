"""ResNet-18 with the CIFAR stem (He et al. 2016, arXiv:1512.03385; CIFAR variant as in renjie3/TUE).

The CIFAR stem replaces ImageNet's 7x7 stride-2 convolution and max-pool with one 3x3 stride-1
convolution, so a 32x32 image reaches the last stage at 4x4 (spec §2.4: every TUE backbone uses it).
``width`` scales all four stages (``width=64`` is the standard 64-128-256-512 network); CPU-scale
configs use a narrow copy of the same architecture (width 8-16).

The backbone interface follows timm's split (code-style-anchors §3.4): ``forward_features`` gives
the last feature map, ``embed`` the pooled pre-logit vector used by SSL and the linear probe, and
``forward`` the logits used by supervised training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tue_core.models.norm import SplitBatchNorm2d


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (1x1 projection when the shape changes)."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = SplitBatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = SplitBatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                SplitBatchNorm2d(channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3x3 stem, four stages of two basic blocks, global average pool, linear head.

    Args:
        num_classes: size of the classifier head.
        width: channels of the first stage; stage ``i`` has ``width * 2**i`` channels.
        normalize_features: L2-normalise the pooled feature before the classifier, as the ResNet-18
            of TUE's ``supervised_test.py`` does (spec §2.7). ``embed`` still returns the raw feature.
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
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = SplitBatchNorm2d(width)
        stages, in_channels = [], width
        for index, stride in enumerate((1, 2, 2, 2)):
            channels = width * 2**index
            blocks = [BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels, 1)]
            stages.append(nn.Sequential(*blocks))
            in_channels = channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(self.embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convolutions and unit BN, as torchvision's ResNet initialises them."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> last feature map (B, 8*width, H/8, W/8)."""
        out = F.relu(self.bn1(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(out))))

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
