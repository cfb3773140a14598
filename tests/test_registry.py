from __future__ import annotations

import pytest

from tue_core.data import DATASETS
from tue_core.registry import Registry


def test_registry_rejects_duplicates_and_lists_names() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("b")(1)
    reg.register("a")(2)
    assert reg.names() == ["a", "b"] and reg.get("a") == 2 and "b" in reg
    with pytest.raises(ValueError, match="thing 'a' is already registered"):
        reg.register("a")(3)
    with pytest.raises(KeyError, match="unknown thing 'c'; valid names: a, b"):
        reg.get("c")


def test_every_dataset_source_is_registered() -> None:
    assert DATASETS.names() == [
        "cifar10",
        "cifar100",
        "digits",
        "imagefolder",
        "svhn",
        "svhn_small",
        "synthetic",
    ]
    with pytest.raises(KeyError, match="unknown dataset source 'mnist'"):
        DATASETS.get("mnist")
