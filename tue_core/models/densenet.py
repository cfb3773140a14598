"""DenseNet-121 (DenseNet-BC), CIFAR variant (Huang et al. 2017, arXiv:1608.06993).

The CIFAR variant is kuangliu/pytorch-cifar's ``DenseNet121``: ImageNet's 7x7 stride-2 stem and
max-pool become one 3x3 stride-1 convolution to ``2 * growth`` channels (no BN or ReLU after it:
every layer that follows is pre-activated), then the four dense blocks of DenseNet-121 (6, 12, 24
and 16 bottleneck layers, growth rate 32) with compression-0.5 transitions between them, a final
BN-ReLU, global average pooling and a linear head. A 32x32 image reaches the last block at 4x4.
The standard network has 6,956,298 parameters for 10 classes, the reference's count.

``width`` scales the growth rate, ``growth = width // 2`` (``width=64`` is growth 32), and with it
every channel count: the pooled feature has ``32 * growth`` channels (1024 at the standard size).
Odd widths round down, so ``width`` must be at least 2. The interface is ``ResNet18``'s.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tue_core.models.norm import SplitBatchNorm2d

BLOCK_LAYERS = (6, 12, 24, 16)  # bottleneck layers per dense block (DenseNet-121)
COMPRESSION = 0.5  # a transition keeps floor(0.5 * C) channels (the "C" of DenseNet-BC)
BOTTLENECK_FACTOR = 4  # the 1x1 bottleneck convolution has 4 * growth channels


class Bottleneck(nn.Module):
    """BN-ReLU-conv1x1 (4k) -> BN-ReLU-conv3x3 (k); the k new channels are prepended to the input."""

    def __init__(self, in_channels: int, growth: int) -> None:
        super().__init__()
        self.bn1 = SplitBatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, BOTTLENECK_FACTOR * growth, 1, bias=False)
        self.bn2 = SplitBatchNorm2d(BOTTLENECK_FACTOR * growth)
        self.conv2 = nn.Conv2d(BOTTLENECK_FACTOR * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.bn1(x)))  # (B, 4k, H, W)
        out = self.conv2(F.relu(self.bn2(out)))  # (B, k, H, W)
        return torch.cat([out, x], 1)  # (B, C + k, H, W), the reference's order


class Transition(nn.Module):
    """BN-ReLU-conv1x1 to ``out_channels``, then 2x2 average pooling."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.bn = SplitBatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)  # (B, C_out, H/2, W/2)


class DenseNet121(nn.Module):
    """CIFAR DenseNet-121: 3x3 stem, four dense blocks with three transitions, BN-ReLU, pool, linear.

    Args:
        num_classes: size of the classifier head.
        width: twice the growth rate (64 is the standard growth rate 32); at least 2.
        normalize_features: L2-normalise the pooled feature before the classifier (as
            ``ResNet18``). ``embed`` still returns the raw feature.
    """

    def __init__(
        self, num_classes: int = 10, width: int = 64, normalize_features: bool = False
    ) -> None:
        super().__init__()
        if width < 2 or num_classes < 1:
            raise ValueError(
                f"DenseNet121 needs width >= 2 (growth rate width // 2) and num_classes >= 1, "
                f"got width {width}, num_classes {num_classes}"
            )
        self.width = width
        self.normalize_features = normalize_features
        self.growth = growth = width // 2
        channels = 2 * growth
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        blocks, transitions = [], []
        for index, layers in enumerate(BLOCK_LAYERS):
            block = [Bottleneck(channels + i * growth, growth) for i in range(layers)]
            blocks.append(nn.Sequential(*block))
            channels += layers * growth
            if index < len(BLOCK_LAYERS) - 1:
                out_channels = int(channels * COMPRESSION)  # floor: channels are positive
                transitions.append(Transition(channels, out_channels))
                channels = out_channels
        self.dense1, self.dense2, self.dense3, self.dense4 = blocks
        self.trans1, self.trans2, self.trans3 = transitions
        self.embed_dim = channels  # 32 * growth: 1024 at the standard size
        self.bn = SplitBatchNorm2d(channels)
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
        out = self.conv1(x)  # (B, 2k, H, W)
        out = self.trans1(self.dense1(out))  # (B, 4k, H/2, W/2)
        out = self.trans2(self.dense2(out))  # (B, 8k, H/4, W/4)
        out = self.trans3(self.dense3(out))  # (B, 16k, H/8, W/8)
        out = self.dense4(out)  # (B, 32k, H/8, W/8)
        return F.relu(self.bn(out))

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
