"""Protecting a data owner's image folder with an existing perturbation set (issue 5, item 7).

The folder's classes are the target classes; the perturbation set is mapped onto them with the
same strategies as a dataset transfer (:func:`tue_core.transfer.mapping.plan_transfer`: direct,
more samples per class by Eq. 8, more classes by Eq. 7), planned on all listed files in sorted
order, so the same seed gives the same assignment. Each image is then read (EXIF orientation
applied, converted to RGB: alpha and palette are dropped), its perturbation is resized to the
image's own size when it differs (bilinear or area, re-clamped to ``[-eps, eps]``), added with
rounding to uint8, and written as PNG. Files that cannot be read are skipped and reported by name
(log, return value and manifest sidecar). A ``manifest.csv`` lists each protected file, its class
and its assignment; ``manifest.json`` holds the provenance (source perturbation file and sha256).
"""

from __future__ import annotations

import csv
import io as stdlib_io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tue_core import io
from tue_core.perturb.apply import Quantisation, apply_perturbation
from tue_core.perturb.artifact import PerturbationSet
from tue_core.transfer.assignment import Assignment
from tue_core.transfer.config import TransferConfig
from tue_core.transfer.image_folder import (
    ImageFolder,
    check_output_folder,
    check_output_names,
    output_name,
    scan_image_folder,
)
from tue_core.transfer.mapping import plan_transfer
from tue_core.transfer.resize import resize_perturbation

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.csv"
MANIFEST_COLUMNS = (
    "file",
    "protected_file",
    "class",
    "label",
    "source_i",
    "source_j",
    "alpha",
    "height",
    "width",
)


@dataclass
class ProtectReport:
    output: Path
    protected: list[Path] = field(default_factory=list)  # output paths, relative to output
    unreadable: dict[str, str] = field(default_factory=dict)  # input path -> reason
    manifest: Path | None = None


def _unreadable_errors() -> tuple[type[BaseException], ...]:
    """What PIL raises for broken, truncated or oversized files."""
    from PIL import Image

    return (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def read_rgb(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) with EXIF orientation applied; raises OSError/ValueError when unreadable."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)


def write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    io.atomic_write(path, lambda handle: Image.fromarray(pixels).save(handle, format="PNG"))


def _perturb_one(
    pixels: np.ndarray,
    row: int,
    assignment: Assignment,
    pset: PerturbationSet,
    config: TransferConfig,
    quantisation: Quantisation,
) -> np.ndarray:
    """One image (H, W, 3) uint8 plus its assigned perturbation, resized to the image."""
    a = float(assignment.alpha[row])
    delta = (
        a * pset.delta[assignment.source_i[row]] + (1 - a) * pset.delta[assignment.source_j[row]]
    )
    eps = pset.eps if pset.norm == "linf" else float("inf")
    delta = resize_perturbation(
        delta[None].astype(np.float32), pixels.shape[:2], config.resize, eps
    )
    return apply_perturbation(pixels[None], np.clip(delta, -eps, eps), quantisation)[0]


def protect_folder(
    input_root: str | Path,
    output_root: str | Path,
    pset: PerturbationSet,
    source_path: str | Path,
    *,
    config: TransferConfig | None = None,
    seed: int = 0,
    quantisation: Quantisation = "round",
    overwrite: bool = False,
) -> ProtectReport:
    """Write protected PNG copies of ``input_root`` under ``output_root`` plus the manifest."""
    config = config or TransferConfig()
    input_root, output_root = Path(input_root), Path(output_root)
    check_output_folder(input_root, output_root, overwrite)
    folder = scan_image_folder(input_root)
    check_output_names(folder, output_root)
    assignment = plan_transfer(pset.labels, folder.labels, len(folder.class_names), config, seed)
    report = ProtectReport(output=output_root)
    unreadable = _unreadable_errors()
    rows: list[dict[str, object]] = []
    for row, relative in enumerate(tqdm(folder.files, desc="protect", disable=None)):
        try:
            pixels = read_rgb(input_root / relative)
        except unreadable as err:
            report.unreadable[str(relative)] = f"{type(err).__name__}: {err}"
            log.warning("cannot read %s: %s", relative, err)
            continue
        protected = _perturb_one(pixels, row, assignment, pset, config, quantisation)
        write_png(output_root / output_name(relative), protected)
        report.protected.append(output_name(relative))
        rows.append(_manifest_row(folder, row, relative, assignment, pixels.shape))
    report.manifest = _write_manifest(
        output_root, rows, folder, assignment, report, source_path, config, seed, quantisation
    )
    log.info(
        "protected %d of %d images into %s", len(report.protected), len(folder.files), output_root
    )
    if report.unreadable:
        log.error(
            "%d file(s) could not be read: %s", len(report.unreadable), ", ".join(report.unreadable)
        )
    return report


def _manifest_row(
    folder: ImageFolder, row: int, relative: Path, assignment: Assignment, shape: tuple[int, ...]
) -> dict[str, object]:
    label = int(folder.labels[row])
    return {
        "file": relative.as_posix(),
        "protected_file": output_name(relative).as_posix(),
        "class": folder.class_names[label],
        "label": label,
        "source_i": int(assignment.source_i[row]),
        "source_j": int(assignment.source_j[row]),
        "alpha": float(assignment.alpha[row]),
        "height": shape[0],
        "width": shape[1],
    }


def _write_manifest(
    output_root: Path,
    rows: list[dict[str, object]],
    folder: ImageFolder,
    assignment: Assignment,
    report: ProtectReport,
    source_path: str | Path,
    config: TransferConfig,
    seed: int,
    quantisation: Quantisation,
) -> Path:
    buffer = stdlib_io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = io.atomic_write_text(output_root / MANIFEST_FILE, buffer.getvalue())
    source = {"path": str(source_path), "sha256": io.sha256_file(source_path)}
    meta = io.RunMeta(
        kind="protect",
        config={**config.model_dump(), "quantisation": quantisation},
        seed=seed,
        inputs={source["path"]: source["sha256"]},
        metrics={
            "num_images": len(folder.files),
            "num_protected": len(report.protected),
            "num_unreadable": len(report.unreadable),
        },
        extra={
            "source_perturbation": source,
            "input_root": str(folder.root),
            "layout": folder.layout,
            "class_names": list(folder.class_names),
            "assignment": assignment.summary(),
            "unreadable": report.unreadable,
            "ignored_files": [p.as_posix() for p in folder.ignored],
        },
    )
    io.write_sidecar(path, meta)
    return path
