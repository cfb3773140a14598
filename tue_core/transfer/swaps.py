"""Intra- and inter-class swapping of perturbations (paper §3.2.2, Fig. 2(b)/(c), Tables 2 and 5).

Both functions return ``source_of``: int64 (N,), image ``i`` receives ``delta[source_of[i]]``.

**Intra-class swap** ``s_intra(i) = j, j != i, y_j = y_i``: a uniformly random derangement inside
every class, so every image gets the perturbation of *another* image of its own class and the map
is a permutation of ``0..N-1``. A class with a single image has no other image to take from; that
is an error, never a silent fixed point.

**Inter-class swap** ``s_inter(i) = j, y_j != y_i``: a class-level construction. A uniformly
random derangement ``sigma`` of the classes present (``sigma(c) != c``) is drawn, and the images
of class ``c`` receive the perturbations of the images of class ``sigma(c)``: as a random
permutation of them when both classes have the same size, a random subset without repetition
when class ``c`` is smaller, and by cycling through independent random permutations (each source
used ``floor`` or ``ceil`` of ``n_c / n_sigma(c)`` times) when it is larger. Whole classes move
together, which is what "permutes the correspondence between classes" (Fig. 2(c)) describes and
what Table 2 implies: SN's class-wise noise stays unlearnable under the inter-class swap (13.15%),
which would not happen if each image drew a perturbation from a random other class. The result
is a permutation of ``0..N-1`` whenever every class has the size of its image under ``sigma``,
hence always when all classes have the same size (CIFAR-10, CIFAR-100).
"""

from __future__ import annotations

import numpy as np

from tue_core.transfer.sampling import balanced_draw, class_members, derangement


def _check_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a non-empty 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if labels.min() < 0:
        raise ValueError(f"labels must be >= 0, got minimum {labels.min()}")
    return labels.astype(np.int64, copy=False)


def intra_class_swap(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``source_of`` with ``source_of[i] != i`` and ``labels[source_of[i]] == labels[i]``.

    Raises ValueError naming the first class that has exactly one sample.
    """
    labels = _check_labels(labels)
    num_classes = int(labels.max()) + 1
    members = class_members(labels, num_classes)
    singletons = [c for c, idx in enumerate(members) if len(idx) == 1]
    if singletons:
        raise ValueError(
            f"intra-class swap needs at least 2 samples per class; class {singletons[0]} has 1 "
            f"sample (classes with one sample: {singletons})"
        )
    source_of = np.empty(len(labels), dtype=np.int64)
    for idx in members:
        if len(idx):
            source_of[idx] = idx[derangement(len(idx), rng)]
    return source_of


def inter_class_permutation(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``sigma``: int64 (num_classes,), a derangement of the classes present; absent classes map to
    themselves. Raises ValueError when fewer than two classes are present."""
    labels = _check_labels(labels)
    present = np.flatnonzero(np.bincount(labels))  # classes with at least one sample
    if len(present) < 2:
        raise ValueError(
            f"inter-class swap needs at least 2 classes, got {len(present)} "
            f"(classes present: {present.tolist()})"
        )
    sigma = np.arange(int(labels.max()) + 1, dtype=np.int64)
    sigma[present] = present[derangement(len(present), rng)]
    return sigma


def inter_class_swap(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(source_of, sigma)``: image ``i`` of class ``c`` gets a perturbation of class ``sigma[c]``.

    See the module docstring for the construction.
    """
    labels = _check_labels(labels)
    sigma = inter_class_permutation(labels, rng)
    members = class_members(labels, len(sigma))
    source_of = np.empty(len(labels), dtype=np.int64)
    for c, idx in enumerate(members):
        if len(idx):
            source_of[idx] = balanced_draw(members[sigma[c]], len(idx), rng)
    return source_of, sigma
