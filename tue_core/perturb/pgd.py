"""The one PGD engine: signed-gradient *descent* on delta inside an L-inf ball (min-min, Eq. 1/6).

The engine knows nothing about the method: the objective (a scalar to minimise) and the model are
passed in. EMN, UCL and TUE differ only in the objective they hand to it and in the schedule of
their outer loop (Appendix B.1). The model's parameters are frozen during the steps and its
train/eval mode is set for the call and restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tue_core.perturb.constraints import LinfBall, check_step_size
from tue_core.perturb.objectives import Objective, PerturbBatch


@contextmanager
def frozen(model: nn.Module | None, *, train_mode: bool = False) -> Iterator[None]:
    """Freeze ``model``'s parameters and set its mode for the block; restore both on exit."""
    if model is None:
        yield
        return
    params = list(model.parameters())
    saved_grad = [p.requires_grad for p in params]
    saved_mode = model.training
    model.train(train_mode)
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, saved_grad, strict=True):
            p.requires_grad_(flag)
        model.train(saved_mode)


@dataclass(frozen=True)
class PGDResult:
    """A refined delta and the objective's value before each step (``losses[0]`` = at the start)."""

    delta: Tensor  # float (B, 3, H, W), inside the ball
    losses: Tensor  # float (steps,), detached, on the device (no sync until read)


@dataclass(frozen=True)
class PGD:
    """Projected sign-gradient descent (Madry et al. 2018) used as the inner min of Eq. 1 / S2 of Eq. 6.

    One step: ``delta <- Proj_ball(delta - step_size * sign(grad_delta objective))``, where the
    projection clamps to ``[-eps, eps]`` and keeps ``x + delta`` in [0, 1] (reference toolbox.py);
    the ball owns the step (``ball.step``), so a block-constant ball steps on its blocks instead.
    A step whose objective does not depend on delta (e.g. CSD of a batch holding a single class)
    leaves delta unchanged.

    Attributes:
        objective: scalar to minimise, called as ``objective(model, batch, delta, generator=...)``.
        ball: the constraint set.
        steps: number of sign steps (PGD-20 for EMN).
        step_size: ``alpha`` in pixel units (0.8/255 in every reference).
        train_mode: run the model in train mode during the steps (TUE's SimSiam noise step leaves
            BatchNorm in train mode; every other reference uses eval mode).
    """

    objective: Objective
    ball: LinfBall
    steps: int
    step_size: float
    train_mode: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(
                f"PGD steps must be >= 1 (0 would never update delta), got {self.steps}"
            )
        check_step_size(self.step_size, self.ball.eps)

    def __call__(
        self,
        model: nn.Module | None,
        batch: PerturbBatch,
        delta: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> PGDResult:
        """Return a delta (same shape as ``batch.images``) that lowers the objective within the ball."""
        delta = self.ball.project(delta.detach().float(), batch.images)
        losses = []
        with frozen(model, train_mode=self.train_mode):
            for _ in range(self.steps):
                delta, loss = self._step(model, batch, delta, generator)
                losses.append(loss)
        return PGDResult(delta=delta, losses=torch.stack(losses))

    def _step(
        self,
        model: nn.Module | None,
        batch: PerturbBatch,
        delta: Tensor,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Tensor]:
        delta = delta.detach().requires_grad_(True)
        loss = self.objective(model, batch, delta, generator=generator)
        if not loss.requires_grad:  # the objective is constant in delta here: nothing to follow
            return delta.detach(), loss.detach().float()
        (grad,) = torch.autograd.grad(loss, delta, allow_unused=True)
        if grad is None:
            return delta.detach(), loss.detach().float()
        return self.ball.step(
            delta.detach(), grad, self.step_size, batch.images
        ), loss.detach().float()
