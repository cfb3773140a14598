"""The two numbers printed on each t-SNE panel (Figures 3-5) when the sidecar does not hold them.

* :func:`csd`: the Classwise Separability Discriminant, paper Eq. 2-4: per class the centroid
  ``c_k`` and spread ``sigma_k`` (mean Euclidean distance to ``c_k``), ``d_ij = |c_i - c_j|``,
  CSD = mean over ordered pairs ``i != j`` of ``(sigma_i + sigma_j) / d_ij``; lower = more
  separable. The ``1e-5`` stabiliser of the reference code is added to numerator and
  denominator so the value equals the one the generators record.
* :func:`linear_separability`: the SN authors' diagnostic (Yu et al., 2021), as used in §3.2.2:
  min-max normalise the flattened perturbations, fit a linear classifier, report its
  **training** accuracy (a fraction). With fewer points than dimensions (a t-SNE subsample of
  a few thousand 3x32x32 perturbations) any labelling is separable, so random sample-wise noise
  scores 100% too; the held-out accuracy of a second fit on a stratified split is returned
  beside it and tells class structure from memorisation.

The fits run single-threaded by default (``threads``): the result is then the same on every machine,
and a shared CPU box is not flooded with spinning OpenMP threads.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

CSD_STABILISER = 1e-5


def _flat(delta: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    delta = np.asarray(delta)
    labels = np.asarray(labels)
    if delta.ndim < 2 or labels.shape != delta.shape[:1] or len(labels) == 0:
        raise ValueError(
            f"expected delta (N, ...) and labels (N,) with N > 0, got {delta.shape} and {labels.shape}"
        )
    return delta.reshape(len(delta), -1).astype(np.float64), labels.astype(np.int64)


def csd(delta: np.ndarray, labels: np.ndarray) -> float:
    """Eq. 4 over the classes present in ``labels`` (0.0 when fewer than two are present)."""
    flat, labels = _flat(delta, labels)  # (N, D), (N,)
    classes, inverse = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        return 0.0
    counts = np.bincount(inverse).astype(np.float64)  # (M,)
    centroids = np.zeros((len(classes), flat.shape[1]))
    np.add.at(centroids, inverse, flat)
    centroids /= counts[:, None]  # (M, D)
    distances = np.linalg.norm(flat - centroids[inverse], axis=1)  # (N,)
    spreads = np.bincount(inverse, weights=distances) / counts  # (M,)
    gaps = np.linalg.norm(centroids[:, None, :] - centroids[None, :, :], axis=-1)  # (M, M)
    ratio = (spreads[:, None] + spreads[None, :] + CSD_STABILISER) / (gaps + CSD_STABILISER)
    off_diagonal = ~np.eye(len(classes), dtype=bool)
    return float(ratio[off_diagonal].mean())


@dataclass(frozen=True)
class LinearSeparability:
    """Accuracies (fractions) of a linear classifier that sees only the perturbations."""

    train: float  # the SN diagnostic: fit and score on the same points
    heldout: float | None  # fit on 70%, score on the other 30% (None: too few points)


def _fit_score(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    seed: int,
    max_iter: int,
) -> float:
    model = LogisticRegression(max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():  # an unconverged fit still gives a (lower) accuracy
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train_x, train_y)
    return float(model.score(test_x, test_y))


def linear_separability(
    delta: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    max_iter: int = 200,
    heldout_fraction: float = 0.3,
    threads: int = 1,
) -> LinearSeparability:
    """Train (and held-out) accuracy of a logistic regression on the min-max normalised delta."""
    flat, labels = _flat(delta, labels)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        return LinearSeparability(train=1.0, heldout=None)
    low, high = flat.min(), flat.max()
    features = (flat - low) / max(high - low, 1e-12)  # (N, D) in [0, 1]
    with threadpool_limits(limits=threads):
        train = _fit_score(features, labels, features, labels, seed, max_iter)
        n_test = round(heldout_fraction * len(labels))
        if counts.min() < 2 or n_test < len(classes) or len(labels) - n_test < len(classes):
            return LinearSeparability(train=train, heldout=None)
        fit_x, test_x, fit_y, test_y = train_test_split(
            features, labels, test_size=n_test, random_state=seed, stratify=labels
        )
        heldout = _fit_score(fit_x, fit_y, test_x, test_y, seed, max_iter)
    return LinearSeparability(train=train, heldout=heldout)
