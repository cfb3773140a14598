"""Snakemake's `--resources gpu=2` plus tue_core.gpu.claim_gpu give each GPU job its own device.

Six `gpu=1` jobs on 4 cores and 2 simulated GPUs: each job claims a device, records when it held
it, and sleeps. Snakemake alone would run two jobs at a time on the same (unnamed) GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

JOBS = 6
HOLD_S = 1.0

SNAKEFILE = f"""
rule all:
    input:
        expand("out/{{i}}.json", i=range({JOBS})),


rule gpu_job:
    output:
        "out/{{i}}.json",
    resources:
        gpu=1,
    script:
        "record_claim.py"
"""

RECORD_CLAIM = f"""
import json, os, time
from tue_core.gpu import claim_gpu

with claim_gpu(count=snakemake.resources.gpu, timeout=60) as device:
    start = time.time()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    time.sleep({HOLD_S})
    end = time.time()
with open(snakemake.output[0], "w") as handle:
    json.dump({{"device": device, "visible": visible, "start": start, "end": end}}, handle)
"""


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Largest number of intervals open at one instant (an end before a start at a tie)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def test_max_overlap_counts_concurrent_intervals() -> None:
    assert max_overlap([(0, 1), (1, 2), (2, 3)]) == 1
    assert max_overlap([(0, 3), (1, 4), (2, 5), (6, 7)]) == 3


@pytest.mark.slow
def test_gpu_jobs_never_share_a_device(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "record_claim.py").write_text(RECORD_CLAIM)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLURM_", "TUE_")) and name != "CUDA_VISIBLE_DEVICES"
    }
    env.update(TUE_NUM_GPUS="2", TUE_GPU_LOCK_DIR=str(tmp_path / "gpu-locks"))
    command = [sys.executable, "-m", "snakemake", "--cores", "4", "--resources", "gpu=2"]
    result = subprocess.run(
        [*command, "--workflow-profile", "none", "--quiet", "rules", "all"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("*.json"))]
    assert len(records) == JOBS
    assert all(r["visible"] == r["device"] for r in records)
    assert max_overlap([(r["start"], r["end"]) for r in records]) <= 2
    for device in ("0", "1"):
        held = [(r["start"], r["end"]) for r in records if r["device"] == device]
        assert max_overlap(held) == 1, f"two jobs held GPU {device} at once: {held}"
    # Both devices were in use, so jobs did run side by side (a serial run always gets GPU 0).
    assert {r["device"] for r in records} == {"0", "1"}
