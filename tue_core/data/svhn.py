"""SVHN from torchvision's ``.mat`` files, and SVHN-small (TUE's capped subset).

SVHN stores digit 0 as label 10; we map it to 0 as torchvision does. SVHN-small walks the train
split in dataset order and keeps an image while its class has fewer than ``cap_per_class`` kept
(TUE utils.py ``SVHNPair(small=True)``): 4948 + 8 x 5000 + 4659 = 49,607 images on the standard split.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from tue_core.data.base import DatasetError, PreparedDataset
from tue_core.data.config import SVHNSmallSpec, TorchvisionSpec
from tue_core.data.registry import DATASETS

log = logging.getLogger(__name__)

SVHN_CLASSES = tuple(str(d) for d in range(10))
_URL = "http://ufldl.stanford.edu/housenumbers/{split}_32x32.mat"


def _mat_path(spec: TorchvisionSpec | SVHNSmallSpec, split: str) -> Path:
    path = Path(spec.root) / f"{split}_32x32.mat"
    if path.is_file():
        return path
    if spec.download:
        import torchvision

        log.info("downloading SVHN %s into %s", split, spec.root)
        torchvision.datasets.SVHN(root=spec.root, split=split, download=True)
        return path
    raise DatasetError(
        f"svhn: {path} not found. Set `download: true` in the dataset's config entry, or fetch "
        f"{_URL.format(split=split)} into {spec.root} (torchvision's SVHN layout)."
    )


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels int64 in [0, 10) from an SVHN ``.mat`` file."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as err:  # scipy raises several unrelated types for corrupt files
        raise DatasetError(f"{path}: not a readable SVHN .mat file ({err})") from err
    if "X" not in mat or "y" not in mat:
        raise DatasetError(f"{path}: expected variables 'X' and 'y', found {sorted(mat)}")
    images = np.ascontiguousarray(np.transpose(mat["X"], (3, 0, 1, 2)).astype(np.uint8))
    labels = mat["y"].astype(np.int64).reshape(-1) % 10  # label 10 means digit 0
    return images, labels


@DATASETS.register("svhn")
def load_svhn(spec: TorchvisionSpec, split: str) -> PreparedDataset:
    images, labels = read_svhn_mat(_mat_path(spec, split))
    return PreparedDataset(
        name="svhn",
        split=split,
        images=images,
        labels=labels,
        class_names=SVHN_CLASSES,
        info={"source": f"torchvision svhn ({spec.root})"},
    )


def first_k_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first ``k`` images of every class, in dataset order (vectorised)."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank_within_class = np.arange(len(labels)) - starts
    return np.sort(order[rank_within_class < k])


@DATASETS.register("svhn_small")
def load_svhn_small(spec: SVHNSmallSpec, split: str) -> PreparedDataset:
    """Train: SVHN capped per class in dataset order; test: the full SVHN test split."""
    full = load_svhn(TorchvisionSpec(source="svhn", root=spec.root, download=spec.download), split)
    if split == "test":
        return replace(full, name="svhn_small")
    kept = first_k_per_class(full.labels, spec.cap_per_class)
    small = full.subset(kept)
    return replace(
        small, name="svhn_small", info={**small.info, "cap_per_class": spec.cap_per_class}
    )
