"""swap_perturbations / transfer_perturbations / resizing / saving a variant with provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tue_core.data.base import PreparedDataset, load_prepared
from tue_core.perturb.artifact import PerturbationSet, load_perturbation
from tue_core.transfer import (
    Assignment,
    AssignmentError,
    TransferConfig,
    load_assignment,
    resize_perturbation,
    save_variant,
    swap_perturbations,
    transfer_perturbations,
)
from tue_core.transfer.variant import ASSIGNMENT_FILE, PERTURBATION_FILE, POISONED_FILE

EPS = 8 / 255


def _pset(num_classes: int = 10, per_class: int = 5, hw: int = 8, seed: int = 0) -> PerturbationSet:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(num_classes), per_class)).astype(np.int64)
    delta = rng.uniform(-EPS, EPS, size=(len(labels), 3, hw, hw)).astype(np.float32)
    return PerturbationSet(delta=delta, labels=labels, eps=EPS)


@pytest.mark.parametrize("kind", ["intra", "inter"])
def test_swap_perturbations_reassigns_rows(kind):
    pset = _pset()
    swapped, assignment = swap_perturbations(pset, kind, seed=3, labels=pset.labels)
    assert assignment.kind == f"{kind}_swap"
    assert np.array_equal(swapped.labels, pset.labels)
    assert np.array_equal(swapped.delta, pset.delta[assignment.source_i])
    assert not np.any(assignment.source_i == np.arange(len(pset)))
    same_class = pset.labels[assignment.source_i] == pset.labels
    assert same_class.all() if kind == "intra" else not same_class.any()
    assert np.array_equal(np.sort(assignment.source_i), np.arange(len(pset)))  # equal sizes
    assert np.array_equal(assignment.class_a[pset.labels], pset.labels[assignment.source_i])
    again, _ = swap_perturbations(pset, kind, seed=3)
    assert np.array_equal(again.delta, swapped.delta)


def test_swap_refuses_labels_that_do_not_match_and_unknown_kinds():
    pset = _pset()
    wrong = pset.labels.copy()
    wrong[[4, 9]] = (wrong[[4, 9]] + 1) % 10
    with pytest.raises(ValueError, match=r"2 of 50 differ, first at index 4 \(perturbation label"):
        swap_perturbations(pset, "intra", seed=0, labels=wrong)
    with pytest.raises(ValueError, match=r"labels have shape \(50,\) but the dataset labels have"):
        swap_perturbations(pset, "intra", seed=0, labels=wrong[:10])
    with pytest.raises(ValueError, match=r"swap kind must be 'intra' or 'inter', got 'cross'"):
        swap_perturbations(pset, "cross", seed=0)


def test_transfer_validates_labels_before_work():
    pset = _pset()
    with pytest.raises(ValueError, match=r"target labels must lie in \[0, 10\) .* got \[0, 12\]"):
        transfer_perturbations(pset, np.array([0, 12]), 10, (8, 8))
    gappy = PerturbationSet(pset.delta[:3], np.array([0, 2, 2]), EPS)
    with pytest.raises(ValueError, match=r"class 1 has no perturbation"):
        transfer_perturbations(gappy, np.array([0, 1]), 2, (8, 8))


def test_transfer_resizes_and_reclamps():
    pset = _pset(hw=8)
    target = np.repeat(np.arange(10), 5)
    config = TransferConfig(strategy="direct", resize="area")
    up, _ = transfer_perturbations(pset, target, 10, (16, 12), "direct", seed=0)
    down, _ = transfer_perturbations(pset, target, 10, (4, 4), config, seed=0)
    assert up.delta.shape == (50, 3, 16, 12) and down.delta.shape == (50, 3, 4, 4)
    assert up.delta.dtype == np.float32 and np.abs(up.delta).max() <= EPS
    assert np.abs(down.delta).max() <= EPS


def test_resize_perturbation_modes_and_clamp():
    delta = np.zeros((2, 3, 4, 4), np.float32)
    delta[:, :, :2] = 1.0  # out of budget on purpose: the clamp must bring it back
    area = resize_perturbation(delta, (2, 2), "area", eps=0.5)
    assert np.allclose(area[:, :, 0], 0.5) and np.allclose(area[:, :, 1], 0.0)
    bilinear = resize_perturbation(delta, (8, 8), "bilinear", eps=0.25)
    assert bilinear.shape == (2, 3, 8, 8) and np.abs(bilinear).max() <= 0.25
    assert resize_perturbation(delta, (4, 4)) is delta
    with pytest.raises(
        ValueError, match=r"resize mode must be one of bilinear, area, nearest, got 'cubic'"
    ):
        resize_perturbation(delta, (2, 2), "cubic")


def test_nearest_resize_keeps_a_per_pixel_pattern_at_full_amplitude():
    rng = np.random.default_rng(0)
    delta = (rng.choice([-1.0, 1.0], size=(2, 3, 4, 4)) * 0.03).astype(np.float32)
    doubled = resize_perturbation(delta, (8, 8), "nearest", eps=0.03)
    assert np.array_equal(doubled, delta.repeat(2, axis=2).repeat(2, axis=3))
    uneven = resize_perturbation(delta, (6, 6), "nearest", eps=0.03)
    assert np.allclose(np.abs(uneven), 0.03)  # no blending: every pixel is a source pixel
    assert set(np.unique(uneven)) <= set(np.unique(delta))
    blurred = resize_perturbation(delta, (6, 6), "bilinear", eps=0.03)
    assert np.abs(blurred).mean() < np.abs(uneven).mean()


def test_assignment_roundtrip_and_checks(tmp_path):
    pset = _pset()
    _, assignment = transfer_perturbations(pset, np.repeat(np.arange(10), 7), 10, (8, 8))
    from tue_core import io

    path = assignment.save(tmp_path / "a.npz", io.RunMeta(kind="test"))
    loaded = load_assignment(path)
    for name in ("source_i", "source_j", "alpha", "target_labels", "class_a", "class_weight"):
        assert np.array_equal(getattr(loaded, name), getattr(assignment, name))
    assert loaded.kind == "more_samples" and loaded.num_source == 50
    with pytest.raises(AssignmentError, match=r"made for 50 source rows, delta has 3"):
        loaded.materialise(pset.delta[:3])
    with pytest.raises(AssignmentError, match=r"source indices must lie in \[0, 2\)"):
        Assignment(
            "x",
            np.array([2]),
            np.array([0]),
            np.ones(1, np.float32),
            np.array([0]),
            2,
            np.array([0]),
            np.array([0]),
            np.ones(1, np.float32),
        )


def test_save_variant_names_the_source_and_its_hash(tmp_path):
    from tue_core import io

    source = _pset()
    source_path = source.save(tmp_path / "source.npz", io.RunMeta(kind="test"))
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 6).astype(np.int64)
    target = PreparedDataset(
        name="tiny",
        split="train",
        labels=labels,
        class_names=tuple("abcdefghij"),
        images=rng.integers(0, 256, size=(60, 8, 8, 3), dtype=np.uint8),
    )
    pset, assignment = transfer_perturbations(source, labels, 10, (8, 8), seed=1)
    written = save_variant(
        tmp_path / "out",
        pset,
        assignment,
        source_path,
        seed=1,
        config={"strategy": "auto"},
        target=target,
    )
    assert {p.name for p in written.values()} == {PERTURBATION_FILE, ASSIGNMENT_FILE, POISONED_FILE}
    digest = io.sha256_file(source_path)
    for path in written.values():
        sidecar = json.loads(io.sidecar_path(path).read_text())
        assert sidecar["inputs"] == {str(source_path): digest}
        assert sidecar["extra"]["source_perturbation"]["sha256"] == digest
    assert np.array_equal(load_assignment(written["assignment"]).source_i, assignment.source_i)
    assert np.array_equal(load_perturbation(written["perturbation"]).delta, pset.delta)
    poisoned = load_prepared(written["poisoned"])
    assert poisoned.images.dtype == np.uint8
    diff = poisoned.images.astype(int) - target.images.astype(int)
    assert np.abs(diff).max() <= 8 and np.abs(diff).max() > 0
    with pytest.raises(ValueError, match=r"perturbation set has 60 rows but dataset tiny has 59"):
        save_variant(
            tmp_path / "bad", pset, assignment, source_path, target=target.subset(np.arange(59))
        )
