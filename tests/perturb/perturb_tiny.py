"""Tiny CPU inputs for the perturbation tests: a 24-image toy set and configs of every method
(width-4 surrogates, 1-2 rounds, PGD-2) that run in about a second each."""

from __future__ import annotations

from typing import Any

import numpy as np

from tue_core.data.base import PreparedDataset


def make_dataset(
    n_per_class: int = 6, num_classes: int = 4, size: int = 16, seed: int = 0
) -> PreparedDataset:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), n_per_class)
    rng.shuffle(labels)
    images = rng.integers(0, 256, size=(len(labels), size, size, 3), dtype=np.uint8)
    images[:2] = 0  # saturated images exercise the [0, 1] projection
    images[2:4] = 255
    return PreparedDataset(
        name="toy",
        split="train",
        images=images,
        labels=labels,
        class_names=tuple(f"c{k}" for k in range(num_classes)),
    )


TINY_SSL: dict[str, Any] = {
    "epochs": 1,
    "train_steps": 2,
    "pgd_steps": 2,
    "batch_size": 12,
    "surrogate": {"width": 4},
}
TINY_HEADS: dict[str, dict[str, Any]] = {
    "simclr": {"name": "simclr", "hidden_dim": 8, "out_dim": 8},
    "moco": {"name": "moco", "out_dim": 8, "queue_size": 16, "bn_splits": 2},
    "simsiam": {"name": "simsiam", "proj_dim": 8, "pred_hidden_dim": 4},
}


def tiny_config(method: str, backbone: str = "simclr", **overrides: Any) -> dict[str, Any]:
    """A config mapping for ``method`` that runs in about a second on the 24-image toy set."""
    if method == "emn":
        cfg = {
            "method": "emn",
            "batch_size": 12,
            "train_steps": 2,
            "pgd_steps": 2,
            "max_rounds": 2,
            "trainer": {"width": 4},
        }
    elif method == "sn":
        cfg = {"method": "sn", "patch_size": 8}
    elif method == "classwise_random":
        cfg = {"method": "classwise_random"}
    elif method in ("ucl", "tue"):
        cfg = {"method": method, "backbone": backbone, "ssl": TINY_HEADS[backbone], **TINY_SSL}
    elif method == "tue_patch":  # 4x4 blocks on the 16x16 toy images
        cfg = {"method": method, "backbone": backbone, "ssl": TINY_HEADS[backbone], **TINY_SSL}
        cfg["patch_size"] = 4
    else:
        raise KeyError(f"no tiny config for {method!r}; add one to tests/perturb/tiny_configs.py")
    cfg["diagnostics"] = {"linear_steps": 5, "holdout_fraction": 0.0}
    return {**cfg, **overrides}
