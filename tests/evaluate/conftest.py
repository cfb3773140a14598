"""Tiny structured data for the evaluation tests: class-coloured squares on a noisy background."""

from __future__ import annotations

import numpy as np
import pytest

from tue_core.data.base import PreparedDataset

COLOURS = np.array([[230, 40, 40], [40, 230, 40], [40, 40, 230], [230, 230, 40]], dtype=np.int64)


def coloured_squares(n_per_class: int, split: str, seed: int, size: int = 16) -> PreparedDataset:
    """Each image: a square of its class's colour (side 7-11 px, random place) on dark noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(COLOURS), dtype=np.int64), n_per_class)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(len(labels), size, size, 3))
    for image, label in zip(images, labels, strict=True):
        side = rng.integers(7, 12)
        top, left = rng.integers(0, size - side, size=2)
        patch = COLOURS[label] + rng.integers(-20, 20, size=3)
        image[top : top + side, left : left + side] = patch
    return PreparedDataset(
        name="squares",
        split=split,
        images=np.clip(images, 0, 255).astype(np.uint8),
        labels=labels,
        class_names=("red", "green", "blue", "yellow"),
    )


@pytest.fixture(scope="session")
def squares_train() -> PreparedDataset:
    return coloured_squares(24, "train", seed=0)


@pytest.fixture(scope="session")
def squares_test() -> PreparedDataset:
    return coloured_squares(8, "test", seed=1)
