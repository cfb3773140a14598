"""Unsupervised evaluation: SSL pre-training on the (possibly perturbed) set, then a linear probe.

Paper §5.1 / Appendix B.2 / Table 7: pre-train the encoder for 1000 epochs with the chosen SSL
method, freeze it, train a linear classifier for 100 epochs on the **clean** training set and
report accuracy on the clean test set. TUE never released this code (spec §1.4); the probe follows
CP's ``evaluation.py`` (frozen encoder in eval mode, Linear(D, classes), RandomResizedCrop(0.2-1)
+ flip on the clean set, spec §5) with Table 7's per-backbone optimiser and learning rate.
``augment="none"`` embeds the data once and trains on cached features (the fast CPU path).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import PositiveInt
from torch import Tensor, nn

from tue_core import loop
from tue_core.checkpoint import data_identity, state_identity
from tue_core.data.base import PreparedDataset
from tue_core.evaluate.result import EvalResult
from tue_core.evaluate.supervised import check_classification_data
from tue_core.models import build_model
from tue_core.seeding import make_generator, seed_everything
from tue_core.ssl.augment import AugmentConfig, SSLAugment
from tue_core.ssl.config import OptimizerConfig, SSLTrainConfig, parse_ssl_config
from tue_core.ssl.methods import build_ssl_method
from tue_core.ssl.optim import build_optimizer, lr_at, set_lr
from tue_core.ssl.train import as_device, train_ssl
from tue_core.strict import Strict

# Table 7, "Linear probing" columns; momentum 0.9 and the weight decays are the references'
# (leftthomas/TUE dev-fork linear.py: Adam wd 1e-6; CP: SGD wd 0).
PAPER_PROBE_OPTIMIZERS: dict[str, OptimizerConfig] = {
    "simclr": OptimizerConfig(name="adam", lr=1e-3, weight_decay=1e-6, schedule="none"),
    "moco": OptimizerConfig(name="sgd", lr=30.0, weight_decay=0.0, schedule="cosine"),
    "simsiam": OptimizerConfig(name="sgd", lr=30.0, weight_decay=0.0, schedule="cosine"),
}
_PROBE_AUGMENTS = {
    "crop_flip": AugmentConfig(crop_scale=(0.2, 1.0), jitter_p=0.0, gray_p=0.0),
    "ssl": AugmentConfig(),
}


class LinearProbeConfig(Strict):
    """Linear probe on a frozen encoder (default: Table 7's SimCLR column, 100 epochs)."""

    epochs: PositiveInt = 100
    batch_size: PositiveInt = 512
    optimizer: OptimizerConfig = PAPER_PROBE_OPTIMIZERS["simclr"]
    augment: Literal["none", "crop_flip", "ssl"] = "crop_flip"
    eval_batch_size: PositiveInt = 1024
    checkpoint_every: PositiveInt = 10


def paper_probe_config(method: str, **overrides: Any) -> LinearProbeConfig:
    """Table 7's probe recipe for the SSL ``method`` the encoder was pre-trained with."""
    if method not in PAPER_PROBE_OPTIMIZERS:
        raise KeyError(
            f"unknown SSL method {method!r}; valid names: {', '.join(PAPER_PROBE_OPTIMIZERS)}"
        )
    return LinearProbeConfig(**{"optimizer": PAPER_PROBE_OPTIMIZERS[method], **overrides})


@torch.no_grad()
def embed_all(encoder: nn.Module, images: Tensor, batch_size: int) -> Tensor:
    """Frozen features (N, D) in float32 of uint8 images (N, 3, H, W)."""
    encoder.eval()
    chunks = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].float().div_(255.0)
        with loop.autocast_for(images.device):
            chunks.append(encoder.embed(x).float())
    return torch.cat(chunks)


class _ProbeTrainer:
    """Linear classifier on a frozen encoder; features are cached when there is no augmentation."""

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        cfg: LinearProbeConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        self.encoder, self.cfg, self.device = encoder.to(device).eval(), cfg, device
        self.encoder.requires_grad_(False)
        self.classifier = nn.Linear(encoder.embed_dim, num_classes).to(device)
        self.optimizer = build_optimizer(self.classifier.parameters(), cfg.optimizer)
        self.generator = make_generator(seed, device)
        augment = _PROBE_AUGMENTS.get(cfg.augment)
        self.augment = None if augment is None else SSLAugment(augment, generator=self.generator)

    def features(self, data: Tensor) -> Tensor:
        """Cached features (float) pass through; uint8 images are augmented and embedded."""
        if data.dtype != torch.uint8:
            return data
        x = data.float().div_(255.0)
        x = self.augment(x) if self.augment is not None else x
        with torch.no_grad(), loop.autocast_for(self.device):
            return self.encoder.embed(x).float()

    def step(self, data: Tensor, y: Tensor, lr: float) -> Tensor:
        set_lr(self.optimizer, lr)
        self.encoder.eval()  # frozen: BN keeps its running statistics
        loss = F.cross_entropy(self.classifier(self.features(data)), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def state_dict(self) -> dict[str, Any]:
        return {
            "classifier": self.classifier.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.classifier.load_state_dict(state["classifier"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])


def linear_probe(
    encoder: nn.Module,
    clean_train: PreparedDataset,
    test: PreparedDataset,
    cfg: LinearProbeConfig,
    device: str | torch.device = "auto",
    seed: int = 0,
    checkpoint_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> EvalResult:
    """Train a linear classifier on ``encoder.embed`` features of ``clean_train``; test on ``test``."""
    check_classification_data(clean_train, test, cfg.batch_size)
    device = as_device(device)
    trainer = _ProbeTrainer(encoder, clean_train.num_classes, cfg, device, seed)
    images, labels = clean_train.to_tensors(device)
    test_images, test_labels = test.to_tensors(device)
    test_features = embed_all(trainer.encoder, test_images, cfg.eval_batch_size)
    train_data = (
        images
        if trainer.augment is not None
        else embed_all(trainer.encoder, images, cfg.eval_batch_size)
    )

    def run_epoch(epoch: int) -> loop.Record:
        batches = loop.epoch_batches(
            len(labels), cfg.batch_size, drop_last=False, generator=trainer.generator
        )
        start, losses, lr = time.perf_counter(), [], 0.0
        for step, index in enumerate(batches):
            lr = lr_at(cfg.optimizer, epoch, step, len(batches), cfg.epochs)
            losses.append(trainer.step(train_data[index], labels[index], lr))
        stacked = loop.raise_if_non_finite(losses, epoch + 1)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            logits = trainer.classifier(test_features)
        return {
            "epoch": epoch + 1,
            "train_loss": float(stacked.mean()),
            "test_loss": float(F.cross_entropy(logits, test_labels)),
            "test_acc": 100.0 * float((logits.argmax(1) == test_labels).float().mean()),
            "lr": lr,
            "seconds": round(seconds, 3),
            "images_per_second": round(len(labels) / seconds, 1),
        }

    identity = {
        "kind": "linear_probe",
        "config": cfg.model_dump(mode="json", exclude={"checkpoint_every"}),
        "seed": seed,
        "device": device.type,
        "encoder": state_identity(trainer.encoder.state_dict()),  # a new pre-training: a new probe
        "inputs": data_identity(
            train_images=clean_train.images,
            train_labels=clean_train.labels,
            test_images=test.images,
            test_labels=test.labels,
        ),
    }
    history = loop.EpochLoop(
        epochs=cfg.epochs,
        checkpoint_every=cfg.checkpoint_every,
        device=device,
        identity=identity,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        desc="linear-probe",
        phase="probe",
    ).run(trainer, run_epoch)
    return EvalResult.from_history(history, device=str(device))


def _sibling(path: str | os.PathLike[str] | None, tag: str) -> Path | None:
    """``ckpt/run.pt`` -> ``ckpt/run.probe.pt``."""
    return None if path is None else Path(path).with_suffix(f".{tag}{Path(path).suffix}")


def evaluate_ssl(
    pretrain: PreparedDataset,
    clean_train: PreparedDataset,
    test: PreparedDataset,
    ssl: Any,
    pretrain_cfg: SSLTrainConfig,
    probe_cfg: LinearProbeConfig,
    model_width: int,
    device: str | torch.device = "auto",
    seed: int = 0,
    checkpoint_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> EvalResult:
    """Pre-train ResNet-18 with ``ssl`` on ``pretrain`` (possibly perturbed), then probe it.

    Checkpoints: pre-training at ``checkpoint_path``, the probe beside it (``*.probe.*``). The
    log holds both phases (``"phase": "pretrain" | "probe"``).
    """
    ssl = parse_ssl_config(ssl)
    check_classification_data(clean_train, test, probe_cfg.batch_size)
    loop.check_batch_size(len(pretrain), pretrain_cfg.batch_size, "SSL pre-training set")
    device = as_device(device)
    seed_everything(seed)
    method = build_ssl_method(ssl, build_model("resnet18", clean_train.num_classes, model_width))
    images, _ = pretrain.to_tensors(device)
    pretrain_history = train_ssl(
        images, pretrain_cfg, method, device, seed, checkpoint_path, log_path, phase="pretrain"
    )
    result = linear_probe(
        method.backbone,
        clean_train,
        test,
        probe_cfg,
        device,
        seed,
        _sibling(checkpoint_path, "probe"),
        log_path,
    )
    result.extra.update(
        ssl=ssl.name,
        pretrain_images_per_second=pretrain_history[-1]["images_per_second"],
        pretrain_final_loss=pretrain_history[-1]["loss"],
    )
    return result
