"""The one prepared form every dataset loader returns, and how it is saved and loaded.

A prepared split is a plain record of arrays:

* ``images``: uint8, (N, H, W, 3), channels last, exactly as stored on disk;
* ``labels``: int64, (N,), in ``[0, num_classes)``;
* ``source_index``: int64, (N,), the index of each image in its source split (SVHN-small keeps
  the subset of SVHN it came from here);
* ``class_names``: one name per label, and the split name (``train`` / ``test``).

It is saved as an ``.npz`` (no pickles) with a JSON sidecar holding the source, counts per class
and the sha256 of each array.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tue_core import io

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

SPLITS = ("train", "test")


class DatasetError(ValueError):
    """A dataset cannot be prepared or loaded; the message names the file, key or value."""


class DatasetIntegrityError(io.ArtifactIntegrityError, DatasetError):
    """A prepared dataset file is missing, truncated, changed or has no usable sidecar."""


@dataclass(frozen=True)
class PreparedDataset:
    """One split of one dataset in the pipeline's common in-memory form."""

    name: str
    split: str
    images: np.ndarray  # uint8 (N, H, W, 3)
    labels: np.ndarray  # int64 (N,)
    class_names: tuple[str, ...]
    source_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    info: dict[str, Any] = field(default_factory=dict)  # source, resize method, ... (sidecar)

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise DatasetError(
                f"{self.name}/{self.split}: images must be uint8 (N, H, W, 3), "
                f"got {images.dtype} {images.shape}"
            )
        if labels.dtype != np.int64 or labels.shape != (images.shape[0],):
            raise DatasetError(
                f"{self.name}/{self.split}: labels must be int64 of shape ({images.shape[0]},), "
                f"got {labels.dtype} {labels.shape}"
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise DatasetError(
                f"{self.name}/{self.split}: labels must lie in [0, {len(self.class_names)}), "
                f"got [{labels.min()}, {labels.max()}]"
            )
        if self.split not in SPLITS:
            raise DatasetError(f"split must be one of {SPLITS}, got {self.split!r}")
        if self.source_index.size == 0:
            object.__setattr__(self, "source_index", np.arange(len(labels), dtype=np.int64))

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def counts_per_class(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}

    def subset(self, indices: np.ndarray) -> PreparedDataset:
        """A new split holding ``indices`` (in the given order); ``source_index`` follows."""
        indices = np.asarray(indices, dtype=np.int64)
        return PreparedDataset(
            name=self.name,
            split=self.split,
            images=self.images[indices],
            labels=self.labels[indices],
            class_names=self.class_names,
            source_index=self.source_index[indices],
            info=dict(self.info),
        )

    def to_tensors(self, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Images as a uint8 (N, 3, H, W) tensor and labels as int64, both on ``device``.

        The images stay uint8 on the device (4x smaller than float); training code converts each
        batch to float after slicing it.
        """
        import torch

        images = torch.from_numpy(self.images).to(device).permute(0, 3, 1, 2).contiguous()
        return images, torch.from_numpy(self.labels).to(device)

    # ------------------------------------------------------------------ persistence
    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "split": self.split,
            "num_images": len(self),
            "image_shape": list(self.images.shape[1:]),
            "class_names": list(self.class_names),
            "counts_per_class": self.counts_per_class(),
            "sha256": {
                "images": io.sha256_array(self.images),
                "labels": io.sha256_array(self.labels),
                "source_index": io.sha256_array(self.source_index),
            },
            **self.info,
        }

    def save(self, path: str | os.PathLike[str], meta: io.RunMeta | None = None) -> Path:
        """Write the split as ``path`` (.npz) plus its JSON sidecar, both atomically."""
        arrays = {
            "images": self.images,
            "labels": self.labels,
            "source_index": self.source_index,
            "class_names": np.asarray(self.class_names, dtype=np.str_),
        }
        meta = meta or io.RunMeta(kind="dataset")
        meta.extra = {**meta.extra, "dataset": self.metadata()}
        out = io.save_arrays(path, arrays, meta=meta)
        log.info("saved %s/%s: %d images -> %s", self.name, self.split, len(self), out)
        return out


def prepared_path(root: str | os.PathLike[str], name: str, split: str = "train") -> str:
    """Where the workflow keeps a prepared split: ``<root>/data/<name>/<split>.npz``.

    The one definition of that layout: the rules (``rules/common.smk``), the cost model and the
    report's cells all call it.
    """
    if split not in SPLITS:
        raise DatasetError(f"split {split!r} is not one of {SPLITS}")
    return f"{str(root).rstrip('/')}/data/{name}/{split}.npz"


def prepared_class_names(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The class names of a prepared split, read without loading its images."""
    arrays = io.load_arrays(path, what="prepared dataset", names=("class_names",))
    return tuple(str(c) for c in arrays["class_names"])


def load_prepared(path: str | os.PathLike[str], *, verify: bool = True) -> PreparedDataset:
    """Load a split saved by :meth:`PreparedDataset.save` (its sidecar supplies name and info).

    With ``verify`` (the default) the file must match the sha256 its sidecar records, else
    :class:`DatasetIntegrityError`; without it a missing sidecar is tolerated.
    """
    try:
        if verify:
            sidecar: dict[str, Any] | None = io.verify_artifact(path, what="prepared dataset")
        else:
            side = io.sidecar_path(path)
            sidecar = io.read_json(side) if side.is_file() else None
        arrays = io.load_arrays(path, what="prepared dataset")
    except io.ArtifactIntegrityError as err:
        raise DatasetIntegrityError(str(err)) from err
    missing = {"images", "labels", "class_names"} - set(arrays)
    if missing:
        raise DatasetError(f"{path}: not a prepared dataset (missing arrays {sorted(missing)})")
    info = (sidecar or {}).get("extra", {}).get("dataset", {})
    return PreparedDataset(
        name=str(info.get("name", Path(path).parent.name)),
        split=str(info.get("split", Path(path).stem)),
        images=arrays["images"],
        labels=arrays["labels"].astype(np.int64, copy=False),
        class_names=tuple(str(c) for c in arrays["class_names"]),
        source_index=arrays.get("source_index", np.zeros(0, dtype=np.int64)),
        info={k: v for k, v in info.items() if k not in _DERIVED_KEYS},
    )


_DERIVED_KEYS = {
    "name",
    "split",
    "num_images",
    "image_shape",
    "class_names",
    "counts_per_class",
    "sha256",
}
