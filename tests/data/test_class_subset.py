"""``classes``: a dataset restricted to some of its classes, relabelled in the order given."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tue_core.data import load_split
from tue_core.data.base import DatasetError
from tue_core.data.config import SyntheticSpec
from tue_core.plan.cost import dataset_size

SPEC = {"source": "synthetic", "num_classes": 5, "train_per_class": 6, "test_per_class": 2}


def test_subset_keeps_the_named_classes_relabelled_in_the_given_order() -> None:
    full = load_split(SyntheticSpec(**SPEC), "train")
    picked = load_split(SyntheticSpec(**SPEC, classes=["class03", 1]), "train")
    assert picked.class_names == ("class03", "class01")
    assert picked.counts_per_class() == {"class03": 6, "class01": 6}
    for new, old in ((0, 3), (1, 1)):  # same images, in dataset order, under the new label
        assert np.array_equal(picked.images[picked.labels == new], full.images[full.labels == old])
        assert np.array_equal(
            picked.source_index[picked.labels == new], full.source_index[full.labels == old]
        )
    assert picked.info["classes"] == ["class03", "class01"]


def test_subset_applies_to_both_splits_and_before_the_cap() -> None:
    spec = SyntheticSpec(**SPEC, classes=[4, 0, 2], max_train_per_class=3)
    train, test = load_split(spec, "train"), load_split(spec, "test")
    assert train.class_names == test.class_names == ("class04", "class00", "class02")
    assert set(train.counts_per_class().values()) == {3} and len(test) == 6


def test_disjoint_class_groups_share_no_image() -> None:
    first = load_split(SyntheticSpec(**SPEC, classes=[0, 1]), "train")
    second = load_split(SyntheticSpec(**SPEC, classes=[2, 3, 4]), "train")
    assert not set(first.source_index) & set(second.source_index)


def test_unknown_class_is_named_with_the_valid_ones() -> None:
    with pytest.raises(DatasetError, match=r"'zebra'.*valid: names \['class00'"):
        load_split(SyntheticSpec(**SPEC, classes=["class00", "zebra"]), "train")
    with pytest.raises(DatasetError, match="indices 0-4"):
        load_split(SyntheticSpec(**SPEC, classes=[0, 7]), "train")


def test_a_class_listed_twice_or_a_single_class_is_refused() -> None:
    with pytest.raises(ValidationError, match="twice"):
        SyntheticSpec(**SPEC, classes=[1, 1])
    with pytest.raises(ValidationError, match="at least 2"):
        SyntheticSpec(**SPEC, classes=[1])


def test_cost_model_counts_only_the_kept_classes() -> None:
    size = dataset_size(SyntheticSpec(**SPEC, classes=["class01", 3]))
    assert (size.train, size.test) == (12, 4)
