"""SSL configs (Table 7 defaults, bad names) and the optimiser / learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from tue_core.ssl.config import (
    MoCoConfig,
    OptimizerConfig,
    SSLTrainConfig,
    paper_pretrain_config,
    parse_ssl_config,
)
from tue_core.ssl.optim import build_optimizer, lr_at


def test_unknown_optimizer_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="rmsprop") as error:
        OptimizerConfig(name="rmsprop")
    assert "'sgd'" in str(error.value) and "'adam'" in str(error.value)


def test_unknown_ssl_method_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="byol") as error:
        parse_ssl_config({"name": "byol"})
    assert all(name in str(error.value) for name in ("simclr", "moco", "simsiam"))
    assert parse_ssl_config({"name": "moco", "head": "mlp"}) == MoCoConfig(head="mlp")


def test_paper_defaults_follow_table_7_with_moco_on_sgd() -> None:
    moco = paper_pretrain_config("moco")
    assert (moco.optimizer.name, moco.optimizer.lr, moco.optimizer.schedule) == (
        "sgd",
        0.3,
        "cosine",
    )
    simclr = paper_pretrain_config("simclr", epochs=5)
    assert (simclr.optimizer.name, simclr.optimizer.lr, simclr.optimizer.schedule) == (
        "sgd",
        0.06,
        "none",
    )
    assert simclr.epochs == 5 and SSLTrainConfig().epochs == 1000
    assert paper_pretrain_config("simsiam").optimizer.schedule == "cosine"
    cfg = MoCoConfig()
    assert (cfg.temperature, cfg.momentum, cfg.queue_size) == (0.2, 0.99, 4096)
    with pytest.raises(KeyError, match="simclr"):
        paper_pretrain_config("byol")


def test_cosine_schedule_is_per_epoch_and_warmup_is_linear_per_step() -> None:
    cosine = OptimizerConfig(lr=0.1, schedule="cosine")
    assert lr_at(cosine, 0, 5, 10, 200) == pytest.approx(0.1)
    assert lr_at(cosine, 100, 0, 10, 200) == pytest.approx(0.05)
    assert lr_at(cosine, 100, 9, 10, 200) == lr_at(cosine, 100, 0, 10, 200)
    assert lr_at(cosine, 150, 0, 10, 200) == pytest.approx(0.05 * (1 + math.cos(math.pi * 0.75)))
    warm = OptimizerConfig(lr=0.4, schedule="cosine", warmup_epochs=2, min_lr_ratio=0.5)
    assert lr_at(warm, 0, 0, 4, 10) == pytest.approx(0.05)
    assert lr_at(warm, 1, 3, 4, 10) == pytest.approx(0.4)
    assert lr_at(warm, 10, 0, 4, 10) == pytest.approx(0.2)
    assert lr_at(OptimizerConfig(lr=0.3), 7, 0, 4, 10) == 0.3


def test_build_optimizer_kinds_and_frozen_models() -> None:
    layer = torch.nn.Linear(2, 2)
    assert isinstance(build_optimizer(layer.parameters(), OptimizerConfig()), torch.optim.SGD)
    adam = build_optimizer(layer.parameters(), OptimizerConfig(name="adam", lr=1e-3))
    assert isinstance(adam, torch.optim.Adam)
    layer.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        build_optimizer(layer.parameters(), OptimizerConfig())
