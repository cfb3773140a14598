"""Preprocessing defenses: the exact transform each one is documented to apply."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from tue_core.defend import (
    ISS,
    JPEG,
    BitDepthConfig,
    BitDepthReduction,
    GaussianBlur,
    Grayscale,
    ISSConfig,
    JPEGConfig,
)
from tue_core.defend import preprocess as preprocess_module


@pytest.fixture(scope="module")
def noisy() -> torch.Tensor:
    """A smooth image plus strong pixel noise (what JPEG-10 removes), uint8 (16, 3, 32, 32)."""
    generator = torch.Generator().manual_seed(0)
    ramp = torch.linspace(40, 200, 32)
    smooth = (ramp[None, :] + ramp[:, None]) / 2  # (32, 32)
    noise = torch.randint(-40, 41, (16, 3, 32, 32), generator=generator).float()
    return (smooth + noise).clamp(0, 255).to(torch.uint8)


def test_grayscale_has_equal_channels_and_torchvision_luma(noisy: torch.Tensor) -> None:
    out = Grayscale()(noisy)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    assert torch.equal(out[:, :1], TF.rgb_to_grayscale(noisy, num_output_channels=1))
    luma = (noisy.float() * torch.tensor([0.2989, 0.587, 0.114]).view(1, 3, 1, 1)).sum(dim=1)
    assert float((out[:, 0].float() - luma).abs().max()) < 1.0  # ITU-R 601-2, truncated


@pytest.mark.parametrize("bits", [1, 2, 3, 8])
def test_bit_depth_posterize_keeps_the_top_bits(noisy: torch.Tensor, bits: int) -> None:
    out = BitDepthReduction(BitDepthConfig(bits=bits))(noisy)
    assert out.unique().numel() <= 2**bits
    assert torch.equal(out, TF.posterize(noisy, bits))  # APBench's RandomPosterize(bits, p=1)
    assert bool((out <= noisy).all())  # each bucket maps to its lower end


def test_bit_depth_2_leaves_at_most_4_values() -> None:
    every_value = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    posterized = BitDepthReduction()(every_value.contiguous())
    assert posterized.unique().tolist() == [0, 64, 128, 192]
    squeezed = BitDepthReduction(BitDepthConfig(mode="feature_squeezing"))(every_value.contiguous())
    assert squeezed.unique().tolist() == [0, 85, 170, 255]  # Xu et al.: round(v / 255 * 3) * 85


def test_jpeg_10_changes_noise_and_is_nearly_idempotent(noisy: torch.Tensor) -> None:
    jpeg = JPEG()
    once = jpeg(noisy)
    twice = jpeg(once)
    first = (once.float() - noisy.float()).abs().mean()
    second = (twice.float() - once.float()).abs().mean()
    assert float(first) > 10.0  # quality 10 removes most of the +-40 pixel noise
    assert float(second) < 0.25 * float(first)
    assert float(
        (JPEG(JPEGConfig(quality=95))(noisy).float() - noisy.float()).abs().mean()
    ) < float(first)


def test_jpeg_codes_a_chunk_in_one_list_call(monkeypatch, noisy: torch.Tensor) -> None:
    calls: list[int] = []
    encode = preprocess_module.encode_jpeg

    def spy(images, quality):
        calls.append(len(images))
        return encode(images, quality=quality)

    monkeypatch.setattr(preprocess_module, "encode_jpeg", spy)
    JPEG()(noisy)
    assert calls == [len(noisy)]
    monkeypatch.setattr(JPEG, "chunk_size", 5)
    calls.clear()
    chunked = JPEG()(noisy)
    assert calls == [5, 5, 5, 1]
    monkeypatch.undo()
    assert torch.equal(chunked, JPEG()(noisy))  # chunking does not change the result


def test_gaussian_blur_sigma_0_1_is_nearly_the_identity(noisy: torch.Tensor) -> None:
    out = GaussianBlur()(noisy)
    assert int((out.int() - noisy.int()).abs().max()) <= 1
    from tue_core.defend import GaussianBlurConfig

    strong = GaussianBlur(GaussianBlurConfig(kernel_size=5, sigma=2.0))(noisy)
    assert float((strong.float() - noisy.float()).abs().mean()) > 5.0
    assert torch.equal(strong, TF.gaussian_blur(noisy, [5, 5], [2.0, 2.0]))


def test_iss_picks_jpeg_against_linf_and_grayscale_against_l2(noisy: torch.Tensor) -> None:
    assert torch.equal(ISS()(noisy), JPEG()(noisy))
    assert torch.equal(ISS(ISSConfig(against="l2"))(noisy), Grayscale()(noisy))
    assert ISS().describe()["parameters"]["compression"] == "jpeg"
    assert ISS(ISSConfig(against="l2")).describe()["parameters"]["compression"] == "grayscale"


def test_empty_set_passes_through() -> None:
    empty = torch.zeros(0, 3, 8, 8, dtype=torch.uint8)
    assert JPEG()(empty).shape == empty.shape
