"""Config validation: paper defaults, per-backbone schedules, and clear errors on bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tue_core.perturb import PERTURBATIONS, parse_config
from tue_core.perturb.config import EMNConfig, SNConfig, TUEConfig, UCLConfig


def test_registry_matches_config_union() -> None:
    assert PERTURBATIONS.names() == ["classwise_random", "emn", "sn", "tue", "tue_patch", "ucl"]
    for name in PERTURBATIONS.names():
        cfg = parse_config(
            {"method": name, **({"backbone": "simclr"} if name.startswith(("ucl", "tue")) else {})}
        )
        assert cfg.method == name


def test_appendix_b1_schedules() -> None:
    simclr = TUEConfig(backbone="simclr")
    assert (simclr.epochs, simclr.train_steps, simclr.pgd_steps, simclr.random_start) == (
        40,
        20,
        20,
        True,
    )
    moco = TUEConfig(backbone="moco")
    assert (moco.epochs, moco.train_steps, moco.pgd_steps, moco.random_start) == (
        200,
        100,
        5,
        False,
    )
    assert moco.drop_last
    simsiam = TUEConfig(backbone="simsiam")
    assert (simsiam.epochs, simsiam.train_steps, simsiam.pgd_steps) == (50, 25, 20)
    assert simsiam.pgd_train_mode and not simclr.pgd_train_mode
    assert UCLConfig(backbone="moco").pgd_steps == 10  # "UCL with MoCo uses PGD-10"
    assert UCLConfig(backbone="simclr").epochs == 40
    emn = EMNConfig()
    assert (emn.pgd_steps, emn.train_steps, emn.stop_accuracy) == (20, 10, 0.99)
    assert emn.eps == pytest.approx(8 / 255) and emn.step_size == pytest.approx(0.8 / 255)
    assert TUEConfig(backbone="moco", epochs=2).epochs == 2  # explicit values win


def test_tue_modes() -> None:
    assert TUEConfig(backbone="simclr").mode == "paper"
    assert TUEConfig(backbone="simclr").weights() == (1.0, 0.1)
    assert TUEConfig(backbone="simclr", mode="released").weights() == (0.0, 0.1)
    assert TUEConfig(backbone="simsiam", mode="released").weights() == (0.0, 0.1)
    assert TUEConfig(backbone="moco", mode="released").weights() == (1.0, 1.0)
    assert TUEConfig(backbone="moco", ssl_weight=2.0, csd_weight=0.5).weights() == (2.0, 0.5)
    with pytest.raises(ValidationError, match="mode 'paper' optimises both terms"):
        TUEConfig(backbone="simclr", ssl_weight=0.0)
    with pytest.raises(ValidationError, match="mode 'released' fixes"):
        TUEConfig(backbone="simclr", mode="released", csd_weight=1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": 0.0}, r"eps must lie in \(0, 1\]"),
        ({"eps": 2.0}, r"eps must lie in \(0, 1\]"),
        ({"step_size": 0.0}, r"step_size must lie in \(0, eps\]"),
        ({"step_size": 16 / 255}, r"step_size must lie in \(0, eps\]"),
        ({"pgd_steps": 0}, "pgd_steps = 0 is a schedule that never updates delta"),
        ({"max_rounds": 0}, "max_rounds = 0 is a schedule that never updates delta"),
        ({"surplus": 1}, "surplus"),
    ],
)
def test_emn_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EMNConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs = 0 is a schedule that never updates delta"),
        ({"pgd_steps": 0}, "pgd_steps = 0 is a schedule that never updates delta"),
        ({"backbone": "byol"}, "simclr"),
        ({"backbone": "moco", "ssl": {"name": "simclr"}}, "does not match backbone"),
        ({"backbone": "moco", "batch_size": 12}, "divisible by ssl.bn_splits = 8"),
        (
            {"backbone": "moco", "batch_size": 16, "ssl": {"name": "moco", "queue_size": 8}},
            "enqueues 16 keys per step but ssl.queue_size is 8",
        ),
    ],
)
def test_ssl_method_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TUEConfig(**{"backbone": "simclr", **kwargs})


def test_sn_and_unknown_method() -> None:
    with pytest.raises(ValidationError, match=r"eps must lie in \(0, 1\]"):
        SNConfig(eps=-1.0)
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        parse_config({"method": "nope"})
