"""TUE released mode with SimCLR/SimSiam: S2 is CSD alone, so training the surrogate (S1) cannot
change delta; it is skipped by default, and training it anyway gives the same delta."""

from __future__ import annotations

import numpy as np
import pytest
from perturb_tiny import make_dataset, tiny_config

from tue_core.perturb import generate
from tue_core.perturb.config import TUEConfig, UCLConfig
from tue_core.plan.cost import DataSize, ssl_minmin_work

DATA = make_dataset()
RELEASED = {"mode": "released", "epochs": 2, "train_steps": 1}


@pytest.mark.parametrize("backbone", ["simclr", "simsiam"])
def test_skipping_s1_keeps_delta_its_csd_and_separability(backbone: str) -> None:
    skipped = generate(tiny_config("tue", backbone, **RELEASED), DATA, "cpu", seed=0)
    trained = generate(
        tiny_config("tue", backbone, **RELEASED, train_surrogate=True), DATA, "cpu", seed=0
    )
    assert np.array_equal(skipped.pset.delta, trained.pset.delta)
    assert skipped.meta["csd_whole_set"] == trained.meta["csd_whole_set"]
    assert skipped.meta["linear_separability"] == trained.meta["linear_separability"]
    assert skipped.meta["schedule"]["surrogate_trained"] is False
    assert skipped.meta["schedule"]["model_steps"] == 0
    assert "ssl_train_loss" not in skipped.meta["losses"]
    assert trained.meta["schedule"]["surrogate_trained"] is True
    assert trained.meta["schedule"]["model_steps"] == 4  # 2 epochs x 2 batches


def test_default_trains_the_surrogate_whenever_s2_uses_it() -> None:
    assert not TUEConfig(backbone="simclr", mode="released").trains_surrogate()
    assert TUEConfig(backbone="moco", mode="released").trains_surrogate()  # weights (1, 1)
    assert TUEConfig(backbone="simclr").trains_surrogate()  # paper mode: both terms
    assert UCLConfig(backbone="simsiam").trains_surrogate()
    assert TUEConfig(backbone="simclr", mode="released", train_surrogate=True).trains_surrogate()


def test_cost_model_counts_no_surrogate_training_when_s1_is_skipped() -> None:
    size = DataSize(train=50_000, test=10_000, image_size=32)
    skipped = ssl_minmin_work(TUEConfig(backbone="simclr", mode="released"), size)
    trained = ssl_minmin_work(
        TUEConfig(backbone="simclr", mode="released", train_surrogate=True), size
    )
    assert [w.kind for w in skipped] == ["csd"]
    assert [w.kind for w in trained] == ["ssl_train:simclr", "csd"]
