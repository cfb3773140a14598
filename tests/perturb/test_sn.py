"""SN (Yu et al. 2022): class clusters, normalisation, linear separability of delta alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tue_core.data.base import PreparedDataset
from tue_core.perturb.config import SNConfig
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.diagnostics import linear_separability
from tue_core.perturb.sn import SyntheticNoise, upsample_patches


def grey_data(n_per_class: int, num_classes: int = 4, size: int = 8) -> DeviceData:
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), n_per_class)
    np.random.default_rng(0).shuffle(labels)
    images = np.full((len(labels), size, size, 3), 128, dtype=np.uint8)
    data = PreparedDataset("grey", "train", images, labels, tuple(map(str, range(num_classes))))
    return DeviceData.from_prepared(data, torch.device("cpu"))


def test_sn_is_linearly_separable_and_random_noise_is_not() -> None:
    data = grey_data(250)  # N = 1000 > D = 192, so random noise cannot be fitted
    delta = SyntheticNoise(SNConfig(patch_size=4)).generate(data, seed=0).delta
    sn = linear_separability(delta, data.labels, holdout_fraction=0)
    assert sn["train_accuracy"] >= 0.95
    noise = (torch.rand(delta.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 8 / 255
    rnd = linear_separability(noise, data.labels, holdout_fraction=0)
    assert rnd["train_accuracy"] < 0.95
    assert rnd["train_accuracy"] < sn["train_accuracy"] - 0.2


def test_sn_norms_patches_and_seed() -> None:
    data = grey_data(6, size=16)
    cfg = SNConfig(patch_size=8, eps=6 / 255)
    a = SyntheticNoise(cfg).generate(data, seed=3)
    b = SyntheticNoise(cfg).generate(data, seed=3)
    c = SyntheticNoise(cfg).generate(data, seed=4)
    assert torch.equal(a.delta, b.delta) and not torch.equal(a.delta, c.delta)
    radius = 6 / 255 * math.sqrt(3 * 16 * 16)
    norms = a.delta.flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, radius), rtol=1e-4)  # grey: no clipping
    assert a.schedule["feature_dim"] == 12  # 3 x (16/8)^2
    # every 8x8 patch of a channel is constant
    patch = a.delta[0, 0, :8, :8]
    assert torch.allclose(patch, patch[0, 0].expand(8, 8))
    linf = SyntheticNoise(SNConfig(norm="linf", eps=8 / 255)).generate(data, seed=3)
    assert linf.delta.abs().amax(dim=(1, 2, 3)).sub(8 / 255).abs().max() < 1e-6


def test_upsample_layout() -> None:
    feats = torch.arange(12, dtype=torch.float32)[None]  # grid 2x2, channels last
    out = upsample_patches(feats, (2, 2), 3, (5, 5))
    assert out.shape == (1, 3, 5, 5)
    assert float(out[0, 1, 0, 0]) == 1.0 and float(out[0, 0, 4, 4]) == 9.0


def test_too_many_classes_for_the_grid() -> None:
    data = grey_data(2, num_classes=10, size=2)  # one patch -> 3 dims -> 8 vertices < 10 classes
    with pytest.raises(ValueError, match="num_classes <= 2\\*\\*dim"):
        SyntheticNoise(SNConfig(patch_size=8)).generate(data, seed=0)
