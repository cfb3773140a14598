"""scikit-learn's bundled handwritten digits: real data that ships with a declared dependency.

1,797 grey 8x8 images (values 0-16) of 10 digits, upscaled bilinearly to ``image_size`` and repeated
over three channels, then split per class into train/test with a fixed seed (stratified, so both
splits hold every digit). It is the offline stand-in for SVHN (another digits dataset).
"""

from __future__ import annotations

import numpy as np

from tue_core.data.base import PreparedDataset
from tue_core.data.config import DigitsSpec
from tue_core.data.registry import DATASETS


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Per-class random split; returns sorted index arrays for ``train`` and ``test``."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        n_test = min(len(members) - 1, max(1, round(test_fraction * len(members))))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return {"train": np.sort(np.concatenate(train)), "test": np.sort(np.concatenate(test))}


def upscale_grey(images: np.ndarray, size: int) -> np.ndarray:
    """(N, h, w) floats in [0, 1] -> (N, size, size, 3) uint8, bilinear."""
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(images.astype(np.float32))[:, None]  # (N, 1, h, w)
    big = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)
    grey = (big.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0].numpy()  # (N, size, size)
    return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=-1))


@DATASETS.register("digits")
def load_digits(spec: DigitsSpec, split: str) -> PreparedDataset:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    labels = bunch.target.astype(np.int64)
    indices = stratified_split(labels, spec.test_fraction, spec.split_seed)[split]
    images = upscale_grey(bunch.images[indices] / 16.0, spec.image_size)
    return PreparedDataset(
        name="digits",
        split=split,
        images=images,
        labels=labels[indices],
        class_names=tuple(str(d) for d in range(10)),
        source_index=indices.astype(np.int64),
        info={
            "source": "sklearn.datasets.load_digits (UCI optical digits, 8x8)",
            "resize": {"method": "torch bilinear", "to": spec.image_size},
            "test_fraction": spec.test_fraction,
            "split_seed": spec.split_seed,
        },
    )
