"""Supervised training with a defense (tue_core.defend): applied where the trainer would apply it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tue_core import io
from tue_core.data.base import PreparedDataset
from tue_core.defend import build_defense
from tue_core.defend.base import TrainTimeDefense, one_hot
from tue_core.evaluate.supervised import SupervisedConfig, train_supervised
from tue_core.jobs import evaluate_supervised
from tue_core.ssl.config import OptimizerConfig

TIMING = ("seconds", "images_per_second")


def _numbers(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in history]


FAST = SupervisedConfig(
    epochs=2,
    batch_size=16,
    width=4,
    optimizer=OptimizerConfig(lr=0.05, schedule="cosine", weight_decay=5e-4),
)


def test_a_preprocessing_defense_transforms_the_training_images_once_and_not_the_test_set(
    squares_train: PreparedDataset, squares_test: PreparedDataset
) -> None:
    gray = build_defense("grayscale")
    images = torch.from_numpy(squares_train.images).permute(0, 3, 1, 2)
    by_hand = dataclasses.replace(
        squares_train, images=gray(images).permute(0, 2, 3, 1).contiguous().numpy()
    )
    defended = train_supervised(squares_train, squares_test, FAST, "cpu", 0, defense=gray)
    expected = train_supervised(by_hand, squares_test, FAST, "cpu", 0)
    assert _numbers(defended.history) == _numbers(
        expected.history
    )  # bit-identical: same images, same test set
    plain = train_supervised(squares_train, squares_test, FAST, "cpu", 0)
    assert _numbers(plain.history) != _numbers(defended.history)


class _Spy(TrainTimeDefense):
    """Records its calls; returns the batch unchanged with uniform soft targets."""

    def __init__(self) -> None:
        super().__init__(cfg=None)
        self.epochs: list[int] = []
        self.calls = 0

    @property
    def name(self) -> str:
        return "spy"

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)

    def _apply(self, x, y, *, num_classes, generator, model):
        self.calls += 1
        assert model is not None and model.training
        return x, torch.full((len(y), num_classes), 1.0 / num_classes)


def test_a_training_time_defense_sees_every_batch_and_its_targets_drive_the_loss(
    squares_train: PreparedDataset, squares_test: PreparedDataset, monkeypatch
) -> None:
    spy = _Spy()
    monkeypatch.setattr(_Spy, "describe", lambda self: {"name": "spy"})
    result = train_supervised(squares_train, squares_test, FAST, "cpu", 0, defense=spy)
    batches = -(-len(squares_train) // FAST.batch_size)
    assert spy.epochs == [0, 1] and spy.calls == 2 * batches
    # uniform targets: the loss is log(C) whatever the logits' mean, so the model cannot fit
    assert result.history[-1]["train_loss"] >= np.log(squares_train.num_classes) - 1e-3


def test_one_hot_soft_targets_train_like_the_plain_loss(
    squares_train: PreparedDataset, squares_test: PreparedDataset
) -> None:
    class Identity(_Spy):
        def _apply(self, x, y, *, num_classes, generator, model):
            return x, one_hot(y, num_classes)

    Identity.describe = lambda self: {"name": "identity"}
    plain = train_supervised(squares_train, squares_test, FAST, "cpu", 0)
    soft = train_supervised(squares_train, squares_test, FAST, "cpu", 0, defense=Identity())
    for a, b in zip(plain.history, soft.history, strict=True):
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=5.0)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)


def test_the_job_records_the_defense_and_scales_epochs_for_ueraser_max(
    squares_train: PreparedDataset, squares_test: PreparedDataset, tmp_path
) -> None:
    train, test = tmp_path / "train.npz", tmp_path / "test.npz"
    squares_train.save(train)
    squares_test.save(test)
    metrics = tmp_path / "m.json"
    cfg = FAST.model_copy(update={"epochs": 2}).model_dump(mode="json")
    defense = {"name": "ueraser", "variant": "max", "repeats": 2}
    evaluate_supervised(train, test, metrics, cfg, seed=0, device="cpu", defense=defense)
    record = io.read_json(metrics)
    assert record["extra"]["defense"]["name"] == "ueraser"
    assert record["config"]["epochs"] == 3  # round(1.5 * 2)
    assert record["extra"]["defense"]["adversarial_epochs_run"] == 3  # Max: every epoch
    history = metrics.with_suffix(".history.jsonl").read_text().splitlines()
    assert len(history) == 3
