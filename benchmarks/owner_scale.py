"""Protection at a data owner's scale: ``tue-protect --check`` on a small set built from CIFAR-10.

    python -m benchmarks.owner_scale --cifar data/raw/cifar10 \
        --perturbation tue=results/cifar10-cpu-full/perturbations/cifar10/tue_simclr/delta.npz \
        --perturbation sn=results/cifar10-cpu-full/perturbations/cifar10/sn/delta.npz \
        --resize bilinear nearest --out benchmarks/results/owner-scale.json

The small set stands in for an owner's photos (docs/tue-patch.md): ``--classes`` CIFAR-10 classes
(fewer than the 10 the perturbations were made for), ``--train-per-class`` / ``--test-per-class``
images each, taken from CIFAR-10's *test* split (so no image was seen when the perturbations were
made on the training split) and upscaled to ``--size`` pixels (bicubic), written as PNGs under
``root/{train,test}/<class>/``. Every (perturbation, resize mode) pair is then protected with
:func:`tue_core.transfer.protect.protect_folder` and checked with
:func:`tue_core.transfer.check.check_protection`, the library calls behind ``tue-protect
--check``, with its default quick recipe. The clean run is the same for every pair (same images,
recipe and seed), so it is trained once and reused, also by a later invocation with the same
``--work`` folder. One JSON row per pair: clean and protected
final/peak accuracy, the drop, the verdict, and the seconds it took.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tue_core import io
from tue_core.config import load_config
from tue_core.data.base import PreparedDataset
from tue_core.data.config import ImageFolderSpec
from tue_core.data.prepare import load_split
from tue_core.evaluate.result import EvalResult
from tue_core.evaluate.supervised import SupervisedConfig, train_supervised
from tue_core.perturb import generate
from tue_core.perturb.artifact import load_perturbation
from tue_core.plan.cost import steps_per_epoch
from tue_core.transfer.check import CheckConfig, check_protection
from tue_core.transfer.config import TransferConfig
from tue_core.transfer.protect import protect_folder
from tue_core.transfer.resize import RESIZE_MODES

log = logging.getLogger("benchmarks.owner_scale")

DEFAULT_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")
CIFAR10_TRAIN_IMAGES = 50_000


def build_small_set(
    cifar_root: Path,
    out: Path,
    classes: Sequence[str],
    train_per_class: int,
    test_per_class: int,
    size: int,
) -> Path:
    """The owner's folder: the first images of each class of CIFAR-10's test split, upscaled."""
    from PIL import Image

    source = cifar_root / "test"
    for name in classes:
        files = sorted((source / name).glob("*.jpg"))
        need = train_per_class + test_per_class
        if len(files) < need:
            raise ValueError(f"{source / name}: {len(files)} images, need {need}")
        for split, chunk in (
            ("train", files[:train_per_class]),
            ("test", files[train_per_class:need]),
        ):
            folder = out / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for path in chunk:
                with Image.open(path) as image:
                    image.convert("RGB").resize((size, size), Image.BICUBIC).save(
                        folder / f"{path.stem}.png"
                    )
    return out


def cached_train(cache_dir: Path) -> Callable[..., EvalResult]:
    """``train_supervised`` that trains each (images, labels, test, recipe, seed) only once, also
    across invocations (its results are kept as JSON in ``cache_dir``)."""
    cache_dir.mkdir(parents=True, exist_ok=True)

    def train(
        data: PreparedDataset,
        test: PreparedDataset,
        recipe: SupervisedConfig,
        device: str,
        seed: int,
    ) -> EvalResult:
        digest = hashlib.sha256()
        for array in (data.images, data.labels, test.images, test.labels):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(json.dumps([recipe.model_dump(mode="json"), seed]).encode())
        path = cache_dir / f"{digest.hexdigest()}.json"
        if path.is_file():
            log.info("reusing the identical run %s", path)
            return EvalResult(**io.read_json(path))
        result = train_supervised(data, test, recipe, device, seed)
        io.atomic_write_json(path, asdict(result))
        return result

    return train


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _passes_per_epoch(images: int, cfg: Any) -> int:
    """Noise passes of one UCL/TUE epoch, as the cost model counts them."""
    return _ceil(steps_per_epoch(images, cfg.batch_size, cfg.drop_last), cfg.train_steps)


def generate_at_size(args: argparse.Namespace, name: str, run_name: str) -> str:
    """Make run ``run_name`` of ``--config`` on CIFAR-10 training images at the owner's size."""
    path = Path(args.work) / f"generated-{name}-{args.size}px.npz"
    if path.is_file():
        return str(path)
    cfg = load_config(args.config).perturbations[run_name]
    spec = ImageFolderSpec(
        source="imagefolder",
        root=args.cifar,
        image_size=args.size,
        max_train_per_class=args.generate_per_class,
    )
    train = load_split(spec, "train", name=f"cifar10-{args.size}px")
    passes = cfg.epochs * _passes_per_epoch(CIFAR10_TRAIN_IMAGES, cfg)  # what the scale makes
    epochs = _ceil(passes, _passes_per_epoch(len(train), cfg))
    log.info(
        "%s: %s on %d images at %d px, %d epochs", name, run_name, len(train), args.size, epochs
    )
    result = generate(cfg.model_copy(update={"epochs": epochs}), train, "cpu", seed=args.seed)
    result.save(path)
    return str(path)


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    folder = build_small_set(
        Path(args.cifar),
        work / "owner",
        args.classes,
        args.train_per_class,
        args.test_per_class,
        args.size,
    )
    check = CheckConfig(epochs=args.epochs, image_size=args.check_size)
    train = cached_train(work / "runs")
    rows = []
    specs = [spec.split("=", 1) for spec in args.perturbation]
    for name, run_name in (spec.split("=", 1) for spec in args.generate):
        specs.append([name, generate_at_size(args, name, run_name)])
    for name, path in specs:
        pset = load_perturbation(path)
        native = tuple(pset.delta.shape[2:]) == (args.size, args.size)
        for mode in ["none"] if native else args.resize:
            start = time.perf_counter()
            out = work / f"protected-{name}-{mode}"
            protect_folder(
                folder,
                out,
                pset,
                path,
                config=TransferConfig(resize="bilinear" if native else mode),
                seed=args.seed,
                overwrite=True,
            )
            report = check_protection(folder, out, check, device="cpu", seed=args.seed, train=train)
            for line in report.lines():
                log.info("%s/%s: %s", name, mode, line)
            rows.append(
                {
                    "perturbation": name,
                    "file": path,
                    "resize": mode,
                    "clean_final": report.clean.final,
                    "clean_peak": report.clean.peak,
                    "protected_final": report.protected.final,
                    "protected_peak": report.protected.peak,
                    "protected_peak_epoch": report.protected.peak_epoch,
                    "drop": report.drop,
                    "chance": report.chance,
                    "verdict": report.verdict,
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
            io.atomic_write_json(args.out, _record(args, check, rows))  # phase by phase
    return _record(args, check, rows)


def _record(args: argparse.Namespace, check: CheckConfig, rows: list[dict[str, Any]]) -> dict:
    return {
        "set": {
            "source": "CIFAR-10 test split (not seen by the generators), upscaled bicubic",
            "classes": list(args.classes),
            "train_per_class": args.train_per_class,
            "test_per_class": args.test_per_class,
            "image_size": args.size,
        },
        "check": check.model_dump(mode="json"),
        "threads": args.threads,
        "seed": args.seed,
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "code_version": io.code_version(),
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cifar", required=True, help="CIFAR-10 image folder (train/, test/)")
    parser.add_argument("--perturbation", action="append", default=[], help="NAME=delta.npz")
    parser.add_argument(
        "--generate", action="append", default=[], help="NAME=RUN of --config, made at --size"
    )
    parser.add_argument("--config", default="config/cifar10-cpu-full.yaml")
    parser.add_argument("--generate-per-class", type=int, default=500)
    parser.add_argument("--resize", nargs="+", default=["bilinear"], choices=list(RESIZE_MODES))
    parser.add_argument("--classes", nargs="+", default=list(DEFAULT_CLASSES))
    parser.add_argument("--train-per-class", type=int, default=300)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--size", type=int, default=48, help="the owner's image size")
    parser.add_argument("--epochs", type=int, default=CheckConfig().epochs)
    parser.add_argument("--check-size", type=int, default=CheckConfig().image_size)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="benchmarks/tmp/owner-scale")
    parser.add_argument("--out", default="benchmarks/results/owner-scale.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(args)


if __name__ == "__main__":
    main()
