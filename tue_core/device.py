"""Choosing the torch device and per-device speed settings (one place, no globals)."""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda``/``cuda:N``/``cpu`` are taken as given.

    Asking for CUDA on a machine without it is an error rather than a silent CPU run.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} requested but CUDA is not available; use 'auto' or 'cpu'"
        )
    return device


def configure_threads(threads: int | None = None) -> int:
    """Use ``threads`` intra-op threads (default: Snakemake's/OMP's setting, else all cores).

    One process, one thread pool: avoids the oversubscription of DataLoader workers + BLAS threads.
    """
    if threads is None:
        threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    threads = max(1, threads)
    torch.set_num_threads(threads)
    return threads


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA (the speed path); ``None`` (fp32) on CPU."""
    return torch.bfloat16 if device.type == "cuda" else None


def prefers_grouped_noise_passes(device: torch.device) -> bool:
    """Refine a model-free (CSD-only) noise pass in grouped PGD calls: on CUDA, not on the CPU.

    On the CPU one 256-row batch stays in cache and the per-batch loop was 3.8x faster
    (``python -m benchmarks.csd_pass``, docs/benchmarks.md §4); on CUDA the loop is launch- and
    sync-bound (unmeasured until a GPU check runs).
    """
    return device.type == "cuda"


def prefers_channels_last(device: torch.device) -> bool:
    """channels_last memory format for the conv nets and their inputs: on CUDA, not on the CPU."""
    return device.type == "cuda"
