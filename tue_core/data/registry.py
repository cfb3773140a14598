"""The ``DATASETS`` registry: source name -> loader ``(spec, split) -> PreparedDataset``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tue_core.data.base import PreparedDataset
from tue_core.registry import Registry

Loader = Callable[[Any, str], PreparedDataset]

DATASETS: Registry[Loader] = Registry("dataset source")
