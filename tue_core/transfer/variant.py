"""Saving a transfer variant: perturbation set, assignment and (optionally) the poisoned dataset.

Everything lands in one folder, each file with a JSON sidecar that names the source perturbation
file and its sha256 (``inputs`` and ``extra.source_perturbation``), so every swapped or transferred
dataset can be traced back to the perturbations it was built from (issue 5, item 6).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tue_core import io
from tue_core.data.base import PreparedDataset
from tue_core.perturb.apply import Quantisation, apply_perturbation
from tue_core.perturb.artifact import PerturbationSet, check_matches
from tue_core.transfer.assignment import Assignment

PERTURBATION_FILE = "perturbation.npz"
ASSIGNMENT_FILE = "assignment.npz"
POISONED_FILE = "poisoned.npz"


def save_variant(
    out_dir: str | os.PathLike[str],
    perturbation: PerturbationSet,
    assignment: Assignment,
    source_path: str | os.PathLike[str],
    *,
    config: dict[str, Any] | None = None,
    seed: int | None = None,
    target: PreparedDataset | None = None,
    quantisation: Quantisation = "round",
) -> dict[str, Path]:
    """Write ``perturbation.npz``, ``assignment.npz`` and, with ``target``, ``poisoned.npz``.

    The target dataset is checked against the perturbation set (size, image size, labels) before
    anything is written.
    """
    if target is not None:
        check_matches(perturbation, target.labels, target.image_size, target.name)
    source = {"path": str(source_path), "sha256": io.sha256_file(source_path)}

    def meta(kind: str) -> io.RunMeta:
        return io.RunMeta(
            kind=kind,
            config=dict(config or {}),
            seed=seed,
            inputs={source["path"]: source["sha256"]},
            extra={"source_perturbation": source, "assignment": assignment.summary()},
        )

    out = Path(out_dir)
    written = {
        "perturbation": perturbation.save(out / PERTURBATION_FILE, meta("transfer_perturbation")),
        "assignment": assignment.save(out / ASSIGNMENT_FILE, meta("transfer_assignment")),
    }
    if target is not None:
        poisoned = PreparedDataset(
            name=target.name,
            split=target.split,
            images=apply_perturbation(target.images, perturbation.delta, quantisation),
            labels=target.labels,
            class_names=target.class_names,
            source_index=target.source_index,
            info={**target.info, "poisoned_with": source, "quantisation": quantisation},
        )
        written["poisoned"] = poisoned.save(out / POISONED_FILE, meta("transfer_dataset"))
    return written
