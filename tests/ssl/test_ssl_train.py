"""The one SSL loop: history and log, bad input, NaN guard, and resume == uninterrupted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from tue_core import io
from tue_core.loop import NonFiniteLossError
from tue_core.models import build_model
from tue_core.ssl.augment import SSLAugment
from tue_core.ssl.config import MoCoConfig, OptimizerConfig, SimCLRConfig, SSLTrainConfig
from tue_core.ssl.methods import SimCLR, build_ssl_method
from tue_core.ssl.train import SSLTrainer, train_ssl

IMAGES = torch.randint(
    0, 256, (24, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
)
CFG = SSLTrainConfig(
    epochs=3,
    batch_size=8,
    checkpoint_every=1,
    optimizer=OptimizerConfig(lr=0.05, schedule="cosine"),
)


def _method(ssl=None):
    torch.manual_seed(0)
    ssl = ssl or SimCLRConfig(hidden_dim=16, out_dim=8)
    return build_ssl_method(ssl, build_model(width=4))


def test_train_ssl_returns_and_logs_one_record_per_epoch(tmp_path: Path) -> None:
    log = tmp_path / "ssl.jsonl"
    history = train_ssl(IMAGES, CFG, _method(), "cpu", seed=0, log_path=log)
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert all(r["loss"] > 0 and r["images_per_second"] > 0 for r in history)
    assert history[-1]["lr"] < history[0]["lr"]  # cosine
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == history


def test_trainer_step_and_the_perturbation_style_call() -> None:
    trainer = SSLTrainer(_method(), CFG, "cpu", seed=0)
    assert isinstance(trainer.augment, SSLAugment)
    x = IMAGES[:8].float() / 255
    assert isinstance(trainer.train_step(x), float)
    delta = torch.zeros_like(x, requires_grad=True)
    views = [trainer.augment(x + delta), trainer.augment(x + delta)]
    trainer.method.step(views).loss.backward()
    assert delta.grad is not None and delta.grad.abs().sum() > 0


def test_bad_inputs_are_refused_before_training() -> None:
    with pytest.raises(ValueError, match="batch_size 64 is larger than the SSL training set"):
        train_ssl(IMAGES, CFG.model_copy(update={"batch_size": 64}), _method(), "cpu", 0)
    with pytest.raises(ValueError, match="uint8"):
        train_ssl(IMAGES.float(), CFG, _method(), "cpu", 0)


def test_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original, calls = SimCLR.step, {"n": 0}

    def poisoned(self, views, **kwargs):
        output = original(self, views, **kwargs)
        calls["n"] += 1
        if calls["n"] == 5:  # epoch 2, step 2 (3 steps per epoch)
            output.loss = output.loss * float("nan")
        return output

    monkeypatch.setattr(SimCLR, "step", poisoned)
    checkpoint = tmp_path / "ssl.ckpt"
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 2 of 3.*last good checkpoint"):
        train_ssl(IMAGES, CFG, _method(), "cpu", 0, checkpoint_path=checkpoint)
    assert io.load_torch(checkpoint)["count"] == 1


def _moco_run(checkpoint: Path, log: Path) -> tuple[dict, list]:
    method = _method(MoCoConfig(queue_size=32, out_dim=8, bn_splits=2))
    history = train_ssl(
        IMAGES, CFG, method, "cpu", seed=3, checkpoint_path=checkpoint, log_path=log
    )
    return method.state_dict(), history


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_state, expected_history = _moco_run(tmp_path / "a.ckpt", tmp_path / "a.jsonl")
    original, calls = SSLTrainer.step, {"n": 0}

    def killed(self, x):
        calls["n"] += 1
        if calls["n"] == 5:  # killed in the middle of epoch 2
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(SSLTrainer, "step", killed)
    with pytest.raises(KeyboardInterrupt):
        _moco_run(tmp_path / "b.ckpt", tmp_path / "b.jsonl")
    assert io.load_torch(tmp_path / "b.ckpt")["count"] == 1
    monkeypatch.setattr(SSLTrainer, "step", original)
    state, history = _moco_run(tmp_path / "b.ckpt", tmp_path / "b.jsonl")
    assert [r["loss"] for r in history] == [r["loss"] for r in expected_history]
    assert state.keys() == expected_state.keys()
    for key, value in expected_state.items():
        assert torch.equal(state[key], value), key  # queue, key encoder and weights alike
    assert len((tmp_path / "b.jsonl").read_text().splitlines()) == 3


def test_checkpoint_of_another_config_is_ignored_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = tmp_path / "ssl.ckpt"
    train_ssl(IMAGES, CFG.model_copy(update={"epochs": 1}), _method(), "cpu", 0, checkpoint)
    expected = train_ssl(IMAGES, CFG, _method(), "cpu", 0)  # no checkpoint: from scratch
    with caplog.at_level(logging.WARNING, logger="tue_core.checkpoint"):
        history = train_ssl(IMAGES, CFG, _method(), "cpu", 0, checkpoint)
    assert "ignoring checkpoint" in caplog.text and "differs in train" in caplog.text
    assert [r["loss"] for r in history] == [r["loss"] for r in expected]  # started afresh
    assert io.load_torch(checkpoint)["count"] == CFG.epochs  # and replaced the foreign file


def test_checkpoint_of_other_images_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = tmp_path / "ssl.ckpt"
    train_ssl(IMAGES, CFG, _method(), "cpu", 0, checkpoint)
    other = IMAGES.clone()
    other[0, 0, 0, 0] ^= 1  # one bit of one pixel
    with caplog.at_level(logging.WARNING, logger="tue_core.checkpoint"):
        history = train_ssl(other, CFG, _method(), "cpu", 0, checkpoint)
    assert "differs in inputs" in caplog.text and len(history) == CFG.epochs


def test_unreadable_checkpoint_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    checkpoint = tmp_path / "ssl.ckpt"
    checkpoint.write_bytes(b"not a torch file")
    with caplog.at_level(logging.WARNING, logger="tue_core.checkpoint"):
        history = train_ssl(IMAGES, CFG, _method(), "cpu", 0, checkpoint)
    assert "ignoring unreadable checkpoint" in caplog.text and len(history) == CFG.epochs


def test_checkpoint_of_another_backbone_width_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = tmp_path / "ssl.ckpt"
    train_ssl(IMAGES, CFG, _method(), "cpu", 0, checkpoint)
    wider = build_ssl_method(SimCLRConfig(hidden_dim=16, out_dim=8), build_model(width=8))
    with caplog.at_level(logging.WARNING, logger="tue_core.checkpoint"):
        history = train_ssl(IMAGES, CFG, wider, "cpu", 0, checkpoint)  # no size-mismatch crash
    assert "differs in model" in caplog.text and len(history) == CFG.epochs
