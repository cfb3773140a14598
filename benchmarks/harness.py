"""Timing and machine facts shared by the benchmarks: medians, device sync, matmul rate, FLOPs.

Timing follows the usual rules for noisy machines (performance.md §5: ±30% step-time variance
under load): warm up once, time whole loops with the device synchronised at both ends, repeat,
interleave the variants being compared (ours, naive, bare) so that they see the same load, and
report the median. The load average is recorded before and after every run.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


def sync(device: torch.device) -> None:
    """Wait for queued device work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds of one call of ``fn`` with the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


@dataclass
class Samples:
    """Repeated wall-clock times of one loop variant."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def summary(self, work: float) -> dict[str, Any]:
        """Median seconds, the rate ``work / median`` and the raw samples."""
        return {
            "median_seconds": round(self.median, 4),
            "per_second": round(work / self.median, 2),
            "best_per_second": round(work / min(self.seconds), 2),
            "seconds": [round(s, 4) for s in self.seconds],
        }


def interleaved(
    variants: dict[str, Callable[[], Any]], repeats: int, device: torch.device
) -> dict[str, Samples]:
    """Warm every variant up once, then time them round-robin ``repeats`` times."""
    for fn in variants.values():
        fn()
    samples = {name: Samples() for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            samples[name].seconds.append(timed(fn, device))
    return samples


def flops_of(fn: Callable[[], Any]) -> int:
    """FLOPs (2 x MACs, performance.md conventions) counted by torch's flop counter for one call."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def matmul_rate(device: torch.device, repeats: int = 5) -> dict[str, Any]:
    """Measured dense matmul rate: fp32 2048^3 on the CPU, bf16 8192^3 on CUDA (the H200 notes)."""
    size, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (2048, torch.float32)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    times = [timed(lambda: a @ b, device) for _ in range(repeats)]
    median = statistics.median(times)
    return {
        "size": size,
        "dtype": str(dtype).removeprefix("torch."),
        "median_seconds": round(median, 5),
        "flops_per_second": 2 * size**3 / median,
    }


def machine_info(device: torch.device) -> dict[str, Any]:
    """torch version, threads, processor or GPU name, core count and the current load average."""
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "loadavg_start": list(os.getloadavg()),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float | None:
    """Peak allocated device memory since the last reset (CUDA only)."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
