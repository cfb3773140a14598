"""Our loops, timed through the library's own code paths, and their bare-model counterparts.

* supervised epoch: :class:`tue_core.evaluate.supervised.SupervisedTrainer` over
  ``tue_core.loop.epoch_batches`` (the body of ``train_supervised``'s epoch);
* SSL epoch: :class:`tue_core.ssl.train.SSLTrainer` (augmentation ``tue_core.ssl.augment``), one
  per backbone (``tue_core.ssl.train.run_epoch`` itself);
* PGD pass: :func:`tue_core.perturb.alternating.refine_bank` with :class:`tue_core.perturb.pgd.PGD`
  over a :class:`tue_core.perturb.bank.DeltaBank` (EMN's cross-entropy objective, and the SSL
  objective of UCL/TUE for each backbone);
* forward: :func:`tue_core.evaluate.supervised.evaluate_accuracy` (the per-epoch test pass).

Each loop also has a *bare* variant: the same model's forward and backward on tensors made in
advance on the device, with the same batch shapes and count. ``1 - t_bare / t_ours`` is the share
of our step spent outside the model (data indexing, augmentation, optimiser, bookkeeping).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tue_core import loop
from tue_core.device import prefers_channels_last
from tue_core.evaluate.supervised import SupervisedConfig, SupervisedTrainer, evaluate_accuracy
from tue_core.models import build_model
from tue_core.perturb.alternating import refine_bank
from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.config import PGD_TRAIN_MODE
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.objectives import CrossEntropy, SSLObjective, supported_options
from tue_core.perturb.pgd import PGD, frozen
from tue_core.seeding import make_generator
from tue_core.ssl.config import MoCoConfig, SSLTrainConfig, paper_pretrain_config
from tue_core.ssl.methods import SSLMethod, build_ssl_method
from tue_core.ssl.train import SSLTrainer, run_epoch

EPS, STEP_SIZE = 8 / 255, 0.8 / 255  # every reference (spec §2-§5)
BACKBONES = ("simclr", "moco", "simsiam")


@dataclass(frozen=True)
class Setup:
    """Synthetic CIFAR-shaped data on the device plus the model settings every loop shares."""

    images_hwc: np.ndarray  # uint8 (N, H, W, 3): what the naive datasets index
    labels_np: np.ndarray  # int64 (N,)
    images: Tensor  # uint8 (N, 3, H, W) on the device
    labels: Tensor  # int64 (N,) on the device
    num_classes: int
    width: int
    device: torch.device
    compile: bool = False
    seed: int = 0


def make_setup(
    n: int, size: int, width: int, device: torch.device, *, compile: bool = False, seed: int = 0
) -> Setup:
    """``n`` random uint8 images (speed does not depend on content) with 10 balanced labels."""
    rng = np.random.default_rng(seed)
    images_hwc = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    labels_np = (np.arange(n) % 10).astype(np.int64)
    images = torch.from_numpy(images_hwc).permute(0, 3, 1, 2).contiguous().to(device)
    labels = torch.from_numpy(labels_np).to(device)
    return Setup(images_hwc, labels_np, images, labels, 10, width, device, compile, seed)


@dataclass
class BenchLoop:
    """One loop to time: ours (library path), bare (model only) and, where defined, naive."""

    name: str
    work: int  # units per run: images (epochs) or image-steps (PGD passes)
    unit: str
    batch_size: int
    ours: Callable[[], Any]
    bare: Callable[[], Any]
    bare_step: Callable[[], Any]  # one bare step, for the FLOP count
    step_work: int  # units in ``bare_step``
    extra: dict[str, Any]


def maybe_compile(model: nn.Module, enabled: bool) -> nn.Module:
    """``torch.compile`` the backbone's ``embed`` (what supervised, SSL and PGD all call)."""
    if enabled:
        model.embed = torch.compile(model.embed)  # type: ignore[method-assign]
    return model


def batch_sizes(n: int, batch_size: int, drop_last: bool) -> list[int]:
    full, rest = divmod(n, batch_size)
    return [batch_size] * full + ([] if drop_last or rest == 0 else [rest])


def premade(setup: Setup, sizes: list[int], views: int = 1) -> dict[int, list[Tensor]]:
    """Float batches (channels_last on CUDA, as our trainers feed them) for each distinct size."""
    out = {}
    gen = make_generator(setup.seed + 1, setup.device)
    shape = tuple(setup.images.shape[1:])
    for b in set(sizes):
        made = [torch.rand((b, *shape), generator=gen, device=setup.device) for _ in range(views)]
        if prefers_channels_last(setup.device):
            made = [t.contiguous(memory_format=torch.channels_last) for t in made]
        out[b] = made
    return out


# --------------------------------------------------------------------------- supervised
def supervised_trainer(setup: Setup, batch_size: int) -> SupervisedTrainer:
    model = maybe_compile(build_model("resnet18", setup.num_classes, setup.width), setup.compile)
    cfg = SupervisedConfig(epochs=1, batch_size=batch_size, width=setup.width)
    return SupervisedTrainer(model, cfg, setup.device, setup.seed)


def supervised(setup: Setup, batch_size: int) -> BenchLoop:
    """One epoch of ``train_supervised``'s loop (crop + flip, SGD, last partial batch kept)."""
    trainer = supervised_trainer(setup, batch_size)
    n = len(setup.labels)

    def ours() -> None:
        batches = loop.epoch_batches(n, batch_size, drop_last=False, generator=trainer.generator)
        losses = []
        for step, index in enumerate(batches):
            trainer.set_progress(0, step, len(batches))
            x = setup.images[index].float().div_(255.0)
            losses.append(trainer.step(x, setup.labels[index])[0])
        loop.raise_if_non_finite(losses, 1)

    sizes = batch_sizes(n, batch_size, drop_last=False)
    made = premade(setup, sizes)
    targets = {b: setup.labels[:b] for b in made}

    def bare_step(b: int) -> None:
        with loop.autocast_for(setup.device):
            logits = trainer.model(made[b][0]).float()
        trainer.model.zero_grad(set_to_none=True)
        F.cross_entropy(logits, targets[b]).backward()

    def bare() -> None:
        trainer.model.train()
        for b in sizes:
            bare_step(b)

    return BenchLoop(
        "supervised", n, "images", batch_size, ours, bare, lambda: bare_step(sizes[0]),
        sizes[0], {"drop_last": False, "augment": "crop(pad 4) + flip"},
    )  # fmt: skip


# --------------------------------------------------------------------------- SSL
def ssl_method(setup: Setup, backbone: str, batch_size: int) -> SSLMethod:
    """The method with paper defaults; MoCo's queue grows to hold a batch when needed."""
    model = maybe_compile(build_model("resnet18", setup.num_classes, setup.width), setup.compile)
    cfg: Any = {"name": backbone}
    if backbone == "moco":
        cfg = MoCoConfig(queue_size=max(4096, batch_size), bn_splits=min(8, batch_size))
    return build_ssl_method(cfg, model)


def ssl_trainer(setup: Setup, backbone: str, batch_size: int) -> SSLTrainer:
    cfg: SSLTrainConfig = paper_pretrain_config(backbone, epochs=1, batch_size=batch_size)
    return SSLTrainer(ssl_method(setup, backbone, batch_size), cfg, setup.device, setup.seed)


def ssl(setup: Setup, backbone: str, batch_size: int) -> BenchLoop:
    """One epoch of ``train_ssl`` (two augmented views per image, drop_last)."""
    trainer = ssl_trainer(setup, backbone, batch_size)
    n = len(setup.labels)

    def ours() -> None:
        run_epoch(trainer, setup.images, 0)  # the library's epoch (paper config: drop_last)

    sizes = batch_sizes(n, batch_size, drop_last=True)
    made = premade(setup, sizes, views=2)
    method = trainer.method

    def bare_step(b: int) -> None:
        with trainer.autocast():
            output = method.step(made[b])
        method.zero_grad(set_to_none=True)
        output.loss.backward()

    def bare() -> None:
        method.train()
        for b in sizes:
            bare_step(b)

    return BenchLoop(
        f"ssl_{backbone}", sum(sizes), "images", batch_size, ours, bare,
        lambda: bare_step(sizes[0]), sizes[0], {"drop_last": True, "views": 2},
    )  # fmt: skip


# --------------------------------------------------------------------------- PGD
def _device_data(setup: Setup) -> DeviceData:
    return DeviceData(images=setup.images, labels=setup.labels, num_classes=setup.num_classes)


def _pgd_loop(
    name: str,
    setup: Setup,
    pgd: PGD,
    model: nn.Module,
    batch_size: int,
    bare_step: Callable[[int, Tensor], None],
) -> BenchLoop:
    """A full ``refine_bank`` pass and its bare counterpart (``steps`` model passes per batch)."""
    data, ball = _device_data(setup), pgd.ball
    gen = make_generator(setup.seed + 2, setup.device)
    bank = DeltaBank.uniform(setup.images, ball, gen)
    n = len(setup.labels)

    def ours() -> None:
        refine_bank(pgd, model, data, bank, batch_size=batch_size, generator=gen)

    sizes = batch_sizes(n, batch_size, drop_last=False)
    deltas = {b: (torch.rand((b, *setup.images.shape[1:]), device=setup.device) - 0.5) * EPS
              for b in set(sizes)}  # fmt: skip

    def bare() -> None:
        with frozen(model, train_mode=pgd.train_mode):
            for b in sizes:
                for _ in range(pgd.steps):
                    bare_step(b, deltas[b])

    def one_step() -> None:
        with frozen(model, train_mode=pgd.train_mode):
            bare_step(sizes[0], deltas[sizes[0]])

    extra = {"pgd_steps": pgd.steps, "images": n, "train_mode": pgd.train_mode}
    return BenchLoop(
        name, n * pgd.steps, "image-steps", batch_size, ours, bare, one_step, sizes[0], extra
    )


def pgd_ce(setup: Setup, batch_size: int, steps: int) -> BenchLoop:
    """EMN's noise phase: PGD on cross-entropy with the surrogate frozen in eval mode."""
    trainer = supervised_trainer(setup, batch_size)
    model = trainer.model
    pgd = PGD(CrossEntropy(), LinfBall(EPS), steps, STEP_SIZE, train_mode=False)
    made = premade(setup, batch_sizes(len(setup.labels), batch_size, False))
    targets = {b: setup.labels[:b] for b in made}

    def bare_step(b: int, delta: Tensor) -> None:
        delta = delta.detach().requires_grad_(True)
        with loop.autocast_for(setup.device):
            logits = model(made[b][0] + delta).float()
        torch.autograd.grad(F.cross_entropy(logits, targets[b]), delta)

    return _pgd_loop("pgd_ce", setup, pgd, model, batch_size, bare_step)


def pgd_ssl(setup: Setup, backbone: str, batch_size: int, steps: int) -> BenchLoop:
    """UCL/TUE's noise phase (paper mode's network term): PGD on the SSL loss of two views."""
    trainer = ssl_trainer(setup, backbone, batch_size)
    method = trainer.method
    objective = SSLObjective(trainer.augment, update_queue=True, target_grad=True)
    pgd = PGD(objective, LinfBall(EPS), steps, STEP_SIZE, train_mode=PGD_TRAIN_MODE[backbone])
    made = premade(setup, batch_sizes(len(setup.labels), batch_size, False), views=2)
    options = supported_options(method.step, {"update_queue": True, "target_grad": True})

    def bare_step(b: int, delta: Tensor) -> None:
        delta = delta.detach().requires_grad_(True)
        with trainer.autocast():
            loss = method.step([v + delta for v in made[b]], **options).loss.float()
        torch.autograd.grad(loss, delta)

    return _pgd_loop(f"pgd_ssl_{backbone}", setup, pgd, method, batch_size, bare_step)


# --------------------------------------------------------------------------- forward
def forward(setup: Setup, batch_size: int) -> BenchLoop:
    """The per-epoch test pass (``evaluate_accuracy``): forward only, no gradients."""
    trainer = supervised_trainer(setup, batch_size)
    model, n = trainer.model, len(setup.labels)
    sizes = batch_sizes(n, batch_size, drop_last=False)
    made = premade(setup, sizes)

    @torch.no_grad()
    def bare_step(b: int) -> None:
        with loop.autocast_for(setup.device):
            model(made[b][0]).float()

    def bare() -> None:
        model.eval()
        for b in sizes:
            bare_step(b)

    def ours() -> None:
        evaluate_accuracy(model, setup.images, setup.labels, batch_size)

    return BenchLoop(
        "forward", n, "images", batch_size, ours, bare, lambda: bare_step(sizes[0]),
        sizes[0], {},
    )  # fmt: skip
