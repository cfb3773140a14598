"""Where prepared splits live, and their class names read without their images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tue_core.data import (
    DatasetError,
    PreparedDataset,
    load_prepared,
    prepared_class_names,
    prepared_path,
)


def test_prepared_path_is_the_workflow_layout() -> None:
    assert prepared_path("results/x/", "cifar10") == "results/x/data/cifar10/train.npz"
    assert prepared_path("results/x", "svhn_small", "test") == "results/x/data/svhn_small/test.npz"
    with pytest.raises(DatasetError, match=r"'val' is not one of \('train', 'test'\)"):
        prepared_path("results/x", "cifar10", "val")


def test_class_names_match_the_loaded_split(tmp_path: Path) -> None:
    split = PreparedDataset(
        name="toy",
        split="test",
        images=np.zeros((4, 8, 8, 3), dtype=np.uint8),
        labels=np.array([0, 1, 2, 0], dtype=np.int64),
        class_names=("a", "b", "c"),
    )
    path = split.save(prepared_path(tmp_path, "toy", "test"))
    assert prepared_class_names(path) == load_prepared(path).class_names == ("a", "b", "c")
