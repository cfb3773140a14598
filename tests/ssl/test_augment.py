"""On-device augmentations: torchvision's formulas, per-sample parameters, differentiability."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF1
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF
from pydantic import ValidationError
from scipy.stats import ks_2samp

from tue_core.ssl import augment_ops as ops
from tue_core.ssl.augment import AugmentConfig, SSLAugment, SupervisedAugment


@pytest.fixture
def batch() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(6, 3, 16, 16)


# --------------------------------------------------------------------------- exact formulas
@pytest.mark.parametrize("box", [(3, 5, 10, 7), (0, 0, 16, 16), (9, 1, 4, 15), (2, 2, 1, 1)])
def test_resized_crop_and_flip_equal_torchvision(batch: torch.Tensor, box: tuple) -> None:
    boxes = torch.tensor([box], dtype=torch.float32).expand(len(batch), 4)
    reference = TF.resized_crop(batch, *box, size=[16, 16], antialias=True)
    torch.testing.assert_close(ops.resized_crop(batch, boxes), reference, atol=1e-5, rtol=0)
    flip = torch.tensor([True, False] * 3)
    expected = torch.where(flip.view(-1, 1, 1, 1), TF.horizontal_flip(reference), reference)
    torch.testing.assert_close(ops.resized_crop(batch, boxes, flip), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::4])
def test_color_jitter_equals_torchvision_ops_in_the_given_order(batch, order) -> None:
    factors = torch.tensor([1.3, 0.7, 1.35, -0.08])
    steps = [
        lambda im: TF.adjust_brightness(im, 1.3),
        lambda im: TF.adjust_contrast(im, 0.7),
        lambda im: TF.adjust_saturation(im, 1.35),
        lambda im: TF.adjust_hue(im, -0.08),
    ]
    expected = batch
    for index in order:
        expected = steps[index](expected)
    out = ops.color_jitter(batch, factors.expand(6, 4), torch.tensor([order]).expand(6, 4))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_color_jitter_uses_each_samples_own_order(batch) -> None:
    factors = torch.tensor([[1.4, 0.6, 1.0, 0.0]]).expand(6, 4)
    orders = torch.tensor([[0, 1, 2, 3], [1, 0, 2, 3]] * 3)
    out = ops.color_jitter(batch, factors, orders)
    first = TF.adjust_contrast(TF.adjust_brightness(batch[0], 1.4), 0.6)
    second = TF.adjust_brightness(TF.adjust_contrast(batch[1], 0.6), 1.4)
    torch.testing.assert_close(out[0], first, atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1], second, atol=1e-5, rtol=0)


def _hue_test_images() -> torch.Tensor:
    """(8, 3, 8, 8): random pixels, gray pixels, pure and secondary colours, ties at 0 and 1."""
    torch.manual_seed(1)
    images = torch.rand(8, 3, 8, 8)
    images[:, :, 0] = torch.rand(8, 1, 8)  # a gray row in every image
    images[:, :, 1, :2] = 0.0  # black
    images[:, :, 1, 2:4] = 1.0  # white
    corners = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3))).T  # (3, 8) RGB cube
    images[:, :, 2] = corners
    images[:, :, 3] = torch.randint(0, 3, (8, 3, 8)) / 2  # levels 0, 0.5, 1: many channel ties
    images[:, :, 4] = images[:, :, 4].clamp(0.3, 0.7).round(decimals=1)  # ties inside (0, 1)
    return images


@pytest.mark.parametrize("shift", [-0.5, -0.31, -0.08, 0.0, 0.05, 0.25, 0.5])
def test_hue_shift_equals_torchvision_image_by_image(shift: float) -> None:
    images = _hue_test_images()
    expected = torch.stack([TF1.adjust_hue(image, shift) for image in images])
    out = ops.adjust_hue(images, torch.full((8,), shift))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_hue_shift_is_per_sample_and_its_gradient_is_finite() -> None:
    images = _hue_test_images().requires_grad_(True)
    shifts = torch.linspace(-0.5, 0.5, 8)
    out = ops.adjust_hue(images, shifts)
    for image, shift, mine in zip(images.detach(), shifts.tolist(), out.detach(), strict=True):
        torch.testing.assert_close(mine, TF1.adjust_hue(image, shift), atol=1e-5, rtol=0)
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(images.grad).all()  # gray pixels and ties included


def test_hue_shift_gradcheck_away_from_ties() -> None:
    generator = torch.Generator().manual_seed(0)
    levels = torch.tensor([0.15, 0.5, 0.85], dtype=torch.float64)
    channels = torch.rand(2, 3, 4, 4, generator=generator).argsort(dim=1)  # distinct per pixel
    noise = 0.1 * torch.rand(2, 3, 4, 4, generator=generator, dtype=torch.float64)
    x = (levels[channels] + noise).requires_grad_(True)  # channels >= 0.25 apart
    shifts = torch.tensor([0.13, -0.37], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda images: ops.adjust_hue(images, shifts), (x,))


def _all_rows_jitter(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """The former ``SSLAugment`` path: jitter every row, keep it where the coin fired."""
    batch = x.shape[0]
    out = ops.resized_crop(
        x,
        ops.sample_crop_boxes(x, cfg.crop_scale, cfg.crop_ratio, gen),
        ops.bernoulli(batch, cfg.flip_p, x, gen),
    )
    factors, order = ops.sample_jitter(x, cfg.jitter, gen)
    apply = ops.bernoulli(batch, cfg.jitter_p, x, gen).view(-1, 1, 1, 1)
    out = torch.where(apply, ops.color_jitter(out, factors, order), out)
    apply = ops.bernoulli(batch, cfg.gray_p, x, gen).view(-1, 1, 1, 1)
    return torch.where(apply, ops.grayscale(out).expand_as(out), out)


def test_jitter_on_selected_rows_equals_the_all_rows_path() -> None:
    x = torch.rand(32, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    x = (1.1 * x - 0.05).requires_grad_(True)  # PGD's x + delta leaves [0, 1]
    cotangent = torch.randn(32, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    outputs, grads = [], []
    for augment in (
        SSLAugment().__call__,
        lambda im, gen: _all_rows_jitter(im, AugmentConfig(), gen),
    ):
        out = augment(x, torch.Generator().manual_seed(4))
        (grad,) = torch.autograd.grad((out * cotangent).sum(), x)
        outputs.append(out.detach())
        grads.append(grad)
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-6, rtol=0)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-5)
    assert (outputs[0] != x.detach()).any()


@pytest.mark.parametrize("pattern", ["none", "all", "some"])
def test_color_jitter_rows_leaves_the_other_rows_untouched(batch, pattern: str) -> None:
    factors, order = ops.sample_jitter(
        batch, (0.4, 0.4, 0.4, 0.1), torch.Generator().manual_seed(2)
    )
    apply = {
        "none": torch.zeros(6, dtype=torch.bool),
        "all": torch.ones(6, dtype=torch.bool),
        "some": torch.tensor([True, False, False, True, True, False]),
    }[pattern]
    out = ops.color_jitter_rows(batch, factors, order, apply)
    expected = torch.where(apply.view(-1, 1, 1, 1), ops.color_jitter(batch, factors, order), batch)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert torch.equal(out[~apply], batch[~apply])


def test_grayscale_and_padded_crop_equal_torchvision(batch) -> None:
    torch.testing.assert_close(ops.grayscale(batch), TF.rgb_to_grayscale(batch))
    offsets = torch.tensor([[0, 8], [4, 4], [8, 0], [1, 7], [3, 2], [6, 5]])
    flip = torch.tensor([False, True, False, True, False, True])
    out = ops.padded_crop(batch, offsets, 4, flip)
    for i, (top, left) in enumerate(offsets.tolist()):
        expected = TF.crop(TF.pad(batch[i], [4]), top, left, 16, 16)
        expected = TF.horizontal_flip(expected) if flip[i] else expected
        torch.testing.assert_close(out[i], expected)


# --------------------------------------------------------------------------- distributions
@pytest.mark.parametrize("scale", [(0.08, 1.0), (0.2, 1.0)])
def test_crop_boxes_follow_torchvision_get_params(scale) -> None:
    torch.manual_seed(0)
    x = torch.zeros(3000, 3, 32, 32)
    boxes = ops.sample_crop_boxes(x, scale, (3 / 4, 4 / 3), torch.Generator().manual_seed(1))
    reference = np.array(
        [T.RandomResizedCrop.get_params(x[0], list(scale), [3 / 4, 4 / 3]) for _ in range(3000)]
    )
    mine = boxes.numpy()
    assert (mine[:, 0] + mine[:, 2] <= 32).all() and (mine[:, 1] + mine[:, 3] <= 32).all()
    for column in range(4):  # top, left, height, width
        assert ks_2samp(mine[:, column], reference[:, column]).pvalue > 1e-3


def test_crop_falls_back_to_torchvisions_central_box_when_nothing_fits() -> None:
    x = torch.zeros(4, 3, 16, 16)  # aspect 3-4 never fits a square image at 90-100% area
    boxes = ops.sample_crop_boxes(x, (0.9, 1.0), (3.0, 4.0), torch.Generator().manual_seed(0))
    expected = T.RandomResizedCrop.get_params(x[0], [0.9, 1.0], [3.0, 4.0])
    assert boxes.tolist() == [list(map(float, expected))] * 4


def test_full_pipeline_matches_torchvision_image_by_image() -> None:
    torch.manual_seed(0)
    image = torch.rand(3, 16, 16) * torch.tensor([1.0, 0.6, 0.3]).view(3, 1, 1)
    reference_aug = T.Compose(
        [
            T.RandomResizedCrop(16, antialias=True),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            T.RandomGrayscale(0.2),
        ]
    )
    reference = torch.stack([reference_aug(image) for _ in range(400)])
    mine = SSLAugment(AugmentConfig())(image.expand(400, 3, 16, 16).contiguous())

    def stats(views: torch.Tensor) -> list[np.ndarray]:
        channel_means = views.mean(dim=(2, 3))  # (N, 3)
        return [
            channel_means[:, 0].numpy(),
            (channel_means[:, 0] - channel_means[:, 2]).numpy(),
            views.std(dim=(1, 2, 3)).numpy(),
        ]

    for ours, theirs in zip(stats(mine), stats(reference), strict=True):
        assert ks_2samp(ours, theirs).pvalue > 1e-3


def test_apply_probabilities_are_per_sample() -> None:
    x = torch.rand(1, 3, 8, 8).expand(2000, 3, 8, 8).contiguous()
    still = dict(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0)
    jitter_only = SSLAugment(AugmentConfig(**still, gray_p=0.0), torch.Generator().manual_seed(0))
    changed = (jitter_only(x) - x).abs().amax(dim=(1, 2, 3)) > 1e-4
    assert abs(changed.float().mean().item() - 0.8) < 0.04
    gray_only = SSLAugment(AugmentConfig(**still, jitter_p=0.0), torch.Generator().manual_seed(0))
    out = gray_only(x)
    is_gray = (out[:, 0] == out[:, 1]).all(dim=(1, 2)) & (out[:, 1] == out[:, 2]).all(dim=(1, 2))
    assert abs(is_gray.float().mean().item() - 0.2) < 0.04
    flip_only = SSLAugment(AugmentConfig(**{**still, "flip_p": 0.5}, jitter_p=0.0, gray_p=0.0))
    flipped = (flip_only(x) - x).abs().amax(dim=(1, 2, 3)) > 0
    assert abs(flipped.float().mean().item() - 0.5) < 0.05


def test_supervised_offsets_are_uniform_over_the_padding() -> None:
    ones = torch.ones(1800, 3, 12, 12)
    out = SupervisedAugment(padding=4, flip_p=0.0)(ones, torch.Generator().manual_seed(0))
    zero_rows = out[:, 0].sum(dim=2) == 0  # (N, 12) rows that are all padding
    top = zero_rows[:, :4].sum(dim=1)
    bottom = zero_rows[:, -4:].sum(dim=1)
    offsets = 4 - top + bottom  # in [0, 8]
    counts = torch.bincount(offsets, minlength=9).float()
    assert counts.min() > 0.7 * 200 and counts.max() < 1.3 * 200


# --------------------------------------------------------------------------- properties
@pytest.mark.parametrize("augment", [SSLAugment(AugmentConfig()), SupervisedAugment()])
def test_augmentations_are_differentiable_and_per_sample(augment) -> None:
    x = torch.rand(1, 3, 16, 16).expand(8, 3, 16, 16).clone().requires_grad_(True)
    out = augment(x, torch.Generator().manual_seed(3))
    assert out.shape == x.shape
    flat = out.detach().flatten(1)
    assert len({tuple(row.tolist()) for row in flat}) > 4  # identical inputs, different outputs
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_same_generator_seed_gives_the_same_views() -> None:
    x = torch.rand(4, 3, 16, 16)
    augment = SSLAugment()
    first = augment(x, torch.Generator().manual_seed(5))
    second = augment(x, torch.Generator().manual_seed(5))
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, augment(x, torch.Generator().manual_seed(6)))


def test_bad_configs_and_inputs_are_refused() -> None:
    with pytest.raises(ValidationError, match="crop_scale"):
        AugmentConfig(crop_scale=(0.0, 1.0))
    with pytest.raises(ValidationError, match="blur_p"):
        AugmentConfig(blur_p=0.5)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        SSLAugment()(torch.zeros(2, 1, 8, 8))
    assert math.isclose(AugmentConfig().jitter_p, 0.8)
