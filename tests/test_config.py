"""Config validation: every shipped config is valid; bad ones fail naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tue_core.config import ConfigError, load_config
from tue_core.schema import render

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / "config.yaml", *sorted((ROOT / "config").glob("*.yaml"))]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_validate(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.datasets and cfg.scale.name


def test_paper_config_is_paper_scale() -> None:
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.scale.name == "paper"
    assert {cfg.datasets[cfg.roles[r]].source for r in cfg.roles} == {
        "cifar10",
        "cifar100",
        "svhn",
        "svhn_small",
    }


def raw(**overrides) -> dict:
    base = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    base.update(overrides)
    return base


def test_misspelled_key_names_the_key_and_valid_keys() -> None:
    bad = raw()
    bad["datasets"]["digits"]["test_fractoin"] = 0.3
    with pytest.raises(
        ConfigError,
        match=r"datasets\.digits\..*unknown key\(s\) 'test_fractoin'; valid keys: .*test_fraction",
    ):
        load_config(bad)


def test_unknown_top_level_key() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown key\(s\) 'sead'; valid keys: datasets, defenses, device"
    ):
        load_config(raw(sead=1))


def test_unknown_dataset_source_lists_the_valid_ones() -> None:
    bad = raw()
    bad["datasets"]["digits"] = {"source": "mnist"}
    with pytest.raises(
        ConfigError, match=r"datasets\.digits.*'mnist'.*'cifar10', 'cifar100', 'svhn'"
    ):
        load_config(bad)


def test_wrong_type_names_the_key() -> None:
    bad = raw()
    bad["datasets"]["synthetic10"]["train_per_class"] = "many"
    with pytest.raises(ConfigError, match=r"datasets\.synthetic10\.synthetic\.train_per_class"):
        load_config(bad)


def test_role_must_name_a_configured_dataset() -> None:
    with pytest.raises(ConfigError, match=r"roles\.svhn names dataset 'svhn2'.*defined: digits"):
        bad = raw()
        load_config(raw(roles={**bad["roles"], "svhn": "svhn2"}))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "schemas" / "config.schema.json").read_text()
    assert committed == render(), "run `make schema` and commit schemas/config.schema.json"


def with_evaluation(**keys) -> dict:
    base = raw()
    base["evaluation"] = {**base.get("evaluation", {}), **keys}
    return base


def test_supervised_epochs_per_target_dataset() -> None:
    cfg = load_config(with_evaluation(supervised_epochs={"digits": 7}))
    default = cfg.evaluation.supervised
    assert cfg.evaluation.supervised_for("digits").epochs == 7 != default.epochs
    assert cfg.evaluation.supervised_for("synthetic10") == default
    assert cfg.evaluation.supervised_for("digits").batch_size == default.batch_size


def test_supervised_epochs_must_name_a_configured_dataset() -> None:
    with pytest.raises(
        ConfigError, match=r"evaluation\.supervised_epochs\.digitz names dataset 'digitz'.*defined"
    ):
        load_config(with_evaluation(supervised_epochs={"digitz": 7}))
    with pytest.raises(ConfigError, match=r"evaluation\.supervised_epochs\.digits"):
        load_config(with_evaluation(supervised_epochs={"digits": 0}))
