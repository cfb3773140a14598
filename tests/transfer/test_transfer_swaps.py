"""Intra- and inter-class swaps: no fixed points, class constraints, permutations, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tue_core.transfer.sampling import balanced_draw, derangement, distinct_partner
from tue_core.transfer.swaps import inter_class_swap, intra_class_swap

EQUAL = np.repeat(np.arange(10), 5)  # 10 classes x 5 samples
UNEQUAL = np.concatenate([np.full(3, 0), np.full(7, 1), np.full(5, 2), np.full(2, 3)])


def _shuffled(labels: np.ndarray, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).permutation(labels)


@pytest.mark.parametrize("labels", [EQUAL, _shuffled(EQUAL), UNEQUAL, _shuffled(UNEQUAL)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intra_swap_is_a_derangement_inside_classes(labels, seed):
    source_of = intra_class_swap(labels, np.random.default_rng(seed))
    assert source_of.dtype == np.int64
    assert not np.any(source_of == np.arange(len(labels)))  # no fixed point
    assert np.array_equal(labels[source_of], labels)  # y_j == y_i
    assert np.array_equal(np.sort(source_of), np.arange(len(labels)))  # a permutation


def test_intra_swap_handles_two_sample_classes_and_gaps():
    labels = np.array([0, 0, 2, 2, 2])  # class 1 absent, class 0 has two samples
    source_of = intra_class_swap(labels, np.random.default_rng(0))
    assert source_of[:2].tolist() == [1, 0]
    assert not np.any(source_of == np.arange(5))


def test_intra_swap_refuses_a_single_sample_class():
    labels = np.array([0, 0, 1, 2, 2])
    with pytest.raises(ValueError, match=r"class 1 has 1 sample"):
        intra_class_swap(labels, np.random.default_rng(0))


@pytest.mark.parametrize("labels", [EQUAL, _shuffled(EQUAL), UNEQUAL, _shuffled(UNEQUAL)])
@pytest.mark.parametrize("seed", [0, 3])
def test_inter_swap_moves_whole_classes_to_another_class(labels, seed):
    source_of, sigma = inter_class_swap(labels, np.random.default_rng(seed))
    present = np.unique(labels)
    assert not np.any(sigma[present] == present)  # class-level derangement
    assert np.array_equal(np.sort(sigma[present]), present)
    assert np.all(labels[source_of] != labels)  # y_j != y_i, hence j != i
    assert np.array_equal(labels[source_of], sigma[labels])  # whole classes move together
    for c in present:  # sources used evenly: floor/ceil of n_c / n_sigma(c)
        used = np.bincount(source_of[labels == c], minlength=len(labels))[labels == sigma[c]]
        assert used.max() - used.min() <= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inter_swap_is_a_permutation_when_class_sizes_are_equal(seed):
    source_of, _ = inter_class_swap(_shuffled(EQUAL), np.random.default_rng(seed))
    assert np.array_equal(np.sort(source_of), np.arange(len(EQUAL)))


def test_inter_swap_refuses_a_single_class():
    with pytest.raises(ValueError, match=r"at least 2 classes, got 1 \(classes present: \[3\]\)"):
        inter_class_swap(np.full(6, 3), np.random.default_rng(0))


def test_swaps_are_deterministic_given_the_seed():
    labels = _shuffled(UNEQUAL)
    a = intra_class_swap(labels, np.random.default_rng(7))
    b = intra_class_swap(labels, np.random.default_rng(7))
    c = intra_class_swap(labels, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(
        inter_class_swap(labels, np.random.default_rng(7))[0],
        inter_class_swap(labels, np.random.default_rng(7))[0],
    )


def test_derangement_and_helpers():
    rng = np.random.default_rng(0)
    for n in (2, 3, 50):
        perm = derangement(n, rng)
        assert np.array_equal(np.sort(perm), np.arange(n)) and not np.any(perm == np.arange(n))
    with pytest.raises(ValueError, match="at least 2 elements, got 1"):
        derangement(1, rng)
    pool = np.array([4, 9, 2])
    draw = balanced_draw(pool, 8, rng)
    assert np.bincount(draw, minlength=10)[pool].tolist() in ([3, 3, 2], [3, 2, 3], [2, 3, 3])
    assert len(set(balanced_draw(pool, 3, rng).tolist())) == 3
    partner = distinct_partner(pool, np.array([4, 9, 2, 2, 4]), rng)
    assert np.all(partner != np.array([4, 9, 2, 2, 4])) and np.all(np.isin(partner, pool))


def test_derangement_fallback_is_a_single_cycle(monkeypatch):
    import tue_core.transfer.sampling as sampling

    monkeypatch.setattr(sampling, "_MAX_DERANGEMENT_TRIES", 0)
    perm = sampling.derangement(7, np.random.default_rng(0))
    assert not np.any(perm == np.arange(7))
    visited, k = {0}, int(perm[0])
    while k != 0:
        visited.add(k)
        k = int(perm[k])
    assert len(visited) == 7
