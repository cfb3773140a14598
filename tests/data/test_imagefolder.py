"""Image-folder loader: layout, resizing, and every bad-input message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tue_core.data import DatasetError, load_split, prepare_dataset
from tue_core.data.config import ImageFolderSpec


def write_tree(root: Path, classes: dict[str, int], split: str = "train", size: int = 32) -> None:
    for index, (name, count) in enumerate(classes.items()):
        folder = root / split / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            colour = (index * 40 % 256, i * 30 % 256, 128)
            Image.new("RGB", (size, size), colour).save(folder / f"{i:04d}.png")


def spec(root: Path, **kwargs) -> ImageFolderSpec:
    return ImageFolderSpec(source="imagefolder", root=str(root), **kwargs)


def test_reads_classes_sorted_and_resizes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"dog": 3, "cat": 2})
    write_tree(tmp_path, {"dog": 1, "cat": 1}, split="test", size=48)
    train = load_split(spec(tmp_path), "train")
    assert train.class_names == ("cat", "dog")
    assert train.labels.tolist() == [0, 0, 1, 1, 1]
    test = load_split(spec(tmp_path), "test")
    assert test.images.shape == (2, 32, 32, 3)
    assert test.info["resize"] == {"method": "PIL bicubic", "to": 32, "resized": 2}


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"imagefolder root .*nowhere does not exist"):
        load_split(spec(tmp_path / "nowhere"), "train")


def test_empty_class_folder_is_named(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cat": 2})
    (tmp_path / "train" / "dog").mkdir()
    with pytest.raises(DatasetError, match=r"class folder .*train/dog holds no images"):
        load_split(spec(tmp_path), "train")


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cat": 2, "dog": 2})
    write_tree(tmp_path, {"cat": 1, "dog": 1}, split="test")
    (tmp_path / "train" / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(DatasetError, match=r"cannot read image .*dog/broken.jpg"):
        load_split(spec(tmp_path), "train")


def test_mismatched_train_and_test_classes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cat": 2, "dog": 2})
    write_tree(tmp_path, {"cat": 1, "emu": 1}, split="test")
    with pytest.raises(DatasetError, match=r"only in train \['dog'\], only in test \['emu'\]"):
        load_split(spec(tmp_path), "train")


def test_single_image_class_cannot_be_split(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cat": 3, "dog": 1})
    with pytest.raises(DatasetError, match=r"class 'dog' has 1 image .*needs at least 2 per class"):
        load_split(spec(tmp_path, test_fraction=0.3), "train")


def test_without_test_folder_a_fraction_is_required(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cat": 3})
    with pytest.raises(DatasetError, match="set `test_fraction`"):
        load_split(spec(tmp_path), "train")


def test_fraction_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    write_tree(tmp_path, {"cat": 10, "dog": 10})
    first = [
        load_split(spec(tmp_path, test_fraction=0.3), s).info["files"] for s in ("train", "test")
    ]
    again = [
        load_split(spec(tmp_path, test_fraction=0.3), s).info["files"] for s in ("train", "test")
    ]
    assert first == again
    assert not set(first[0]) & set(first[1]) and len(first[1]) == 6


def test_failed_preparation_writes_nothing_and_keeps_old_outputs(tmp_path: Path) -> None:
    write_tree(tmp_path / "data", {"cat": 2, "dog": 2})
    write_tree(tmp_path / "data", {"cat": 1, "dog": 1}, split="test")
    out = {s: tmp_path / "out" / f"{s}.npz" for s in ("train", "test")}
    prepare_dataset(spec(tmp_path / "data"), "pets", out)
    before = {s: p.read_bytes() for s, p in out.items()}
    (tmp_path / "data" / "test" / "dog" / "0000.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match=r"0000\.png"):
        prepare_dataset(spec(tmp_path / "data"), "pets", out)
    assert {s: p.read_bytes() for s, p in out.items()} == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "test.json",
        "test.npz",
        "train.json",
        "train.npz",
    ]
    assert np.load(out["train"])["images"].shape == (4, 32, 32, 3)
