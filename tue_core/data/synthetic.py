"""A procedural, seeded, class-structured image family for the offline demo and tests.

Each class is a coloured sinusoidal grating: its own orientation, spatial frequency, foreground and
background colour, all drawn from ``seed``. Each image jitters those (orientation +-0.15 rad,
frequency +-10%, colours +-0.08), draws its own phase and brightness and adds pixel noise, so a
small CNN has to learn orientation/frequency/colour cues (learnable, yet not a lookup of one pixel).
Train and test images are independent draws from the same class distributions.
"""

from __future__ import annotations

import numpy as np

from tue_core.data.base import PreparedDataset
from tue_core.data.config import SyntheticSpec
from tue_core.data.registry import DATASETS

_SPLIT_STREAM = {"train": 1, "test": 2}


def class_parameters(num_classes: int, seed: int) -> dict[str, np.ndarray]:
    """Per-class orientation (rad), frequency (cycles per image) and two RGB colours."""
    rng = np.random.default_rng([seed, 0])
    angles = (np.arange(num_classes) * np.pi / min(num_classes, 8)) % np.pi
    return {
        "angle": angles + rng.uniform(-0.1, 0.1, num_classes),
        "freq": rng.uniform(1.5, 5.0, num_classes),
        "fg": rng.uniform(0.35, 1.0, (num_classes, 3)),
        "bg": rng.uniform(0.0, 0.45, (num_classes, 3)),
    }


def render(
    labels: np.ndarray, size: int, params: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Render one image per label: (N, size, size, 3) uint8."""
    n = len(labels)
    angle = params["angle"][labels] + rng.uniform(-0.15, 0.15, n)
    freq = params["freq"][labels] * rng.uniform(0.9, 1.1, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    fg = np.clip(params["fg"][labels] + rng.uniform(-0.08, 0.08, (n, 3)), 0, 1)
    bg = np.clip(params["bg"][labels] + rng.uniform(-0.08, 0.08, (n, 3)), 0, 1)
    coords = np.linspace(0.0, 1.0, size, endpoint=False)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")  # (size, size)
    projection = xx[None] * np.cos(angle)[:, None, None] + yy[None] * np.sin(angle)[:, None, None]
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq[:, None, None] * projection + phase[:, None, None])
    image = bg[:, None, None, :] + (fg - bg)[:, None, None, :] * wave[..., None]  # (N, s, s, 3)
    image = image * rng.uniform(0.85, 1.15, (n, 1, 1, 1)) + rng.normal(0, 0.06, image.shape)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


@DATASETS.register("synthetic")
def load_synthetic(spec: SyntheticSpec, split: str) -> PreparedDataset:
    per_class = spec.train_per_class if split == "train" else spec.test_per_class
    labels = np.repeat(np.arange(spec.num_classes, dtype=np.int64), per_class)
    rng = np.random.default_rng([spec.seed, _SPLIT_STREAM[split]])
    labels = labels[rng.permutation(len(labels))]  # interleave classes as real datasets do
    images = render(labels, spec.image_size, class_parameters(spec.num_classes, spec.seed), rng)
    return PreparedDataset(
        name="synthetic",
        split=split,
        images=images,
        labels=labels,
        class_names=tuple(f"class{c:02d}" for c in range(spec.num_classes)),
        info={"source": f"procedural gratings (seed {spec.seed})"},
    )
