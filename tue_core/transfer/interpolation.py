"""Transfer strategies: which source perturbation(s) each target sample gets (paper §4.2, Eqs. 7-8).

A strategy turns (source labels, target labels) into an :class:`Assignment`; it never touches the
perturbation values, so it is cheap, seeded and saved as is. Strategies are pluggable through
:data:`tue_core.transfer.strategies.STRATEGIES` (name -> builder taking a ``TransferConfig``); this
module imports neither that registry nor the config.

* ``direct``: target class ``k`` takes the perturbations of source class ``k``, each at most once
  (a random subset, or a random permutation when the sizes agree). Refuses a target class that is
  larger than its source class.
* ``more_samples`` (Eq. 8): as ``direct``, and a target class larger than its source class first
  uses every source perturbation of the class once, then fills the rest with
  ``alpha * delta_i + (1 - alpha) * delta_j``, ``i != j`` both of that class, ``alpha`` uniform in
  ``[alpha_low, alpha_high]``. Which target samples get originals is random.
* ``more_classes`` (Eq. 7): target classes ``0 .. K_s-1`` are the source classes (pure, filled as
  in ``more_samples``). Each further class gets its own *pattern* ``(a, b, w)``: an unordered pair
  of source classes ``a < b`` and a nominal weight ``w = l / (W + 1)``, ``l = 1..W``, where ``W`` is
  the smallest number of weights per pair (at most ``max_weights_per_pair``) that gives enough
  patterns; when there are more patterns than needed a seeded random subset is used, in random
  order. A sample of pattern ``(a, b, w)`` is ``alpha * delta_i + (1 - alpha) * delta_j`` with
  ``i`` from class ``a``, ``j`` from class ``b`` (each source used evenly) and ``alpha`` uniform in
  ``[w - h, w + h]``, ``h = alpha_spread / (2 (W + 1))``. The alpha bands of one pair are disjoint
  and exclude 0 and 1, so no two target classes share a pattern. CIFAR-10 -> CIFAR-100:
  10 pure classes + 45 pairs x 2 weights (1/3, 2/3) = exactly 100 classes.
Every result stays inside ``[-eps, eps]`` by convexity.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Protocol

import numpy as np

from tue_core.transfer.assignment import Assignment
from tue_core.transfer.sampling import balanced_draw, class_members, distinct_partner


class TransferStrategy(Protocol):
    name: str

    def max_classes(self, num_source_classes: int) -> int:
        """The most target classes this strategy can serve from ``num_source_classes``."""

    def assign(
        self,
        source_labels: np.ndarray,
        target_labels: np.ndarray,
        target_num_classes: int,
        rng: np.random.Generator,
    ) -> Assignment:
        """The per-sample assignment; labels are validated by the caller."""


@dataclass(frozen=True)
class _ClassFill:
    """(source_i, source_j, alpha) for the samples of one target class, in target order."""

    source_i: np.ndarray
    source_j: np.ndarray
    alpha: np.ndarray


def _fill_pure_class(
    kind: str,
    label: int,
    pool: np.ndarray,
    n: int,
    alpha_range: tuple[float, float] | None,
    rng: np.random.Generator,
) -> _ClassFill:
    """``n`` target samples from source pool ``pool`` (one class): originals, then Eq. 8."""
    m = len(pool)
    if n <= m:
        chosen = balanced_draw(pool, n, rng)  # distinct sources
        return _ClassFill(chosen, chosen.copy(), np.ones(n, dtype=np.float32))
    if m == 0:
        raise ValueError(f"{kind}: the source has no perturbations of class {label}")
    if alpha_range is None:
        raise ValueError(
            f"{kind}: target class {label} has {n} samples but source class {label} only {m}; "
            "use strategy 'more_samples' to interpolate the missing ones"
        )
    if m < 2:
        raise ValueError(f"{kind}: class {label} has 1 source perturbation, Eq. 8 needs 2")
    extra_i = balanced_draw(pool, n - m, rng)
    extra_j = distinct_partner(pool, extra_i, rng)
    extra_alpha = rng.uniform(*alpha_range, size=n - m)
    originals = rng.permutation(pool)  # every source perturbation of the class once
    order = rng.permutation(n)  # which target samples get the originals
    return _ClassFill(
        np.concatenate([originals, extra_i])[order],
        np.concatenate([originals, extra_j])[order],
        np.concatenate([np.ones(m), extra_alpha])[order].astype(np.float32),
    )


def _class_to_class(
    kind: str,
    source_labels: np.ndarray,
    target_labels: np.ndarray,
    target_num_classes: int,
    rng: np.random.Generator,
    alpha_range: tuple[float, float] | None,
) -> Assignment:
    num_source_classes = int(source_labels.max()) + 1
    if target_num_classes > num_source_classes:
        raise ValueError(
            f"{kind}: the target has {target_num_classes} classes but the source only "
            f"{num_source_classes}; use strategy 'more_classes'"
        )
    patterns = np.arange(target_num_classes, dtype=np.int64)
    weights = np.ones(target_num_classes, dtype=np.float32)
    return _assemble(
        kind, source_labels, target_labels, (patterns, patterns, weights), 1, 0.0, alpha_range, rng
    )


def _assemble(
    kind: str,
    source_labels: np.ndarray,
    target_labels: np.ndarray,
    patterns: tuple[np.ndarray, np.ndarray, np.ndarray],
    levels: int,
    alpha_spread: float,
    alpha_range: tuple[float, float] | None,
    rng: np.random.Generator,
) -> Assignment:
    """Fill every target class from its pattern ``(class_a, class_b, weight)``."""
    class_a, class_b, weight = patterns
    num_source_classes = int(source_labels.max()) + 1
    sources = class_members(source_labels, num_source_classes)
    targets = class_members(target_labels, len(class_a))
    n = len(target_labels)
    source_i = np.empty(n, dtype=np.int64)
    source_j = np.empty(n, dtype=np.int64)
    alpha = np.empty(n, dtype=np.float32)
    half_band = alpha_spread / (2 * (levels + 1))
    for k, members in enumerate(targets):
        if class_a[k] == class_b[k]:
            fill = _fill_pure_class(kind, k, sources[class_a[k]], len(members), alpha_range, rng)
        else:
            fill = _ClassFill(
                balanced_draw(sources[class_a[k]], len(members), rng),
                balanced_draw(sources[class_b[k]], len(members), rng),
                (weight[k] + rng.uniform(-half_band, half_band, len(members))).astype(np.float32),
            )
        source_i[members], source_j[members], alpha[members] = (
            fill.source_i,
            fill.source_j,
            fill.alpha,
        )
    return Assignment(
        kind, source_i, source_j, alpha, target_labels, len(source_labels), class_a, class_b, weight
    )


@dataclass(frozen=True)
class Direct:
    """Class ``k`` -> class ``k``, each source perturbation used at most once (no interpolation)."""

    name: str = "direct"

    def max_classes(self, num_source_classes: int) -> int:
        return num_source_classes

    def assign(
        self,
        source_labels: np.ndarray,
        target_labels: np.ndarray,
        target_num_classes: int,
        rng: np.random.Generator,
    ) -> Assignment:
        return _class_to_class(
            self.name, source_labels, target_labels, target_num_classes, rng, alpha_range=None
        )


@dataclass(frozen=True)
class MoreSamples:
    """Class ``k`` -> class ``k``; larger target classes are completed with Eq. 8."""

    alpha_low: float = 0.0
    alpha_high: float = 1.0
    name: str = "more_samples"

    def max_classes(self, num_source_classes: int) -> int:
        return num_source_classes

    def assign(
        self,
        source_labels: np.ndarray,
        target_labels: np.ndarray,
        target_num_classes: int,
        rng: np.random.Generator,
    ) -> Assignment:
        return _class_to_class(
            self.name,
            source_labels,
            target_labels,
            target_num_classes,
            rng,
            alpha_range=(self.alpha_low, self.alpha_high),
        )


@dataclass(frozen=True)
class MoreClasses:
    """Source classes as they are, then pair patterns ``(a, b, w)`` (Eq. 7) for the others."""

    max_weights_per_pair: int = 2
    alpha_spread: float = 0.5
    alpha_low: float = 0.0  # Eq. 8 alpha range for pure classes larger than their source class
    alpha_high: float = 1.0
    name: str = "more_classes"

    def max_classes(self, num_source_classes: int) -> int:
        return num_source_classes + comb(num_source_classes, 2) * self.max_weights_per_pair

    def patterns(
        self, num_source_classes: int, target_num_classes: int, rng: np.random.Generator
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int]:
        """``((class_a, class_b, weight), W)`` for target classes ``0 .. target_num_classes-1``."""
        capacity = self.max_classes(num_source_classes)
        if target_num_classes > capacity:
            raise ValueError(
                f"{self.name}: the target has {target_num_classes} classes but "
                f"{num_source_classes} source classes give at most {capacity} with "
                f"max_weights_per_pair={self.max_weights_per_pair}; raise max_weights_per_pair"
            )
        pure = np.arange(min(num_source_classes, target_num_classes), dtype=np.int64)
        needed = target_num_classes - len(pure)
        num_pairs = comb(num_source_classes, 2)
        levels = max(1, -(-needed // num_pairs)) if num_pairs else 1  # W = ceil(needed / pairs)
        first, second = np.triu_indices(num_source_classes, k=1)  # the pairs a < b
        pair_of = np.tile(np.arange(num_pairs), levels)  # (num_pairs * W,)
        level_of = np.repeat(np.arange(1, levels + 1), num_pairs)
        chosen = rng.choice(len(pair_of), size=needed, replace=False)  # random subset, random order
        class_a = np.concatenate([pure, first[pair_of[chosen]]]).astype(np.int64)
        class_b = np.concatenate([pure, second[pair_of[chosen]]]).astype(np.int64)
        weight = np.concatenate([np.ones(len(pure)), level_of[chosen] / (levels + 1)])
        return (class_a, class_b, weight.astype(np.float32)), levels

    def assign(
        self,
        source_labels: np.ndarray,
        target_labels: np.ndarray,
        target_num_classes: int,
        rng: np.random.Generator,
    ) -> Assignment:
        patterns, levels = self.patterns(int(source_labels.max()) + 1, target_num_classes, rng)
        return _assemble(
            self.name,
            source_labels,
            target_labels,
            patterns,
            levels,
            self.alpha_spread,
            (self.alpha_low, self.alpha_high),
            rng,
        )
