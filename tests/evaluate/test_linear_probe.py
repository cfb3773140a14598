"""Linear probe on a frozen encoder and the SSL evaluation (pre-train, then probe)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tue_core.data.base import PreparedDataset
from tue_core.evaluate.linear_probe import (
    LinearProbeConfig,
    evaluate_ssl,
    linear_probe,
    paper_probe_config,
)
from tue_core.models import build_model
from tue_core.ssl.config import OptimizerConfig, SSLTrainConfig

PROBE = LinearProbeConfig(
    epochs=20,
    batch_size=32,
    augment="none",
    optimizer=OptimizerConfig(name="adam", lr=0.1, weight_decay=0.0),
)


def test_paper_probe_recipes_follow_table_7() -> None:
    simclr, moco = paper_probe_config("simclr"), paper_probe_config("moco", epochs=3)
    assert (simclr.optimizer.name, simclr.optimizer.lr, simclr.epochs) == ("adam", 1e-3, 100)
    assert (moco.optimizer.name, moco.optimizer.lr, moco.optimizer.schedule) == (
        "sgd",
        30.0,
        "cosine",
    )
    assert moco.epochs == 3 and paper_probe_config("simsiam").optimizer.lr == 30.0
    with pytest.raises(KeyError, match="simsiam"):
        paper_probe_config("byol")


@pytest.mark.parametrize("augment", ["none", "crop_flip"])
def test_probe_on_a_frozen_random_encoder_leaves_the_encoder_untouched(
    squares_train: PreparedDataset, squares_test: PreparedDataset, augment: str
) -> None:
    torch.manual_seed(0)
    encoder = build_model(width=4)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    cfg = PROBE.model_copy(update={"augment": augment, "epochs": 20 if augment == "none" else 3})
    result = linear_probe(encoder, squares_train, squares_test, cfg, "cpu", seed=0)
    assert len(result.history) == cfg.epochs and 0 <= result.final_acc <= 100
    if augment == "none":
        assert result.final_acc > 40.0  # colour survives random features; chance is 25
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())


def test_evaluate_ssl_pretrains_then_probes_and_logs_both_phases(
    squares_train: PreparedDataset, squares_test: PreparedDataset, tmp_path: Path
) -> None:
    pretrain_cfg = SSLTrainConfig(epochs=2, batch_size=32, checkpoint_every=1)
    log, checkpoint = tmp_path / "eval.jsonl", tmp_path / "eval.ckpt"
    ssl = {"name": "simclr", "hidden_dim": 16, "out_dim": 8}
    result = evaluate_ssl(
        squares_train,
        squares_train,
        squares_test,
        ssl,
        pretrain_cfg,
        PROBE,
        model_width=4,
        device="cpu",
        seed=0,
        checkpoint_path=checkpoint,
        log_path=log,
    )
    phases = [json.loads(line)["phase"] for line in log.read_text().splitlines()]
    assert phases == ["pretrain"] * 2 + ["probe"] * 20
    assert checkpoint.is_file() and (tmp_path / "eval.probe.ckpt").is_file()
    assert result.extra["ssl"] == "simclr" and result.extra["pretrain_images_per_second"] > 0
    again = evaluate_ssl(
        squares_train,
        squares_train,
        squares_test,
        ssl,
        pretrain_cfg,
        PROBE,
        model_width=4,
        device="cpu",
        seed=0,
        checkpoint_path=checkpoint,
        log_path=log,
    )  # both phases resume from their final checkpoints
    assert again.final_acc == result.final_acc
    assert len(log.read_text().splitlines()) == 22


def test_evaluate_ssl_refuses_bad_input_before_pretraining(squares_train, squares_test) -> None:
    one_class = dataclasses.replace(squares_train, labels=np.zeros(len(squares_train), np.int64))
    cfg = SSLTrainConfig(epochs=1, batch_size=32)
    with pytest.raises(ValueError, match="at least 2"):
        evaluate_ssl(
            squares_train, one_class, squares_test, {"name": "simclr"}, cfg, PROBE, 4, "cpu"
        )
    with pytest.raises(ValueError, match="batch_size 512 is larger than the SSL pre-training set"):
        evaluate_ssl(
            squares_train,
            squares_train,
            squares_test,
            {"name": "moco"},
            cfg.model_copy(update={"batch_size": 512}),
            PROBE,
            4,
            "cpu",
        )
    with pytest.raises(ValueError, match="byol"):
        evaluate_ssl(
            squares_train, squares_train, squares_test, {"name": "byol"}, cfg, PROBE, 4, "cpu"
        )
