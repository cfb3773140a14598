"""Seeded per-class index helpers shared by the swaps and the interpolation strategies.

Everything here works on whole classes at once (vectorised numpy); the only Python loops in this
package run over classes, never over samples.
"""

from __future__ import annotations

import numpy as np

_MAX_DERANGEMENT_TRIES = 64


def class_members(labels: np.ndarray, num_classes: int) -> list[np.ndarray]:
    """Indices of each class ``0 .. num_classes-1`` in ascending order (empty arrays allowed)."""
    labels = np.asarray(labels, dtype=np.int64)
    order = np.argsort(labels, kind="stable")  # (N,) indices grouped by class
    counts = np.bincount(labels, minlength=num_classes)[:num_classes]
    return np.split(order, np.cumsum(counts)[:-1])


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random permutation ``p`` of ``0..n-1`` with ``p[k] != k`` for every ``k``.

    Rejection sampling of plain permutations (each is a derangement with probability about 1/e,
    so 64 tries fail with probability below 1e-12); if they all fail, a random single cycle
    (Sattolo's construction) is returned, which is also a derangement.
    """
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 elements, got {n}")
    positions = np.arange(n)
    for _ in range(_MAX_DERANGEMENT_TRIES):
        perm = rng.permutation(n)
        if not np.any(perm == positions):
            return perm
    order = rng.permutation(n)  # visiting order of one n-cycle
    cycle = np.empty(n, dtype=np.int64)
    cycle[order] = np.roll(order, -1)
    return cycle


def balanced_draw(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` elements of ``pool``, each used ``floor(n/m)`` or ``ceil(n/m)`` times (m = len(pool)).

    A random permutation of ``pool`` when ``n == m``, a random subset without repetition when
    ``n < m``, and concatenated independent permutations ("cycling") when ``n > m``.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(pool) == 0:
        raise ValueError(f"cannot draw {n} elements from an empty pool")
    rounds = -(-n // len(pool))  # ceil(n / m)
    tiled = np.tile(np.asarray(pool, dtype=np.int64), (rounds, 1))  # (rounds, m)
    return rng.permuted(tiled, axis=1).reshape(-1)[:n]


def distinct_partner(pool: np.ndarray, first: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each element of ``first`` (all in ``pool``), a random *other* element of ``pool``.

    Offsets in ``1 .. m-1`` around the pool guarantee ``partner != first`` without rejection.
    """
    pool = np.asarray(pool, dtype=np.int64)
    m = len(pool)
    if m < 2:
        raise ValueError(f"need at least 2 elements to pick a distinct partner, got {m}")
    sorter = np.argsort(pool)
    position = sorter[np.searchsorted(pool, first, sorter=sorter)]  # index of each first in pool
    offset = rng.integers(1, m, size=len(first))
    return pool[(position + offset) % m]
