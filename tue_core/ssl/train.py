"""The one SSL training loop (code-style-anchors §3.3): it knows nothing method-specific.

``SSLTrainer`` holds the method, its optimiser, the view augmentation and the generator that
drives data order and augmentation. Perturbation generators (UCL, TUE) alternate
``trainer.train_step(x + delta)`` with their own PGD steps that call
``trainer.method.step([trainer.augment(x + delta), trainer.augment(x + delta)])``.
``train_ssl`` is the epoch loop over a uint8 dataset held on the device.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from tue_core import loop
from tue_core.checkpoint import data_identity, structure_identity
from tue_core.device import prefers_channels_last, resolve_device
from tue_core.seeding import make_generator
from tue_core.ssl.augment import SSLAugment
from tue_core.ssl.config import SSLTrainConfig
from tue_core.ssl.methods import SSLMethod
from tue_core.ssl.optim import build_optimizer, lr_at, set_lr

log = logging.getLogger(__name__)


def as_device(device: str | torch.device) -> torch.device:
    """A ``torch.device`` as given, or resolved from a name (``auto`` picks CUDA when present)."""
    return device if isinstance(device, torch.device) else resolve_device(device)


class SSLTrainer:
    """One optimiser step of an SSL method on two augmented views of a batch.

    Args:
        method: the SSL method (moved to ``device``; channels_last on CUDA).
        cfg: epochs, batch size, optimiser and augmentation.
        device: ``cpu``, ``cuda``, ``auto`` or a ``torch.device``.
        seed: seeds the generator for data order and augmentation (not the model init).
    """

    def __init__(
        self, method: SSLMethod, cfg: SSLTrainConfig, device: str | torch.device, seed: int
    ) -> None:
        self.device = as_device(device)
        self.cfg = cfg
        self.method = method.to(self.device)
        if prefers_channels_last(self.device):
            self.method.to(memory_format=torch.channels_last)
        self.generator = make_generator(seed, self.device)
        self.augment = SSLAugment(cfg.augment, generator=self.generator)
        self.optimizer = build_optimizer(self.method.parameters(), cfg.optimizer)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on CUDA, nothing on the CPU (use it around PGD steps too)."""
        return loop.autocast_for(self.device)

    def set_progress(self, epoch: int, step: int, steps_per_epoch: int) -> float:
        """Set the learning rate of ``step`` in ``epoch`` (0-based) and return it."""
        lr = lr_at(self.cfg.optimizer, epoch, step, steps_per_epoch, self.cfg.epochs)
        set_lr(self.optimizer, lr)
        return lr

    def views(self, x: Tensor) -> list[Tensor]:
        """Two independently augmented views of a float batch in [0, 1]."""
        views = [self.augment(x), self.augment(x)]
        if prefers_channels_last(self.device):
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        return views

    def step(self, x: Tensor) -> Tensor:
        """One optimiser step; returns the detached loss without a device sync."""
        self.method.train()
        views = self.views(x)
        with self.autocast():
            output = self.method.step(views)
        self.optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        self.optimizer.step()
        self.method.after_optimizer_step()
        return output.loss.detach()

    def train_step(self, x: Tensor) -> float:
        """float (B, 3, H, W) in [0, 1] -> loss of the step as a float (syncs the device).

        Raises:
            NonFiniteLossError: the loss of this step is NaN or infinite.
        """
        loss = float(self.step(x))
        if not math.isfinite(loss):
            raise loop.NonFiniteLossError(f"non-finite SSL loss ({loss}) in train_step")
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])


def _check_images(images: Tensor) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"train images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}"
        )


def run_epoch(trainer: SSLTrainer, images: Tensor, epoch: int) -> loop.Record:
    """One epoch of SSL steps over uint8 ``images`` (N, 3, H, W); its loss, lr and speed."""
    cfg = trainer.cfg
    batches = loop.epoch_batches(
        len(images), cfg.batch_size, drop_last=cfg.drop_last, generator=trainer.generator
    )
    start, losses, lr = time.perf_counter(), [], 0.0
    for step, index in enumerate(batches):
        lr = trainer.set_progress(epoch, step, len(batches))
        x = images[index].float().div_(255.0)  # (B, 3, H, W) in [0, 1]
        losses.append(trainer.step(x))
    stacked = loop.raise_if_non_finite(losses, epoch + 1)
    seconds = time.perf_counter() - start
    seen = sum(len(index) for index in batches)
    return {
        "epoch": epoch + 1,
        "loss": float(stacked.mean()),
        "lr": lr,
        "seconds": round(seconds, 3),
        "images_per_second": round(seen / seconds, 1),
    }


def train_ssl(
    train_images_uint8: Tensor,
    cfg: SSLTrainConfig,
    method: SSLMethod,
    device: str | torch.device,
    seed: int,
    checkpoint_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    *,
    phase: str | None = None,
) -> list[loop.Record]:
    """Pre-train ``method`` on ``train_images_uint8`` (N, 3, H, W) for ``cfg.epochs``.

    Resumes from ``checkpoint_path`` when it exists (written every ``cfg.checkpoint_every``
    epochs and at the end); appends one JSON line per epoch to ``log_path``.

    Returns:
        the per-epoch history: epoch, mean loss, lr, seconds, images per second.
    """
    _check_images(train_images_uint8)
    loop.check_batch_size(len(train_images_uint8), cfg.batch_size, "SSL training set")
    trainer = SSLTrainer(method, cfg, device, seed)
    images = train_images_uint8.to(trainer.device)
    identity = {
        "kind": "ssl",
        "train": cfg.model_dump(mode="json", exclude={"checkpoint_every"}),
        "method": method.cfg.model_dump(mode="json") if hasattr(method, "cfg") else None,
        "model": structure_identity(method.state_dict()),  # backbone architecture and width
        "seed": seed,
        "device": trainer.device.type,
        "inputs": data_identity(images=train_images_uint8.cpu().numpy()),
    }
    epochs = loop.EpochLoop(
        epochs=cfg.epochs,
        checkpoint_every=cfg.checkpoint_every,
        device=trainer.device,
        identity=identity,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        desc=f"ssl-{type(method).__name__.lower()}",
        phase=phase,
    )
    steps = loop.steps_per_epoch(len(images), cfg.batch_size, cfg.drop_last)
    log.info("SSL training: %d images, %d steps per epoch, %s", len(images), steps, cfg)
    return epochs.run(trainer, lambda epoch: run_epoch(trainer, images, epoch))
