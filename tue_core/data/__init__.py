"""Datasets: one registry of loaders, one prepared form (:class:`PreparedDataset`)."""

from tue_core.data import cifar, digits, imagefolder, svhn, synthetic  # noqa: F401  (register)
from tue_core.data.base import (
    DatasetError,
    PreparedDataset,
    load_prepared,
    prepared_class_names,
    prepared_path,
)
from tue_core.data.prepare import load_split, prepare_dataset
from tue_core.data.registry import DATASETS

__all__ = [
    "DATASETS",
    "DatasetError",
    "PreparedDataset",
    "load_prepared",
    "load_split",
    "prepare_dataset",
    "prepared_class_names",
    "prepared_path",
]
