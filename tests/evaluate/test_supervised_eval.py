"""Supervised evaluation: learns a tiny task, logs per epoch, refuses bad data, resumes exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tue_core import io
from tue_core.checkpoint import Checkpoint
from tue_core.data.base import PreparedDataset
from tue_core.evaluate.result import EvalResult
from tue_core.evaluate.supervised import SupervisedConfig, SupervisedTrainer, train_supervised
from tue_core.loop import NonFiniteLossError
from tue_core.models import build_model
from tue_core.ssl.config import OptimizerConfig

FAST = SupervisedConfig(
    epochs=8,
    batch_size=16,
    width=8,
    checkpoint_every=2,
    optimizer=OptimizerConfig(lr=0.05, schedule="cosine", weight_decay=5e-4),
)


def test_paper_defaults() -> None:
    cfg = SupervisedConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.width) == (200, 128, 64)
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.schedule) == ("sgd", 0.1, "cosine")
    assert (cfg.optimizer.momentum, cfg.optimizer.weight_decay) == (0.9, 5e-4)


def test_reaches_high_clean_accuracy_on_coloured_squares(
    squares_train: PreparedDataset, squares_test: PreparedDataset, tmp_path: Path
) -> None:
    log = tmp_path / "sup.jsonl"
    result = train_supervised(squares_train, squares_test, FAST, "cpu", seed=0, log_path=log)
    assert result.final_acc >= 90.0
    assert result.best_acc >= result.final_acc and 1 <= result.best_epoch <= 8
    assert result.images_per_second > 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, 9))
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "lr"} <= set(records[0])
    saved = io.read_json(result.save(tmp_path / "result.json"))
    assert saved["final_acc"] == result.final_acc and len(saved["history"]) == 8


def _with_labels(data: PreparedDataset, labels: np.ndarray) -> PreparedDataset:
    return dataclasses.replace(data, labels=labels.astype(np.int64))


def test_bad_data_is_refused_before_training(squares_train, squares_test) -> None:
    one_class = _with_labels(squares_train, np.zeros(len(squares_train)))
    with pytest.raises(ValueError, match=r"1 class\(es\) \(\[0\]\)"):
        train_supervised(one_class, squares_test, FAST, "cpu")
    with pytest.raises(ValueError, match="batch_size 500 is larger than the training set"):
        train_supervised(squares_train, squares_test, FAST.model_copy(update={"batch_size": 500}))
    fewer = dataclasses.replace(squares_test, class_names=("a", "b", "c", "d", "e"))
    with pytest.raises(ValueError, match="5 classes"):
        train_supervised(squares_train, fewer, FAST, "cpu")


def test_train_step_without_augmentation_uses_the_batch_as_given(squares_train) -> None:
    trainer = SupervisedTrainer(build_model(width=4, num_classes=4), FAST, "cpu", seed=0)
    trainer.augment = None  # any use of augmentation would fail
    images, labels = squares_train.to_tensors()
    before = trainer.model.fc.weight.clone()
    loss = trainer.train_step(images[:8].float() / 255, labels[:8], augment=False)
    assert isinstance(loss, float) and loss > 0
    assert not torch.equal(before, trainer.model.fc.weight)


def test_nan_loss_names_epoch_and_step(squares_train, squares_test, tmp_path, monkeypatch) -> None:
    original, calls = SupervisedTrainer.step, {"n": 0}

    def poisoned(self, x, y, augment=True):
        loss, hits = original(self, x, y, augment)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 9 else loss), hits

    monkeypatch.setattr(SupervisedTrainer, "step", poisoned)
    checkpoint = tmp_path / "sup.ckpt"
    cfg = FAST.model_copy(update={"checkpoint_every": 1})  # 6 steps per epoch
    with pytest.raises(NonFiniteLossError, match=r"supervised: .*epoch 2, step 3 of 6"):
        train_supervised(squares_train, squares_test, cfg, "cpu", 0, checkpoint_path=checkpoint)
    assert io.load_torch(checkpoint)["count"] == 1


def test_resume_after_a_kill_equals_the_uninterrupted_run(
    squares_train, squares_test, tmp_path, monkeypatch
) -> None:
    cfg = FAST.model_copy(update={"epochs": 3, "width": 4, "checkpoint_every": 1})
    expected = train_supervised(squares_train, squares_test, cfg, "cpu", 5, tmp_path / "a.ckpt")
    original, calls = SupervisedTrainer.step, {"n": 0}

    def killed(self, x, y, augment=True):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return original(self, x, y, augment)

    monkeypatch.setattr(SupervisedTrainer, "step", killed)
    with pytest.raises(KeyboardInterrupt):
        train_supervised(squares_train, squares_test, cfg, "cpu", 5, tmp_path / "b.ckpt")
    monkeypatch.setattr(SupervisedTrainer, "step", original)
    resumed = train_supervised(squares_train, squares_test, cfg, "cpu", 5, tmp_path / "b.ckpt")
    strip = [
        {k: v for k, v in r.items() if k not in ("seconds", "images_per_second")}
        for r in expected.history
    ]
    assert strip == [
        {k: v for k, v in r.items() if k not in ("seconds", "images_per_second")}
        for r in resumed.history
    ]
    final_a = io.load_torch(tmp_path / "a.ckpt")["payload"]["trainer"]["model"]
    final_b = io.load_torch(tmp_path / "b.ckpt")["payload"]["trainer"]["model"]
    assert all(torch.equal(final_a[key], final_b[key]) for key in final_a)


def test_eval_result_needs_history() -> None:
    with pytest.raises(ValueError, match="empty history"):
        EvalResult.from_history([])


def test_epochs_longer_than_the_interval_checkpoint_between_checkpoint_every(
    squares_train, squares_test, tmp_path, monkeypatch
) -> None:
    """With epochs of minutes (interval 0 here), every epoch is saved despite checkpoint_every."""
    saved: list[int] = []
    original = Checkpoint.save

    def spy(self, payload, *, unit, count, force=False):
        wrote = original(self, payload, unit=unit, count=count, force=force)
        if wrote:
            saved.append(count)
        return wrote

    monkeypatch.setattr(Checkpoint, "save", spy)
    cfg = FAST.model_copy(update={"epochs": 3, "checkpoint_every": 10})
    monkeypatch.setenv("TUE_CHECKPOINT_INTERVAL_S", "0")
    train_supervised(squares_train, squares_test, cfg, "cpu", 0, tmp_path / "a.ckpt")
    assert saved == [1, 2, 3]
    saved.clear()
    monkeypatch.setenv("TUE_CHECKPOINT_INTERVAL_S", "3600")  # short epochs: only the forced save
    train_supervised(squares_train, squares_test, cfg, "cpu", 0, tmp_path / "b.ckpt")
    assert saved == [3]
