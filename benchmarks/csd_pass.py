"""Speed of one TUE released-mode noise pass (CSD-only sign-PGD over the whole set): looped vs grouped.

    python -m benchmarks.csd_pass                                   # CPU, 5,000 images, batch 256
    python -m benchmarks.csd_pass --device cuda --images 50000 --batch-size 512   # paper scale

The pass is ``tue_core.perturb.alternating.refine_bank`` with TUE's released objective (CSD alone,
no network), run two ways on the same random CIFAR-shaped data: ``looped``, one PGD call per
mini-batch as the references do, and ``grouped``, all mini-batches of the pass in one call
(``grouped=True``; the same delta up to float rounding, tests/perturb/test_csd_grouped.py).
``refine_bank`` groups by default on CUDA only (``tue_core.device.prefers_grouped_noise_passes``);
this benchmark is what decides that default. Median of ``--repeats``
interleaved runs after a warm-up; one JSON.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import torch

from tue_core import io
from tue_core.device import resolve_device
from tue_core.perturb.alternating import refine_bank
from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.constraints import LinfBall
from tue_core.perturb.device_data import DeviceData
from tue_core.perturb.objectives import ClasswiseSeparability
from tue_core.perturb.pgd import PGD

from . import harness

log = logging.getLogger("benchmarks.csd_pass")
RESULTS = Path(__file__).resolve().parent / "results"


def csd_pass_speed(
    device: torch.device,
    images: int,
    batch_size: int,
    steps: int = 20,
    classes: int = 10,
    repeats: int = 3,
) -> dict[str, Any]:
    """Seconds of one looped and one grouped CSD noise pass; image-steps/s and the speed-up."""
    gen = torch.Generator(device=device).manual_seed(0)
    data = DeviceData(
        images=torch.randint(0, 256, (images, 3, 32, 32), generator=gen, device=device).to(
            torch.uint8
        ),
        labels=torch.arange(images, device=device) % classes,
        num_classes=classes,
    )
    ball = LinfBall(8 / 255)
    pgd = PGD(ClasswiseSeparability(), ball, steps=steps, step_size=0.8 / 255)
    bank = DeltaBank.uniform(data.images, ball, gen)

    def one_pass(grouped: bool) -> None:
        refine_bank(pgd, None, data, bank, batch_size=batch_size, generator=gen, grouped=grouped)

    samples = harness.interleaved(
        {"looped": lambda: one_pass(False), "grouped": lambda: one_pass(True)}, repeats, device
    )
    work = images * steps
    return {
        "images": images,
        "batch_size": batch_size,
        "pgd_steps": steps,
        "classes": classes,
        "unit": "image-steps",
        "looped": samples["looped"].summary(work),
        "grouped": samples["grouped"].summary(work),
        "grouped_speedup": round(samples["looped"].median / samples["grouped"].median, 3),
    }


def main(argv: list[str] | None = None) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    machine = harness.machine_info(device)
    result = csd_pass_speed(
        device, args.images, args.batch_size, args.steps, args.classes, args.repeats
    )
    record = {
        "kind": "csd_pass",
        "machine": machine | {"loadavg_end": list(os.getloadavg())},
        "result": result,
    }
    out = args.out or RESULTS / f"csd-pass-{device.type}.json"
    path = io.atomic_write_json(out, record)
    log.info(
        "looped %.1f, grouped %.1f image-steps/s (grouped x%.2f); wrote %s",
        result["looped"]["per_second"],
        result["grouped"]["per_second"],
        result["grouped_speedup"],
        path,
    )
    return path


if __name__ == "__main__":
    main()
