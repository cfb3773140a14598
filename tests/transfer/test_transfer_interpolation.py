"""Strategies direct / more_samples (Eq. 8) / more_classes (Eq. 7): counts, convexity, distinct."""

from __future__ import annotations

import numpy as np
import pytest

from tue_core.perturb.artifact import PerturbationSet
from tue_core.transfer import (
    STRATEGIES,
    MoreClasses,
    TransferConfig,
    plan_transfer,
    transfer_perturbations,
)

EPS = 8 / 255
SOURCE_LABELS = np.repeat(np.arange(10), 5)  # 10 classes x 5 samples


def _source(labels: np.ndarray = SOURCE_LABELS, hw: int = 8, seed: int = 0) -> PerturbationSet:
    """Class-wise sign patterns plus per-sample noise, saturated at +-eps like real L-inf sets."""
    rng = np.random.default_rng(seed)
    patterns = rng.choice([-1.0, 1.0], size=(int(labels.max()) + 1, 3, hw, hw))
    noise = rng.uniform(-0.5, 0.5, size=(len(labels), 3, hw, hw))
    delta = np.clip(EPS * (patterns[labels] + noise), -EPS, EPS).astype(np.float32)
    return PerturbationSet(delta=delta, labels=labels.astype(np.int64), eps=EPS)


def _target(counts: list[int], seed: int = 0) -> np.ndarray:
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(labels).astype(np.int64)


def test_registry_lists_the_strategies():
    assert STRATEGIES.names() == ["direct", "more_classes", "more_samples"]
    with pytest.raises(ValueError, match=r"unknown transfer strategy 'nope'; valid: auto, direct"):
        TransferConfig(strategy="nope")


def test_direct_uses_each_source_of_the_same_class_at_most_once():
    target = _target([5, 4, 3, 5, 5, 0, 1, 5, 2, 5])
    assignment = plan_transfer(SOURCE_LABELS, target, 10, "direct", seed=0)
    assert np.array_equal(SOURCE_LABELS[assignment.source_i], target)
    assert np.unique(assignment.source_i).size == len(target)  # no source used twice
    assert np.all(assignment.alpha == 1) and np.array_equal(
        assignment.source_i, assignment.source_j
    )
    full = plan_transfer(SOURCE_LABELS, _target([5] * 10), 10, "direct", seed=0)
    assert np.array_equal(np.sort(full.source_i), np.arange(50))  # a permutation when sizes match


def test_direct_refuses_a_larger_class():
    with pytest.raises(ValueError, match=r"target class 2 has 6 samples but source class 2 only 5"):
        plan_transfer(SOURCE_LABELS, _target([5, 5, 6]), 3, "direct", seed=0)


def test_more_samples_uses_originals_first_then_eq8_inside_the_class():
    counts = [5, 12, 3, 5, 5, 5, 5, 5, 5, 28]  # "SVHN": classes larger than the source's 5
    target = _target(counts)
    source = _source()
    pset, assignment = transfer_perturbations(source, target, 10, (8, 8), "auto", seed=0)
    assert assignment.kind == "more_samples"
    assert len(pset) == len(target) and np.array_equal(pset.labels, target)
    assert np.array_equal(np.bincount(pset.labels, minlength=10), counts)  # exact counts
    assert np.array_equal(SOURCE_LABELS[assignment.source_i], target)  # y_i = y_target
    assert np.array_equal(SOURCE_LABELS[assignment.source_j], target)  # y_j = y_i (Eq. 8)
    mixed = assignment.interpolated
    assert mixed.sum() == (12 - 5) + (28 - 5)
    assert np.all(assignment.source_i[mixed] != assignment.source_j[mixed])
    for c in (1, 9):  # every original of a grown class is used as is exactly once
        pure = (target == c) & ~mixed
        assert np.array_equal(
            np.sort(assignment.source_i[pure]), np.flatnonzero(np.equal(SOURCE_LABELS, c))
        )
    assert np.abs(pset.delta).max() <= EPS  # convexity
    expected = (
        assignment.alpha[:, None, None, None] * source.delta[assignment.source_i]
        + (1 - assignment.alpha[:, None, None, None]) * source.delta[assignment.source_j]
    )
    np.testing.assert_allclose(pset.delta, expected, atol=1e-7)


def test_more_samples_alpha_range_is_respected():
    config = TransferConfig(
        strategy="more_samples", more_samples={"alpha_low": 0.2, "alpha_high": 0.4}
    )
    assignment = plan_transfer(SOURCE_LABELS, _target([40] * 10), 10, config, seed=0)
    alphas = assignment.alpha[assignment.interpolated]
    assert alphas.size == 350 and alphas.min() >= 0.2 and alphas.max() <= 0.4
    with pytest.raises(ValueError, match=r"alpha_low \(0.5\) must not exceed alpha_high \(0.1\)"):
        TransferConfig(more_samples={"alpha_low": 0.5, "alpha_high": 0.1})


def test_more_samples_needs_two_sources_and_refuses_more_classes():
    one_each = np.array([0, 1, 1], dtype=np.int64)
    with pytest.raises(ValueError, match=r"class 0 has 1 source perturbation, Eq. 8 needs 2"):
        plan_transfer(one_each, np.array([0, 0, 1]), 2, "more_samples", seed=0)
    with pytest.raises(ValueError, match=r"target has 11 classes but the source only 10"):
        plan_transfer(SOURCE_LABELS, _target([1] * 11), 11, "more_samples", seed=0)


def test_more_classes_makes_exactly_100_distinct_classes_from_10():
    counts = [6] * 100
    target = _target(counts)
    source = _source()
    pset, assignment = transfer_perturbations(source, target, 100, (8, 8), "auto", seed=0)
    assert assignment.kind == "more_classes"
    assert np.array_equal(np.bincount(pset.labels, minlength=100), counts)  # exact counts
    assert np.abs(pset.delta).max() <= EPS  # convexity
    # 10 pure classes + 45 pairs x weights {1/3, 2/3}: every pattern used exactly once
    a, b, w = assignment.class_a, assignment.class_b, assignment.class_weight
    assert np.array_equal(a[:10], np.arange(10)) and np.array_equal(b[:10], np.arange(10))
    patterns = {(int(x), int(y), round(float(z), 4)) for x, y, z in zip(a, b, w, strict=True)}
    assert len(patterns) == 100
    assert sorted({round(float(z), 4) for z in w[10:]}) == [0.3333, 0.6667]
    assert np.all(a[10:] < b[10:])
    # each sample follows its class pattern (Eq. 7): y_i = a, y_j = b, alpha in its own band
    assert np.array_equal(SOURCE_LABELS[assignment.source_i], a[target])
    assert np.array_equal(SOURCE_LABELS[assignment.source_j], b[target])
    pair = a[target] != b[target]
    half_band = 0.5 / (2 * 3)
    assert np.all(np.abs(assignment.alpha[pair] - w[target][pair]) <= half_band + 1e-6)
    assert np.unique(assignment.alpha[pair]).size > 1  # alpha varies inside a class
    # distinct classes stay distinct: all class centroids differ
    centroids = np.stack([pset.delta[target == k].mean(0).ravel() for k in range(100)])
    gaps = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)
    assert gaps[~np.eye(100, dtype=bool)].min() > 0.1 * EPS


def test_more_classes_alpha_bands_of_one_pair_are_disjoint():
    strategy = MoreClasses(max_weights_per_pair=3, alpha_spread=0.9)
    (a, b, w), levels = strategy.patterns(3, 3 + 9, np.random.default_rng(0))  # 3 pairs x 3
    assert levels == 3
    half = 0.9 / (2 * (levels + 1))
    for pair in {(int(x), int(y)) for x, y in zip(a[3:], b[3:], strict=True)}:
        centres = np.sort(w[3:][(a[3:] == pair[0]) & (b[3:] == pair[1])])
        assert np.all(np.diff(centres) > 2 * half)  # bands do not overlap
        assert centres[0] - half > 0 and centres[-1] + half < 1  # and exclude the pure classes


def test_more_classes_uses_the_fewest_weights_and_a_seeded_subset():
    strategy = MoreClasses()
    (a, b, w), levels = strategy.patterns(10, 30, np.random.default_rng(0))
    assert levels == 1 and np.allclose(w[10:], 0.5)  # 20 of the 45 pairs at w = 1/2
    assert len({(int(x), int(y)) for x, y in zip(a[10:], b[10:], strict=True)}) == 20
    again = strategy.patterns(10, 30, np.random.default_rng(0))[0]
    assert all(np.array_equal(x, y) for x, y in zip((a, b, w), again, strict=True))


def test_more_classes_refuses_more_classes_than_it_can_make():
    with pytest.raises(
        ValueError, match=r"target has 101 classes but 10 source classes give at most 100"
    ):
        plan_transfer(SOURCE_LABELS, _target([1] * 101), 101, "more_classes", seed=0)
    config = TransferConfig(more_classes={"max_weights_per_pair": 3})
    assert (
        plan_transfer(SOURCE_LABELS, _target([1] * 101), 101, config, seed=0).kind == "more_classes"
    )


def test_more_classes_fills_larger_pure_classes_with_eq8():
    target = _target([9] + [2] * 19)
    assignment = plan_transfer(SOURCE_LABELS, target, 20, "more_classes", seed=0)
    class0 = target == 0
    assert np.sum(assignment.interpolated & class0) == 4
    assert np.all(SOURCE_LABELS[assignment.source_j[class0]] == 0)


@pytest.mark.parametrize("strategy", ["direct", "more_samples", "more_classes"])
def test_same_seed_same_assignment(strategy):
    num_classes = 14 if strategy == "more_classes" else 10
    target = _target([4] * num_classes if strategy == "direct" else [7] * num_classes)
    first = plan_transfer(SOURCE_LABELS, target, num_classes, strategy, seed=5)
    second = plan_transfer(SOURCE_LABELS, target, num_classes, strategy, seed=5)
    other = plan_transfer(SOURCE_LABELS, target, num_classes, strategy, seed=6)
    for name in ("source_i", "source_j", "alpha", "class_a", "class_b", "class_weight"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    assert not np.array_equal(first.source_i, other.source_i)
