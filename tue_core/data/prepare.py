"""Prepare one configured dataset: load both splits, apply per-class caps, save atomically.

Both splits are loaded and checked *before* anything is written, so a failure (missing folder,
corrupt image, mismatched classes) leaves no half-written output and no stale file is replaced.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from tue_core import io
from tue_core.data.base import SPLITS, DatasetError, PreparedDataset
from tue_core.data.registry import DATASETS
from tue_core.data.svhn import first_k_per_class

log = logging.getLogger(__name__)


def load_split(spec: object, split: str, name: str | None = None) -> PreparedDataset:
    """Load ``split`` of ``spec`` through the registry and apply its ``max_*_per_class`` cap."""
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    loader = DATASETS.get(spec.source)  # type: ignore[attr-defined]
    data = loader(spec, split)
    classes = getattr(spec, "classes", None)
    if classes is not None:
        data = select_classes(data, classes)
    cap = getattr(spec, f"max_{split}_per_class", None)
    if cap is not None:
        data = data.subset(first_k_per_class(data.labels, cap))
        data = replace(data, info={**data.info, f"max_{split}_per_class": cap})
    if name is not None:
        data = replace(data, name=name)
    return data


def select_classes(data: PreparedDataset, classes: list[str | int]) -> PreparedDataset:
    """The images of ``classes`` (names or 0-based indices), relabelled 0..k-1 in that order.

    Raises:
        DatasetError: a class that the dataset does not have, naming the valid ones.
    """
    names = list(data.class_names)
    picked: list[int] = []
    for wanted in classes:
        index = (
            wanted if isinstance(wanted, int) else (names.index(wanted) if wanted in names else -1)
        )
        if not 0 <= index < len(names):
            raise DatasetError(
                f"{data.name}/{data.split}: classes lists {wanted!r}, which is not a class of this "
                f"dataset; valid: names {names} or indices 0-{len(names) - 1}"
            )
        picked.append(index)
    relabel = np.full(len(names), -1, dtype=np.int64)
    relabel[picked] = np.arange(len(picked))
    keep = np.flatnonzero(relabel[data.labels] >= 0)  # dataset order is kept
    subset = data.subset(keep)
    return replace(
        subset,
        labels=relabel[subset.labels],
        class_names=tuple(names[i] for i in picked),
        info={**data.info, "classes": [names[i] for i in picked]},
    )


def check_splits(train: PreparedDataset, test: PreparedDataset) -> None:
    """Both splits must share class names and image size, and every class needs a train image."""
    if train.class_names != test.class_names:
        raise DatasetError(
            f"{train.name}: train classes {list(train.class_names)} differ from test classes "
            f"{list(test.class_names)}"
        )
    if train.image_size != test.image_size:
        raise DatasetError(
            f"{train.name}: train images {train.image_size} vs test {test.image_size}"
        )
    empty = [n for n, c in train.counts_per_class().items() if c == 0]
    if empty:
        raise DatasetError(f"{train.name}: no training images for classes {empty}")


def prepare_dataset(
    spec: object,
    name: str,
    outputs: dict[str, str | os.PathLike[str]],
    config: dict | None = None,
) -> dict[str, PreparedDataset]:
    """Load, check and save both splits of dataset ``name``.

    Args:
        spec: a validated dataset spec (``tue_core.data.config.DatasetSpec``).
        name: the dataset's key in the config (used in paths and sidecars).
        outputs: ``{"train": path.npz, "test": path.npz}``; ``"indices"`` optionally names a
            text file that receives the kept source indices of the train split (SVHN-small).
        config: the resolved config slice recorded in the sidecars.
    """
    meta = io.RunMeta(kind="dataset", config=config or {"name": name, **_dump(spec)})
    with io.timed(meta):
        splits = {split: load_split(spec, split, name) for split in SPLITS}
        check_splits(splits["train"], splits["test"])
    for split, data in splits.items():
        data.save(outputs[split], replace(meta))
    if "indices" in outputs:
        text = "\n".join(str(i) for i in splits["train"].source_index.tolist()) + "\n"
        io.atomic_write_text(outputs["indices"], text)
    for split, data in splits.items():
        log.info("%s/%s: %d images, per class %s", name, split, len(data), data.counts_per_class())
    return splits


def _dump(spec: object) -> dict:
    return spec.model_dump() if hasattr(spec, "model_dump") else dict(vars(spec))


def kept_indices(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an indices file written by :func:`prepare_dataset`."""
    return np.loadtxt(Path(path), dtype=np.int64, ndmin=1)
