"""GPU check: the speed benchmark at paper settings, a short real-scale generation + evaluation on
CIFAR-10, TUE released mode's CSD noise pass looped vs grouped (``benchmarks.csd_pass``), and peak
memory, in one JSON file and under 10 minutes on one H200.

    python -m benchmarks.gpu_check --out $OUT/gpu-check.json                 # GPU, paper settings
    python -m benchmarks.gpu_check --data results/cifar10-cpu/data/cifar10   # real CIFAR-10 subset
    python -m benchmarks.gpu_check --smoke --out /tmp/gpu-check.json         # CPU, seconds

Paper settings: full-width ResNet-18 (64), supervised batch 128, SSL and PGD batch 512, bf16
autocast and channels_last (what our trainers do on CUDA), optionally ``--compile``. The naive
loops run fp32 with ``--workers`` DataLoader workers. ``--data`` names a folder holding a prepared
``train.npz``/``test.npz`` pair (``tue-prepare``); without it a synthetic CIFAR-shaped stand-in of
``--gen-images`` images is used and the JSON says so. Needs only tue_core's own imports (torch,
torchvision, numpy, pydantic, tqdm, pyyaml, scikit-learn); no snakemake. Packages missing
on the machine are named in the JSON before any work (docs/benchmarks.md: how to carry wheels).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from . import harness  # torch only: the package check below runs before tue_core is imported

log = logging.getLogger("benchmarks.gpu_check")
NEEDED = ("numpy", "torchvision", "pydantic", "tqdm", "yaml", "sklearn", "PIL")


def paper_settings(speed: Any, compile: bool) -> Any:
    """Full-width ResNet-18, batch 128 (supervised) / 512 (SSL, PGD), 8 naive loader workers."""
    return speed.Settings(
        width=64, image_size=32, images=8192, pgd_images=4096, batch_size=128, ssl_batch_size=512,
        pgd_steps=5, repeats=3, threads=8, device="cuda", workers=8, compile=compile,
    )  # fmt: skip


def missing_packages() -> list[str]:
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def load_data(folder: Path | None, n: int, size: int, seed: int) -> tuple[Any, Any, str]:
    """The prepared CIFAR-10 pair in ``folder``, else a synthetic stand-in (labelled)."""
    from tue_core.data import load_prepared
    from tue_core.data.config import SyntheticSpec
    from tue_core.data.synthetic import load_synthetic

    if folder is not None:
        train, test = load_prepared(folder / "train.npz"), load_prepared(folder / "test.npz")
        return train, test, f"prepared {folder} ({len(train)} train / {len(test)} test)"
    spec = SyntheticSpec(
        source="synthetic", num_classes=10, train_per_class=max(2, n // 10),
        test_per_class=max(1, n // 50), image_size=size, seed=seed,
    )  # fmt: skip
    train, test = load_synthetic(spec, "train"), load_synthetic(spec, "test")
    return train, test, f"SYNTHETIC stand-in ({len(train)} train / {len(test)} test), not CIFAR-10"


def generation_configs(width: int, batch: int, smoke: bool) -> dict[str, dict[str, Any]]:
    """Short EMN and TUE (SimCLR, paper mode) schedules at full width: speed, not unlearnability."""
    steps = 1 if smoke else 5
    return {
        "emn": {
            "method": "emn", "batch_size": batch, "train_steps": 10, "pgd_steps": steps * 2,
            "max_rounds": 1 if smoke else 2, "trainer": {"width": width},
        },
        "tue_simclr": {
            "method": "tue", "backbone": "simclr", "mode": "paper", "batch_size": batch,
            "epochs": 1, "train_steps": 20, "pgd_steps": steps, "surrogate": {"width": width},
        },
    }  # fmt: skip


def generate_and_evaluate(args: argparse.Namespace, s: Any, device: torch.device) -> dict[str, Any]:
    """Each generator on the data, then a supervised evaluation of its poisoned set."""
    from tue_core.evaluate.supervised import SupervisedConfig, train_supervised
    from tue_core.perturb.apply import apply_perturbation
    from tue_core.perturb.registry import generate

    train, test, described = load_data(args.data, args.gen_images, s.image_size, seed=0)
    out: dict[str, Any] = {"data": described}
    batch = min(s.ssl_batch_size, len(train))
    for name, cfg in generation_configs(s.width, batch, args.smoke).items():
        harness.reset_peak_memory(device)
        start = time.perf_counter()
        result = generate(cfg, train, device, seed=0)
        gen_seconds = time.perf_counter() - start
        poisoned = replace(train, images=apply_perturbation(train.images, result.pset.delta))
        eval_cfg = SupervisedConfig(
            epochs=args.eval_epochs, batch_size=min(s.batch_size, len(train)), width=s.width
        )
        start = time.perf_counter()
        evaluation = train_supervised(poisoned, test, eval_cfg, device, seed=0)
        out[name] = {
            "config": cfg, "generation_seconds": round(gen_seconds, 2),
            "schedule": result.meta.get("schedule"),
            "evaluation_seconds": round(time.perf_counter() - start, 2),
            "eval_epochs": args.eval_epochs, "eval_images_per_second": evaluation.images_per_second,
            "clean_test_acc_final": evaluation.final_acc, "peak_memory_gib": harness.peak_memory_gib(device),
        }  # fmt: skip
        log.info("%s: %s", name, out[name])
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="CPU, tiny sizes (the test suite's path)"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbones")
    parser.add_argument("--data", type=Path, default=None, help="folder with train.npz/test.npz")
    parser.add_argument("--gen-images", type=int, default=10_000, help="synthetic stand-in size")
    parser.add_argument("--eval-epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--loops", nargs="+", default=None, help="a subset of the speed loops")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu-check.json"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.gen_images, args.eval_epochs = 40, 1
    return args


def main(argv: list[str] | None = None) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    start = time.perf_counter()
    record: dict[str, Any] = {"kind": "gpu_check", "smoke": args.smoke, "argv": sys.argv[1:]}
    missing = missing_packages()
    if missing:  # fail before any work, in the JSON too
        record["error"] = (
            f"missing Python packages: {', '.join(missing)} (carry wheels: docs/benchmarks.md)"
        )
        _write(args.out, record)
        raise SystemExit(record["error"])
    from tue_core.device import resolve_device

    from . import speed

    s = replace(speed.SMOKE, device="cpu") if args.smoke else paper_settings(speed, args.compile)
    if args.repeats:
        s = replace(s, repeats=args.repeats)
    if args.loops:
        s = replace(s, loops=args.loops)
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --smoke on a CPU-only machine")
    device = resolve_device(s.device)
    harness.reset_peak_memory(device)
    record["speed"] = speed.run(s)
    from .csd_pass import csd_pass_speed

    record["csd_pass"] = csd_pass_speed(  # TUE released mode's noise pass: looped vs grouped
        device, images=256 if args.smoke else 50_000, batch_size=s.ssl_batch_size,
        steps=2 if args.smoke else 20, repeats=s.repeats,
    )  # fmt: skip
    record["generation_and_evaluation"] = generate_and_evaluate(args, s, device)
    record["peak_memory_gib"] = harness.peak_memory_gib(device)
    record["wall_seconds"] = round(time.perf_counter() - start, 1)
    record["settings"] = asdict(s)
    path = _write(args.out, record)
    print(speed.table(record["speed"]))
    print(
        f"wall {record['wall_seconds']} s, peak memory {record['peak_memory_gib']} GiB; wrote {path}"
    )
    return path


def _write(path: Path, record: dict[str, Any]) -> Path:
    """Plain json (tue_core.io may be the missing import)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path


if __name__ == "__main__":
    main()
