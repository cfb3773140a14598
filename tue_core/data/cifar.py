"""CIFAR-10 and CIFAR-100 from torchvision's on-disk format (the python pickle batches).

The batches are pickles; we read them with a restricted unpickler that only rebuilds plain
containers and numpy arrays, so a tampered file cannot execute code. Downloading goes through
torchvision and happens only when the spec says ``download: true``.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from tue_core.data.base import DatasetError, PreparedDataset
from tue_core.data.config import TorchvisionSpec
from tue_core.data.registry import DATASETS

log = logging.getLogger(__name__)

_LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": ("batches.meta", "label_names"),
        "label_key": "labels",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": ("meta", "fine_label_names"),
        "label_key": "fine_labels",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    },
}
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global except numpy's array reconstruction."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def read_pickle_batch(path: Path) -> dict[str, Any]:
    """Read one CIFAR batch (latin1-decoded, as the CIFAR authors' instructions say)."""
    try:
        with open(path, "rb") as handle:
            data = _SafeUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise DatasetError(f"{path}: not a readable CIFAR batch ({err})") from err
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a dict, got {type(data).__name__}")
    return data


def _ensure_files(spec: TorchvisionSpec, folder: Path, files: list[str]) -> None:
    missing = [name for name in files if not (folder / name).is_file()]
    if not missing:
        return
    if spec.download:
        import torchvision

        cls = (
            torchvision.datasets.CIFAR10
            if spec.source == "cifar10"
            else torchvision.datasets.CIFAR100
        )
        log.info("downloading %s into %s", spec.source, spec.root)
        cls(root=spec.root, train=True, download=True)
        return
    raise DatasetError(
        f"{spec.source}: files {missing} not found in {folder}. Expected torchvision's layout "
        f"'{folder}/'. Get it with `download: true` in the dataset's config entry, or unpack "
        f"{_LAYOUT[spec.source]['url']} into {spec.root}."
    )


@DATASETS.register("cifar10")
@DATASETS.register("cifar100")
def load_cifar(spec: TorchvisionSpec, split: str) -> PreparedDataset:
    """CIFAR-10/100 ``split`` as a :class:`PreparedDataset` (50,000 train / 10,000 test)."""
    layout = _LAYOUT[spec.source]
    folder = Path(spec.root) / layout["folder"]
    meta_file, meta_key = layout["meta"]
    _ensure_files(spec, folder, [*layout[split], meta_file])
    class_names = tuple(read_pickle_batch(folder / meta_file)[meta_key])
    images, labels = [], []
    for name in layout[split]:
        batch = read_pickle_batch(folder / name)
        data = np.asarray(batch["data"], dtype=np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # CHW rows -> NHWC
        labels.append(np.asarray(batch[layout["label_key"]], dtype=np.int64))
    return PreparedDataset(
        name=spec.source,
        split=split,
        images=np.ascontiguousarray(np.concatenate(images)),
        labels=np.concatenate(labels),
        class_names=class_names,
        info={"source": f"torchvision {spec.source} ({folder})"},
    )
