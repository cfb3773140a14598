"""The epoch engine shared by SSL pre-training, supervised training and the linear probe.

It owns what every long run needs and no method-specific logic: device-side batch indices,
resumable checkpoints (:mod:`tue_core.checkpoint`, every few epochs), a JSON-lines history that a
resumed run rewrites, the non-finite-loss guard and the per-epoch progress bar. The perturbation
generators (EMN's rounds, UCL/TUE's noise passes) resume through the same checkpoint mechanism.

A checkpoint holds the trainer's state (model, optimiser, data/augmentation generator), every
global RNG (MoCo's key shuffle draws from torch's) and the history, so on the CPU a resumed run
ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor
from tqdm.auto import tqdm

from tue_core import io
from tue_core.checkpoint import Checkpoint, interval_from_env
from tue_core.device import autocast_dtype

log = logging.getLogger(__name__)

Record = dict[str, float]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch and the step."""


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


# --------------------------------------------------------------------------- batches
def check_batch_size(num_samples: int, batch_size: int, what: str) -> None:
    """A batch larger than the dataset is a configuration error, reported before any work."""
    if batch_size > num_samples:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {what} ({num_samples} samples); "
            f"use batch_size <= {num_samples}"
        )


def steps_per_epoch(num_samples: int, batch_size: int, drop_last: bool) -> int:
    full, rest = divmod(num_samples, batch_size)
    return full if drop_last or rest == 0 else full + 1


def epoch_batches(
    num_samples: int, batch_size: int, *, drop_last: bool, generator: torch.Generator
) -> list[Tensor]:
    """Index batches (each int64 on the generator's device) of one shuffled pass over the data."""
    order = torch.randperm(num_samples, generator=generator, device=generator.device)
    stop = num_samples - num_samples % batch_size if drop_last else num_samples
    return list(order[:stop].split(batch_size))


def raise_if_non_finite(losses: list[Tensor], epoch: int) -> Tensor:
    """Stack the epoch's per-step losses (one device sync per epoch) and check them.

    Raises:
        NonFiniteLossError: naming the 1-based epoch and the first bad step.
    """
    stacked = torch.stack(losses).float()  # (steps,)
    bad = ~torch.isfinite(stacked)
    if bool(bad.any()):
        step = int(bad.nonzero()[0, 0])
        raise NonFiniteLossError(
            f"non-finite loss ({stacked[step].item()}) at epoch {epoch}, step {step + 1} of "
            f"{len(losses)}; lower the learning rate or check the inputs"
        )
    return stacked


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA; nothing on the CPU (bf16 is ~7x slower there, performance §5)."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# --------------------------------------------------------------------------- logs
class JsonlLog:
    """Per-epoch records as JSON lines, tagged with ``phase``; a ``None`` path logs nothing.

    Several phases (SSL pre-training, then the probe) can share one file: rewriting one phase
    keeps the lines of the others.
    """

    def __init__(self, path: str | os.PathLike[str] | None, phase: str | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.phase = phase

    def _line(self, record: Record) -> str:
        tagged = record if self.phase is None else {"phase": self.phase, **record}
        return json.dumps(tagged) + "\n"

    def rewrite(self, history: list[Record]) -> None:
        """Replace this phase's lines with ``history`` (a resumed run drops later epochs)."""
        if self.path is None:
            return
        kept: list[str] = []
        if self.phase is not None and self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if json.loads(line).get("phase") != self.phase]
        io.atomic_write_text(self.path, "".join(kept + [self._line(r) for r in history]))

    def append(self, record: Record) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(self._line(record))


# --------------------------------------------------------------------------- the loop
@dataclass
class EpochLoop:
    """Run ``run_epoch(epoch)`` for epochs ``[start, epochs)``, resuming from ``checkpoint_path``.

    ``identity`` (config hash, seed, input hashes...) is stored in the checkpoint; a checkpoint of
    another identity is ignored with a warning and the run starts afresh (:mod:`tue_core.checkpoint`).
    The trainer's state, the history and every global RNG are saved every ``checkpoint_every``
    epochs and after the last one, and in between after any epoch that ends at least
    ``TUE_CHECKPOINT_INTERVAL_S`` (default 300 s) after the last save, so a run whose epochs take
    minutes (50,000 images on a CPU) loses at most one epoch to a kill.
    """

    epochs: int
    checkpoint_every: int
    device: torch.device
    identity: dict[str, Any]
    checkpoint_path: str | os.PathLike[str] | None = None
    log_path: str | os.PathLike[str] | None = None
    desc: str = "train"
    phase: str | None = None  # tag of this loop's lines in a shared log

    def run(self, trainer: Stateful, run_epoch: Callable[[int], Record]) -> list[Record]:
        checkpoint = Checkpoint(
            self.checkpoint_path, self.identity, self.device, interval_s=interval_from_env()
        )
        history, start = self._resume(checkpoint, trainer)
        journal = JsonlLog(self.log_path, self.phase)
        journal.rewrite(history)
        bar = tqdm(
            range(start, self.epochs),
            desc=self.desc,
            initial=start,
            total=self.epochs,
            disable=None,
        )
        for epoch in bar:
            try:
                record = run_epoch(epoch)
            except NonFiniteLossError as error:
                raise NonFiniteLossError(f"{self.desc}: {error}; {self._last_good()}") from None
            history.append(record)
            journal.append(record)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
            log.info("%s %s", self.desc, json.dumps(record))
            due = (epoch + 1) % self.checkpoint_every == 0 or epoch + 1 == self.epochs
            payload = {"history": history, "trainer": trainer.state_dict()}
            checkpoint.save(payload, unit="epoch", count=epoch + 1, force=due)
        return history

    def _resume(self, checkpoint: Checkpoint, trainer: Stateful) -> tuple[list[Record], int]:
        payload = checkpoint.load()
        if payload is None:
            return [], 0
        trainer.load_state_dict(payload["trainer"])
        history = list(payload["history"])
        return history, len(history)

    def _last_good(self) -> str:
        path = self.checkpoint_path
        if path is None or not Path(path).is_file():
            return "no checkpoint was written"
        return f"the last good checkpoint is kept at {str(path)!r}"
