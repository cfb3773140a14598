"""Give each GPU job its own device.

Snakemake counts ``resources: gpu=1`` against ``--resources gpu=N`` but never says *which* GPU a
job may use, so two concurrent jobs would both run on device 0 (snakemake/snakemake#281). Every
GPU job therefore calls :func:`claim_gpu` before torch touches CUDA:

* **under SLURM** (``SLURM_JOB_ID`` set) the allocation is the pool: ``CUDA_VISIBLE_DEVICES``, or
  ``SLURM_STEP_GPUS``/``SLURM_JOB_GPUS`` when SLURM did not set it. An allocation of at most
  ``count`` devices is trusted as is; a bigger one (the local executor inside ``salloc``, or a
  ``group:`` of jobs in one submission) is shared out with locks private to that SLURM job. An
  allocation without GPUs hides every device, and the job runs on the CPU;
* **otherwise** the pool is the inherited ``CUDA_VISIBLE_DEVICES`` if set, else every GPU of the
  machine (``TUE_NUM_GPUS`` to simulate some, else ``nvidia-smi -L``, asked in a subprocess so
  this process never initialises CUDA). The job takes an exclusive ``fcntl.flock`` on one lock
  file per device and sets ``CUDA_VISIBLE_DEVICES`` to the devices it holds. The kernel drops a
  flock when its process dies, so a killed job never leaves a device locked.

With no GPU at all the claim yields ``None`` and the job runs on the CPU.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NUM_GPUS_ENV = "TUE_NUM_GPUS"  # simulate this many GPUs (tests, CI); overrides detection
LOCK_DIR_ENV = "TUE_GPU_LOCK_DIR"  # where the per-device lock files live
TIMEOUT_ENV = "TUE_GPU_CLAIM_TIMEOUT"  # seconds to wait for a free device
DEFAULT_LOCK_DIR = Path("/tmp/tue-gpu-locks")  # fixed, not $TMPDIR: jobs may get their own tmpdir
DEFAULT_TIMEOUT_S = 600.0

VISIBLE = "CUDA_VISIBLE_DEVICES"
_ORDER = "CUDA_DEVICE_ORDER"
_SLURM_GPU_VARS = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS")

# Environment values that were in place before the outermost active claim of this process, so
# a claim nested in another (two simulated jobs in one test) draws from the same pool.
_outer_env: list[dict[str, str | None]] = []


@dataclass(frozen=True)
class DevicePool:
    """The devices a job may choose from, and how they were found."""

    devices: tuple[str, ...]  # values for CUDA_VISIBLE_DEVICES: indices, UUIDs or MIG UUIDs
    source: str  # where the list came from, for the log
    slurm_job: str | None = None  # set when the pool is a SLURM allocation
    pci_order: bool = False  # indices follow nvidia-smi's PCI bus order


@contextmanager
def claim_gpu(
    lock_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    *,
    count: int = 1,
    poll_interval: float = 0.2,
) -> Iterator[str | None]:
    """Hold ``count`` GPUs for the duration of the block; yield ``CUDA_VISIBLE_DEVICES`` or ``None``.

    Args:
        lock_dir: directory of the per-device lock files (default ``$TUE_GPU_LOCK_DIR``, else
            ``/tmp/tue-gpu-locks``); every job of a machine must use the same one.
        timeout: seconds to wait for a free device before ``TimeoutError`` (default
            ``$TUE_GPU_CLAIM_TIMEOUT``, else 600; ``math.inf`` waits forever).
        count: devices the job needs, e.g. ``snakemake.resources.gpu``; 0 hides every GPU.
        poll_interval: seconds between two attempts while every device is busy.

    The previous ``CUDA_VISIBLE_DEVICES`` is restored and the locks released on exit. Call it
    before anything initialises CUDA: the CUDA runtime reads ``CUDA_VISIBLE_DEVICES`` only once.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0 (GPUs the job needs), got {count}")
    if poll_interval <= 0:
        raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval}")
    wait_s = _resolve_timeout(timeout)
    _refuse_if_cuda_initialised()
    inherited = _outer_env[0] if _outer_env else _snapshot_env()
    _outer_env.append(_snapshot_env())
    held: list[int] = []
    try:
        pool = device_pool(inherited)
        chosen, held = _choose(
            pool, count, _resolve_lock_dir(lock_dir, pool), wait_s, poll_interval
        )
        _apply(chosen, pool)
        _log_claim(chosen, pool)
        yield ",".join(chosen) if chosen else None
    finally:
        for fd in held:
            os.close(fd)  # closing the last descriptor releases the flock
        _restore_env(_outer_env.pop())


def device_pool(env: dict[str, str | None] | None = None) -> DevicePool:
    """The devices this job may use, from SLURM, ``CUDA_VISIBLE_DEVICES`` or the machine."""
    env = _snapshot_env() if env is None else env
    if os.environ.get("SLURM_JOB_ID"):
        return _slurm_pool(env, os.environ["SLURM_JOB_ID"])
    visible = env[VISIBLE]
    if visible is not None:
        return DevicePool(_split(visible), f"inherited {VISIBLE}")
    return _machine_pool()


def parse_nvidia_smi_list(text: str) -> tuple[tuple[str, ...], bool]:
    """Devices in ``nvidia-smi -L`` output: MIG instance UUIDs if any, else GPU indices.

    Returns the device ids and whether they are PCI-ordered indices (``CUDA_DEVICE_ORDER`` must
    then be ``PCI_BUS_ID`` for CUDA to number them the same way).
    """
    migs = re.findall(r"^\s+MIG .*\(UUID:\s*(MIG-[^)\s]+)\)", text, re.M)
    if migs:
        return tuple(migs), False
    return tuple(re.findall(r"^GPU (\d+):", text, re.M)), True


def _slurm_pool(env: dict[str, str | None], job_id: str) -> DevicePool:
    """A SLURM job may use exactly its allocation (none: CPU only)."""
    if env[VISIBLE] is not None:
        return DevicePool(_split(env[VISIBLE]), f"SLURM job {job_id} ({VISIBLE})", job_id)
    for name in _SLURM_GPU_VARS:
        if os.environ.get(name):
            return DevicePool(_split(os.environ[name]), f"SLURM job {job_id} ({name})", job_id)
    return DevicePool((), f"SLURM job {job_id} (no GPU allocated)", job_id)


def _machine_pool() -> DevicePool:
    """Every GPU of the machine: simulated, from nvidia-smi, or from torch in a subprocess."""
    simulated = os.environ.get(NUM_GPUS_ENV)
    if simulated is not None:
        if not simulated.strip().isdigit():
            raise ValueError(f"{NUM_GPUS_ENV} must be a number of GPUs >= 0, got {simulated!r}")
        return DevicePool(tuple(str(i) for i in range(int(simulated))), NUM_GPUS_ENV)
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        result = _run([smi, "-L"])
        devices, pci_order = parse_nvidia_smi_list(result.stdout if result else "")
        return DevicePool(devices, "nvidia-smi -L", pci_order=pci_order and bool(devices))
    if Path("/proc/driver/nvidia").exists():  # a driver but no nvidia-smi: ask torch, elsewhere
        code = "import torch; print(torch.cuda.device_count())"
        result = _run([sys.executable, "-c", code], timeout=300)
        last_line = result.stdout.split()[-1:] if result else []
        count = int(last_line[0]) if last_line and last_line[0].isdigit() else 0
        return DevicePool(tuple(str(i) for i in range(count)), "torch (subprocess)")
    return DevicePool((), "no NVIDIA driver")


def _choose(
    pool: DevicePool, count: int, lock_dir: Path, wait_s: float, poll_interval: float
) -> tuple[list[str], list[int]]:
    """The devices to expose and the lock descriptors that hold them."""
    if count == 0 or not pool.devices:
        return [], []
    if pool.slurm_job is not None and len(pool.devices) <= count:
        if len(pool.devices) < count:
            log.warning("asked for %d GPU(s), %s holds %d", count, pool.source, len(pool.devices))
        return list(pool.devices), []  # the allocation is the job's own: nothing to share
    if count > len(pool.devices):
        raise ValueError(
            f"asked for {count} GPU(s) but the pool has {len(pool.devices)}: "
            f"{list(pool.devices)} from {pool.source}"
        )
    return _acquire(pool, count, lock_dir, wait_s, poll_interval)


def _acquire(
    pool: DevicePool, count: int, lock_dir: Path, wait_s: float, poll_interval: float
) -> tuple[list[str], list[int]]:
    """Lock ``count`` free devices (all or none per attempt, so jobs cannot deadlock)."""
    _make_lock_dir(lock_dir)
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        chosen, fds = [], []
        for device in pool.devices:
            fd = _try_lock(lock_dir / f"gpu-{_safe_name(device)}.lock")
            if fd is not None:
                chosen.append(device)
                fds.append(fd)
                if len(chosen) == count:
                    return chosen, fds
        for fd in fds:
            os.close(fd)
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"could not claim {count} GPU(s) among {list(pool.devices)} ({pool.source}) "
                f"within {wait_s:g} s: other jobs hold the locks in {lock_dir}. Is `--resources gpu=N` "
                f"larger than the {len(pool.devices)} GPU(s) here? Wait longer with "
                f"{TIMEOUT_ENV}=<seconds>."
            )
        if not announced:
            log.info("all %d GPU(s) of %s busy; waiting", len(pool.devices), pool.source)
            announced = True
        time.sleep(poll_interval)


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive flock on ``path``, or None if another holds it."""
    # Read-only is enough for flock and works on lock files created by another user.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _make_lock_dir(path: Path) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        with suppress(PermissionError):  # another user created it first
            path.chmod(0o1777)  # shared by every user's jobs, like /tmp


def _resolve_lock_dir(lock_dir: str | os.PathLike[str] | None, pool: DevicePool) -> Path:
    base = Path(lock_dir or os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)
    # Device ids inside a SLURM allocation are private to that job (cgroups renumber them).
    return base / f"slurm-job-{pool.slurm_job}" if pool.slurm_job is not None else base


def _resolve_timeout(timeout: float | None) -> float:
    if timeout is None:
        raw = os.environ.get(TIMEOUT_ENV)
        try:
            timeout = float(raw) if raw is not None else DEFAULT_TIMEOUT_S
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout}")
    return timeout


def _apply(chosen: list[str], pool: DevicePool) -> None:
    """Expose exactly the chosen devices ("" hides every GPU: the job runs on the CPU)."""
    os.environ[VISIBLE] = ",".join(chosen)
    if pool.pci_order and chosen:
        os.environ[_ORDER] = "PCI_BUS_ID"  # CUDA numbers devices like nvidia-smi


def _log_claim(chosen: list[str], pool: DevicePool) -> None:
    if chosen:
        value = ",".join(chosen)
        log.info("claimed GPU %s of %s; %s=%s", value, pool.source, VISIBLE, value)
    else:
        log.info("no GPU for this job (%s); running on the CPU", pool.source)


def _refuse_if_cuda_initialised() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError(
            "claim_gpu() was called after CUDA was initialised; CUDA_VISIBLE_DEVICES would be "
            "ignored. Call it first thing in the job, before any torch.cuda use."
        )


def _snapshot_env() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in (VISIBLE, _ORDER)}


def _restore_env(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _split(value: str | None) -> tuple[str, ...]:
    """``"0,1"`` -> ("0", "1"); SLURM writes ``NoDevFiles`` when the gres has no device files."""
    items = tuple(item.strip() for item in (value or "").split(",") if item.strip())
    return () if items == ("NoDevFiles",) else items


def _safe_name(device: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", device)


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str] | None:
    """Run a probe; None when it is missing, fails or hangs (no GPU can be used then)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("GPU probe %s failed: %s", command[0], error)
        return None
    return result if result.returncode == 0 else None
