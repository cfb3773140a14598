"""Fabricated result sets, perturbation sets and datasets for the report tests (tiny, CPU)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tue_core.data.base import PreparedDataset
from tue_core.perturb.artifact import PerturbationSet
from tue_core.report.paper import load_paper_results

EPS = 8 / 255


@pytest.fixture(scope="session")
def paper() -> pd.DataFrame:
    return load_paper_results()


@pytest.fixture
def demo_scale() -> dict:
    return {
        "name": "demo",
        "description": "tiny test scale",
        "epochs": {"supervised": 1, "ssl": 1},
        "train_sizes": {"cifar10": 60},
        "device": "cpu",
    }


def result(method: str, evaluation: str, accuracy: float, **keys: str) -> dict:
    """One of our result rows (CIFAR-10, original correspondence unless overridden)."""
    row = {
        "table": "",
        "protected_dataset": "cifar10",
        "source_dataset": "cifar10",
        "method": method,
        "backbone": "",
        "correspondence": "original",
        "evaluation": evaluation,
        "accuracy": accuracy,
        "status": "ok",
    }
    row.update(keys)
    return row


@pytest.fixture
def ours() -> pd.DataFrame:
    """A handful of results: backbone-free supervised runs, SimCLR probes, one disabled run."""
    rows = [
        result("clean", "supervised", 80.0),
        result("EMN", "supervised", 20.0),
        result("SN", "supervised", 15.0),
        result("EMN", "supervised", 40.0, correspondence="intra"),
        result("clean", "linear_probe", 70.0, backbone="simclr"),
        result("EMN", "linear_probe", 68.0, backbone="simclr"),
        result("UCL", "supervised", 75.0, backbone="simclr"),
        result("UCL", "linear_probe", 30.0, backbone="simclr"),
        result("TUE", "supervised", 11.0, backbone="simclr"),
        result("TUE", "supervised", 13.0, backbone="simclr"),  # a second seed
        result("TUE", "linear_probe", 35.0, backbone="simclr"),
        result("TUE", "supervised", np.nan, backbone="moco", status="disabled"),
    ]
    return pd.DataFrame(rows)


def make_perturbations(
    labels: np.ndarray, classwise: float, samplewise: float, size: int = 8, seed: int = 0
) -> PerturbationSet:
    """``classwise`` * a pattern per class + ``samplewise`` * noise per sample, in [-eps, eps]."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(-EPS, EPS, size=(int(labels.max()) + 1, 3, size, size))
    noise = rng.uniform(-EPS, EPS, size=(len(labels), 3, size, size))
    delta = np.clip(classwise * patterns[labels] + samplewise * noise, -EPS, EPS)
    return PerturbationSet(delta=delta.astype(np.float32), labels=labels, eps=EPS)


@pytest.fixture
def make_pset():
    """Factory fixture: ``make_pset(labels, classwise, samplewise, size=8, seed=0)``."""
    return make_perturbations


@pytest.fixture
def labels60() -> np.ndarray:
    return np.repeat(np.arange(4, dtype=np.int64), 15)


@pytest.fixture
def tiny_dataset(labels60: np.ndarray) -> PreparedDataset:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(len(labels60), 8, 8, 3), dtype=np.uint8)
    return PreparedDataset(
        name="tiny",
        split="train",
        images=images,
        labels=labels60,
        class_names=("airplane", "cat", "horse", "ship"),
    )
