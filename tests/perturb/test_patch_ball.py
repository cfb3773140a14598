"""The block-constant L-inf ball of the shift-robust TUE variant (``tue_patch``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from perturb_tiny import make_dataset, tiny_config

from tue_core.perturb import generate
from tue_core.perturb.constraints import LinfBall, PatchLinfBall

EPS = 8 / 255


def images(n: int = 6, size: int = 16, seed: int = 0) -> torch.Tensor:
    x = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
    x[0] = 0.0  # saturated images: the [0, 1] clip must not break the block structure
    x[1] = 1.0
    x[2, :, :3, :5] = 1.0  # a partly saturated block
    return x


def assert_block_constant_where_unclipped(delta: torch.Tensor, x: torch.Tensor, p: int) -> None:
    """Every block is one value per channel, except pixels that the [0, 1] clip shrank."""
    ball = PatchLinfBall(EPS, patch=p)
    theta = ball.expand(ball.coarse(delta))
    unclipped = ((x + theta) >= 0) & ((x + theta) <= 1)
    # clip(x + theta) - x is theta up to float32 rounding where nothing was clipped
    assert torch.allclose(delta[unclipped], theta[unclipped], rtol=0, atol=1e-6)
    assert (delta.abs() <= theta.abs() + 1e-6).all()


@pytest.mark.parametrize("p", [1, 2, 4, 8])
def test_projection_is_block_constant_inside_the_ball_and_idempotent(p: int) -> None:
    x = images()
    ball = PatchLinfBall(EPS, patch=p)
    raw = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)) * 0.1
    delta = ball.project(raw, x)
    assert delta.abs().max() <= EPS + 1e-7
    assert (x + delta).min() >= 0 and (x + delta).max() <= 1
    assert_block_constant_where_unclipped(delta, x, p)
    assert torch.allclose(ball.project(delta, x), delta, rtol=0, atol=1e-6)


def test_patch_one_is_the_pixel_ball() -> None:
    x = images()
    raw = torch.randn(x.shape, generator=torch.Generator().manual_seed(2)) * 0.1
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    pixel, patch = LinfBall(EPS), PatchLinfBall(EPS, patch=1)
    assert torch.equal(patch.project(raw, x), pixel.project(raw, x))
    delta = pixel.project(raw, x)
    assert torch.equal(patch.step(delta, grad, 0.8 / 255, x), pixel.step(delta, grad, 0.8 / 255, x))


def test_step_follows_the_sign_of_the_block_gradient_sum() -> None:
    x = torch.full((1, 1, 4, 4), 0.5)
    ball = PatchLinfBall(EPS, patch=2)
    grad = torch.zeros(1, 1, 4, 4)
    grad[0, 0, :2, :2] = torch.tensor([[3.0, -1.0], [-1.0, -0.5]])  # sum 0.5 > 0: step down
    grad[0, 0, 2:, 2:] = torch.tensor([[-3.0, 1.0], [1.0, 0.5]])  # sum -0.5 < 0: step up
    out = ball.step(torch.zeros_like(x), grad, 1 / 255, x)
    assert torch.allclose(out[0, 0, :2, :2], torch.full((2, 2), -1 / 255))
    assert torch.allclose(out[0, 0, 2:, 2:], torch.full((2, 2), 1 / 255))
    assert torch.equal(out[0, 0, :2, 2:], torch.zeros(2, 2))  # zero gradient: no move


def test_random_start_is_block_constant() -> None:
    ball = PatchLinfBall(EPS, patch=4)
    noise = ball.sample_uniform(
        (3, 3, 16, 16), device=torch.device("cpu"), generator=torch.Generator()
    )
    assert torch.equal(noise, ball.expand(ball.coarse(noise)))
    assert noise.abs().max() <= EPS and len(noise.unique()) > 1


def test_a_patch_that_does_not_divide_the_image_is_refused() -> None:
    with pytest.raises(ValueError, match="patch_size 5 does not divide the image size 16x16"):
        PatchLinfBall(EPS, patch=5).check_image_size(16, 16)


def test_tue_patch_generation_is_block_constant_and_recorded() -> None:
    data = make_dataset()
    result = generate(tiny_config("tue_patch", mode="released", pgd_steps=4), data, "cpu", seed=0)
    delta = torch.from_numpy(result.pset.delta)
    x = torch.from_numpy(data.images).permute(0, 3, 1, 2).float() / 255
    assert_block_constant_where_unclipped(delta, x, 4)
    assert result.meta["parameterisation"] == {
        "kind": "patch",
        "norm": "linf",
        "eps": EPS,
        "patch_size": 4,
    }
    assert result.meta["method"] == "tue_patch"
    losses = result.meta["losses"]
    assert losses["pgd_loss_last_step"] < losses["pgd_loss_first_step"]  # CSD goes down
    pixel = generate(tiny_config("tue", mode="released", pgd_steps=4), data, "cpu", seed=0)
    assert pixel.meta["parameterisation"]["kind"] == "pixel"
    assert not np.array_equal(pixel.pset.delta, result.pset.delta)


def test_tue_patch_refuses_images_its_blocks_do_not_tile_before_any_work() -> None:
    data = make_dataset(size=18)
    with pytest.raises(ValueError, match=r"tue_patch on toy/train: patch_size 4 does not divide"):
        generate(tiny_config("tue_patch"), data, "cpu", seed=0)
