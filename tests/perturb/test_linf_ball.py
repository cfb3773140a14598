from __future__ import annotations

import pytest
import torch

from tue_core.perturb.constraints import LinfBall, check_step_size


def test_project_keeps_ball_and_valid_images() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 4, 4, generator=gen)
    x[0] = 0.0
    x[1] = 1.0
    ball = LinfBall(8 / 255)
    delta = ball.project(torch.randn(8, 3, 4, 4, generator=gen), x)
    assert delta.abs().max() <= ball.eps + 1e-7
    assert (x + delta).min() >= 0 and (x + delta).max() <= 1
    assert torch.equal(ball.project(delta, x), delta)  # idempotent


@pytest.mark.parametrize("eps", [0.0, -0.1, 1.5, float("nan")])
def test_bad_eps(eps: float) -> None:
    with pytest.raises(ValueError, match=r"eps must lie in \(0, 1\]"):
        LinfBall(eps)


@pytest.mark.parametrize("step", [0.0, -1 / 255, 9 / 255])
def test_bad_step_size(step: float) -> None:
    with pytest.raises(ValueError, match=r"step_size must lie in \(0, eps\]"):
        check_step_size(step, 8 / 255)
