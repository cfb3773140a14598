"""CPU checks on real CIFAR-10 (the "done when" measurements of the training engine).

    python benchmarks/cpu_calibration.py supervised --epochs 15
    python benchmarks/cpu_calibration.py probe --epochs 15
    python benchmarks/cpu_calibration.py poisoned --epochs 10 --perturbation classwise-random
    python benchmarks/cpu_calibration.py poisoned --epochs 10 --perturbation path/to/perturbation.npz

Reads a prepared split pair (``--data``, default ``results/cifar10-cpu/data/cifar10``, made by
``snakemake --configfile config/cifar10-cpu.yaml results/cifar10-cpu/data/cifar10/train.npz``),
runs the library's own training functions and writes one JSON per check to
``benchmarks/results/``. ``probe`` pre-trains SimCLR and compares its linear probe with the same
probe on a randomly initialised encoder of the same architecture (the honest bar: random features
are not chance). ``poisoned`` trains the supervised recipe on the training set plus a
perturbation: a perturbation file, ``none`` (the clean baseline of the same recipe), or
``classwise-random``, one random +-eps sign pattern per class (the white-noise class-wise pattern
that TUE's per-batch CSD converges to, docs/tue-cpu-scale.md): a control of what a short
supervised run can pick up at all.
"""

from __future__ import annotations

import argparse
import logging
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from tue_core import io
from tue_core.data import load_prepared
from tue_core.evaluate.linear_probe import LinearProbeConfig, evaluate_ssl, linear_probe
from tue_core.evaluate.supervised import SupervisedConfig, train_supervised
from tue_core.jobs import poisoned_training_set
from tue_core.models import build_model
from tue_core.perturb.apply import apply_perturbation
from tue_core.seeding import seed_everything
from tue_core.ssl.config import SimCLRConfig, paper_pretrain_config

OUT = Path(__file__).resolve().parent / "results"


def supervised(args: argparse.Namespace, train, test) -> dict:
    cfg = SupervisedConfig(epochs=args.epochs, batch_size=128, width=args.width)
    result = train_supervised(train, test, cfg, device="cpu", seed=args.seed)
    return {"clean_supervised": result.to_dict() | {"history": result.history}}


def classwise_random_delta(labels: np.ndarray, image_hw: tuple[int, int], eps: float, seed: int):
    """One random +-eps sign pattern per class, (N, 3, H, W) float32: delta_i = eps * s_{y_i}."""
    rng = np.random.default_rng(seed)
    signs = rng.choice(
        np.array([-1.0, 1.0], dtype=np.float32), size=(labels.max() + 1, 3, *image_hw)
    )
    return eps * signs[labels]


def poisoned(args: argparse.Namespace, train, test) -> dict:
    if args.perturbation == "none":  # the clean baseline of the same recipe
        poisoned_train = train
    elif args.perturbation == "classwise-random":
        delta = classwise_random_delta(train.labels, train.image_size, args.eps, args.seed)
        poisoned_train = replace(train, images=apply_perturbation(train.images, delta))
    else:  # a perturbation file, checked and applied as the pipeline's evaluations do
        poisoned_train = poisoned_training_set(train, args.perturbation, "round")
    cfg = SupervisedConfig(
        epochs=args.epochs,
        batch_size=128,
        width=args.width,
        augment=not args.no_augment,
        normalize_features=args.normalize_features,
    )
    result = train_supervised(poisoned_train, test, cfg, device="cpu", seed=args.seed)
    return {"poisoned_supervised": result.to_dict() | {"history": result.history}}


def probe(args: argparse.Namespace, train, test) -> dict:
    probe_cfg = LinearProbeConfig(epochs=args.probe_epochs, batch_size=256, augment="none")
    pretrain = paper_pretrain_config("simclr", epochs=args.epochs, batch_size=256)
    trained = evaluate_ssl(
        train, train, test, SimCLRConfig(), pretrain, probe_cfg, args.width, "cpu", args.seed
    )
    seed_everything(args.seed)
    random_encoder = build_model("resnet18", train.num_classes, args.width)
    random = linear_probe(random_encoder, train, test, probe_cfg, "cpu", args.seed)
    return {"simclr_probe": trained.to_dict(), "random_encoder_probe": random.to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("check", choices=["supervised", "probe", "poisoned"])
    parser.add_argument("--data", type=Path, default=Path("results/cifar10-cpu/data/cifar10"))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--probe-epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--perturbation",
        default="classwise-random",
        help="poisoned: a perturbation .npz made for --data's train split, classwise-random or none",
    )
    parser.add_argument("--eps", type=float, default=8 / 255, help="classwise-random's budget")
    parser.add_argument("--no-augment", action="store_true", help="train without crop + flip")
    parser.add_argument(
        "--normalize-features",
        action="store_true",
        help="L2-normalise the penultimate feature (TUE's supervised_test.py does)",
    )
    parser.add_argument("--tag", default="", help="suffix of the output JSON's name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    train, test = load_prepared(args.data / "train.npz"), load_prepared(args.data / "test.npz")
    start = time.perf_counter()
    checks = {"supervised": supervised, "probe": probe, "poisoned": poisoned}
    results = checks[args.check](args, train, test)
    summary = {
        "check": args.check,
        "settings": vars(args) | {"data": str(args.data), "train": len(train), "test": len(test)},
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "results": results,
    }
    path = io.atomic_write_json(
        OUT / f"cpu-{args.check}-w{args.width}-e{args.epochs}{args.tag}.json", summary
    )
    for name, res in results.items():
        logging.info(
            "%s: final %.2f%%, best %.2f%%, %.0f img/s",
            name,
            res["final_acc"],
            res["best_acc"],
            res["images_per_second"],
        )
    logging.info("wrote %s", path)


if __name__ == "__main__":
    main()
