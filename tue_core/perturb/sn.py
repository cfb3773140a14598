"""SN: synthetic, linearly separable noise (Yu et al., KDD 2022, "Availability attacks create
shortcuts"; reference ``synthetic_perturbations/cifar_train.py``, spec §4).

Recipe (no model, no optimisation):

1. Draw one Gaussian cluster per class in ``d = 3 * ceil(H/p) * ceil(W/p)`` dimensions (48 for
   32x32 images and patch ``p = 8``) with scikit-learn's ``make_classification`` (all features
   informative, one cluster per class, ``class_sep = 10``, no label noise), seeded.
2. Lay each vector out as a (ceil(H/p), ceil(W/p), 3) grid and upsample every value to a p x p patch
   (nearest), cropped to H x W.
3. Normalise each sample to L2 norm ``eps * sqrt(3 H W)`` (the reference, ``--eps 6`` by default);
   or, with ``norm = "linf"``, scale it to L-inf norm ``eps`` (our bounded variant).
4. Give class ``c``'s k-th training image (dataset order) the k-th synthetic sample of class ``c``.

Deviations: the reference draws ``n`` samples (``2n`` for SVHN) with the global NumPy RNG; we draw
``K * max_c n_c`` so every class has enough samples on imbalanced data, with ``random_state=seed``.
The delta is finally projected so that ``x + delta`` is a valid image, which changes nothing once
the poisoned image is clipped to [0, 255] (:func:`tue_core.perturb.apply.apply_perturbation`).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import Tensor

from tue_core.checkpoint import Checkpoint
from tue_core.perturb.base import MethodOutput
from tue_core.perturb.config import SNConfig
from tue_core.perturb.device_data import DeviceData

log = logging.getLogger(__name__)


def synthetic_features(
    labels: np.ndarray, num_classes: int, dim: int, class_sep: float, seed: int
) -> np.ndarray:
    """One ``dim``-vector per training sample, drawn from its class's Gaussian cluster.

    Returns:
        float32 (N, dim): row ``i`` comes from the cluster of class ``labels[i]``.
    """
    if num_classes > 2**dim:
        raise ValueError(
            f"SN needs num_classes <= 2**dim hypercube vertices, got {num_classes} classes in "
            f"{dim} dimensions (use a smaller patch_size)"
        )
    from sklearn.datasets import make_classification  # lazy: sklearn costs ~2 s to import

    counts = np.bincount(labels, minlength=num_classes)
    n_samples = num_classes * int(counts.max())
    features, synthetic_labels = make_classification(
        n_samples=n_samples,
        n_features=dim,
        n_informative=dim,
        n_redundant=0,
        n_repeated=0,
        n_classes=num_classes,
        n_clusters_per_class=1,
        class_sep=class_sep,
        flip_y=0.0,
        random_state=np.random.RandomState(seed % 2**32),
    )
    out = np.empty((len(labels), dim), dtype=np.float32)
    for cls in range(num_classes):  # K iterations, vectorised within a class
        targets = np.flatnonzero(labels == cls)
        sources = np.flatnonzero(synthetic_labels == cls)[: len(targets)]
        if len(sources) < len(targets):
            raise RuntimeError(f"make_classification gave too few samples of class {cls}")
        out[targets] = features[sources]
    return out


def upsample_patches(
    features: Tensor, grid: tuple[int, int], patch: int, hw: tuple[int, int]
) -> Tensor:
    """(N, gh*gw*3) vectors -> (N, 3, H, W): each value fills one ``patch x patch`` square."""
    n = features.shape[0]
    cells = features.reshape(n, grid[0], grid[1], 3).permute(0, 3, 1, 2)  # (N, 3, gh, gw)
    full = cells.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)
    return full[:, :, : hw[0], : hw[1]].contiguous()  # (N, 3, H, W)


def normalise(delta: Tensor, norm: str, eps: float) -> Tensor:
    """Scale each sample to L2 norm ``eps * sqrt(3 H W)`` (``l2``) or L-inf norm ``eps`` (``linf``)."""
    flat = delta.flatten(1)
    if norm == "l2":
        target = eps * math.sqrt(flat.shape[1])
        scale = target / flat.norm(dim=1).clamp_min(1e-12)
    else:
        scale = eps / flat.abs().amax(dim=1).clamp_min(1e-12)
    return delta * scale[:, None, None, None]


class SyntheticNoise:
    """SN (Yu et al. 2022): class-wise Gaussian clusters upsampled to patches; no surrogate model."""

    def __init__(self, cfg: SNConfig) -> None:
        self.cfg = cfg

    def generate(
        self,
        data: DeviceData,
        *,
        seed: int,
        init: np.ndarray | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> MethodOutput:
        """One seeded draw in closed form: seconds even at paper scale, so ``checkpoint`` is unused."""
        if init is not None:
            raise ValueError("SN is sampled, not optimised: it cannot start from a given delta")
        cfg = self.cfg
        height, width = int(data.images.shape[2]), int(data.images.shape[3])
        grid = (math.ceil(height / cfg.patch_size), math.ceil(width / cfg.patch_size))
        dim = 3 * grid[0] * grid[1]
        labels = data.labels.cpu().numpy()
        features = synthetic_features(labels, data.num_classes, dim, cfg.class_sep, seed)
        raw = upsample_patches(
            torch.from_numpy(features).to(data.device), grid, cfg.patch_size, (height, width)
        )
        delta = normalise(raw, cfg.norm, cfg.eps)
        delta = project_to_valid(delta, data.images)
        log.info("SN: %d samples, %d-d clusters, %s norm %.4g", len(data), dim, cfg.norm, cfg.eps)
        l2_radius = cfg.eps * math.sqrt(3 * height * width)
        return MethodOutput(
            delta=delta,
            norm=cfg.norm,
            eps=cfg.eps if cfg.norm == "linf" else math.inf,
            schedule={"feature_dim": dim, "grid": list(grid), "patch_size": cfg.patch_size},
            extra={"l2_radius": l2_radius if cfg.norm == "l2" else None, "norm_param": cfg.eps},
        )


def project_to_valid(delta: Tensor, images_u8: Tensor, chunk: int = 8192) -> Tensor:
    """``clip(x + delta, 0, 1) - x`` row-chunk by row-chunk (x = uint8 images / 255)."""
    for start in range(0, delta.shape[0], chunk):
        clean = images_u8[start : start + chunk].float() / 255.0
        delta[start : start + chunk] = (clean + delta[start : start + chunk]).clamp(0, 1) - clean
    return delta
