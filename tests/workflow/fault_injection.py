"""Killing workflow jobs with SIGKILL at random points, and reading back how they resumed.

A kill point is "after the job logged its n-th checkpoint, plus a random delay", so the kill lands
at a random moment of a later unit of work (a pass, a round, an epoch) or while a checkpoint is
being written. Two ways to kill:

* ``job``: SIGKILL every process Snakemake started (the job dies, Snakemake sees it fail, as when
  a scheduler kills a job or the OOM killer strikes);
* ``tree``: SIGKILL Snakemake itself and all its children at once (a node that loses power); the
  next run needs ``snakemake --unlock`` first, as a user's would.

The log lines read here are those of :mod:`tue_core.checkpoint`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from workflow_files import ROOT

SAVED = re.compile(r"checkpoint (\S+): saved after (\w+) (\d+)")
RESUMED = re.compile(r"resumed from (\S+) after (\w+) (\d+)")
IGNORED = re.compile(r"ignoring (?:unreadable )?checkpoint")
RUN_TIMEOUT_S = 600
OUT = "results/fault"
CONFIG = "config/fault.yaml"
DATA = "synthetic10"


def fault_config() -> dict[str, Any]:
    """The demo config with schedules long enough to be killed in the middle."""
    cfg = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    cfg["output_dir"] = OUT
    cfg["datasets"][DATA].update(train_per_class=40, test_per_class=10)
    runs = cfg["perturbations"]
    runs["emn"].update(max_rounds=6, stop_accuracy=1.0)  # 6 rounds, never stopped early
    runs["tue_moco"].update(epochs=1, train_steps=1)  # 6 noise passes (6 batches per epoch)
    evaluation = cfg["evaluation"]
    evaluation["supervised"].update(epochs=16, checkpoint_every=1)
    moco = evaluation["linear_probe"]["moco"]
    moco["pretrain"].update(epochs=6, checkpoint_every=1)
    moco["probe"].update(epochs=8, checkpoint_every=1)
    return cfg


# job kind -> (target, log, [(checkpoint file, kill after at most this unit, max delay s)])
JOBS: dict[str, tuple[str, str, list[tuple[str, int, float]]]] = {
    "emn": (
        f"{OUT}/perturbations/{DATA}/emn/delta.npz",
        f"{OUT}/logs/perturbations/{DATA}/emn.log",
        [(".checkpoint.pt", 2, 1.0), (".checkpoint.pt", 4, 1.0)],
    ),
    "tue_moco": (
        f"{OUT}/perturbations/{DATA}/tue_moco/delta.npz",
        f"{OUT}/logs/perturbations/{DATA}/tue_moco.log",
        [(".checkpoint.pt", 2, 0.8), (".checkpoint.pt", 4, 0.8)],
    ),
    "supervised": (
        f"{OUT}/eval/supervised/{DATA}/{DATA}/emn/original/metrics.json",
        f"{OUT}/logs/eval/supervised/{DATA}/{DATA}/emn/original.log",
        [(".checkpoint.pt", 5, 0.15), (".checkpoint.pt", 11, 0.15)],
    ),
    "linear_probe": (
        f"{OUT}/eval/linear_probe/moco/{DATA}/{DATA}/tue_moco/original/metrics.json",
        f"{OUT}/logs/eval/linear_probe/moco/{DATA}/{DATA}/tue_moco/original.log",
        [(".checkpoint.pt", 3, 0.5), (".checkpoint.probe.pt", 5, 0.1)],
    ),
}


@dataclass
class KillPoint:
    """Where one kill landed: after checkpoint ``count`` of ``checkpoint`` plus ``delay_s``."""

    checkpoint: str  # file name: .checkpoint.pt, .checkpoint.probe.pt
    unit: str
    count: int
    delay_s: float
    mode: str  # "job" or "tree"
    resumed_after: int | None = None  # filled in by the next run


class Workflow:
    """One scratch copy of the workflow and the Snakemake command that runs it."""

    def __init__(self, workdir: Path, configfile: str, env: dict[str, str]) -> None:
        self.workdir, self.configfile, self.env = workdir, configfile, env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "snakemake", "--configfile", self.configfile, *args]

    def start(self, *targets: str) -> subprocess.Popen[str]:
        """Start Snakemake in the background; its output goes to :attr:`output` (a pipe nobody
        reads while waiting for a kill point would fill up and stall the run)."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with open(self.output, "w", encoding="utf-8") as sink:
            return subprocess.Popen(
                self.command("--cores", "1", *targets),
                cwd=self.workdir,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its own process group: `tree` kills exactly this run
            )

    @property
    def output(self) -> Path:
        return self.workdir / "snakemake.out"

    def tail(self) -> str:
        return self.output.read_text(errors="replace")[-3000:] if self.output.is_file() else ""

    def run(self, *targets: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command("--cores", "1", *targets),
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )

    def unlock(self) -> None:
        done = subprocess.run(
            self.command("--unlock"), cwd=self.workdir, env=self.env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill(process: subprocess.Popen[str], mode: str) -> None:
    """SIGKILL the job's processes (``job``) or the whole run (``tree``), and reap it."""
    if mode == "tree":
        os.killpg(process.pid, signal.SIGKILL)
    else:
        for pid in descendants(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    process.wait(timeout=120)


def saved_counts(log: Path, checkpoint: str) -> list[int]:
    """The counts of the ``checkpoint`` saves the job's log reports so far."""
    if not log.is_file():
        return []
    return [
        int(m.group(3))
        for m in SAVED.finditer(log.read_text(errors="replace"))
        if Path(m.group(1)).name == checkpoint
    ]


def resumed_counts(log_text: str) -> dict[str, int]:
    """Checkpoint file name -> the unit count the job resumed after."""
    return {Path(m.group(1)).name: int(m.group(3)) for m in RESUMED.finditer(log_text)}


def wait_for_save(
    process: subprocess.Popen[str], log: Path, checkpoint: str, count: int, timeout: float = 300
) -> None:
    """Block until the job's log reports a save of ``checkpoint`` with at least ``count`` units."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c >= count for c in saved_counts(log, checkpoint)):
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {checkpoint} reached {count}: {log}")
        time.sleep(0.02)
    raise AssertionError(f"{log}: no save of {checkpoint} at {count} within {timeout} s")


def kill_at(
    workflow: Workflow,
    target: str,
    log: Path,
    checkpoint: str,
    *,
    after: int,
    max_delay_s: float,
    mode: str,
    rng: random.Random,
) -> KillPoint:
    """Run ``target``, SIGKILL it ``U(0, max_delay_s)`` after its ``after``-th unit was saved."""
    log.unlink(missing_ok=True)  # the job rewrites it; the old one must not satisfy the wait
    process = workflow.start(target)
    try:
        wait_for_save(process, log, checkpoint, after)
        delay = rng.uniform(0.0, max_delay_s)
        time.sleep(delay)
    finally:
        kill(process, mode)
    if mode == "tree":
        workflow.unlock()
    text = log.read_text(errors="replace")
    unit = next(m.group(2) for m in SAVED.finditer(text) if Path(m.group(1)).name == checkpoint)
    last = max(saved_counts(log, checkpoint))  # more units may have been saved during the delay
    return KillPoint(checkpoint, unit, last, round(delay, 3), mode)


def assert_same_perturbation(ours: Path, theirs: Path) -> None:
    """A resumed run's perturbation file equals the uninterrupted run's: arrays and record."""
    with np.load(ours) as a, np.load(theirs) as b:
        assert a.files == b.files
        for name in a.files:
            assert np.array_equal(a[name], b[name]), name
    gen_a = json.loads(ours.with_suffix(".json").read_text())["extra"]["generation"]
    gen_b = json.loads(theirs.with_suffix(".json").read_text())["extra"]["generation"]
    for key in ("losses", "schedule", "method_extra", "csd_whole_set", "linear_separability"):
        assert gen_a[key] == gen_b[key], key
    assert gen_a["checkpoint"]["resumed_after"] is not None  # the record says it resumed
