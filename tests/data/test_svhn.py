"""SVHN (.mat) and SVHN-small capping, against tiny files in the real format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from tue_core.data import DatasetError, load_split
from tue_core.data.config import SVHNSmallSpec, TorchvisionSpec
from tue_core.data.svhn import first_k_per_class


def write_svhn(root: Path, labels: list[int], split: str = "train") -> None:
    n = len(labels)
    images = np.arange(n * 32 * 32 * 3, dtype=np.int64).reshape(32, 32, 3, n) % 256
    savemat(
        root / f"{split}_32x32.mat", {"X": images.astype(np.uint8), "y": np.array(labels)[:, None]}
    )


def test_svhn_label_10_is_digit_0(tmp_path: Path) -> None:
    write_svhn(tmp_path, [10, 1, 2, 10])
    data = load_split(TorchvisionSpec(source="svhn", root=str(tmp_path)), "train")
    assert data.labels.tolist() == [0, 1, 2, 0]
    assert data.images.shape == (4, 32, 32, 3)


def test_svhn_small_caps_each_class_in_dataset_order(tmp_path: Path) -> None:
    labels = [1, 1, 10, 1, 2, 10, 1, 10, 10, 2]
    write_svhn(tmp_path, labels)
    write_svhn(tmp_path, [1, 2], split="test")
    spec = SVHNSmallSpec(source="svhn_small", root=str(tmp_path), cap_per_class=2)
    small = load_split(spec, "train")
    # first two of class 1 (idx 0,1), of class 0 (idx 2,5), of class 2 (idx 4,9), in dataset order
    assert small.source_index.tolist() == [0, 1, 2, 4, 5, 9]
    assert small.labels.tolist() == [1, 1, 0, 2, 0, 2]
    assert small.name == "svhn_small"
    assert len(load_split(spec, "test")) == 2  # the test split is not capped


def test_first_k_per_class_matches_the_reference_walk() -> None:
    labels = np.random.default_rng(0).integers(0, 10, 2000)
    expected, seen = [], np.zeros(10, int)
    for i, y in enumerate(labels):  # the reference's sequential counter
        if seen[y] < 150:
            expected.append(i)
            seen[y] += 1
    assert first_k_per_class(labels, 150).tolist() == expected


def test_standard_svhn_counts_give_49607() -> None:
    counts = [4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659]
    labels = np.random.default_rng(1).permutation(np.repeat(np.arange(10), counts))
    assert len(first_k_per_class(labels, 5000)) == 49_607


def test_missing_svhn_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"train_32x32.mat not found.*download: true"):
        load_split(TorchvisionSpec(source="svhn", root=str(tmp_path)), "train")
