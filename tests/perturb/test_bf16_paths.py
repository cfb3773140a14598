"""CUDA's fast paths (bf16 autocast, channels_last) run end to end, forced on for the CPU.

CI has no GPU, so the paper-scale code paths (every ``autocast_for`` block, every
``prefers_channels_last`` branch) would otherwise first run on a GPU. Forcing ``autocast_dtype``
to bf16 and ``prefers_channels_last`` / ``prefers_grouped_noise_passes`` to True makes the CPU
take them: each registry entry
generates a valid delta, and supervised training and the SSL pre-training + linear probe finish
with finite losses.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from perturb_tiny import TINY_HEADS, make_dataset, tiny_config

import tue_core.evaluate.supervised as supervised_module
import tue_core.loop as ssl_loop
import tue_core.perturb.alternating as alternating
import tue_core.perturb.objectives as objectives
import tue_core.ssl.train as ssl_train
from tue_core.evaluate.linear_probe import LinearProbeConfig, evaluate_ssl
from tue_core.evaluate.supervised import SupervisedConfig, train_supervised
from tue_core.perturb.registry import generate
from tue_core.ssl.config import paper_pretrain_config

CASES = [
    ("emn", "simclr", {}),
    ("sn", "simclr", {}),
    *[("ucl", b, {}) for b in ("simclr", "moco", "simsiam")],
    *[("tue", b, {}) for b in ("simclr", "moco", "simsiam")],
    ("tue", "simclr", {"mode": "released"}),
]


@pytest.fixture(autouse=True)
def _cuda_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    def bf16(device: torch.device) -> torch.dtype:
        return torch.bfloat16

    def channels_last(device: torch.device) -> bool:
        return True

    monkeypatch.setattr(objectives, "autocast_dtype", bf16)
    monkeypatch.setattr(ssl_loop, "autocast_dtype", bf16)
    for module in (objectives, ssl_train, supervised_module):
        monkeypatch.setattr(module, "prefers_channels_last", channels_last)
    monkeypatch.setattr(alternating, "prefers_grouped_noise_passes", channels_last)  # True


def test_the_channels_last_path_is_really_taken() -> None:
    model = torch.nn.Conv2d(3, 4, 3)
    assert not model.weight.is_contiguous(memory_format=torch.channels_last)
    trainer = supervised_module.SupervisedTrainer(
        model, SupervisedConfig(epochs=1, batch_size=12, width=4), torch.device("cpu"), 0
    )
    assert trainer.model.weight.is_contiguous(memory_format=torch.channels_last)


def test_autocast_is_really_bf16() -> None:
    x = torch.ones(2, 3)
    with ssl_loop.autocast_for(x.device):
        assert (x @ x.T).dtype == torch.bfloat16
    with objectives.autocast_for(x):
        assert (x @ x.T).dtype == torch.bfloat16


@pytest.mark.parametrize(("method", "backbone", "extra"), CASES)
def test_every_generator_under_bf16(method: str, backbone: str, extra: dict) -> None:
    data = make_dataset()
    result = generate(tiny_config(method, backbone, **extra), data, "cpu", seed=0)
    delta = result.pset.delta
    assert delta.dtype == np.float32 and np.isfinite(delta).all()
    if method != "sn":  # SN is L2-bounded
        assert np.abs(delta).max() <= 8 / 255 + 1e-6
    assert np.abs(delta).max() > 0  # something was optimised


def test_supervised_and_linear_probe_under_bf16() -> None:
    train, test = make_dataset(), replace(make_dataset(seed=1), split="test")
    supervised = train_supervised(
        train, test, SupervisedConfig(epochs=1, batch_size=12, width=4), "cpu", seed=0
    )
    assert np.isfinite(supervised.history[-1]["train_loss"])
    probe = evaluate_ssl(
        train, train, test, TINY_HEADS["simclr"],
        paper_pretrain_config("simclr", epochs=1, batch_size=12),
        LinearProbeConfig(epochs=1, batch_size=12, augment="none"), 4, "cpu", seed=0,
    )  # fmt: skip
    assert 0 <= probe.final_acc <= 100
