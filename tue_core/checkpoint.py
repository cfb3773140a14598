"""Resumable state of a long job: one file beside its output, atomic, identity-checked.

Every long loop of the pipeline (supervised training, SSL pre-training, the linear probe, EMN's
rounds, UCL/TUE's noise passes) saves its whole state through :class:`Checkpoint` after a unit of
work (an epoch, a round, a pass) and, when rerun, continues from it:

* the file is written atomically (temp file, fsync, rename), so a kill at any instant leaves
  either the previous checkpoint or the new one, never a torn file;
* it holds the caller's payload (model, optimiser, generators, perturbation bank, counters,
  losses so far) plus every global RNG (torch CPU and CUDA, NumPy, Python), so on the CPU a
  resumed run ends bit for bit where an uninterrupted one does;
* it records the job's *identity* (config hash, seed, input hashes, device type): a checkpoint
  of another identity, or one that cannot be read, is ignored with a log line and the job starts
  afresh, never silently continued;
* ``interval_s`` throttles saves by wall time (a generation pass can be seconds long; saving a
  CIFAR-sized perturbation bank every pass would cost more than it saves).

Log lines ``checkpoint <path>: saved after <unit> <n>`` and ``resumed from <path> after <unit>
<n>`` say what happened; the fault-injection tests read them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tue_core import io

log = logging.getLogger(__name__)

INTERVAL_ENV = "TUE_CHECKPOINT_INTERVAL_S"
DEFAULT_INTERVAL_S = 300.0
FORMAT_VERSION = 1


def interval_from_env(default: float = DEFAULT_INTERVAL_S) -> float:
    """Seconds between generation checkpoints: ``$TUE_CHECKPOINT_INTERVAL_S`` or ``default``.

    Raises:
        ValueError: the variable is set to something that is not a number >= 0.
    """
    raw = os.environ.get(INTERVAL_ENV)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ValueError(
            f"{INTERVAL_ENV}={raw!r}: expected a number of seconds >= 0 (0: every unit)"
        )
    return value


# --------------------------------------------------------------------------- global RNGs
def global_rng_state(device: torch.device) -> dict[str, Any]:
    """torch (CPU, and CUDA on a CUDA device), NumPy and Python global RNG states, torch-loadable."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    version, internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "internal": list(internal), "gauss": py_gauss},
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_global_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    """Inverse of :func:`global_rng_state`."""
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["kind"], keys, npy["pos"], npy["has_gauss"], npy["gauss"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))


# --------------------------------------------------------------------------- the checkpoint
def identity_key(identity: Mapping[str, Any]) -> str:
    """The identity as canonical JSON (what is stored and compared)."""
    return json.dumps(io.to_jsonable(identity), sort_keys=True)


class Checkpoint:
    """The state file of one job, with the identity it must match to be resumed.

    Args:
        path: where the state lives (beside the job's output, never a declared output); ``None``
            disables checkpointing (every method then does nothing).
        identity: what makes two runs the same job (config hash, seed, input hashes, device).
        device: the job's device (its CUDA RNG is saved too).
        interval_s: minimum wall seconds between two saves that are not forced (0: every offer).
        on_save: called with the number of saves so far after each save (fault-injection tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        identity: Mapping[str, Any],
        device: torch.device,
        *,
        interval_s: float = 0.0,
        on_save: Callable[[int], None] | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.identity = identity_key(identity)
        self.device = device
        self.interval_s = interval_s
        self.on_save = on_save
        self.saves = 0
        self.save_seconds = 0.0
        self.resumed_after: str | None = None  # "epoch 3" once a state was loaded
        self.elapsed_before = 0.0  # wall seconds of the runs before this one
        self._started = time.perf_counter()
        self._last_save = self._started

    def load(self) -> Any | None:
        """The saved payload with the global RNGs restored, or ``None`` (start afresh).

        A missing file gives ``None`` silently; an unreadable file or one of another identity
        gives ``None`` with a warning that names it (the next save replaces it).
        """
        if self.path is None:
            return None
        self._remove_stale_temps()
        if not self.path.is_file():
            return None
        try:
            state = io.load_torch(self.path)
            stored = state["identity"]
            if state.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"format_version {state.get('format_version')}, not {FORMAT_VERSION}"
                )
        except (
            RuntimeError,
            pickle.UnpicklingError,
            EOFError,
            KeyError,
            TypeError,
            ValueError,
        ) as error:
            # a torn, foreign or older-format file: never fatal, never reused (an OSError such as
            # EIO or a permission error propagates: the file may be good and must not be replaced)
            log.warning("ignoring unreadable checkpoint %s (%s); starting afresh", self.path, error)
            return None
        if stored != self.identity:
            log.warning(
                "ignoring checkpoint %s: it was written by another job (%s), this job is %s; "
                "starting afresh",
                self.path,
                _difference(stored, self.identity),
                self.identity,
            )
            return None
        restore_global_rng_state(state["rng"], self.device)
        self.resumed_after = f"{state['unit']} {state['count']}"
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        log.info("resumed from %s after %s", self.path, self.resumed_after)
        return state["payload"]

    def save(self, payload: Any, *, unit: str, count: int, force: bool = False) -> bool:
        """Save ``payload`` after ``count`` completed ``unit``s, unless the last save is too recent.

        A write that fails (a full disk...) is logged and the job goes on: the previous
        checkpoint stays intact, only the chance to resume from this point is lost.
        """
        if self.path is None:
            return False
        now = time.perf_counter()
        if not force and now - self._last_save < self.interval_s:
            return False
        state = {
            "format_version": FORMAT_VERSION,
            "identity": self.identity,
            "unit": unit,
            "count": int(count),
            "elapsed_s": self.elapsed_before + (now - self._started),
            "payload": payload,
            "rng": global_rng_state(self.device),
        }
        try:
            io.save_torch(self.path, state)
        except OSError as error:
            log.error("checkpoint %s not written (%s); the previous one is kept", self.path, error)
            return False
        seconds = time.perf_counter() - now
        self._last_save = time.perf_counter()
        self.saves += 1
        self.save_seconds += seconds
        log.info("checkpoint %s: saved after %s %d (%.3f s)", self.path, unit, count, seconds)
        if self.on_save is not None:
            self.on_save(self.saves)
        return True

    def _remove_stale_temps(self) -> None:
        """Delete temp files of saves a kill interrupted (one job owns its checkpoint path)."""
        assert self.path is not None
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            log.info("removing %s, left by a save that was killed", stale)
            stale.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the file (once the job's artifact is written)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def summary(self) -> dict[str, Any]:
        """What the job's sidecar records: saves, their cost, and where it resumed from."""
        return {
            "saves": self.saves,
            "save_seconds": round(self.save_seconds, 3),
            "resumed_after": self.resumed_after,
            "seconds_before_resume": round(self.elapsed_before, 3),
            "interval_s": self.interval_s,
        }


def _difference(stored: str, current: str) -> str:
    """The identity keys whose values differ, for the log line."""
    try:
        old, new = json.loads(stored), json.loads(current)
    except (TypeError, ValueError):
        return "unparsable identity"
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "differs in " + ", ".join(keys) if keys else "same keys"


def data_identity(**arrays: np.ndarray | None) -> dict[str, str]:
    """sha256 of each input array (images, labels, a starting delta...); ``None`` ones skipped."""
    return {name: io.sha256_array(array) for name, array in arrays.items() if array is not None}


def state_identity(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 of a state dict's tensors (names, dtypes, shapes, values), e.g. a frozen encoder."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(
            tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return digest.hexdigest()


def structure_identity(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 of a state dict's layout (names, dtypes, shapes; not values): another architecture
    or width gives another identity, so its checkpoint is ignored rather than loaded."""
    layout = "\n".join(
        f"{name}|{tensor.dtype}|{tuple(tensor.shape)}" for name, tensor in sorted(state.items())
    )
    return hashlib.sha256(layout.encode()).hexdigest()
