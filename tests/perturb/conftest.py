"""Tiny CPU fixtures for the perturbation tests (a few dozen 16x16 images, width-4 models)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from perturb_tiny import make_dataset

from tue_core.data.base import PreparedDataset


@pytest.fixture
def toy_dataset() -> PreparedDataset:
    return make_dataset()


@pytest.fixture(autouse=True)
def _fast_tiny_cpu() -> Iterator[None]:
    """One thread and no oneDNN for width-4 models on a few dozen images: oneDNN's per-shape
    kernel creation costs ~10 s per first run, and a second thread only adds synchronisation
    (measured 5-7x slower on the shared 2-core box)."""
    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    yield
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = mkldnn
