"""Rerun measured supervised cells with another training seed: how much of a gap is seed noise.

    python -m benchmarks.seed_rerun --seed 1 --out benchmarks/results/seed-rerun.json \
        results/cifar10-cpu-full/eval/supervised/cifar10/cifar10/sn/original/metrics.json \
        results/cifar10-cpu-full/eval/supervised/cifar10/cifar10/sn/inter/metrics.json

Each argument is a cell's ``metrics.json`` sidecar written by
:func:`tue_core.jobs.evaluate_supervised` (a workflow cell). Its recorded inputs are reused as
they are: the training recipe (``config``), the training and test splits, the perturbation
(``extra.poison``), the quantisation and, for a robustness cell, the defense
(``extra.defense``). Only the seed changes: it draws the network's initialisation, the batch
order and the augmentations; the perturbation itself is not regenerated. Every input is checked
against the sha256 the sidecar recorded before any training, so a changed file is an error, not
a silently different rerun. Each rerun writes its own sidecar and history beside ``--out``
(``<out stem>/<cell>.json``); ``--out`` gets one row per cell: the recorded and the rerun final
and peak accuracy. A rerun whose sidecar already exists with the same seed is read, not retrained.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tue_core import io
from tue_core.jobs import evaluate_supervised
from tue_core.report.robustness import run_accuracies

log = logging.getLogger("benchmarks.seed_rerun")


class CellError(ValueError):
    """A sidecar that is not a supervised cell, or whose inputs changed since it was written."""


def cell_inputs(sidecar: dict[str, Any], path: Path) -> dict[str, Any]:
    """The recorded inputs of one supervised cell, each checked against its recorded sha256."""
    if sidecar.get("kind") != "evaluation_supervised":
        raise CellError(f"{path}: kind {sidecar.get('kind')!r}, not 'evaluation_supervised'")
    recorded: dict[str, str] = sidecar.get("inputs", {})
    for name, digest in recorded.items():
        if not Path(name).is_file():
            raise CellError(f"{path}: its input {name} is absent (restore or rebuild it first)")
        if io.sha256_file(name) != digest:
            raise CellError(f"{path}: its input {name} changed since the cell was measured")
    splits = {Path(name).stem: name for name in recorded if name.endswith(".npz")}
    if "train" not in splits or "test" not in splits:
        raise CellError(f"{path}: inputs {sorted(recorded)} lack a train.npz and a test.npz")
    extra = sidecar.get("extra", {})
    poison = extra.get("poison")
    defense = extra.get("defense")
    return {
        "train_path": splits["train"],
        "test_path": splits["test"],
        "delta_path": None if poison in (None, "clean") else poison,
        "quantisation": extra.get("quantisation", "round"),
        "supervised_config": sidecar["config"],
        "defense": None if defense is None else {"name": defense["name"], **defense["parameters"]},
    }


def _cell_name(path: Path) -> str:
    """``.../eval/supervised/cifar10/cifar10/sn/inter/metrics.json`` -> ``supervised-...-inter``."""
    parts = path.parent.parts
    start = parts.index("eval") + 1 if "eval" in parts else max(0, len(parts) - 4)
    return "-".join(parts[start:])


def rerun_cell(
    path: Path, inputs: dict[str, Any], seed: int, folder: Path, device: str = "auto"
) -> dict[str, Any]:
    """Retrain one cell from its checked ``inputs`` with ``seed``; recorded and rerun accuracies."""
    recorded = io.read_json(path)
    out = folder / f"{_cell_name(path)}-seed{seed}.json"
    if not (out.is_file() and io.read_json(out).get("seed") == seed):
        log.info("%s: training with seed %d -> %s", path, seed, out)
        evaluate_supervised(
            inputs["train_path"],
            inputs["test_path"],
            out,
            inputs["supervised_config"],
            delta_path=inputs["delta_path"],
            quantisation=inputs["quantisation"],
            seed=seed,
            device=device,
            defense=inputs["defense"],
        )
    rerun = io.read_json(out)
    return {
        "cell": str(path),
        "recorded_seed": recorded.get("seed"),
        "recorded": run_accuracies(path),
        "seed": seed,
        "rerun": run_accuracies(out),
        "rerun_sidecar": str(out),
        "rerun_wall_seconds": rerun.get("wall_seconds"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cells", nargs="+", type=Path, help="metrics.json of supervised cells")
    parser.add_argument("--seed", type=int, required=True, help="the rerun's training seed")
    parser.add_argument("--out", type=Path, required=True, help="JSON with one row per cell")
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N or auto (a GPU when there is one)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # every sidecar readable and every input unchanged, before any training
    checked = [(path, cell_inputs(io.read_json(path), path)) for path in args.cells]
    folder = args.out.with_suffix("")
    rows = [rerun_cell(path, inputs, args.seed, folder, args.device) for path, inputs in checked]
    io.atomic_write_json(args.out, {"seed": args.seed, "cells": rows, "code": io.code_version()})
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
