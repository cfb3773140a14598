"""Training-time defenses: per-batch transforms of (images, labels) into (images, soft targets).

Each class is called as ``defense(x, y, *, num_classes, generator, model=None)`` on a float batch
(B, 3, H, W) in [0, 1] with int64 labels and returns the batch to train on (float in [0, 1], same
shape and device) and soft targets (B, num_classes) whose rows sum to 1; the trainer's loss is
:func:`~tue_core.defend.base.soft_cross_entropy`. All randomness comes from ``generator``; the work
is batched over samples.

The two defenses that run the model (UEraser's max-loss selection and PGD adversarial training)
leave it as they found it: no parameter's ``.grad`` is written (gradients are taken with respect
to the images only, or not at all), every module's train/eval flag is restored, and UEraser
restores the buffers (BatchNorm running statistics) its extra forward passes update.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import torch
from torch import Tensor, nn

from tue_core.defend import augment_ops as ops
from tue_core.defend.base import TrainTimeDefense, one_hot, soft_cross_entropy
from tue_core.defend.config import (
    AdversarialTrainingConfig,
    CutMixConfig,
    CutoutConfig,
    MixupConfig,
    UEraserConfig,
)
from tue_core.loop import autocast_for

APBENCH = "APBench (Qin et al. 2023, arXiv 2308.03258, github.com/lafeat/apbench)"


# --------------------------------------------------------------------------- model state
@contextmanager
def module_modes(model: nn.Module, train: bool | None = None) -> Iterator[None]:
    """Set every module's mode to ``train`` (None: leave it) and restore each flag on exit."""
    saved = [(module, module.training) for module in model.modules()]
    if train is not None:
        model.train(train)
    try:
        yield
    finally:
        for module, flag in saved:
            module.training = flag


@contextmanager
def restored_buffers(model: nn.Module) -> Iterator[None]:
    """Put every buffer (BatchNorm running mean/var, batch counts) back as it was on exit."""
    saved = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def _logits(model: nn.Module, x: Tensor) -> Tensor:
    with autocast_for(x.device):
        return model(x).float()


# --------------------------------------------------------------------------- cutout
class Cutout(TrainTimeDefense):
    """Zero ``holes`` squares of side ``length`` per sample, centred on uniform pixels, clipped."""

    source: ClassVar[str] = (
        f"Cutout: DeVries & Taylor 2017 (arXiv 1708.04552); {APBENCH} Cutout(16)"
    )

    def __init__(self, cfg: CutoutConfig | None = None) -> None:
        super().__init__(cfg or CutoutConfig())

    def length_for(self, height: int, width: int) -> int:
        if self.cfg.length is not None:
            return self.cfg.length
        return max(1, round(min(height, width) / 2))

    def _apply(
        self,
        x: Tensor,
        y: Tensor,
        *,
        num_classes: int,
        generator: torch.Generator,
        model: nn.Module | None,
    ) -> tuple[Tensor, Tensor]:
        batch, _, height, width = x.shape
        length = self.length_for(height, width)
        shape = (batch, self.cfg.holes)
        cy = torch.randint(0, height, shape, generator=generator, device=x.device)
        cx = torch.randint(0, width, shape, generator=generator, device=x.device)
        # APBench / DeVries & Taylor: [c - L // 2, c + L // 2) clipped to the image
        top, bottom = (cy - length // 2).clamp(0, height), (cy + length // 2).clamp(0, height)
        left, right = (cx - length // 2).clamp(0, width), (cx + length // 2).clamp(0, width)
        hole = ops.box_mask(top, left, bottom - top, right - left, (height, width))
        return x.masked_fill(hole, 0.0), one_hot(y, num_classes)


# --------------------------------------------------------------------------- mixup / cutmix
class Mixup(TrainTimeDefense):
    """``lam * x + (1 - lam) * x[perm]`` with the targets mixed by the same ``lam``."""

    source: ClassVar[str] = (
        f"Mixup: Zhang et al. 2018 (arXiv 1710.09412); {APBENCH} kornia RandomMixUpV2()"
    )

    def __init__(self, cfg: MixupConfig | None = None) -> None:
        super().__init__(cfg or MixupConfig())

    def sample(
        self, batch: int, device: torch.device, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """``(lam (B,), perm (B,))``: the mixing weights of each sample and its partner."""
        draws = batch if self.cfg.per_sample else 1
        lam = ops.sample_beta(self.cfg.alpha, draws, device, generator).expand(batch)
        return lam, ops.random_permutation(batch, device, generator)

    def _apply(
        self,
        x: Tensor,
        y: Tensor,
        *,
        num_classes: int,
        generator: torch.Generator,
        model: nn.Module | None,
    ) -> tuple[Tensor, Tensor]:
        lam, perm = self.sample(x.shape[0], x.device, generator)
        targets = one_hot(y, num_classes)
        weight = lam.to(x.dtype).view(-1, 1, 1, 1)
        mixed = (weight * x + (1 - weight) * x[perm]).clamp(0.0, 1.0)
        soft = lam[:, None] * targets + (1 - lam[:, None]) * targets[perm]
        return mixed, soft


class CutMix(TrainTimeDefense):
    """Paste a box from each sample's partner; targets weighted by the pasted area."""

    source: ClassVar[str] = (
        f"CutMix: Yun et al. 2019 (arXiv 1905.04899); {APBENCH} kornia RandomCutMixV2()"
    )

    def __init__(self, cfg: CutMixConfig | None = None) -> None:
        super().__init__(cfg or CutMixConfig())

    def _apply(
        self,
        x: Tensor,
        y: Tensor,
        *,
        num_classes: int,
        generator: torch.Generator,
        model: nn.Module | None,
    ) -> tuple[Tensor, Tensor]:
        batch, _, height, width = x.shape
        device = x.device
        lam = ops.sample_beta(self.cfg.alpha, batch, device, generator)
        apply = ops.bernoulli(batch, self.cfg.prob, x, generator)
        perm = ops.random_permutation(batch, device, generator)
        ratio = torch.sqrt(1.0 - lam) * apply
        box_h = torch.floor(ratio * height).long()
        box_w = torch.floor(ratio * width).long()
        top = torch.floor(
            torch.rand(batch, generator=generator, device=device) * (height - box_h + 1)
        )
        left = torch.floor(
            torch.rand(batch, generator=generator, device=device) * (width - box_w + 1)
        )
        mask = ops.box_mask(top.long(), left.long(), box_h, box_w, (height, width))
        mixed = torch.where(mask, x[perm], x)
        area = (box_h * box_w).float() / (height * width)  # the partner's share of the pixels
        targets = one_hot(y, num_classes)
        soft = (1 - area[:, None]) * targets + area[:, None] * targets[perm]
        return mixed, soft


# --------------------------------------------------------------------------- UEraser
class UEraser(TrainTimeDefense):
    """UEraser's augmentation; with K > 1, the max-loss of K augmentations of each sample.

    Lite (K = 1) returns one augmentation per sample. Standard / Max (K = 5 during the adversarial
    epochs, see :meth:`set_epoch`) augment each sample K times, run the model on the K x B batch
    without gradients and return, per sample, the augmentation with the highest cross-entropy:
    training on it gives the gradient of UEraser's ``mean_i max_k loss_ik`` (lafeat/ueraser
    ``adversarial_augmentation_loss``), except that BatchNorm normalises the training pass with
    the statistics of the B selected images rather than of all K x B. The selection pass runs in
    the model's current mode (train mode during training, as the reference) and puts the
    BatchNorm buffers it updates back afterwards.
    """

    source: ClassVar[str] = (
        "UEraser: Qin et al. 2023, Learning the Unlearnable (arXiv 2303.15127), "
        f"github.com/lafeat/ueraser; {APBENCH} defense/ueraser.py, train.py --repeat_epoch"
    )

    def __init__(self, cfg: UEraserConfig | None = None) -> None:
        super().__init__(cfg or UEraserConfig())

    @property
    def repeats(self) -> int:
        """K at the current epoch."""
        return self.cfg.repeats_at(self.epoch)

    @property
    def needs_model(self) -> bool:
        return self.repeats > 1

    @property
    def epochs_factor(self) -> float:
        return self.cfg.epochs_factor

    def augment(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The UEraser pipeline on every sample: float (B, 3, H, W) -> (B, 3, H, W) in [0, 1]."""
        cfg, batch = self.cfg, x.shape[0]
        out = x
        if cfg.plasma_brightness_p > 0:
            rough = ops.uniform((batch,), *cfg.plasma_brightness_roughness, x, generator)
            intensity = ops.uniform((batch,), *cfg.plasma_brightness_intensity, x, generator)
            apply = ops.bernoulli(batch, cfg.plasma_brightness_p, x, generator)
            out = ops.on_rows(
                out,
                apply,
                lambda rows_x, rows: ops.plasma_brightness(
                    rows_x, rough[rows], intensity[rows], generator
                ),
            )
        if cfg.plasma_contrast_p > 0:
            rough = ops.uniform((batch,), *cfg.plasma_contrast_roughness, x, generator)
            apply = ops.bernoulli(batch, cfg.plasma_contrast_p, x, generator)
            out = ops.on_rows(
                out,
                apply,
                lambda rows_x, rows: ops.plasma_contrast(rows_x, rough[rows], generator),
            )
        if cfg.channel_shuffle_p > 0:
            perms = ops.sample_channel_permutations(out, generator)
            apply = ops.bernoulli(batch, cfg.channel_shuffle_p, x, generator)
            shuffled = ops.channel_shuffle(out, perms)
            out = torch.where(apply.view(-1, 1, 1, 1), shuffled, out)
        if cfg.trivial_augment:
            op_index, magnitude = ops.sample_trivial_augment(out, generator)
            out = ops.trivial_augment(out, op_index, magnitude)
        return out.clamp(0.0, 1.0)

    def _apply(
        self,
        x: Tensor,
        y: Tensor,
        *,
        num_classes: int,
        generator: torch.Generator,
        model: nn.Module | None,
    ) -> tuple[Tensor, Tensor]:
        targets = one_hot(y, num_classes)
        repeats = self.repeats
        if repeats == 1:
            return self.augment(x, generator), targets
        assert model is not None  # checked by __call__
        batch = x.shape[0]
        candidates = self.augment(x.repeat(repeats, 1, 1, 1), generator)  # (K * B, ...)
        with torch.no_grad(), restored_buffers(model):
            logits = _logits(model, candidates)
        losses = soft_cross_entropy(logits, targets.repeat(repeats, 1), reduction="none")
        best = losses.view(repeats, batch).argmax(dim=0)  # (B,) which repeat per sample
        chosen = candidates.view(repeats, batch, *x.shape[1:])[
            best, torch.arange(batch, device=x.device)
        ]
        return chosen, targets


# --------------------------------------------------------------------------- adversarial training
class AdversarialTraining(TrainTimeDefense):
    """PGD adversarial examples (Madry et al. 2018) of the batch, to train on with its labels.

    The examples are generated with the model in eval mode (BatchNorm on its running statistics,
    no dropout), as APBench's ``MadrysLoss`` (which calls ``model.eval()``, then ``model.train()``
    for the training pass), TRADES (Zhang et al. 2019) and robustness-library trainers do; every
    module's mode is restored afterwards. L-inf: ``delta += step * sign(grad)``, clamped to
    ``[-eps, eps]``; L2: ``delta += step * grad / ||grad||_2``, projected onto the eps-ball; both
    keep ``x + delta`` in [0, 1]. Gradients are taken with respect to delta only
    (``torch.autograd.grad``), so no parameter's ``.grad`` changes.
    """

    source: ClassVar[str] = (
        f"PGD adversarial training: Madry et al. 2018 (arXiv 1706.06083); {APBENCH} mardrys.py"
    )

    def __init__(self, cfg: AdversarialTrainingConfig | None = None) -> None:
        super().__init__(cfg or AdversarialTrainingConfig())

    @property
    def needs_model(self) -> bool:
        return True

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.cfg.random_start

    def _project(self, delta: Tensor, x: Tensor) -> Tensor:
        eps = self.cfg.eps
        if self.cfg.norm == "linf":
            delta = delta.clamp(-eps, eps)
        else:
            norms = delta.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            delta = delta * torch.clamp(eps / norms.clamp_min(1e-12), max=1.0)
        return (x + delta).clamp(0.0, 1.0) - x

    def _start(self, x: Tensor, generator: torch.Generator) -> Tensor:
        if not self.cfg.random_start:
            return torch.zeros_like(x)
        eps = self.cfg.eps
        if self.cfg.norm == "linf":
            noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            return self._project((2 * noise - 1) * eps, x)
        direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        direction = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        # uniform in the L2 ball: a uniform direction and a radius eps * U^(1/d), d = C*H*W
        uniform = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device)
        radius = eps * uniform.pow(1.0 / x[0].numel())
        return self._project(direction * radius.to(x.dtype), x)

    def _apply(
        self,
        x: Tensor,
        y: Tensor,
        *,
        num_classes: int,
        generator: torch.Generator,
        model: nn.Module | None,
    ) -> tuple[Tensor, Tensor]:
        assert model is not None  # checked by __call__
        targets = one_hot(y, num_classes)
        x = x.detach()
        delta = self._start(x, generator)
        step = self.cfg.step_size
        with module_modes(model, train=False):
            for _ in range(self.cfg.steps):
                delta.requires_grad_(True)
                loss = soft_cross_entropy(_logits(model, x + delta), targets)
                (grad,) = torch.autograd.grad(loss, [delta])
                if self.cfg.norm == "linf":
                    update = grad.sign()
                else:
                    norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
                    update = grad / norms
                delta = self._project(delta.detach() + step * update, x)
        return (x + delta).clamp(0.0, 1.0).detach(), targets
