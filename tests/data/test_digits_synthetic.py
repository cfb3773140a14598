"""The two offline datasets: deterministic, class-structured, correctly shaped."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tue_core.data import load_split
from tue_core.data.config import DigitsSpec, SyntheticSpec


def test_digits_split_is_deterministic_stratified_and_disjoint() -> None:
    spec = DigitsSpec(source="digits")
    train, test = load_split(spec, "train"), load_split(spec, "test")
    assert len(train) + len(test) == 1797
    assert not set(train.source_index) & set(test.source_index)
    assert train.images.shape[1:] == (32, 32, 3) and train.images.dtype == np.uint8
    assert min(test.counts_per_class().values()) >= 30  # every digit in both splits
    again = load_split(spec, "train")
    assert np.array_equal(train.images, again.images)
    other = load_split(DigitsSpec(source="digits", split_seed=1), "train")
    assert not np.array_equal(train.source_index, other.source_index)


def test_digits_cap_keeps_first_per_class() -> None:
    small = load_split(DigitsSpec(source="digits", max_train_per_class=5), "train")
    assert set(small.counts_per_class().values()) == {5}
    full = load_split(DigitsSpec(source="digits"), "train")
    first_zeros = full.source_index[full.labels == 0][:5]
    assert small.source_index[small.labels == 0].tolist() == first_zeros.tolist()


def test_synthetic_is_deterministic_and_seed_dependent() -> None:
    spec = SyntheticSpec(source="synthetic", num_classes=4, train_per_class=5, image_size=16)
    a, b = load_split(spec, "train"), load_split(spec, "train")
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    c = load_split(spec.model_copy(update={"seed": 1}), "train")
    assert not np.array_equal(a.images, c.images)
    assert a.counts_per_class() == {f"class{i:02d}": 5 for i in range(4)}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_synthetic_is_learnable_but_not_trivial() -> None:
    spec = SyntheticSpec(source="synthetic", num_classes=10, train_per_class=60, test_per_class=30)
    train, test = load_split(spec, "train"), load_split(spec, "test")
    assert not np.array_equal(train.images[:10], test.images[:10])  # independent draws
    flat = lambda d: d.images.reshape(len(d), -1) / 255.0  # noqa: E731
    clf = LogisticRegression(max_iter=300).fit(flat(train), train.labels)
    accuracy = clf.score(flat(test), test.labels)
    assert accuracy > 0.5, accuracy  # class structure exists (chance is 0.1)
    # no single pixel separates the classes: a one-pixel classifier stays far from perfect
    one_pixel = LogisticRegression(max_iter=300).fit(flat(train)[:, :3], train.labels)
    assert one_pixel.score(flat(test)[:, :3], test.labels) < 0.9
