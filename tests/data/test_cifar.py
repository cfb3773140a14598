"""CIFAR loaders against tiny files written in the real on-disk format (python pickles)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tue_core.data import DatasetError, load_split
from tue_core.data.config import TorchvisionSpec


def write_cifar10(root: Path, per_batch: int = 4) -> np.ndarray:
    """Write a CIFAR-10 tree with ``per_batch`` images in each of the 6 batches."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
    first = None
    for name in [*names, "test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        first = data if first is None else first
        batch = {"data": data, "labels": list(rng.integers(0, 10, per_batch)), "batch_label": name}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return first


def test_cifar10_reads_train_and_test(tmp_path: Path) -> None:
    first = write_cifar10(tmp_path)
    spec = TorchvisionSpec(source="cifar10", root=str(tmp_path))
    train, test = load_split(spec, "train"), load_split(spec, "test")
    assert (len(train), len(test)) == (20, 4)
    assert train.images.shape == (20, 32, 32, 3) and train.images.dtype == np.uint8
    # channel-major rows -> HWC: pixel (0,0) red/green/blue are bytes 0, 1024, 2048
    assert train.images[0, 0, 0].tolist() == [first[0, 0], first[0, 1024], first[0, 2048]]
    assert train.class_names == tuple(f"c{i}" for i in range(10))


def test_cifar100_uses_fine_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for split in ("train", "test"):
        batch = {
            "data": np.zeros((3, 3072), np.uint8),
            "fine_labels": [5, 99, 0],
            "coarse_labels": [1, 1, 1],
        }
        (folder / split).write_bytes(pickle.dumps(batch))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"f{i}" for i in range(100)]}))
    data = load_split(TorchvisionSpec(source="cifar100", root=str(tmp_path)), "train")
    assert data.labels.tolist() == [5, 99, 0] and data.num_classes == 100


def test_missing_cifar_files_say_where_and_how(tmp_path: Path) -> None:
    spec = TorchvisionSpec(source="cifar10", root=str(tmp_path))
    with pytest.raises(DatasetError, match=r"not found in .*cifar-10-batches-py.*download: true"):
        load_split(spec, "train")


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    write_cifar10(tmp_path)

    class Evil:
        def __reduce__(self):  # would run os.system on a plain pickle.load
            return (print, ("pwned",))

    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DatasetError, match=r"refusing to load global builtins\.print"):
        load_split(TorchvisionSpec(source="cifar10", root=str(tmp_path)), "train")
