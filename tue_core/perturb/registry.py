"""The perturbation registry and the one entry point every caller uses.

``generate(cfg, train, device, seed)`` validates the config and any starting perturbation file
against the dataset before any work, runs the registered method, checks the result's invariants,
computes the diagnostics (whole-set CSD, linear separability of delta alone) and returns a
:class:`GenerationResult` whose :meth:`~GenerationResult.save` writes the perturbation-set artifact
and its sidecar.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import TypeAdapter

from tue_core import io
from tue_core.checkpoint import Checkpoint, data_identity
from tue_core.data.base import PreparedDataset
from tue_core.device import resolve_device
from tue_core.perturb.artifact import (
    PerturbationFileError,
    PerturbationSet,
    check_matches,
    load_perturbation,
)
from tue_core.perturb.base import MethodOutput, PerturbationMethod
from tue_core.perturb.config import PerturbConfig
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.diagnostics import dataset_csd, linear_separability
from tue_core.registry import Registry
from tue_core.seeding import make_generator

log = logging.getLogger(__name__)

PERTURBATIONS: Registry[type[PerturbationMethod]] = Registry("perturbation")
_CONFIG_ADAPTER: TypeAdapter[Any] = TypeAdapter(PerturbConfig)
INVARIANT_TOLERANCE = 1e-6  # float32 rounding of clamp(x + delta) - x


def parse_config(raw: Any) -> Any:
    """A validated perturbation config (EMN/SN/UCL/TUE) from a mapping or a config object."""
    if isinstance(raw, Mapping):
        return _CONFIG_ADAPTER.validate_python(dict(raw))
    return _CONFIG_ADAPTER.validate_python(raw)


@dataclass
class GenerationResult:
    """A perturbation set and everything its sidecar records."""

    pset: PerturbationSet
    meta: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def save(self, path: str | os.PathLike[str], inputs: dict[str, str] | None = None) -> Path:
        """Write ``path`` (.npz) and its JSON sidecar (method, schedule, losses, diagnostics...)."""
        run_meta = io.RunMeta(
            kind="perturbation",
            config=self.config,
            seed=self.seed,
            inputs=inputs or {},
            metrics={
                "csd_whole_set": self.meta["csd_whole_set"],
                "linear_separability": self.meta["linear_separability"],
                **self.meta["losses"],
            },
            extra={"generation": self.meta},
            device=self.meta["device"],
            started_at=self.meta.get("started_at") or io.utc_now(),
            wall_seconds=self.meta["runtime_seconds"],
        )
        return self.pset.save(path, run_meta)


def load_initial_delta(cfg: Any, train: PreparedDataset) -> np.ndarray | None:
    """Read and check ``cfg.init_path`` against ``train`` (size, image shape, labels, eps)."""
    path = getattr(cfg, "init_path", None)
    if path is None:
        return None
    pset = load_perturbation(path)
    check_matches(pset, train.labels, train.image_size, f"{train.name}/{train.split}")
    max_abs = float(np.abs(pset.delta).max()) if len(pset) else 0.0
    if pset.norm != "linf" or max_abs > cfg.eps + INVARIANT_TOLERANCE:
        raise PerturbationFileError(
            f"{path}: a {pset.norm} perturbation with max |delta| = {max_abs:.6g} cannot start a "
            f"method with eps = {cfg.eps:.6g}"
        )
    return pset.delta


def check_dataset(train: PreparedDataset, cfg: Any = None) -> None:
    """Refuse an empty split, or images the method's constraint set cannot cover (patch sizes)."""
    if len(train) == 0:
        raise ValueError(f"dataset {train.name}/{train.split} has no images")
    constraint = getattr(cfg, "constraint", None)
    if constraint is not None:
        try:
            constraint().check_image_size(*train.image_size)
        except ValueError as err:
            raise ValueError(f"{cfg.method} on {train.name}/{train.split}: {err}") from None
    if train.split != "train":
        log.warning("generating perturbations for the %r split of %s", train.split, train.name)


def generate(
    cfg: Any,
    train: PreparedDataset,
    device: str | torch.device = "auto",
    seed: int = 0,
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    checkpoint_interval_s: float = 0.0,
    on_checkpoint: Callable[[int], None] | None = None,
) -> GenerationResult:
    """Run the method ``cfg.method`` on ``train`` and return the perturbation set and its record.

    Args:
        cfg: an EMN/SN/UCL/TUE config (or a mapping validated into one).
        train: the split to protect (uint8 images, labels).
        device: ``auto``, ``cpu``, ``cuda``... or a ``torch.device``.
        seed: seeds the surrogate's initialisation, batch order, augmentations and the SN draw.
        checkpoint_path: where an iterative method keeps its resumable state (none: no
            checkpoints). A rerun of the same job (config, seed, data, starting delta, device
            type) resumes from it; a checkpoint of another job is ignored with a warning. The
            caller removes it once the result is saved.
        checkpoint_interval_s: minimum wall seconds between two checkpoints (0: every unit).
        on_checkpoint: called with the number of saves after each one (fault-injection tests).
    """
    cfg = parse_config(cfg)
    check_dataset(train, cfg)
    init = load_initial_delta(cfg, train)  # bad files fail here, before any work
    device = resolve_device(device) if isinstance(device, str) else device
    method = PERTURBATIONS.get(cfg.method)(cfg)
    config = cfg.model_dump(mode="json")
    checkpoint = Checkpoint(
        checkpoint_path,
        generation_identity(config, train, init, seed=seed, device=device),
        device,
        interval_s=checkpoint_interval_s,
        on_save=on_checkpoint,
    )
    data = DeviceData.from_prepared(train, device)
    started_at, start = io.utc_now(), time.perf_counter()
    out = method.generate(data, seed=seed, init=init, checkpoint=checkpoint)
    runtime = checkpoint.elapsed_before + time.perf_counter() - start
    check_invariants(out, data)
    meta = describe(cfg, train, out, data, seed=seed, runtime=runtime, device=device)
    meta["checkpoint"] = checkpoint.summary()
    meta["started_at"] = started_at  # this attempt's; runtime_seconds adds earlier attempts'
    pset = PerturbationSet(
        delta=out.delta.detach().cpu().numpy().astype(np.float32, copy=False),
        labels=train.labels.astype(np.int64),
        eps=out.eps,
        norm=out.norm,
    )
    return GenerationResult(pset=pset, meta=meta, config=config, seed=seed)


def generation_identity(
    config: dict[str, Any],
    train: PreparedDataset,
    init: np.ndarray | None,
    *,
    seed: int,
    device: torch.device,
) -> dict[str, Any]:
    """What makes two generation runs the same job (so one may resume the other's checkpoint)."""
    return {
        "kind": "perturbation",
        "method": config["method"],
        "config_sha256": io.sha256_config(config),
        "seed": seed,
        "device": device.type,
        "inputs": data_identity(images=train.images, labels=train.labels, init=init),
    }


def check_invariants(out: MethodOutput, data: DeviceData) -> None:
    """Refuse a result that left the ball or the valid image range (an internal bug)."""
    if out.delta.shape != data.images.shape:
        raise RuntimeError(
            f"method returned delta {tuple(out.delta.shape)} for {tuple(data.images.shape)}"
        )
    if not torch.isfinite(out.delta).all():
        raise RuntimeError("method returned non-finite delta")
    if out.norm == "linf" and float(out.delta.abs().max()) > out.eps + INVARIANT_TOLERANCE:
        raise RuntimeError(f"delta leaves the L-inf ball of radius {out.eps}")
    for start in range(0, len(data), 8192):
        perturbed = (
            data.images[start : start + 8192].float() / 255 + out.delta[start : start + 8192]
        )
        if perturbed.min() < -INVARIANT_TOLERANCE or perturbed.max() > 1 + INVARIANT_TOLERANCE:
            raise RuntimeError("x + delta leaves [0, 1]")


def describe(
    cfg: Any,
    train: PreparedDataset,
    out: MethodOutput,
    data: DeviceData,
    *,
    seed: int,
    runtime: float,
    device: torch.device,
) -> dict[str, Any]:
    """The sidecar record: what was made, how, with which result, in how long, where."""
    diag = cfg.diagnostics
    separability = linear_separability(
        out.delta,
        data.labels,
        steps=diag.linear_steps,
        lr=diag.linear_lr,
        holdout_fraction=diag.holdout_fraction,
        max_samples=diag.max_samples,
        generator=make_generator(seed),
    )
    flat = out.delta.flatten(1)
    return {
        "method": cfg.method,
        "backbone": out.extra.get("backbone"),
        "mode": out.extra.get("mode"),
        "dataset": {
            "name": train.name,
            "split": train.split,
            "num_images": len(train),
            "image_size": list(train.image_size),
            "num_classes": train.num_classes,
        },
        "eps": out.eps if math.isfinite(out.eps) else None,
        "norm": out.norm,
        # how delta is parameterised (per pixel, or one value per block for tue_patch)
        "parameterisation": cfg.constraint().describe() if hasattr(cfg, "constraint") else None,
        "seed": seed,
        "schedule": out.schedule,
        "stop_reason": out.schedule.get("stop_reason"),
        "losses": out.losses,
        "csd_whole_set": dataset_csd(out.delta, data.labels),
        "linear_separability": separability,
        "delta_stats": {
            "max_abs": float(flat.abs().max()),
            "mean_abs": float(flat.abs().mean()),
            "mean_l2": float(flat.norm(dim=1).mean()),
        },
        "method_extra": out.extra,
        "runtime_seconds": round(runtime, 3),
        "device": io.describe_device(device),
    }
