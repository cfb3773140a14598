"""CSD (Eq. 4) and the linear-separability diagnostic printed on the t-SNE panels."""

from __future__ import annotations

import numpy as np
import pytest

from tue_core.report import separability


def test_csd_matches_eq4_by_hand() -> None:
    # Two classes on a line: class 0 at {0, 2} (centroid 1, spread 1), class 1 at {10, 12}
    # (centroid 11, spread 1): CSD = (1 + 1) / 10 for both ordered pairs.
    delta = np.array([0.0, 2.0, 10.0, 12.0])[:, None]
    labels = np.array([0, 0, 1, 1])
    assert separability.csd(delta, labels) == pytest.approx(0.2, rel=1e-4)
    assert separability.csd(delta, np.zeros(4, dtype=np.int64)) == 0.0


def test_csd_agrees_with_the_generators_diagnostic(labels60: np.ndarray, make_pset) -> None:
    diagnostics = pytest.importorskip("tue_core.perturb.diagnostics")
    torch = pytest.importorskip("torch")
    pset = make_pset(labels60, classwise=0.6, samplewise=0.6)
    ours = separability.csd(pset.delta, pset.labels)
    theirs = diagnostics.dataset_csd(torch.from_numpy(pset.delta), torch.from_numpy(pset.labels))
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_classwise_noise_is_more_separable_than_samplewise(labels60: np.ndarray, make_pset) -> None:
    classwise = make_pset(labels60, classwise=1.0, samplewise=0.2)
    samplewise = make_pset(labels60, classwise=0.0, samplewise=1.0)
    assert separability.csd(classwise.delta, labels60) < separability.csd(
        samplewise.delta, labels60
    )
    good = separability.linear_separability(classwise.delta, labels60)
    noise = separability.linear_separability(samplewise.delta, labels60)
    assert good.train == 1.0 and good.heldout == 1.0
    assert noise.train == 1.0  # fewer points than dimensions: training accuracy says nothing
    assert noise.heldout is not None and noise.heldout < 0.6  # held-out accuracy does


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="labels"):
        separability.csd(np.zeros((4, 3)), np.zeros(3, dtype=np.int64))
