"""The alternating S1/S2 loop of Eq. 6 with a self-supervised surrogate (shared by UCL and TUE).

Per epoch (renjie3/TUE ``ssl_perturbation.py``, spec §2.1): the shuffled model-phase batches are
consumed ``train_steps`` at a time (S1: SSL optimiser steps on ``x + delta``); after each chunk the
whole delta bank is refined by one PGD pass (S2), so an epoch has ``ceil(batches / train_steps)``
noise passes. Unlike the reference, no extra noise pass follows an epoch whose batch count is an
exact multiple of ``train_steps``, and the noise pass never drops samples (the reference's MoCo
loader drops a random 336 each pass).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import trange

from tue_core.checkpoint import Checkpoint
from tue_core.models import build_model
from tue_core.perturb.alternating import (
    initial_bank,
    perturbed_images,
    refine_bank,
    stream_seed,
)
from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.base import MethodOutput
from tue_core.perturb.config import SSLMinMinBase
from tue_core.perturb.device_data import DeviceData, epoch_batches
from tue_core.perturb.objectives import Objective
from tue_core.perturb.pgd import PGD
from tue_core.seeding import make_generator, seed_everything
from tue_core.ssl.methods import build_ssl_method
from tue_core.ssl.train import SSLTrainer

log = logging.getLogger(__name__)

# Builds the S2 objective from the trainer's differentiable augmentation.
ObjectiveFactory = Callable[[Callable[..., torch.Tensor]], Objective]


@dataclass(frozen=True)
class MinMinPlan:
    """What the SSL loop needs beyond the config: the objective and whether it uses the network."""

    objective: ObjectiveFactory
    uses_model: bool  # False when the objective is CSD alone (no forward pass in S2)


def build_trainer(cfg: SSLMinMinBase, data: DeviceData, seed: int) -> SSLTrainer:
    """The SSL surrogate (backbone + method + optimiser) for ``cfg.backbone``."""
    backbone = build_model(
        cfg.surrogate.arch,
        num_classes=data.num_classes,
        width=cfg.surrogate.width,
        normalize_features=False,
    )
    method = build_ssl_method(cfg.ssl_config(), backbone).to(data.device)
    return SSLTrainer(method, cfg.train_config(), data.device, seed)


def train_chunk(
    trainer: SSLTrainer,
    data: DeviceData,
    bank: DeltaBank,
    chunk: list[torch.Tensor],
    *,
    epoch: int,
    first_step: int,
    steps_per_epoch: int,
) -> float:
    """S1: one SSL optimiser step per index batch on ``x + delta``; mean loss (one device sync)."""
    losses = []
    for offset, index in enumerate(chunk):
        trainer.set_progress(epoch, first_step + offset, steps_per_epoch)
        losses.append(trainer.step(perturbed_images(data, bank, index)[0]))
    return float(torch.stack(losses).mean())


def run_ssl_minmin(
    cfg: SSLMinMinBase,
    plan: MinMinPlan,
    data: DeviceData,
    *,
    seed: int,
    init: np.ndarray | None,
    checkpoint: Checkpoint | None = None,
) -> MethodOutput:
    """Eq. 6 for ``cfg.epochs`` epochs; returns the bank and the schedule actually run.

    With a ``checkpoint`` the whole state is offered to it after every noise pass (it saves when
    its interval has passed, and always after the last pass) and a rerun resumes from it.
    """
    seed_everything(seed)
    generator = make_generator(stream_seed(seed), data.device)
    trainer = build_trainer(cfg, data, seed)
    ball = cfg.constraint()
    bank = initial_bank(data, ball, random_start=cfg.random_start, generator=generator, init=init)
    objective = plan.objective(trainer.augment)
    pgd = PGD(objective, ball, cfg.pgd_steps, cfg.step_size, train_mode=cfg.pgd_train_mode)
    loop = _Alternation(cfg, trainer, pgd, data, bank, generator, plan.uses_model)
    checkpoint = checkpoint or Checkpoint(None, {}, data.device)
    payload = checkpoint.load()
    if payload is not None:
        loop.load_state_dict(payload)
    bar = trange(
        loop.total_passes, desc=f"{cfg.method} noise passes", initial=loop.passes, disable=None
    )
    while not loop.done:
        loop.run_pass()
        bar.update()
        log.info(
            "%s pass %d of %d: %s", cfg.method, loop.passes, loop.total_passes, loop.history[-1]
        )
        checkpoint.save(loop.state_dict(), unit="pass", count=loop.passes, force=loop.done)
    bar.close()
    return MethodOutput(
        delta=bank.delta,
        norm="linf",
        eps=cfg.eps,
        schedule={
            "epochs": cfg.epochs,
            "train_steps": cfg.train_steps,
            "model_steps": loop.model_steps,
            "noise_passes": loop.passes,
            "pgd_steps_per_pass": cfg.pgd_steps,
            "pgd_steps_per_sample": loop.passes * cfg.pgd_steps,
            "random_start": cfg.random_start,
            "init_from_file": init is not None,
            "pgd_train_mode": cfg.pgd_train_mode,
            "drop_last": cfg.drop_last,
            "s2_uses_network": plan.uses_model,
            "surrogate_trained": loop.train_surrogate,
            "stop_reason": "epochs",
        },
        losses=loop.losses,
        extra={"history": loop.history},
    )


class _Alternation:
    """State of the S1/S2 alternation: where it is (epoch, batch), counters, losses so far.

    Everything a resumed run needs is in :meth:`state_dict`, including the current epoch's batch
    order, so a run can stop and resume after any noise pass, not only at epoch ends.
    """

    def __init__(
        self,
        cfg: SSLMinMinBase,
        trainer: SSLTrainer,
        pgd: PGD,
        data: DeviceData,
        bank: DeltaBank,
        generator: torch.Generator,
        uses_model: bool,
    ) -> None:
        self.cfg, self.trainer, self.pgd = cfg, trainer, pgd
        self.data, self.bank, self.generator = data, bank, generator
        self.model = trainer.method if uses_model else None
        self.train_surrogate = cfg.trains_surrogate()  # S1; the batch order is drawn either way
        self.epoch, self.next_batch = 0, 0  # 0-based epoch; first batch of its next chunk
        self.batches: list[torch.Tensor] | None = None  # this epoch's order; None: not drawn yet
        self.model_steps, self.passes = 0, 0
        self.losses: dict[str, float] = {}
        self.history: list[dict[str, float]] = []

    @property
    def done(self) -> bool:
        return self.epoch >= self.cfg.epochs

    @property
    def total_passes(self) -> int:
        """``epochs * ceil(batches / train_steps)``: the number of noise passes of the schedule."""
        cfg = self.cfg
        full, rest = divmod(len(self.data), cfg.batch_size)
        batches = full + (1 if rest and not (cfg.drop_last and full) else 0)
        return cfg.epochs * -(-batches // cfg.train_steps)

    def run_pass(self) -> None:
        """One round of Eq. 6: an S1 chunk of ``train_steps`` batches, then an S2 pass over the set.

        An epoch's shuffled batches are drawn before its first chunk; the epoch ends after the
        chunk that uses its last batch (``ceil(batches / train_steps)`` passes per epoch).
        """
        cfg = self.cfg
        if self.batches is None:
            self.batches = epoch_batches(
                len(self.data),
                cfg.batch_size,
                shuffle=True,
                drop_last=cfg.drop_last,
                generator=self.generator,
                device=self.data.device,
            )
            self.next_batch = 0
        start = self.next_batch
        chunk = self.batches[start : start + cfg.train_steps]
        losses: dict[str, float] = {}
        if self.train_surrogate:
            losses["ssl_train_loss"] = train_chunk(
                self.trainer,
                self.data,
                self.bank,
                chunk,
                epoch=self.epoch,
                first_step=start,
                steps_per_epoch=len(self.batches),
            )
            self.model_steps += len(chunk)
        passed = refine_bank(
            self.pgd,
            self.model,
            self.data,
            self.bank,
            batch_size=cfg.batch_size,
            generator=self.generator,
        )
        self.passes += 1
        self.losses = {
            **losses,
            "pgd_loss_first_step": passed.first_step,
            "pgd_loss_last_step": passed.last_step,
        }
        self.history.append({"pass": self.passes, "epoch": self.epoch + 1, **self.losses})
        self.next_batch = start + cfg.train_steps
        if self.next_batch >= len(self.batches):
            self.epoch, self.batches = self.epoch + 1, None

    def state_dict(self) -> dict[str, Any]:
        return {
            "bank": self.bank.delta,
            "trainer": self.trainer.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "next_batch": self.next_batch,
            "batches": self.batches,
            "model_steps": self.model_steps,
            "passes": self.passes,
            "losses": self.losses,
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = self.data.device
        self.bank.delta.copy_(state["bank"].to(device))
        self.trainer.load_state_dict(state["trainer"])
        self.generator.set_state(state["generator"])
        self.epoch, self.next_batch = int(state["epoch"]), int(state["next_batch"])
        batches = state["batches"]
        self.batches = None if batches is None else [b.to(device) for b in batches]
        self.model_steps, self.passes = int(state["model_steps"]), int(state["passes"])
        self.losses = dict(state["losses"])
        self.history = [dict(r) for r in state["history"]]
