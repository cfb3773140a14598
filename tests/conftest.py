"""Shared fixtures. Every test runs on the CPU, offline, on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

# One thread: tiny tensors gain nothing from more, and contended threads busy-wait.
torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
