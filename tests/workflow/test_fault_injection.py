"""Fault injection: real workflow jobs are SIGKILLed at random points and resumed by Snakemake.

A tiny config (the demo's synthetic CIFAR-10 stand-in, longer schedules, a checkpoint after every
unit) is run twice in scratch copies of the workflow:

* once uninterrupted (in the background, beside the killed runs), as the reference;
* once with every job of interest killed with SIGKILL at two random points (after a random
  checkpoint plus a random delay; one kill takes the job's processes, the other Snakemake's whole
  process tree, which then needs ``--unlock``), each time rerun by plain ``snakemake``.

Each test kills one job kind where its name says, and checks that every rerun resumed from the
checkpoint the kill left (never from scratch) and that the artifact equals the uninterrupted
run's: arrays equal, metrics and per-epoch histories equal apart from timings. ``TUE_FAULT_SEED``
fixes the random kill points (the seed used is printed with the kill points).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from fault_injection import (
    CONFIG,
    IGNORED,
    JOBS,
    KillPoint,
    Workflow,
    assert_same_perturbation,
    fault_config,
    kill_at,
    resumed_counts,
)
from workflow_files import copy_workflow

pytestmark = pytest.mark.slow
TIMING_KEYS = {"seconds", "images_per_second", "pretrain_images_per_second", "wall_seconds"}
SEED = int(os.environ.get("TUE_FAULT_SEED", random.SystemRandom().randrange(2**31)))


def workflow(path: Path) -> Workflow:
    workdir = copy_workflow(path)
    (workdir / CONFIG).write_text(yaml.safe_dump(fault_config(), sort_keys=False))
    env = {**os.environ, "TUE_CHECKPOINT_INTERVAL_S": "0"}  # generation: a checkpoint every unit
    return Workflow(workdir, CONFIG, env)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Path]]:
    """The uninterrupted run of every target, started in the background; yields its workdir
    once it has finished (the first test to need it waits)."""
    flow = workflow(tmp_path_factory.mktemp("reference"))
    process = flow.start(*(target for target, _, _ in JOBS.values()))

    def finished() -> Path:
        assert process.wait(timeout=900) == 0, flow.tail()
        return flow.workdir

    yield finished
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Workflow:
    return workflow(tmp_path_factory.mktemp("faulty"))


def kill_and_resume(flow: Workflow, kind: str) -> list[KillPoint]:
    """Kill job ``kind`` at its kill points (alternating job / tree kills), then let it finish;
    every rerun must resume from the last checkpoint the kill left."""
    target, log_name, points = JOBS[kind]
    log = flow.workdir / log_name
    rng = random.Random(f"{SEED}-{kind}")
    kills: list[KillPoint] = []
    floor: dict[str, int] = {}
    for number, (checkpoint, latest, max_delay) in enumerate(points):
        first = floor.get(checkpoint, 0) + 1
        after = rng.randint(first, max(first, latest))
        mode = "job" if number % 2 == 0 else "tree"
        point = kill_at(
            flow, target, log, checkpoint, after=after, max_delay_s=max_delay, mode=mode, rng=rng
        )
        assert not (flow.workdir / target).exists(), f"{kind}: the job ended before the kill"
        if kills:
            kills[-1].resumed_after = resumed_counts(log.read_text()).get(kills[-1].checkpoint)
        kills.append(point)
        floor[checkpoint] = point.count
    log.unlink()
    final = flow.run(target)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    text = log.read_text()
    kills[-1].resumed_after = resumed_counts(text).get(kills[-1].checkpoint)
    assert not IGNORED.search(text), text  # the checkpoints were this job's own
    for point in kills:
        # The last save the kill left, or one more when it struck between rename and log line.
        assert point.resumed_after in (point.count, point.count + 1), (kind, asdict(point))
    assert not list((flow.workdir / target).parent.glob(".checkpoint*")), "checkpoint not removed"
    print(f"\nfault injection ({kind}, TUE_FAULT_SEED={SEED}):")
    for point in kills:
        print("  ", json.dumps(asdict(point)))
    return kills


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def assert_same_evaluation(ours: Path, theirs: Path) -> None:
    meta_a, meta_b = (json.loads(p.read_text()) for p in (ours, theirs))
    assert without_timings(meta_a["metrics"]) == without_timings(meta_b["metrics"])
    history_a, history_b = (
        [json.loads(line) for line in p.with_suffix(".history.jsonl").read_text().splitlines()]
        for p in (ours, theirs)
    )
    assert without_timings(history_a) == without_timings(history_b)


def test_sigkill_during_emn_generation_resumes_after_the_last_saved_round(
    faulty: Workflow, reference: Any
) -> None:
    kill_and_resume(faulty, "emn")
    target = JOBS["emn"][0]
    assert_same_perturbation(faulty.workdir / target, reference() / target)


def test_sigkill_during_tue_moco_generation_resumes_after_the_last_saved_noise_pass(
    faulty: Workflow, reference: Any
) -> None:
    kill_and_resume(faulty, "tue_moco")
    target = JOBS["tue_moco"][0]
    assert_same_perturbation(faulty.workdir / target, reference() / target)


def test_sigkill_during_supervised_training_resumes_after_the_last_saved_epoch(
    faulty: Workflow, reference: Any
) -> None:
    kill_and_resume(faulty, "supervised")
    target = JOBS["supervised"][0]
    assert_same_evaluation(faulty.workdir / target, reference() / target)


def test_sigkill_during_ssl_pretraining_then_during_linear_probe_resumes_each_phase(
    faulty: Workflow, reference: Any
) -> None:
    kills = kill_and_resume(faulty, "linear_probe")
    assert [k.checkpoint for k in kills] == [".checkpoint.pt", ".checkpoint.probe.pt"]
    target = JOBS["linear_probe"][0]
    assert_same_evaluation(faulty.workdir / target, reference() / target)


def test_after_the_kills_nothing_is_left_to_do(faulty: Workflow) -> None:
    targets = [target for target, _, _ in JOBS.values()]
    dry = subprocess.run(
        faulty.command("-n", *targets),
        cwd=faulty.workdir,
        env=faulty.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
