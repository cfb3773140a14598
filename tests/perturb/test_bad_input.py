"""Bad inputs fail with a clear message before any work starts."""

from __future__ import annotations

import numpy as np
import pytest
from perturb_tiny import tiny_config

from tue_core import io
from tue_core.data.base import PreparedDataset
from tue_core.perturb import generate
from tue_core.perturb.artifact import PerturbationFileError, PerturbationSet
from tue_core.perturb.device_data import DeviceData


@pytest.fixture(autouse=True)
def _no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving data to the device is the first piece of work: reaching it means a check was late."""

    def refuse(*args, **kwargs):
        raise AssertionError("work started before the inputs were checked")

    monkeypatch.setattr(DeviceData, "from_prepared", refuse)


def save_delta(path, delta: np.ndarray, labels: np.ndarray, eps: float = 8 / 255) -> str:
    pset = PerturbationSet(delta=delta, labels=labels, eps=eps)
    return str(pset.save(path, io.RunMeta(kind="perturbation")))


def test_init_file_of_another_size(toy_dataset: PreparedDataset, tmp_path) -> None:
    path = save_delta(
        tmp_path / "d.npz", np.zeros((5, 3, 16, 16), np.float32), np.zeros(5, np.int64)
    )
    with pytest.raises(
        PerturbationFileError, match="has 5 rows but dataset toy/train has 24 images"
    ):
        generate(tiny_config("emn", init_path=path), toy_dataset, "cpu", seed=0)


def test_init_file_of_another_image_shape(toy_dataset: PreparedDataset, tmp_path) -> None:
    path = save_delta(tmp_path / "d.npz", np.zeros((24, 3, 8, 8), np.float32), toy_dataset.labels)
    with pytest.raises(PerturbationFileError, match=r"perturbation images are \(8, 8\)"):
        generate(tiny_config("tue", init_path=path), toy_dataset, "cpu", seed=0)


def test_init_file_of_another_dtype(toy_dataset: PreparedDataset, tmp_path) -> None:
    path = tmp_path / "d.npz"
    io.save_arrays(
        path,
        {
            "delta": np.zeros((24, 3, 16, 16), np.float64),
            "labels": toy_dataset.labels,
            "eps": np.asarray(8 / 255),
            "format_version": np.asarray(1),
        },
        meta=io.RunMeta(kind="perturbation"),  # a sidecar, so the file passes its sha256 check
    )
    with pytest.raises(PerturbationFileError, match="delta must be float32"):
        generate(tiny_config("ucl", init_path=str(path)), toy_dataset, "cpu", seed=0)


def test_init_file_for_other_labels(toy_dataset: PreparedDataset, tmp_path) -> None:
    labels = np.roll(toy_dataset.labels, 1)
    path = save_delta(tmp_path / "d.npz", np.zeros((24, 3, 16, 16), np.float32), labels)
    with pytest.raises(PerturbationFileError, match="labels differ"):
        generate(tiny_config("emn", init_path=path), toy_dataset, "cpu", seed=0)


def test_init_file_beyond_eps(toy_dataset: PreparedDataset, tmp_path) -> None:
    delta = np.full((24, 3, 16, 16), 16 / 255, np.float32)  # a set made at 16/255
    path = save_delta(tmp_path / "d.npz", delta, toy_dataset.labels, eps=16 / 255)
    with pytest.raises(PerturbationFileError, match="cannot start a method with eps"):
        generate(tiny_config("emn", init_path=path), toy_dataset, "cpu", seed=0)


def test_missing_init_file(toy_dataset: PreparedDataset, tmp_path) -> None:
    with pytest.raises(PerturbationFileError, match="cannot read perturbation file"):
        generate(tiny_config("emn", init_path=str(tmp_path / "nope.npz")), toy_dataset, "cpu", 0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"eps": 1.5}, r"eps must lie in \(0, 1\]"),
        ({"step_size": 1.0}, r"step_size must lie in \(0, eps\]"),
        ({"pgd_steps": 0}, "never updates delta"),
        ({"epochs": 0}, "never updates delta"),
    ],
)
def test_bad_schedule_through_generate(
    overrides: dict, message: str, toy_dataset: PreparedDataset
) -> None:
    with pytest.raises(ValueError, match=message):
        generate(tiny_config("tue", **overrides), toy_dataset, "cpu", seed=0)
