"""tue_core.gpu.claim_gpu: one device per job, SLURM's allocation trusted, CPU when no GPU."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tue_core.gpu import (
    NUM_GPUS_ENV,
    TIMEOUT_ENV,
    VISIBLE,
    claim_gpu,
    device_pool,
    parse_nvidia_smi_list,
)

SMI_TWO_GPUS = (
    "GPU 0: NVIDIA H200 (UUID: GPU-11111111-2222-3333-4444-555555555555)\n"
    "GPU 1: NVIDIA H200 (UUID: GPU-66666666-7777-8888-9999-000000000000)\n"
)
SMI_MIG = (
    "GPU 0: NVIDIA H200 (UUID: GPU-11111111-2222-3333-4444-555555555555)\n"
    "  MIG 1g.18gb     Device  0: (UUID: MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)\n"
    "  MIG 1g.18gb     Device  1: (UUID: MIG-ffffffff-0000-1111-2222-333333333333)\n"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SLURM job, no inherited device list, no simulation unless a test sets one."""
    for name in list(os.environ):
        if name.startswith("SLURM_") or name.startswith("TUE_"):
            monkeypatch.delenv(name)
    for name in (VISIBLE, "CUDA_DEVICE_ORDER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def locks(tmp_path: Path) -> Path:
    return tmp_path / "locks"


def test_two_claims_get_different_devices_and_restore_the_environment(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "2")
    with claim_gpu(locks, timeout=0) as first:
        assert os.environ[VISIBLE] == first
        with claim_gpu(locks, timeout=0) as second:
            assert {first, second} == {"0", "1"}
            assert os.environ[VISIBLE] == second
        assert os.environ[VISIBLE] == first
    assert VISIBLE not in os.environ


def test_a_released_device_is_claimed_again(monkeypatch: pytest.MonkeyPatch, locks: Path) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "1")
    with claim_gpu(locks, timeout=0) as first:
        assert first == "0"
    with claim_gpu(locks, timeout=0) as again:
        assert again == "0"


def test_third_claim_times_out_naming_the_devices(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "2")
    with claim_gpu(locks, timeout=0), claim_gpu(locks, timeout=0):
        start = time.monotonic()
        with (
            pytest.raises(TimeoutError, match=r"among \['0', '1'\].*--resources gpu=N"),
            claim_gpu(locks, timeout=0.3, poll_interval=0.05),
        ):
            pass
        assert time.monotonic() - start >= 0.3
        assert os.environ[VISIBLE] in {"0", "1"}  # the failed claim left the env alone


def test_waiting_claim_gets_the_device_of_a_killed_job(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "1")
    holder_code = (
        "import sys, time; from tue_core.gpu import claim_gpu\n"
        f"with claim_gpu({str(locks)!r}, timeout=0) as device:\n"
        "    print(device, flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "0"
        threading.Timer(0.5, holder.kill).start()  # SIGKILL: no cleanup code runs
        start = time.monotonic()
        with claim_gpu(locks, timeout=20, poll_interval=0.05) as device:
            waited = time.monotonic() - start
            assert device == "0"
        assert waited >= 0.4  # it really had to wait for the kill
    finally:
        holder.kill()
        holder.wait()


def test_slurm_allocation_is_trusted_without_locks(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv(VISIBLE, "3")
    monkeypatch.setenv(NUM_GPUS_ENV, "4")
    locks.mkdir()
    busy = [os.open(locks / f"gpu-{i}.lock", os.O_RDONLY | os.O_CREAT) for i in range(4)]
    try:
        for fd in busy:  # every device of the "machine" is held by someone else
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with claim_gpu(locks, timeout=0) as device, claim_gpu(locks, timeout=0) as same:
            assert device == same == "3"
            assert os.environ[VISIBLE] == "3"
        assert not (locks / "slurm-job-42").exists()
    finally:
        for fd in busy:
            os.close(fd)
    assert os.environ[VISIBLE] == "3"


def test_slurm_job_gpus_are_used_when_slurm_set_no_visible_devices(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "43")
    monkeypatch.setenv("SLURM_JOB_GPUS", "1")
    with claim_gpu(locks, timeout=0) as device:
        assert device == "1"
        assert os.environ[VISIBLE] == "1"


def test_slurm_job_without_gpus_runs_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "44")
    monkeypatch.setenv(NUM_GPUS_ENV, "2")  # the node has GPUs, the job was given none
    with claim_gpu(locks, timeout=0) as device:
        assert device is None
        assert os.environ[VISIBLE] == ""


def test_a_bigger_slurm_allocation_is_shared_out_with_job_private_locks(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "45")
    monkeypatch.setenv(VISIBLE, "0,1")  # e.g. local executor inside `salloc --gpus=2`
    with claim_gpu(locks, timeout=0) as first, claim_gpu(locks, timeout=0) as second:
        assert {first, second} == {"0", "1"}
        assert sorted(p.name for p in (locks / "slurm-job-45").iterdir()) == [
            "gpu-0.lock",
            "gpu-1.lock",
        ]


def test_no_gpu_yields_none(monkeypatch: pytest.MonkeyPatch, locks: Path) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "0")
    with claim_gpu(locks, timeout=0) as device:
        assert device is None


def test_inherited_visible_devices_are_the_pool(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv(VISIBLE, "5,7")
    monkeypatch.setenv(NUM_GPUS_ENV, "8")
    with claim_gpu(locks, timeout=0) as first, claim_gpu(locks, timeout=0) as second:
        assert (first, second) == ("5", "7")
    monkeypatch.setenv(VISIBLE, "")
    with claim_gpu(locks, timeout=0) as hidden:
        assert hidden is None


def test_count_zero_hides_every_gpu(monkeypatch: pytest.MonkeyPatch, locks: Path) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "2")
    with claim_gpu(locks, timeout=0, count=0) as device:
        assert device is None
        assert os.environ[VISIBLE] == ""


def test_count_two_takes_two_devices(monkeypatch: pytest.MonkeyPatch, locks: Path) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "3")
    with claim_gpu(locks, timeout=0, count=2) as pair, claim_gpu(locks, timeout=0) as single:
        assert (pair, single) == ("0,1", "2")


def test_devices_are_found_with_nvidia_smi(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, locks: Path
) -> None:
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = -L ] || exit 9\ncat <<'EOF'\n{SMI_TWO_GPUS}EOF\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert device_pool().devices == ("0", "1")
    with claim_gpu(locks, timeout=0) as device:
        assert device == "0"
        assert os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert "CUDA_DEVICE_ORDER" not in os.environ


def test_nvidia_smi_listing_prefers_mig_instances() -> None:
    assert parse_nvidia_smi_list(SMI_TWO_GPUS) == (("0", "1"), True)
    devices, pci_order = parse_nvidia_smi_list(SMI_MIG)
    assert devices == (
        "MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "MIG-ffffffff-0000-1111-2222-333333333333",
    )
    assert not pci_order
    assert parse_nvidia_smi_list("No devices were found\n") == ((), True)


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        ({NUM_GPUS_ENV: "two"}, {}, NUM_GPUS_ENV),
        ({TIMEOUT_ENV: "soon"}, {}, TIMEOUT_ENV),
        ({NUM_GPUS_ENV: "1"}, {"count": -1}, "count must be >= 0"),
        ({NUM_GPUS_ENV: "1"}, {"count": 2}, "asked for 2 GPU"),
        ({NUM_GPUS_ENV: "1"}, {"timeout": -1.0}, "timeout must be >= 0"),
    ],
)
def test_bad_input_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    locks: Path,
    env: dict[str, str],
    kwargs: dict[str, float],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message), claim_gpu(locks, **kwargs):
        pass
    assert VISIBLE not in os.environ


def test_claim_after_cuda_initialisation_is_refused(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    import torch

    monkeypatch.setenv(NUM_GPUS_ENV, "1")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(RuntimeError, match=r"before any torch\.cuda use"), claim_gpu(locks):
        pass


def test_timeout_from_the_environment_allows_waiting_forever(
    monkeypatch: pytest.MonkeyPatch, locks: Path
) -> None:
    monkeypatch.setenv(NUM_GPUS_ENV, "1")
    monkeypatch.setenv(TIMEOUT_ENV, "0")
    with claim_gpu(locks), pytest.raises(TimeoutError), claim_gpu(locks, poll_interval=0.01):
        pass
    monkeypatch.setenv(TIMEOUT_ENV, "inf")
    with claim_gpu(locks) as device:  # a free device is taken at once, however long the timeout
        assert device == "0"
