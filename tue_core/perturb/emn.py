"""EMN: sample-wise error-minimising noise (Huang et al., ICLR 2021), the min-min problem of Eq. 1.

Outer loop (HanxunH ``perturbation.py``, spec §3): ``train_steps`` optimiser steps of a supervised
surrogate on ``x + delta``, then PGD-``pgd_steps`` (alpha 0.8/255, eps 8/255) on cross-entropy over
the whole training set with the surrogate frozen in eval mode, then the surrogate's accuracy on the
perturbed training set; stop once it exceeds ``stop_accuracy`` (99%) or after ``max_rounds`` rounds,
and record which. No augmentation during generation (as the reference).

Deviations from the reference: the signed delta is kept as is (the reference's dataset class clamps
the noise to be non-negative when it is applied, HanxunH issue #13); model-phase batches are drawn
from a shuffled stream rather than consecutive ones (the reference keeps ``shuffle=False`` only to
align its noise indices, which a bank indexed by sample id does not need). As in the reference, the
surrogate's learning-rate schedule is not stepped during generation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import trange

from tue_core.checkpoint import Checkpoint
from tue_core.evaluate.supervised import SupervisedTrainer
from tue_core.models import build_model
from tue_core.perturb.alternating import initial_bank, perturbed_images, refine_bank, stream_seed
from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.base import MethodOutput
from tue_core.perturb.config import EMNConfig
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.device_data import BatchStream, DeviceData, epoch_batches
from tue_core.perturb.objectives import CrossEntropy, autocast_for
from tue_core.perturb.pgd import PGD
from tue_core.seeding import make_generator, seed_everything

log = logging.getLogger(__name__)


class ErrorMinimizingNoise:
    """EMN (Huang et al. 2021, Eq. 1): alternate surrogate training with PGD on cross-entropy."""

    def __init__(self, cfg: EMNConfig) -> None:
        self.cfg = cfg

    def generate(
        self,
        data: DeviceData,
        *,
        seed: int,
        init: np.ndarray | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> MethodOutput:
        """Rounds until the stop accuracy or ``max_rounds``; with a ``checkpoint`` the whole state
        is offered to it after every round (and always saved after the last) and a rerun resumes."""
        cfg = self.cfg
        seed_everything(seed)
        generator = make_generator(stream_seed(seed), data.device)
        trainer = self._trainer(data, seed)
        ball = LinfBall(cfg.eps)
        bank = initial_bank(
            data, ball, random_start=cfg.random_start, generator=generator, init=init
        )
        pgd = PGD(CrossEntropy(), ball, cfg.pgd_steps, cfg.step_size, train_mode=False)
        stream = BatchStream(len(data), cfg.batch_size, generator=generator, device=data.device)
        run = _RoundState(bank, trainer, generator, stream)
        checkpoint = checkpoint or Checkpoint(None, {}, data.device)
        payload = checkpoint.load()
        if payload is not None:
            run.load_state_dict(payload)
        bar = trange(cfg.max_rounds, desc="EMN rounds", initial=run.rounds, disable=None)
        while run.stop_reason is None:
            run.record = self._round(trainer, pgd, data, bank, stream, generator)
            run.rounds += 1
            run.history.append({"round": run.rounds, **run.record})
            bar.update()
            log.info("EMN round %d: %s", run.rounds, run.record)
            if run.record["train_accuracy_perturbed"] > cfg.stop_accuracy:
                run.stop_reason = "stop_accuracy"
            elif run.rounds >= cfg.max_rounds:
                run.stop_reason = "max_rounds"
            done = run.stop_reason is not None
            checkpoint.save(run.state_dict(), unit="round", count=run.rounds, force=done)
        bar.close()
        return MethodOutput(
            delta=bank.delta,
            norm="linf",
            eps=cfg.eps,
            schedule=self._schedule(run.rounds, run.stop_reason, init is not None),
            losses=run.record,
            extra={"history": run.history},
        )

    def _trainer(self, data: DeviceData, seed: int) -> SupervisedTrainer:
        """The supervised surrogate (``trainer.model`` at ``trainer.width``) and its optimiser."""
        spec = self.cfg.trainer
        model = build_model(
            spec.model,
            num_classes=data.num_classes,
            width=spec.width,
            normalize_features=spec.normalize_features,
        )
        return SupervisedTrainer(model, spec, data.device, seed)

    def _round(
        self,
        trainer: SupervisedTrainer,
        pgd: PGD,
        data: DeviceData,
        bank: DeltaBank,
        stream: BatchStream,
        generator: torch.Generator,
    ) -> dict[str, float]:
        """``train_steps`` model steps, one PGD pass over the whole set, accuracy on x + delta."""
        losses = [
            trainer.step(*perturbed_images(data, bank, index))[0]
            for index in stream.take(self.cfg.train_steps)
        ]
        passed = refine_bank(
            pgd, trainer.model, data, bank, batch_size=self.cfg.batch_size, generator=generator
        )
        return {
            "train_loss": float(torch.stack(losses).mean()),
            "pgd_loss_first_step": passed.first_step,
            "pgd_loss_last_step": passed.last_step,
            "train_accuracy_perturbed": perturbed_accuracy(
                trainer.model, data, bank, self.cfg.batch_size
            ),
        }

    def _schedule(self, rounds: int, stop_reason: str, from_file: bool) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "rounds": rounds,
            "stop_reason": stop_reason,
            "max_rounds": cfg.max_rounds,
            "stop_accuracy": cfg.stop_accuracy,
            "train_steps_per_round": cfg.train_steps,
            "model_steps": rounds * cfg.train_steps,
            "pgd_steps_per_pass": cfg.pgd_steps,
            "pgd_steps_per_sample": rounds * cfg.pgd_steps,
            "random_start": cfg.random_start,
            "init_from_file": from_file,
        }


@dataclass
class _RoundState:
    """Everything a resumed EMN run needs: bank, surrogate, generators, counters, losses so far."""

    bank: DeltaBank
    trainer: SupervisedTrainer
    generator: torch.Generator
    stream: BatchStream
    rounds: int = 0
    stop_reason: str | None = None  # set by the round that ends the run
    record: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return {
            "bank": self.bank.delta,
            "trainer": self.trainer.state_dict(),
            "generator": self.generator.get_state(),
            "stream": self.stream.state_dict(),
            "rounds": self.rounds,
            "stop_reason": self.stop_reason,
            "record": self.record,
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bank.delta.copy_(state["bank"].to(self.bank.delta.device))
        self.trainer.load_state_dict(state["trainer"])
        self.generator.set_state(state["generator"])
        self.stream.load_state_dict(state["stream"])
        self.rounds, self.stop_reason = int(state["rounds"]), state["stop_reason"]
        self.record = dict(state["record"])
        self.history = [dict(r) for r in state["history"]]


@torch.no_grad()
def perturbed_accuracy(
    model: torch.nn.Module, data: DeviceData, bank: DeltaBank, batch_size: int
) -> float:
    """Accuracy of ``model`` (eval mode) on the whole training set plus its delta."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), device=data.device)
    batches = epoch_batches(
        len(data), batch_size, shuffle=False, drop_last=False, generator=None, device=data.device
    )
    for index in batches:
        images, labels = perturbed_images(data, bank, index)
        with autocast_for(images):
            logits = model(images)
        correct += (logits.argmax(dim=1) == labels).sum()
    model.train(was_training)
    return float(correct) / len(data)
