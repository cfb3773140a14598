"""A user's own image folder: ``root/{train,test}/<class>/*.{png,jpg,jpeg,bmp,webp}``.

Class names are the sorted sub-folder names; the train and test class sets must match. Images of
another size are resized to ``image_size`` with the configured PIL filter (recorded in the sidecar).
Without a ``test`` folder, ``test_fraction`` splits each class deterministically with ``split_seed``.
Decoding runs in a thread pool (PIL releases the GIL while decoding).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tue_core.data.base import DatasetError, PreparedDataset
from tue_core.data.config import ImageFolderSpec
from tue_core.data.registry import DATASETS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def list_class_files(split_dir: Path) -> dict[str, list[Path]]:
    """``{class name: sorted image paths}``; an empty class folder is an error."""
    if not split_dir.is_dir():
        raise DatasetError(f"image folder {split_dir} does not exist")
    classes = sorted(p for p in split_dir.iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(
            f"{split_dir} holds no class folders (expected {split_dir}/<class>/*.png)"
        )
    files: dict[str, list[Path]] = {}
    for class_dir in classes:
        images = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DatasetError(
                f"class folder {class_dir} holds no images (expected {', '.join(IMAGE_SUFFIXES)})"
            )
        files[class_dir.name] = images
    return files


def read_image(path: Path, size: int, resize: str) -> tuple[np.ndarray, bool]:
    """One image as uint8 (size, size, 3) and whether it had to be resized."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            resized = rgb.size != (size, size)
            if resized:
                rgb = rgb.resize((size, size), resample=getattr(Image.Resampling, resize.upper()))
            return np.asarray(rgb, dtype=np.uint8), resized
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"cannot read image {path}: {err}") from err


def read_images(paths: list[Path], size: int, resize: str) -> tuple[np.ndarray, int]:
    """Decode ``paths`` in parallel; returns (N, size, size, 3) uint8 and how many were resized."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: read_image(p, size, resize), paths))
    images = (
        np.stack([image for image, _ in results])
        if results
        else np.zeros((0, size, size, 3), np.uint8)
    )
    return images, sum(resized for _, resized in results)


def _split_files(spec: ImageFolderSpec, split: str) -> tuple[list[str], list[Path], list[int]]:
    root = Path(spec.root)
    if not root.is_dir():
        raise DatasetError(f"imagefolder root {root} does not exist")
    train = list_class_files(root / "train")
    if (root / "test").is_dir():
        test = list_class_files(root / "test")
        if set(train) != set(test):
            raise DatasetError(
                f"{root}: train and test class folders differ: only in train "
                f"{sorted(set(train) - set(test))}, only in test {sorted(set(test) - set(train))}"
            )
        chosen = train if split == "train" else test
    elif spec.test_fraction is None:
        raise DatasetError(
            f"{root}/test does not exist; add it or set `test_fraction` to split train"
        )
    else:
        chosen = _fraction_split(train, spec.test_fraction, spec.split_seed)[split]
    names = sorted(train)
    paths = [p for name in names for p in chosen[name]]
    labels = [i for i, name in enumerate(names) for _ in chosen[name]]
    return names, paths, labels


def _fraction_split(
    files: dict[str, list[Path]], test_fraction: float, seed: int
) -> dict[str, dict[str, list[Path]]]:
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list[Path]]] = {"train": {}, "test": {}}
    for name, paths in files.items():
        if len(paths) < 2:
            raise DatasetError(
                f"class {name!r} has {len(paths)} image ({paths[0]}); splitting into train and "
                "test needs at least 2 per class"
            )
        n_test = min(len(paths) - 1, max(1, round(test_fraction * len(paths))))
        order = rng.permutation(len(paths))
        out["test"][name] = sorted(paths[i] for i in order[:n_test])
        out["train"][name] = sorted(paths[i] for i in order[n_test:])
    return out


@DATASETS.register("imagefolder")
def load_imagefolder(spec: ImageFolderSpec, split: str) -> PreparedDataset:
    names, paths, labels = _split_files(spec, split)
    log.info("reading %d images from %s (%s)", len(paths), spec.root, split)
    images, n_resized = read_images(paths, spec.image_size, spec.resize)
    root = Path(spec.root)
    return PreparedDataset(
        name=root.name,
        split=split,
        images=images,
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(names),
        info={
            "source": f"imagefolder {root}",
            "resize": {"method": f"PIL {spec.resize}", "to": spec.image_size, "resized": n_resized},
            "files": [str(p.relative_to(root)) for p in paths],
        },
    )
