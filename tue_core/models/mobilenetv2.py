"""MobileNetV2, CIFAR variant (Sandler et al. 2018, arXiv:1801.04381, Table 2).

The CIFAR variant is kuangliu/pytorch-cifar's ``MobileNetV2``: the first convolution and the
second stage (24 channels) have stride 1 instead of 2, so a 32x32 image reaches the 1x1 head
convolution at 4x4 (ImageNet's network halves a 224x224 image five times, to 7x7). The block
table, the 32-channel stem and the 1280-d last convolution are the paper's. Like the reference
(and unlike the paper) this copy

* uses ReLU, not ReLU6;
* keeps the 1x1 expansion convolution in the first block, whose expansion factor is 1;
* adds a residual to *every* stride-1 block, through a 1x1 conv + BN projection where the channel
  count changes (the paper adds one only when input and output shapes match).

Those choices are kept because they define the network the CIFAR literature trains (2,296,922
parameters for 10 classes, the reference's count).

``width`` scales every channel count by ``width / 64`` (rounded, at least 1), the last
convolution's included (the paper's width multiplier leaves it at 1280 below 1.0; here the whole
network shrinks, so a CPU-scale width 8 has a 160-d feature). The interface is ``ResNet18``'s.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tue_core.models.norm import SplitBatchNorm2d

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
# (expansion t, output channels c, blocks n, stride of the first block s) at the standard size.
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),  # stride 2 in the paper; 1 for 32x32 inputs
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def scaled(channels: int, width: int) -> int:
    """``channels * width / 64`` rounded half up, at least 1 (exact at ``width=64``)."""
    return max(1, (channels * width + 32) // 64)


class InvertedResidual(nn.Module):
    """1x1 expansion -> 3x3 depthwise (stride) -> linear 1x1 projection, plus a stride-1 residual."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        hidden = expansion * in_channels
        self.conv1 = nn.Conv2d(in_channels, hidden, 1, bias=False)
        self.bn1 = SplitBatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(
            hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False
        )
        self.bn2 = SplitBatchNorm2d(hidden)
        self.conv3 = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self.bn3 = SplitBatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride == 1 and in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                SplitBatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))  # (B, t*C_in, H, W)
        out = F.relu(self.bn2(self.conv2(out)))  # (B, t*C_in, H/s, W/s)
        out = self.bn3(self.conv3(out))  # (B, C_out, H/s, W/s), no activation ("linear bottleneck")
        return out + self.shortcut(x) if self.stride == 1 else out


class MobileNetV2(nn.Module):
    """CIFAR MobileNetV2: 3x3 stem, 17 inverted residual blocks, 1x1 conv to 1280, pool, linear.

    Args:
        num_classes: size of the classifier head.
        width: 64 is the standard network; every channel count scales by ``width / 64``.
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
        self.embed_dim = scaled(HEAD_CHANNELS, width)
        in_channels = scaled(STEM_CHANNELS, width)
        # Stem: stride 1 (2 in the paper), so the map stays at H x W.
        self.conv1 = nn.Conv2d(3, in_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = SplitBatchNorm2d(in_channels)
        blocks = []
        for expansion, channels, repeats, stride in BLOCKS:
            out_channels = scaled(channels, width)
            for block_stride in (stride,) + (1,) * (repeats - 1):  # only the first block strides
                blocks.append(InvertedResidual(in_channels, out_channels, expansion, block_stride))
                in_channels = out_channels
        self.layers = nn.Sequential(*blocks)
        self.conv2 = nn.Conv2d(in_channels, self.embed_dim, 1, bias=False)
        self.bn2 = SplitBatchNorm2d(self.embed_dim)
        self.fc = nn.Linear(self.embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convolutions and unit BN, as ``ResNet18``."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> last feature map (B, embed_dim, H/8, W/8), after BN-ReLU."""
        out = F.relu(self.bn1(self.conv1(x)))  # (B, 32w/64, H, W)
        out = self.layers(out)  # (B, 320w/64, H/8, W/8)
        return F.relu(self.bn2(self.conv2(out)))

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
