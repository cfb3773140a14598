"""TUE's supervised effect at paper scale on one GPU, in one device call (issue 4's open check).

    # a GPU machine, CIFAR-10 as an image folder (the 19 MB JPEG copy can travel with a device call)
    python -m benchmarks.tue_effect --images /tmp/c/cifar10 --mode released --eval-epochs 40 \\
        --out $OUT/tue-effect.json
    python -m benchmarks.tue_effect --smoke --out /tmp/tue-effect.json   # CPU, synthetic, seconds

At CPU scale (5,000 images, 10 epochs) supervised training cannot pick up a class-wise white-noise
pattern at all (docs/tue-cpu-scale.md §3), so whether TUE's delta makes CIFAR-10 unlearnable can
only be measured at the paper's scale. This script does that with ``tue_core`` alone (no
snakemake on the device machine):

1. loads the full training and test sets (``--images``: an image folder; ``--data``: a prepared
   ``train.npz``/``test.npz`` pair);
2. generates the config's TUE run (default ``config.yaml``'s ``tue_simclr``: the paper's
   schedule, 40 SimCLR epochs with a PGD-20 pass over the set after every fifth of an epoch);
   ``--mode released`` selects the public demo's weights, for SimCLR and SimSiam a CSD-only
   objective whose noise passes need no network (and run grouped on CUDA; released MoCo keeps
   the network, weights (1, 1)); ``--gen-epochs`` shortens it;
3. trains the config's supervised recipe (paper: ResNet-18, SGD 0.1, cosine, crop + flip, 200
   epochs; ``--eval-epochs`` shortens it, with the cosine over the shortened run) first on the
   poisoned and then on the clean training set, testing on the clean test set after every epoch.

The JSON is rewritten after every phase, so a call cut off at its time limit still returns what
finished: the generation record (schedule, whole-set CSD, linear separability of delta,
seconds), both evaluation histories, the drop in points, peak memory and wall time. Every
setting that differs from the config is listed under ``shortened``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

log = logging.getLogger("benchmarks.tue_effect")


def load_sets(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """(train, test, description) from an image folder, a prepared pair, or (smoke) synthetic."""
    from tue_core.data import load_prepared
    from tue_core.data.config import ImageFolderSpec, SyntheticSpec
    from tue_core.data.prepare import check_splits, load_split

    if args.smoke:
        spec: Any = SyntheticSpec(
            source="synthetic", num_classes=4, train_per_class=16, test_per_class=8,
            image_size=16, seed=0,
        )  # fmt: skip
        described = "SYNTHETIC smoke data, not CIFAR-10"
    elif args.data is not None:
        train, test = load_prepared(args.data / "train.npz"), load_prepared(args.data / "test.npz")
        check_splits(train, test)
        return train, test, f"prepared {args.data}"
    else:
        spec = ImageFolderSpec(source="imagefolder", root=str(args.images), image_size=32)
        described = f"image folder {args.images}"
    train, test = load_split(spec, "train", "cifar10"), load_split(spec, "test", "cifar10")
    check_splits(train, test)
    return train, test, f"{described} ({len(train)} train / {len(test)} test)"


def configs(args: argparse.Namespace) -> tuple[Any, Any, Any, dict[str, Any]]:
    """The generation config, supervised config, quantisation and every shortening applied."""
    from tue_core.config import load_config
    from tue_core.perturb.registry import parse_config

    cfg = load_config(args.config)
    if args.run not in cfg.perturbations:
        raise SystemExit(
            f"{args.config} has no perturbation run {args.run!r}; "
            f"valid: {sorted(cfg.perturbations)}"
        )
    raw = cfg.perturbations[args.run].model_dump(mode="json")
    if raw["method"] != "tue":
        raise SystemExit(f"run {args.run!r} is {raw['method']}, not tue")
    changes: dict[str, Any] = {}
    if args.mode is not None and args.mode != raw["mode"]:
        changes["mode"] = args.mode
        if args.mode == "released":  # the demo's weights are implied by the mode
            changes |= {"ssl_weight": None, "csd_weight": None}
    if args.gen_epochs is not None:
        changes["epochs"] = args.gen_epochs
    if args.smoke:
        changes |= {"epochs": 1, "train_steps": 2, "pgd_steps": 2, "batch_size": 16}
        changes |= {"surrogate": {**raw.get("surrogate", {}), "width": 4}}
    generation = parse_config(raw | changes)
    supervised = cfg.evaluation.supervised
    eval_changes: dict[str, Any] = {}
    if args.eval_epochs is not None:
        eval_changes["epochs"] = args.eval_epochs
    if args.smoke:
        eval_changes |= {"epochs": 1, "width": 4, "batch_size": 16}
    supervised = supervised.model_validate(supervised.model_dump() | eval_changes)
    shortened = {"generation": changes, "supervised": eval_changes}
    return generation, supervised, cfg.evaluation.quantisation, shortened


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Generate, evaluate poisoned then clean; the record is written after every phase."""
    from tue_core.device import resolve_device
    from tue_core.evaluate.supervised import train_supervised
    from tue_core.perturb.apply import apply_perturbation
    from tue_core.perturb.registry import generate

    from . import harness

    start = time.perf_counter()
    device = resolve_device("cpu" if args.smoke else args.device)
    generation, supervised, quantisation, shortened = configs(args)  # bad config: before any work
    record: dict[str, Any] = {
        "kind": "tue_effect", "argv": argv, "machine": harness.machine_info(device),
        "config": str(args.config), "run": args.run, "shortened": shortened,
        "generation_config": generation.model_dump(mode="json"),
        "weights_used": dict(zip(("ssl_weight", "csd_weight"), generation.weights(), strict=True)),
        "supervised_config": supervised.model_dump(mode="json"), "quantisation": quantisation,
    }  # fmt: skip
    train, test, described = load_sets(args)
    record["data"] = described
    _write(args.out, record)

    harness.reset_peak_memory(device)
    phase = time.perf_counter()
    result = generate(generation, train, device, seed=args.seed)
    record["generation"] = result.meta | {"seconds": round(time.perf_counter() - phase, 1)}
    _write(args.out, record)

    poisoned = replace(
        train, images=apply_perturbation(train.images, result.pset.delta, quantisation)
    )
    for name, split in (("poisoned", poisoned), ("clean", train)):
        phase = time.perf_counter()
        evaluation = train_supervised(split, test, supervised, device, seed=args.seed)
        record[f"supervised_{name}"] = evaluation.to_dict() | {
            "seconds": round(time.perf_counter() - phase, 1)
        }
        log.info("supervised on %s data: final %.2f%%", name, evaluation.final_acc)
        _write(args.out, record)

    record["drop_points"] = round(
        record["supervised_clean"]["final_acc"] - record["supervised_poisoned"]["final_acc"], 2
    )
    record["peak_memory_gib"] = harness.peak_memory_gib(device)
    record["wall_seconds"] = round(time.perf_counter() - start, 1)
    _write(args.out, record)
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--images", type=Path, help="CIFAR-10 image folder root/{train,test}/<class>"
    )
    source.add_argument("--data", type=Path, help="folder with a prepared train.npz/test.npz")
    parser.add_argument("--smoke", action="store_true", help="CPU, synthetic, tiny: plumbing only")
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--run", default="tue_simclr", help="a tue run of the config")
    parser.add_argument("--mode", choices=["paper", "released"], default=None)
    parser.add_argument("--gen-epochs", type=int, default=None, help="shorten generation")
    parser.add_argument("--eval-epochs", type=int, default=None, help="shorten evaluation")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tue-effect.json"))
    args = parser.parse_args(argv)
    if not args.smoke and args.images is None and args.data is None:
        parser.error("give --images or --data (or --smoke)")
    for value, flag in ((args.gen_epochs, "--gen-epochs"), (args.eval_epochs, "--eval-epochs")):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    return args


def _write(path: Path, record: dict[str, Any]) -> None:
    from tue_core import io

    io.atomic_write_json(path, json.loads(json.dumps(record, default=str)))


def main(argv: list[str] | None = None) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    record = run(args, argv)
    log.info(
        "TUE (%s): clean %.2f%%, poisoned %.2f%%, drop %.2f points, %s s; wrote %s",
        record["generation_config"]["mode"],
        record["supervised_clean"]["final_acc"],
        record["supervised_poisoned"]["final_acc"],
        record["drop_points"],
        record["wall_seconds"],
        args.out,
    )
    return args.out


if __name__ == "__main__":
    main()
