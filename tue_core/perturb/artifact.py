"""The perturbation-set artifact: what every generator writes and every consumer reads.

A perturbation set is a float32 tensor ``delta`` of shape (N, 3, H, W) in pixel units of [0, 1]
(so within [-eps, eps] for L-inf methods), one row per training image **in dataset order**, saved
as an ``.npz`` (no pickles) next to the labels it was made for and a JSON sidecar (method, backbone,
mode, dataset, eps, seed, schedule, metrics...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tue_core import io

FORMAT_VERSION = 1
EPS_TOLERANCE = 1e-6  # float32 rounding of clamp(x + delta) - x


class PerturbationFileError(ValueError):
    """A perturbation file is missing, malformed, or does not fit the dataset it is used with."""


class PerturbationIntegrityError(io.ArtifactIntegrityError, PerturbationFileError):
    """A perturbation file is missing, truncated, changed or has no usable sidecar."""


@dataclass(frozen=True)
class PerturbationSet:
    delta: np.ndarray  # float32 (N, 3, H, W), pixel units
    labels: np.ndarray  # int64 (N,), the class of the image each row was made for
    eps: float  # the L-inf budget it was made under (pixel units); inf for L2 methods such as SN
    norm: str = "linf"  # "linf" or "l2"

    def __post_init__(self) -> None:
        if self.delta.dtype != np.float32 or self.delta.ndim != 4 or self.delta.shape[1] != 3:
            raise PerturbationFileError(
                f"delta must be float32 (N, 3, H, W), got {self.delta.dtype} {self.delta.shape}"
            )
        if self.labels.shape != (self.delta.shape[0],):
            raise PerturbationFileError(
                f"labels must have shape ({self.delta.shape[0]},), got {self.labels.shape}"
            )
        if not np.isfinite(self.delta).all():
            raise PerturbationFileError("delta contains NaN or infinite values")
        if self.norm == "linf" and len(self):
            largest = float(np.abs(self.delta).max())
            if largest > self.eps + EPS_TOLERANCE:
                raise PerturbationFileError(
                    f"max |delta| = {largest:.6g} ({255 * largest:.2f}/255) exceeds the set's own "
                    f"L-inf budget eps = {self.eps:.6g} ({255 * self.eps:.2f}/255)"
                )

    def __len__(self) -> int:
        return int(self.delta.shape[0])

    def save(self, path: str | os.PathLike[str], meta: io.RunMeta) -> Path:
        """Write ``path`` (.npz) and its JSON sidecar atomically."""
        meta.extra = {
            **meta.extra,
            "perturbation": {
                "shape": list(self.delta.shape),
                "eps": self.eps,
                "norm": self.norm,
                "max_abs": float(np.abs(self.delta).max()) if len(self) else 0.0,
                "sha256": io.sha256_array(self.delta),
            },
        }
        return io.save_arrays(
            path,
            {
                "delta": self.delta,
                "labels": self.labels.astype(np.int64),
                "eps": np.asarray(self.eps, dtype=np.float64),
                "norm": np.asarray(self.norm),
                "format_version": np.asarray(FORMAT_VERSION),
            },
            meta=meta,
        )


def load_perturbation(path: str | os.PathLike[str], *, verify: bool = True) -> PerturbationSet:
    """Read a perturbation set, checking its format version, dtype and shape.

    With ``verify`` (the default) the file must first match the sha256 its sidecar records, else
    :class:`PerturbationIntegrityError`; without it a file with no sidecar is read as is.
    """
    try:
        if verify:
            io.verify_artifact(path, what="perturbation file")
        arrays = io.load_arrays(path, what="perturbation file")
    except io.ArtifactIntegrityError as err:
        raise PerturbationIntegrityError(str(err)) from err
    except (OSError, ValueError) as err:
        raise PerturbationFileError(f"cannot read perturbation file {str(path)!r}: {err}") from err
    missing = {"delta", "labels", "eps", "format_version"} - set(arrays)
    if missing:
        raise PerturbationFileError(f"{path}: not a perturbation file (missing {sorted(missing)})")
    if int(arrays["format_version"]) != FORMAT_VERSION:
        raise PerturbationFileError(
            f"{path}: format_version {int(arrays['format_version'])} is not {FORMAT_VERSION}"
        )
    try:
        return PerturbationSet(
            delta=arrays["delta"],
            labels=arrays["labels"],
            eps=float(arrays["eps"]),
            norm=str(arrays.get("norm", "linf")),
        )
    except PerturbationFileError as err:
        raise PerturbationFileError(f"{path}: {err}") from err


def check_matches(
    pset: PerturbationSet, labels: np.ndarray, image_hw: tuple[int, int], what: Any
) -> None:
    """Refuse a perturbation set whose size, image shape or labels do not fit the dataset ``what``."""
    if len(pset) != len(labels):
        raise PerturbationFileError(
            f"perturbation set has {len(pset)} rows but dataset {what} has {len(labels)} images"
        )
    if tuple(pset.delta.shape[2:]) != tuple(image_hw):
        raise PerturbationFileError(
            f"perturbation images are {tuple(pset.delta.shape[2:])} but dataset {what} is {image_hw}"
        )
    if not np.array_equal(pset.labels, labels):
        raise PerturbationFileError(
            f"perturbation labels differ from the labels of dataset {what} (wrong order or dataset)"
        )
