"""Supervised evaluation: train ResNet-18 with cross-entropy on a (possibly perturbed) training set
and measure accuracy on the clean test set (paper §5.1, Appendix B.2, Table 7; spec §2.7).

The recipe is TUE's ``supervised_test.py``: 200 epochs, batch 128, SGD lr 0.1, momentum 0.9,
weight decay 5e-4, cosine annealing over the epochs, RandomCrop(32, padding 4) + flip, no
normalisation, last partial batch kept. TUE's ResNet-18 L2-normalises the pooled feature before
the classifier: ``normalize_features=True`` selects that variant (off by default: the standard one).

A ``defense`` (:mod:`tue_core.defend`) models a trainer who suspects poisoned data: a
preprocessing defense transforms the training images once before training, a training-time
defense transforms every augmented batch into (images, soft targets) and the loss becomes the
soft-target cross-entropy. Without one, training is exactly the recipe above.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, PositiveFloat, PositiveInt
from torch import Tensor, nn

from tue_core import loop
from tue_core.checkpoint import data_identity
from tue_core.data.base import PreparedDataset
from tue_core.defend.base import Defense, TrainTimeDefense, soft_cross_entropy
from tue_core.device import prefers_channels_last
from tue_core.evaluate.result import EvalResult
from tue_core.models import build_model
from tue_core.seeding import make_generator, seed_everything
from tue_core.ssl.augment import SupervisedAugment
from tue_core.ssl.config import OptimizerConfig
from tue_core.ssl.optim import build_optimizer, lr_at, set_lr
from tue_core.ssl.train import as_device
from tue_core.strict import Strict

PAPER_SUPERVISED_OPTIMIZER = OptimizerConfig(
    name="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="cosine"
)


class SupervisedConfig(Strict):
    """Supervised training recipe (defaults: the paper's, Table 7 and TUE ``supervised_test.py``)."""

    epochs: PositiveInt = 200
    batch_size: PositiveInt = 128
    optimizer: OptimizerConfig = PAPER_SUPERVISED_OPTIMIZER
    model: str = "resnet18"
    width: PositiveInt = 64
    normalize_features: bool = False
    augment: bool = True  # RandomCrop(pad) + flip
    padding: int = Field(default=4, ge=0)
    grad_clip_norm: PositiveFloat | None = None  # EMN's evaluation clips at 5.0; TUE does not
    eval_batch_size: PositiveInt = 1024
    checkpoint_every: PositiveInt = 10


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (percent) of ``model`` on uint8 images (N, 3, H, W)."""
    model.eval()
    device = images.device
    loss, correct = torch.zeros((), device=device), torch.zeros((), device=device)
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].float().div_(255.0)
        if prefers_channels_last(device):
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels[start : start + batch_size]
        with loop.autocast_for(device):
            logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(dim=1) == y).sum()
    return float(loss) / len(images), 100.0 * float(correct) / len(images)


class SupervisedTrainer:
    """One SGD step of cross-entropy training (EMN's surrogate steps use it too)."""

    def __init__(
        self,
        model: nn.Module,
        cfg: SupervisedConfig,
        device: str | torch.device,
        seed: int,
        defense: TrainTimeDefense | None = None,
        num_classes: int | None = None,
    ) -> None:
        if defense is not None and num_classes is None:
            raise ValueError("a training-time defense needs num_classes (its soft targets' size)")
        self.device = as_device(device)
        self.cfg = cfg
        self.defense = defense
        self.num_classes = num_classes
        self.model = model.to(self.device)
        if prefers_channels_last(self.device):
            self.model.to(memory_format=torch.channels_last)
        self.generator = make_generator(seed, self.device)
        self.augment = SupervisedAugment(cfg.padding, generator=self.generator)
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optimizer)

    def set_progress(self, epoch: int, step: int, steps_per_epoch: int) -> float:
        lr = lr_at(self.cfg.optimizer, epoch, step, steps_per_epoch, self.cfg.epochs)
        set_lr(self.optimizer, lr)
        return lr

    def set_epoch(self, epoch: int) -> None:
        """Tell a training-time defense the 0-based epoch about to run (UEraser's schedule)."""
        if self.defense is not None:
            self.defense.set_epoch(epoch)

    def step(self, x: Tensor, y: Tensor, augment: bool = True) -> tuple[Tensor, Tensor]:
        """One step on float x (B, 3, H, W) in [0, 1]; returns (loss, #correct), no device sync.

        #correct counts the predictions that match ``y`` (the batch's own labels).
        """
        self.model.train()
        if augment and self.cfg.augment:
            x = self.augment(x)
        targets = None
        if self.defense is not None:  # (B, 3, H, W), (B, C) soft targets
            x, targets = self.defense(
                x, y, num_classes=self.num_classes, generator=self.generator, model=self.model
            )
        if prefers_channels_last(self.device):
            x = x.contiguous(memory_format=torch.channels_last)
        with loop.autocast_for(self.device):
            logits = self.model(x).float()
        loss = (
            F.cross_entropy(logits, y) if targets is None else soft_cross_entropy(logits, targets)
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip_norm)
        self.optimizer.step()
        return loss.detach(), (logits.argmax(dim=1) == y).sum()

    def train_step(self, x: Tensor, y: Tensor, augment: bool = True) -> float:
        """Float loss of one step (``augment=False``: train on ``x`` as given).

        Raises:
            NonFiniteLossError: the loss of this step is NaN or infinite.
        """
        loss = float(self.step(x, y, augment)[0])
        if not math.isfinite(loss):
            raise loop.NonFiniteLossError(f"non-finite supervised loss ({loss}) in train_step")
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])


def check_classification_data(
    train: PreparedDataset, test: PreparedDataset, batch_size: int
) -> None:
    """Refuse data no classifier can be evaluated on, before any work."""
    present = np.unique(train.labels)
    if present.size < 2:
        raise ValueError(
            f"training set {train.name}/{train.split} has {present.size} class(es) "
            f"({present.tolist()}); a classifier needs at least 2"
        )
    if test.num_classes != train.num_classes:
        raise ValueError(
            f"test set has {test.num_classes} classes but the training set {train.num_classes}"
        )
    loop.check_batch_size(len(train), batch_size, f"training set {train.name}/{train.split}")


def train_supervised(
    train: PreparedDataset,
    test: PreparedDataset,
    cfg: SupervisedConfig,
    device: str | torch.device = "auto",
    seed: int = 0,
    checkpoint_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    defense: Defense | None = None,
) -> EvalResult:
    """Train a fresh model on ``train`` and test it on the clean ``test`` set after every epoch.

    ``defense``: a preprocessing defense is applied once to the training images (never to the
    test set), a training-time one to every batch (see the module docstring).
    """
    check_classification_data(train, test, cfg.batch_size)
    device = as_device(device)
    seed_everything(seed)
    model = build_model(cfg.model, train.num_classes, cfg.width, cfg.normalize_features)
    per_batch = defense if isinstance(defense, TrainTimeDefense) else None
    trainer = SupervisedTrainer(model, cfg, device, seed, per_batch, train.num_classes)
    images, labels = train.to_tensors(device)  # uint8 (N, 3, H, W), int64 (N,)
    if defense is not None and per_batch is None:
        images = defense(images)  # the (poisoned) training set, preprocessed once
    test_images, test_labels = test.to_tensors(device)

    def run_epoch(epoch: int) -> loop.Record:
        batches = loop.epoch_batches(
            len(images), cfg.batch_size, drop_last=False, generator=trainer.generator
        )
        start, losses, correct, lr = time.perf_counter(), [], [], 0.0
        trainer.set_epoch(epoch)
        for step, index in enumerate(batches):
            lr = trainer.set_progress(epoch, step, len(batches))
            loss, hits = trainer.step(images[index].float().div_(255.0), labels[index])
            losses.append(loss)
            correct.append(hits)
        stacked = loop.raise_if_non_finite(losses, epoch + 1)
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate_accuracy(
            model, test_images, test_labels, cfg.eval_batch_size
        )
        return {
            "epoch": epoch + 1,
            "train_loss": float(stacked.mean()),
            "train_acc": 100.0 * float(torch.stack(correct).sum()) / len(images),
            "test_loss": test_loss,
            "test_acc": test_acc,
            "lr": lr,
            "seconds": round(seconds, 3),
            "images_per_second": round(len(images) / seconds, 1),
        }

    identity = {
        "kind": "supervised",
        "config": cfg.model_dump(mode="json", exclude={"checkpoint_every"}),
        "seed": seed,
        "device": device.type,
        "inputs": data_identity(
            train_images=train.images,
            train_labels=train.labels,
            test_images=test.images,
            test_labels=test.labels,
        ),
    }
    if defense is not None:
        identity["defense"] = defense.describe()
    history = loop.EpochLoop(
        epochs=cfg.epochs,
        checkpoint_every=cfg.checkpoint_every,
        device=device,
        identity=identity,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        desc="supervised",
    ).run(trainer, run_epoch)
    return EvalResult.from_history(history, device=str(device))
