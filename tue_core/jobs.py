"""Job entry points: one typed call per workflow rule (load inputs -> compute -> save atomically).

Each function is what a ``workflow_scripts/*.py`` adapter calls with the paths and params of its
rule; they are plain functions, usable from a notebook or a test without Snakemake. Every artifact
is written atomically with a JSON sidecar (config and its hash, seed, code/library versions,
device, input hashes, timings, metrics), and the final file is written last.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from tue_core import io
from tue_core.data.base import PreparedDataset, load_prepared
from tue_core.perturb.apply import Quantisation, apply_perturbation
from tue_core.perturb.artifact import check_matches, load_perturbation

PathLike = str | os.PathLike[str]
log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- perturbations
def generate_perturbation(
    train_path: PathLike, out_path: PathLike, run_config: dict[str, Any], *, seed: int, device: str
) -> None:
    """Generate one perturbation set (EMN / SN / UCL / TUE) for a prepared training split.

    The generator checkpoints beside ``out_path`` (:func:`default_checkpoint`) at most every
    ``$TUE_CHECKPOINT_INTERVAL_S`` seconds (default 300) and after its last unit of work; a
    killed job rerun by Snakemake resumes from it, and it is deleted once the artifact is written.
    """
    from tue_core.checkpoint import interval_from_env
    from tue_core.perturb.registry import generate

    interval = interval_from_env()  # a bad value fails before any work
    train = load_prepared(train_path)
    inputs = io.hash_inputs([train_path])  # what was used, not what may be there hours later
    checkpoint = default_checkpoint(out_path)
    result = generate(
        run_config,
        train,
        device=device,
        seed=seed,
        checkpoint_path=checkpoint,
        checkpoint_interval_s=interval,
    )
    result.save(out_path, inputs=inputs)
    checkpoint.unlink(missing_ok=True)
    log.info("wrote %s (%s)", out_path, result.meta.get("stop_reason", "done"))


def swap_perturbation(
    delta_path: PathLike, train_path: PathLike, out_dir: PathLike, kind: str, *, seed: int
) -> None:
    """Tables 2/5: re-assign a perturbation set within (``intra``) or across (``inter``) classes."""
    from tue_core.transfer.mapping import swap_perturbations
    from tue_core.transfer.variant import save_variant

    pset = load_perturbation(delta_path)
    train = load_prepared(train_path)
    swapped, assignment = swap_perturbations(pset, kind, seed, labels=train.labels)  # type: ignore[arg-type]
    save_variant(out_dir, swapped, assignment, delta_path, config={"kind": kind}, seed=seed)


def transfer_perturbation(
    delta_path: PathLike,
    target_train_path: PathLike,
    out_dir: PathLike,
    transfer_config: dict[str, Any],
    *,
    seed: int,
) -> None:
    """Tables 3/6: map a perturbation set onto another dataset (interpolating when needed)."""
    from tue_core.transfer.config import TransferConfig
    from tue_core.transfer.mapping import transfer_perturbations
    from tue_core.transfer.variant import save_variant

    config = TransferConfig.model_validate(transfer_config)
    source = load_perturbation(delta_path)
    target = load_prepared(target_train_path)
    mapped, assignment = transfer_perturbations(
        source, target.labels, target.num_classes, target.image_size, config, seed
    )
    save_variant(out_dir, mapped, assignment, delta_path, config=config.model_dump(), seed=seed)


# --------------------------------------------------------------------------- evaluation
def poisoned_training_set(
    train: PreparedDataset, delta_path: PathLike | None, quantisation: Quantisation
) -> PreparedDataset:
    """``train`` with the perturbation set at ``delta_path`` added (rounded to uint8), or as is."""
    if delta_path is None:
        return train
    pset = load_perturbation(delta_path)
    check_matches(pset, train.labels, train.image_size, f"{train.name}/{train.split}")
    images = apply_perturbation(train.images, pset.delta, quantisation)
    return replace(train, images=images, info={**train.info, "poisoned_with": str(delta_path)})


def default_checkpoint(result_path: PathLike) -> Path:
    """Where a long job checkpoints: beside its result, never a declared workflow output.

    A killed job rerun by Snakemake (``--rerun-incomplete``) resumes from it; it is deleted once
    the result is written.
    """
    return Path(result_path).with_name(".checkpoint.pt")


def _remove_checkpoints(checkpoint: Path) -> None:
    for path in (checkpoint, checkpoint.with_suffix(f".probe{checkpoint.suffix}")):
        path.unlink(missing_ok=True)


def _inputs(*paths: PathLike | None) -> dict[str, str]:
    return io.hash_inputs([p for p in paths if p is not None])


def _write_metrics(
    metrics_path: PathLike,
    result: Any,
    *,
    kind: str,
    config: dict[str, Any],
    seed: int,
    inputs: tuple[PathLike | None, ...],
    delta_path: PathLike | None,
    quantisation: str,
    device: str,
    timer: io.RunMeta,
    checkpoint: Path,
    extra: dict[str, Any],
) -> None:
    """Write the evaluation's result (its metrics file *is* its sidecar), then drop checkpoints.

    ``timer`` (from :func:`io.timed` around the training) gives the sidecar's ``started_at`` and
    ``wall_seconds``: those of this job's attempt, not of writing the file.
    """
    meta = io.RunMeta(
        kind=kind,
        config=config,
        seed=seed,
        inputs=_inputs(*inputs),
        device=io.describe_device(device),
        started_at=timer.started_at,
        wall_seconds=timer.wall_seconds,
        metrics={  # fractions in [0, 1] (the report shows percent)
            "final_acc": result.final_acc / 100.0,
            "best_acc": result.best_acc / 100.0,
            "best_epoch": result.best_epoch,
            "images_per_second": result.images_per_second,
        },
        extra={
            "poison": str(delta_path) if delta_path else "clean",
            "quantisation": quantisation,
            "wall_seconds": timer.wall_seconds,  # as in the sidecars written before it was top-level
            **extra,
            **result.extra,
        },
    )
    history = "\n".join(
        io.dumps_json(r).replace("\n", "").replace("  ", "") for r in result.history
    )
    io.atomic_write_text(Path(metrics_path).with_suffix(".history.jsonl"), history + "\n")
    io.atomic_write_json(metrics_path, meta.to_dict())
    _remove_checkpoints(checkpoint)


def evaluate_supervised(
    train_path: PathLike,
    test_path: PathLike,
    metrics_path: PathLike,
    supervised_config: dict[str, Any],
    *,
    delta_path: PathLike | None = None,
    quantisation: Quantisation = "round",
    seed: int = 0,
    device: str = "auto",
    checkpoint_path: PathLike | None = None,
    defense: dict[str, Any] | None = None,
) -> None:
    """Train a classifier on the (poisoned) training set; accuracy on the clean test set.

    ``defense``: a :mod:`tue_core.defend` config the trainer applies (None: the plain recipe);
    one that trains longer (UEraser-Max's ``epochs_factor``) scales ``epochs``.
    """
    from tue_core.defend import build_defense
    from tue_core.evaluate.supervised import SupervisedConfig, train_supervised

    cfg = SupervisedConfig.model_validate(supervised_config)
    defender = None if defense is None else build_defense(defense)
    factor = getattr(defender.cfg, "epochs_factor", 1.0) if defender is not None else 1.0
    if factor != 1.0:
        cfg = cfg.model_copy(update={"epochs": max(1, round(factor * cfg.epochs))})
    train = poisoned_training_set(load_prepared(train_path), delta_path, quantisation)
    test = load_prepared(test_path)
    checkpoint = Path(checkpoint_path or default_checkpoint(metrics_path))
    with io.timed(io.RunMeta(kind="timer")) as timer:
        result = train_supervised(
            train, test, cfg, device=device, seed=seed, checkpoint_path=checkpoint, defense=defender
        )
    _write_metrics(
        metrics_path,
        result,
        kind="evaluation_supervised",
        config=cfg.model_dump(mode="json"),
        seed=seed,
        inputs=(train_path, test_path, delta_path),
        delta_path=delta_path,
        quantisation=quantisation,
        device=device,
        timer=timer,
        checkpoint=checkpoint,
        extra={
            "train_size": len(train),
            **({"defense": _defense_record(defender, cfg.epochs)} if defender else {}),
        },
    )


def _defense_record(defender: Any, epochs: int) -> dict[str, Any]:
    """The defense's sidecar record, with the epochs its schedule really ran where it has one.

    UEraser's ``adversarial_epochs`` is an absolute count (APBench: 50 of 200 for ``standard``):
    on a shorter run it covers every epoch, which the record (and the log) says.
    """
    record = defender.describe()
    count = getattr(defender.cfg, "adversarial_epochs_in", None)
    if count is not None:
        record["adversarial_epochs_run"] = ran = count(epochs)
        if defender.cfg.adversarial_epochs is not None and ran == epochs:
            log.info(
                "%s: %d adversarial epochs configured, so all %d epochs of this run use K = %d",
                defender.name,
                defender.cfg.adversarial_epochs,
                epochs,
                defender.cfg.repeats,
            )
    return record


def evaluate_linear_probe(
    train_path: PathLike,
    test_path: PathLike,
    metrics_path: PathLike,
    setup: dict[str, Any],
    *,
    model_width: int,
    delta_path: PathLike | None = None,
    quantisation: Quantisation = "round",
    seed: int = 0,
    device: str = "auto",
    checkpoint_path: PathLike | None = None,
) -> None:
    """SSL pre-training on the (poisoned) set, then a linear probe on the clean training set."""
    from tue_core.config import LinearProbeSetup
    from tue_core.evaluate.linear_probe import evaluate_ssl

    cfg = LinearProbeSetup.model_validate(setup)
    clean = load_prepared(train_path)
    pretrain = poisoned_training_set(clean, delta_path, quantisation)
    test = load_prepared(test_path)
    checkpoint = Path(checkpoint_path or default_checkpoint(metrics_path))
    with io.timed(io.RunMeta(kind="timer")) as timer:
        result = evaluate_ssl(
            pretrain,
            clean,
            test,
            cfg.ssl,
            cfg.pretrain,
            cfg.probe,
            model_width,
            device=device,
            seed=seed,
            checkpoint_path=checkpoint,
        )
    _write_metrics(
        metrics_path,
        result,
        kind="evaluation_linear_probe",
        config=cfg.model_dump(mode="json"),
        seed=seed,
        inputs=(train_path, test_path, delta_path),
        delta_path=delta_path,
        quantisation=quantisation,
        device=device,
        timer=timer,
        checkpoint=checkpoint,
        extra={"model_width": model_width, "train_size": len(pretrain)},
    )
