"""Optimisers and learning-rate schedules from an :class:`OptimizerConfig` (shared by all loops).

The learning rate is a pure function of (epoch, step), set on the optimiser before every step, so
a resumed run needs no scheduler state: it recomputes the same value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from tue_core.ssl.config import OptimizerConfig


def build_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """SGD (momentum, coupled weight decay) or Adam (L2 weight decay), as the references use them."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("no trainable parameters to optimise")
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.name!r}; valid names: adam, sgd")


def lr_at(cfg: OptimizerConfig, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """Learning rate for ``step`` of ``epoch`` (both 0-based).

    Linear warm-up over the first ``warmup_epochs`` (per step), then constant (``none``) or cosine
    annealing evaluated once per epoch, like ``CosineAnnealingLR(T_max=epochs)`` stepped per epoch,
    from ``lr`` down to ``lr * min_lr_ratio``.
    """
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch * steps_per_epoch + step + 1) / (cfg.warmup_epochs * steps_per_epoch)
    if cfg.schedule == "none":
        return cfg.lr
    progress = (epoch - cfg.warmup_epochs) / max(1, epochs - cfg.warmup_epochs)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
