"""What one unit of each generator costs on a prepared training split: an EMN round, a UCL/TUE
noise pass (its S1 chunk and its S2 pass), an SN draw.

    python -m benchmarks.generation_cost --data results/cifar10-cpu-full/data/cifar10/train.npz \
        --config config/cifar10-cpu.yaml --runs emn sn tue_simclr tue_simclr_released ucl_simclr \
        --fraction 0.1 --threads 1 --out benchmarks/results/generation-cost-cifar10-50k-t1.json

The pieces are the library's own (``refine_bank``, ``train_chunk``, ``SupervisedTrainer.step``,
``perturbed_accuracy``) on the run's config from ``--config``. A noise pass over the whole set is
timed on its first ``--fraction`` of the images and scaled up (the JSON records the fraction and
the measured seconds); model steps are timed as they are. A unit's cost times the schedule's
units is the job's generation time, which the JSON also gives for the config's schedule.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from typing import Any

import torch

from tue_core import io
from tue_core.config import load_config
from tue_core.data.base import load_prepared
from tue_core.device import configure_threads, resolve_device
from tue_core.loop import steps_per_epoch
from tue_core.perturb import generate
from tue_core.perturb.alternating import initial_bank, perturbed_images, refine_bank, stream_seed
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.device_data import DeviceData, epoch_batches
from tue_core.perturb.emn import ErrorMinimizingNoise, perturbed_accuracy
from tue_core.perturb.objectives import CrossEntropy, SSLObjective
from tue_core.perturb.pgd import PGD
from tue_core.perturb.ssl_minmin import build_trainer, train_chunk
from tue_core.perturb.tue import TransferableUnlearnableExamples
from tue_core.perturb.ucl import ContrastivePoisoning
from tue_core.seeding import make_generator

log = logging.getLogger("benchmarks.generation_cost")


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def head(data: DeviceData, fraction: float) -> DeviceData:
    """The first ``fraction`` of the set (at least one batch's worth is the caller's business)."""
    rows = max(1, math.ceil(len(data) * fraction))
    return DeviceData(data.images[:rows], data.labels[:rows], data.num_classes)


def emn_round(cfg: Any, data: DeviceData, fraction: float) -> dict[str, Any]:
    """One EMN round: ``train_steps`` surrogate steps, a PGD pass, an accuracy pass."""
    generator = make_generator(stream_seed(0), data.device)
    trainer = ErrorMinimizingNoise(cfg)._trainer(data, 0)
    ball = LinfBall(cfg.eps)
    bank = initial_bank(data, ball, random_start=cfg.random_start, generator=generator)
    batches = epoch_batches(
        len(data),
        cfg.batch_size,
        shuffle=True,
        drop_last=False,
        generator=generator,
        device=data.device,
    )[: cfg.train_steps]
    _, s1 = timed(lambda: [trainer.step(*perturbed_images(data, bank, i)) for i in batches])
    part = head(data, fraction)
    part_bank = initial_bank(part, ball, random_start=cfg.random_start, generator=generator)
    pgd = PGD(CrossEntropy(), ball, cfg.pgd_steps, cfg.step_size, train_mode=False)
    _, s2 = timed(
        lambda: refine_bank(
            pgd, trainer.model, part, part_bank, batch_size=cfg.batch_size, generator=generator
        )
    )
    _, acc = timed(lambda: perturbed_accuracy(trainer.model, part, part_bank, cfg.batch_size))
    scale = len(data) / len(part)
    unit = s1 + (s2 + acc) * scale
    return {
        "unit": "round",
        "model_steps": len(batches),
        "model_steps_seconds": round(s1, 2),
        "noise_pass_seconds": round(s2 * scale, 2),
        "accuracy_pass_seconds": round(acc * scale, 2),
        "measured_rows": len(part),
        "seconds_per_unit": round(unit, 2),
        "units_in_schedule": cfg.max_rounds,
        "schedule_seconds_at_most": round(unit * cfg.max_rounds, 1),
    }


def ssl_pass(cfg: Any, data: DeviceData, fraction: float) -> dict[str, Any]:
    """One UCL/TUE noise pass: its S1 chunk of ``train_steps`` SSL steps, then S2 over the set."""
    method = (TransferableUnlearnableExamples if cfg.method == "tue" else ContrastivePoisoning)(cfg)
    generator = make_generator(stream_seed(0), data.device)
    trainer = build_trainer(cfg, data, 0)
    ball = LinfBall(cfg.eps)
    bank = initial_bank(data, ball, random_start=cfg.random_start, generator=generator)
    if cfg.method == "tue":
        objective = method.objective(trainer.augment)
    else:
        objective = SSLObjective(
            trainer.augment, update_queue=cfg.pgd_update_queue, target_grad=cfg.pgd_target_grad
        )
    pgd = PGD(objective, ball, cfg.pgd_steps, cfg.step_size, train_mode=cfg.pgd_train_mode)
    per_epoch = steps_per_epoch(len(data), cfg.batch_size, cfg.drop_last)
    batches = epoch_batches(
        len(data),
        cfg.batch_size,
        shuffle=True,
        drop_last=cfg.drop_last,
        generator=generator,
        device=data.device,
    )[: cfg.train_steps]
    s1 = 0.0
    if cfg.trains_surrogate():
        _, s1 = timed(
            lambda: train_chunk(
                trainer, data, bank, batches, epoch=0, first_step=0, steps_per_epoch=per_epoch
            )
        )
    part = head(data, fraction)
    part_bank = initial_bank(part, ball, random_start=cfg.random_start, generator=generator)
    model = trainer.method if cfg.s2_uses_network() else None
    _, s2 = timed(
        lambda: refine_bank(
            pgd, model, part, part_bank, batch_size=cfg.batch_size, generator=generator
        )
    )
    scale = len(data) / len(part)
    unit = s1 + s2 * scale
    passes = cfg.epochs * math.ceil(per_epoch / cfg.train_steps)
    return {
        "unit": "noise pass",
        "model_steps": len(batches) if cfg.trains_surrogate() else 0,
        "model_steps_seconds": round(s1, 2),
        "noise_pass_seconds": round(s2 * scale, 2),
        "measured_rows": len(part),
        "seconds_per_unit": round(unit, 2),
        "units_in_schedule": passes,
        "schedule_seconds": round(unit * passes, 1),
        "s2_uses_network": cfg.s2_uses_network(),
        "surrogate_trained": cfg.trains_surrogate(),
    }


def sn_draw(cfg: Any, train: Any, device: torch.device) -> dict[str, Any]:
    _, seconds = timed(lambda: generate(cfg, train, device, seed=0))
    return {"unit": "draw", "seconds_per_unit": round(seconds, 2), "units_in_schedule": 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a prepared train split (.npz)")
    parser.add_argument(
        "--config", required=True, help="the config whose perturbation runs to time"
    )
    parser.add_argument(
        "--runs", nargs="+", required=True, help="keys of the config's perturbations"
    )
    parser.add_argument("--fraction", type=float, default=0.1, help="share of a noise pass timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = load_config(args.config)
    unknown = [r for r in args.runs if r not in config.perturbations]
    if unknown:
        parser.error(
            f"runs {unknown} are not in {args.config}; valid: {sorted(config.perturbations)}"
        )
    threads = configure_threads(args.threads)
    device = resolve_device(args.device)
    train = load_prepared(args.data)
    data = DeviceData.from_prepared(train, device)
    results: dict[str, Any] = {}
    for run in args.runs:
        cfg = config.perturbations[run]
        log.info("timing %s (%s)", run, cfg.method)
        if cfg.method == "emn":
            results[run] = emn_round(cfg, data, args.fraction)
        elif cfg.method == "sn":
            results[run] = sn_draw(cfg, train, device)
        else:
            results[run] = ssl_pass(cfg, data, args.fraction)
        results[run]["load_average_1min_after"] = round(os.getloadavg()[0], 2)  # other work?
        log.info("%s: %s", run, results[run])
        write(args, train, threads, results)  # after every run: a long sweep keeps what it has
    return 0


def write(args: argparse.Namespace, train: Any, threads: int, results: dict[str, Any]) -> None:
    io.atomic_write_json(
        args.out,
        {
            "argv": vars(args),
            "images": len(train),
            "image_size": list(train.image_size),
            "threads": threads,
            "device": io.describe_device(args.device),
            "code_version": io.code_version(),
            "fraction_of_pass_timed": args.fraction,
            "runs": results,
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
