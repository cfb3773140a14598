"""Preprocessing defenses: one deterministic transform of the whole poisoned training set.

Each class is called as ``defense(images)`` on uint8 (N, 3, H, W) images (the on-device layout of
``PreparedDataset.to_tensors``) and returns uint8 images of the same shape on the same device.
The work is batched over the images (chunks of ``chunk_size`` bound the float intermediates);
only JPEG makes one codec call per image, inside torchvision's list API (libjpeg encodes one
image at a time).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor
from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

from tue_core.defend.base import PreprocessDefense
from tue_core.defend.config import (
    BitDepthConfig,
    GaussianBlurConfig,
    GrayscaleConfig,
    ISSConfig,
    JPEGConfig,
)

APBENCH = "APBench (Qin et al. 2023, arXiv 2308.03258, github.com/lafeat/apbench)"


class Grayscale(PreprocessDefense):
    """ITU-R 601-2 luma replicated to 3 channels (torchvision's ``rgb_to_grayscale`` on uint8)."""

    source: ClassVar[str] = f"{APBENCH} --gray: transforms.Grayscale(3)"

    def __init__(self, cfg: GrayscaleConfig | None = None) -> None:
        super().__init__(cfg or GrayscaleConfig())

    def _apply(self, images: Tensor) -> Tensor:
        return TF.rgb_to_grayscale(images, num_output_channels=3).contiguous()


class JPEG(PreprocessDefense):
    """Encode each image as JPEG at ``quality`` and decode it back (libjpeg via torchvision).

    torchvision's JPEG codec runs on CPU tensors, so a CUDA batch is copied to the host and back;
    this also makes the result independent of the device (nvjpeg may round differently).
    ``encode_jpeg`` / ``decode_jpeg`` take the chunk as one list; libjpeg itself encodes one image
    at a time, the only per-image work here. torchvision 0.29 marks its image codecs deprecated
    (in favour of TorchCodec) with a ``DeprecationWarning``; they still work and are what the
    pinned torchvision offers.
    """

    source: ClassVar[str] = f"{APBENCH} --jpeg: PIL JPEG quality 10; ISS (arXiv 2301.13838)"

    def __init__(self, cfg: JPEGConfig | None = None) -> None:
        super().__init__(cfg or JPEGConfig())

    def _apply(self, images: Tensor) -> Tensor:
        host = list(images.cpu().contiguous().unbind(0))
        encoded = encode_jpeg(host, quality=self.cfg.quality)
        decoded = decode_jpeg(encoded, mode=ImageReadMode.RGB)
        return torch.stack(decoded).to(images.device)


class BitDepthReduction(PreprocessDefense):
    """Keep ``bits`` bits per channel value (posterize, or Xu et al.'s feature squeezing)."""

    source: ClassVar[str] = (
        f"{APBENCH} --bdr: transforms.RandomPosterize(bits=2, p=1); feature squeezing: "
        "Xu, Evans & Qi 2018 (arXiv 1704.01155)"
    )

    def __init__(self, cfg: BitDepthConfig | None = None) -> None:
        super().__init__(cfg or BitDepthConfig())

    def _apply(self, images: Tensor) -> Tensor:
        bits = self.cfg.bits
        if self.cfg.mode == "posterize":  # torchvision posterize on uint8: v & top-bits mask
            mask = (0xFF << (8 - bits)) & 0xFF
            return images & mask
        levels = (1 << bits) - 1  # round(v / 255 * levels) / levels, back to [0, 255]
        squeezed = torch.round(images.float() * (levels / 255.0)) * (255.0 / levels)
        return squeezed.round_().clamp_(0, 255).to(torch.uint8)


class GaussianBlur(PreprocessDefense):
    """torchvision's ``gaussian_blur`` (reflect padding) on the uint8 batch."""

    source: ClassVar[str] = f"{APBENCH} --gaussian: transforms.GaussianBlur(3, sigma=0.1)"

    def __init__(self, cfg: GaussianBlurConfig | None = None) -> None:
        super().__init__(cfg or GaussianBlurConfig())

    def _apply(self, images: Tensor) -> Tensor:
        size, sigma = self.cfg.kernel_size, self.cfg.sigma
        return TF.gaussian_blur(images, kernel_size=[size, size], sigma=[sigma, sigma])


class ISS(PreprocessDefense):
    """Image Shortcut Squeezing: JPEG-10 against L-inf poisons, grayscale against L2 ones."""

    source: ClassVar[str] = (
        "ISS: Liu, Zhao & Larson 2023, Image Shortcut Squeezing (arXiv 2301.13838, ICML 2023)"
    )

    def __init__(self, cfg: ISSConfig | None = None) -> None:
        super().__init__(cfg or ISSConfig())
        self.inner: PreprocessDefense = (
            JPEG(JPEGConfig(quality=self.cfg.jpeg_quality))
            if self.cfg.compression == "jpeg"
            else Grayscale()
        )

    def _apply(self, images: Tensor) -> Tensor:
        return self.inner._apply(images)

    def parameters(self) -> dict[str, object]:
        return {**super().parameters(), "compression": self.cfg.compression}
