"""The workflow runs through a real SLURM cluster with profiles/slurm.

A session fixture brings up a single-node cluster on localhost (tools/slurm/up.sh: munged,
slurmctld, slurmd, two fake GPUs, partitions `cpu` and `gpu`), then:

* the demo's cheap jobs run with `snakemake --workflow-profile profiles/slurm --configfile
  config/demo.yaml` in a copy of the workflow; every job must be a completed SLURM job in that
  directory with its plugin log, and every output must exist;
* a toy workflow of GPU and CPU jobs checks the profile's GPU mapping: `gpu=1` jobs go to the
  `gpu` partition with one GPU each and claim_gpu trusts SLURM's device; CPU jobs get none;
* two generation jobs (EMN and TUE MoCo, the fault-injection config of fault_injection.py) run
  at once on the cluster and each is killed after it logged checkpoints, one by `scancel
  --signal=KILL`, the other by SIGKILL of its script's process: the profile's `retries: 1`
  resubmits each as a new SLURM job, which resumes from its checkpoint and ends with the
  artifact of an uninterrupted local run.

The test cluster has no accounting database, so status queries use squeue
(`--slurm-status-command squeue`); without it the plugin waits forever. Every snakemake call
has a hard timeout for the same reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fault_injection import (
    CONFIG,
    DATA,
    IGNORED,
    JOBS,
    RESUMED,
    SAVED,
    assert_same_perturbation,
    fault_config,
    resumed_counts,
    saved_counts,
)
from workflow_files import copy_workflow

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "slurm"
PROFILE = ROOT / "profiles" / "slurm"
DEMO_CONFIG = "config/demo.yaml"
RUN_TIMEOUT_S = 300
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (.+?)\)")
# Test-cluster settings: squeue (no slurmdbd), fast polling, keep the per-job logs to inspect.
CLUSTER_FLAGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "2",
    "--slurm-keep-successful-logs",
]


def demo_selection() -> list[str]:
    """Targets of the SLURM run: the demo's `all`, cut after the rules cheap enough for a 2-core
    CI runner. Add a rule to `--until` when a new one is cheap at demo scale. Goes first on the
    command line (`--configfile` would swallow a target after it)."""
    return ["all", "--until", "prepare_dataset"]


def demo_outputs() -> list[str]:
    """Files the selection must leave behind (rules/common.smk's layout)."""
    config = yaml.safe_load((ROOT / DEMO_CONFIG).read_text())
    out = config.get("output_dir", "results")
    return [
        f"{out}/data/{name}/{split}.npz"
        for name in config["datasets"]
        for split in ("train", "test")
    ]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment minus anything that would make snakemake think it runs in a
    SLURM job or pin a GPU; plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLURM_", "SBATCH_", "TUE_SLURM_"))
        and name != "CUDA_VISIBLE_DEVICES"
    }
    return {**env, **extra}


def local_cluster_is_up() -> bool:
    """Is the local test cluster of tools/slurm/up.sh (ClusterName=tue) up with an idle node?

    Never a real site's cluster: the tests would submit to partitions it may not have."""
    if shutil.which("scontrol") is None:
        return False
    try:
        config = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, timeout=10
        )
        state = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        return False
    ours = re.search(r"^ClusterName\s*=\s*tue$", config.stdout, re.M) is not None
    return (
        ours
        and state.returncode == 0
        and bool(state.stdout.split())
        and set(state.stdout.split()) <= {"idle", "mix", "alloc"}
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A running local cluster: one already up (e.g. `make slurm-up`), else tools/slurm/up.sh,
    stopped again afterwards."""
    if local_cluster_is_up():
        yield
        return
    if os.geteuid() != 0:
        pytest.skip("no SLURM cluster up, and tools/slurm/up.sh needs root to start one")
    if shutil.which("apt-get") is None and not Path("/usr/sbin/slurmctld").exists():
        pytest.skip("SLURM is not installed and there is no apt-get to install it")
    up = subprocess.run(["bash", str(TOOLS / "up.sh")], capture_output=True, text=True, timeout=900)
    assert up.returncode == 0, f"tools/slurm/up.sh failed:\n{up.stdout}\n{up.stderr}"
    yield
    subprocess.run(["bash", str(TOOLS / "down.sh")], capture_output=True, timeout=120)


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule (and "total") a dry run would run; {} when nothing is to be done.
    ``args`` start with the targets."""
    planned = run_snakemake(workdir, *args, "-n", "--quiet", "rules")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    table = re.findall(r"^(\w+)\s+(\d+)$", planned.stdout + planned.stderr, re.M)
    return {rule: int(count) for rule, count in table}


def slurm_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay visible for MinJobAge = 10 min)."""
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30
    )
    assert shown.returncode == 0, f"SLURM does not know job {job_id}: {shown.stderr}"
    return dict(re.findall(r"(\S+?)=(\S*)", shown.stdout))


def submitted_jobs(log: str) -> dict[str, Path]:
    return {job_id: Path(path) for job_id, path in SUBMITTED.findall(log)}


@pytest.mark.slurm
@pytest.mark.slow
def test_demo_jobs_run_as_slurm_jobs(slurm_cluster: None, tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "wf")
    common = ["--workflow-profile", "profiles/slurm", "--configfile", DEMO_CONFIG]
    result = run_snakemake(workdir, *demo_selection(), *common, *CLUSTER_FLAGS)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log

    jobs = submitted_jobs(log)
    planned = planned_jobs(workdir, *demo_selection(), *common, "--forceall")
    assert planned["total"] > 0 and len(jobs) == planned["total"] - planned.get("all", 0), log
    for job_id, job_log in jobs.items():
        job = slurm_job(job_id)
        assert job["JobState"] == "COMPLETED", job
        assert Path(job["WorkDir"]) == workdir
        assert job["Partition"] == "cpu"  # routed by profiles/slurm/partitions.yaml
        assert job_log.is_file() and job_log.is_relative_to(workdir / ".snakemake" / "slurm_logs")

    missing = [path for path in demo_outputs() if not (workdir / path).is_file()]
    assert not missing, f"outputs missing after the SLURM run: {missing}"
    assert planned_jobs(workdir, *demo_selection(), *common).get("total", 0) == 0


TOY_SNAKEFILE = """
rule all:
    input:
        "out/gpu_a.json",
        "out/gpu_b.json",
        "out/cpu.json",


rule gpu_job:
    output:
        "out/gpu_{name}.json",
    resources:
        gpu=1,
        mem_mb=500,
        runtime=5,
    script:
        "record.py"


rule cpu_job:
    output:
        "out/cpu.json",
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "record.py"
"""

TOY_RECORD = """
import json, os
from tue_core.gpu import claim_gpu

visible_before = os.environ.get("CUDA_VISIBLE_DEVICES")
with claim_gpu(count=snakemake.resources.get("gpu", 0), timeout=0) as device:
    record = {
        "device": device,
        "visible_before": visible_before,
        "slurm_job": os.environ.get("SLURM_JOB_ID"),
    }
with open(snakemake.output[0], "w") as handle:
    json.dump(record, handle)
"""


@pytest.mark.slurm
@pytest.mark.slow
def test_gpu_jobs_get_one_slurm_gpu_each(slurm_cluster: None, tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(TOY_SNAKEFILE)
    (tmp_path / "record.py").write_text(TOY_RECORD)
    result = run_snakemake(tmp_path, "all", "--workflow-profile", str(PROFILE), *CLUSTER_FLAGS)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log

    jobs = submitted_jobs(log)
    assert len(jobs) == 3, log
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")}
    by_slurm_id = {r["slurm_job"]: (name, r) for name, r in records.items()}
    assert set(by_slurm_id) == set(jobs), "each rule must have run inside its own SLURM job"
    for job_id in jobs:
        name, record = by_slurm_id[job_id]
        job = slurm_job(job_id)
        if name.startswith("gpu"):
            assert job["Partition"] == "gpu" and job["TresPerJob"] == "gres:gpu:1", job
            assert record["device"] == record["visible_before"] in {"0", "1"}, record
        else:
            assert job["Partition"] == "cpu" and "TresPerJob" not in job, job
            assert record["device"] is None, record


def test_profile_knobs_reach_the_job_resources(tmp_path: Path) -> None:
    """No cluster needed: a dry run shows the resources the profile gives a job."""
    (tmp_path / "Snakefile").write_text(TOY_SNAKEFILE)
    (tmp_path / "record.py").write_text(TOY_RECORD)
    dry = ["--workflow-profile", str(PROFILE), "-n", "all"]
    plain = run_snakemake(tmp_path, *dry)
    assert plain.returncode == 0, plain.stderr
    assert "slurm_account" not in plain.stdout + plain.stderr
    knobs = subprocess.run(
        [sys.executable, "-m", "snakemake", *dry],
        cwd=tmp_path,
        env=clean_env(TUE_SLURM_ACCOUNT="acme", TUE_SLURM_PARTITION="short"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    resources = re.findall(r"resources: (.*)", knobs.stdout + knobs.stderr)
    assert resources and all(
        "slurm_account=acme" in line and "slurm_partition=short" in line for line in resources
    ), knobs.stdout + knobs.stderr


# ------------------------------------------------------------------ a killed job is retried
GENERATION_RULE = "generate_perturbation"
CHECKPOINT = ".checkpoint.pt"
KILL_AFTER_SAVES = 2  # kill a job once its log reports this many saved units (of 6)
KILL_WAIT_S = 120  # for a killed job to end (a cancellation may take KillWait = 30 s)
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING"}  # SLURM job states before the end
# How a running job is killed -> (the state SLURM gives it, the signal its script dies of).
# Both states are failures to the plugin (its fail_stati), so Snakemake resubmits the job as a
# new SLURM job (profiles/slurm: `retries: 1`).
#
# * scancel: `scancel --signal=KILL <job>`. SLURM (22.05 here) does not deliver that SIGKILL as
#   such: a SIGKILL to a whole job is a cancellation, so slurmstepd sends SIGCONT and SIGTERM to
#   every process of the job and SIGKILL to the survivors after KillWait (30 s). The script dies
#   of the SIGTERM ("died with <Signals.SIGTERM: 15>" in the job log); the job ends CANCELLED.
#   `--full` makes no difference. This is what a user, an admin or a time limit does to a job.
# * sigkill: SIGKILL straight into the process running the rule's script on the node, as the
#   OOM killer or a crash of the node's software would: nothing in the job gets a chance to
#   clean up. The jobstep's Snakemake sees its rule fail, srun and the batch script exit 1, and
#   the job ends FAILED.
KILLS = {"scancel": ("CANCELLED", "SIGTERM"), "sigkill": ("FAILED", "SIGKILL")}
# The generation jobs of fault_injection.JOBS run at once, one SLURM job each (the node has 16
# CPUs, 64 GB and two GPUs; a job asks for 1 CPU, 16 GB and 1 GPU), each killed one way:
# EMN (6 rounds of about a second) and TUE MoCo (6 noise passes), a checkpoint after each unit.
GENERATIONS = {"emn": "scancel", "tue_moco": "sigkill"}


def fault_workflow(path: Path) -> Path:
    """A scratch copy of the workflow with fault_injection's tiny config as config/fault.yaml."""
    workdir = copy_workflow(path)
    (workdir / CONFIG).write_text(yaml.safe_dump(fault_config(), sort_keys=False))
    return workdir


def fault_env() -> dict[str, str]:
    """A checkpoint after every generation round. sbatch exports the submitter's environment
    (the plugin passes --export=ALL), so the variable reaches the SLURM job; the artifact's
    sidecar records the interval the job used."""
    return clean_env(TUE_CHECKPOINT_INTERVAL_S="0")


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.is_file() else ""


@contextlib.contextmanager
def background_snakemake(
    workdir: Path, output: Path, *args: str
) -> Iterator[subprocess.Popen[str]]:
    """Snakemake started in the background, its output going to ``output`` (a pipe nobody reads
    while the test waits would fill up and stall it). Killed on the way out if still running:
    it ignores SIGTERM while it waits for SLURM jobs and leaves them running, so its own
    process group gets SIGKILL and its SLURM jobs are cancelled."""
    with open(output, "w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "snakemake", *args],
            cwd=workdir,
            env=fault_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            for job_id in submitted_jobs(tail(output, 10**9)):
                subprocess.run(["scancel", job_id], capture_output=True, timeout=30)


def generation_jobs(output: Path, run: str) -> list[str]:
    """SLURM job ids Snakemake submitted for the generation job of perturbation run ``run``, in
    order. The plugin's per-job log is .snakemake/slurm_logs/rule_<rule>/<wildcards>/<id>.log,
    the wildcards' values joined by "_": here <dataset>_<run>."""
    return [
        job_id
        for job_id, log in submitted_jobs(tail(output, 10**9)).items()
        if log.parent.name == f"{DATA}_{run}"
        and log.parent.parent.name == f"rule_{GENERATION_RULE}"
    ]


def script_pids(job_id: str, script: str) -> list[int]:
    """The processes of SLURM job ``job_id`` (`scontrol listpids`, which asks the slurmd of this
    node, the only one) that run the rule script ``script``: `python
    <workdir>/.snakemake/scripts/tmpXXXX.<script>`, started by the jobstep's Snakemake."""
    listed = subprocess.run(
        ["scontrol", "listpids", job_id], capture_output=True, text=True, timeout=30
    )
    assert listed.returncode == 0, f"scontrol listpids {job_id}: {listed.stderr}"
    found = []
    for line in listed.stdout.splitlines()[1:]:  # PID JOBID STEPID LOCALID GLOBALID
        pid = int(line.split()[0])
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:  # already gone
            continue
        if len(argv) > 1 and argv[1].decode(errors="replace").endswith(f".{script}"):
            found.append(pid)
    return found


def kill_running_job(method: str, job_id: str) -> None:
    """Kill SLURM job ``job_id`` in one of the ways of :data:`KILLS`."""
    if method == "scancel":
        done = subprocess.run(
            ["scancel", "--signal=KILL", job_id], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return
    pids = script_pids(job_id, f"{GENERATION_RULE}.py")
    assert len(pids) == 1, f"expected one script process in SLURM job {job_id}, found {pids}"
    os.kill(pids[0], signal.SIGKILL)


@dataclass
class Kill:
    """One generation job of the SLURM run, killed with ``method`` once its log shows
    :data:`KILL_AFTER_SAVES` saves; what the test saw of it."""

    run: str  # the perturbation run: a key of fault_injection.JOBS
    method: str  # a key of KILLS
    log: Path  # the job's own log (the rule's log: file)
    job: str | None = None  # the killed SLURM job
    killed_at: float = 0.0
    seen: int = 0  # the last save the log showed right after the kill
    ended: dict[str, str] | None = None  # `scontrol show job` once the killed job ended
    first_log: str = ""  # the log of the killed attempt, read as soon as the job ended

    def step(self, output: Path) -> None:
        """Kill the job once it saved enough; then, once SLURM says it ended, read its log.

        Never blocks: the other job's kill point must not be missed while this one ends. The
        retry rewrites the log, but only seconds after SLURM reports the end (Snakemake's next
        status query, sbatch, two Snakemake start-ups), so a read at the first poll that sees
        the end is the first attempt's."""
        if self.job is None:
            if max(saved_counts(self.log, CHECKPOINT), default=0) < KILL_AFTER_SAVES:
                return
            [self.job] = generation_jobs(output, self.run)
            assert slurm_job(self.job)["JobState"] == "RUNNING"
            kill_running_job(self.method, self.job)
            self.killed_at = time.monotonic()
            self.seen = max(saved_counts(self.log, CHECKPOINT))
        elif self.ended is None:
            job = slurm_job(self.job)
            if job["JobState"] not in ACTIVE:
                self.ended, self.first_log = job, self.log.read_text(errors="replace")
                return
            elapsed = time.monotonic() - self.killed_at
            assert elapsed < KILL_WAIT_S, f"SLURM job {self.job} still running: {job}"


@pytest.fixture(scope="module")
def uninterrupted_generations(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], Path]]:
    """The generation targets of :data:`GENERATIONS` run locally without SLURM and without a
    kill (`--cores 1`), started in the background; yields a function that waits for the run
    and returns its working directory."""
    workdir = fault_workflow(tmp_path_factory.mktemp("uninterrupted"))
    targets = [JOBS[run][0] for run in GENERATIONS]
    output = workdir / "snakemake.out"
    with background_snakemake(
        workdir, output, *targets, "--cores", "1", "--configfile", CONFIG
    ) as run:

        def finished() -> Path:
            assert run.wait(timeout=RUN_TIMEOUT_S) == 0, tail(output)
            return workdir

        yield finished


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_kills_of_running_generation_jobs_are_retried_and_resume_from_their_checkpoints(
    slurm_cluster: None,
    tmp_path: Path,
    uninterrupted_generations: Callable[[], Path],
) -> None:
    """One SLURM run of both generation jobs: the EMN job is cancelled by SLURM, the TUE MoCo
    job's script is SIGKILLed, each after its own log showed checkpoints (the jobs run at once,
    maybe started at different times)."""
    workdir = fault_workflow(tmp_path / "wf")
    output = workdir / "snakemake.out"
    kills = [Kill(run, method, workdir / JOBS[run][1]) for run, method in GENERATIONS.items()]
    targets = [JOBS[run][0] for run in GENERATIONS]
    started = time.monotonic()
    args = [*targets, "--workflow-profile", "profiles/slurm", "--configfile", CONFIG]
    with background_snakemake(workdir, output, *args, *CLUSTER_FLAGS) as run:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while any(kill.ended is None for kill in kills):
            assert run.poll() is None, f"snakemake ended before the kills:\n{tail(output)}"
            waiting = [str(k.log) for k in kills if k.job is None]
            assert time.monotonic() < deadline, f"no checkpoint saves in {waiting}:\n{tail(output)}"
            for kill in kills:
                kill.step(output)
            time.sleep(0.05)
        returncode = run.wait(timeout=RUN_TIMEOUT_S)
    elapsed = time.monotonic() - started
    text = tail(output, 10**9)
    assert returncode == 0, text[-6000:]
    assert text.count("Trying to restart job") == len(kills), text[-6000:]
    job_logs = submitted_jobs(text)  # the plugin's per-job logs (--slurm-keep-successful-logs)
    reference = uninterrupted_generations()

    for kill in kills:
        # Killed while running, not requeued by SLURM, resubmitted by Snakemake as a new job.
        state, died_of = KILLS[kill.method]
        assert kill.ended is not None and kill.job is not None
        ended, killed = kill.ended, kill.job
        assert ended["JobState"] == state and ended["Restarts"] == "0", ended
        assert "resumed from" not in kill.first_log, kill.first_log
        seen = max([kill.seen, *(int(m.group(3)) for m in SAVED.finditer(kill.first_log))])
        jobs = generation_jobs(output, kill.run)
        assert len(jobs) == 2 and jobs[0] == killed, (kill.run, jobs, text[-6000:])
        retried = jobs[1]
        assert slurm_job(retried)["JobState"] == "COMPLETED"
        assert f"died with <Signals.{died_of}" in job_logs[killed].read_text(errors="replace")
        assert "--attempt 2" in job_logs[retried].read_text(errors="replace")

        # The retry resumed from the last checkpoint the kill left and did not redo a unit: the
        # last save seen, or one more when the kill struck between the file's rename and its
        # line.
        final_log = kill.log.read_text(errors="replace")
        resumed = RESUMED.search(final_log)
        assert resumed is not None, final_log
        unit, after = resumed.group(2), int(resumed.group(3))
        assert after in (seen, seen + 1) and after >= KILL_AFTER_SAVES, (after, seen, final_log)
        assert resumed_counts(final_log) == {CHECKPOINT: after}
        assert min(saved_counts(kill.log, CHECKPOINT)) == after + 1, final_log
        assert not IGNORED.search(final_log), final_log

        target = JOBS[kill.run][0]
        artifact = workdir / target
        assert artifact.is_file() and artifact.with_suffix(".json").is_file()
        assert not list(artifact.parent.glob(".checkpoint*")), "checkpoint left behind"
        record = json.loads(artifact.with_suffix(".json").read_text())["extra"]["generation"]
        assert record["checkpoint"]["interval_s"] == 0  # TUE_CHECKPOINT_INTERVAL_S reached it
        assert record["checkpoint"]["resumed_after"] == f"{unit} {after}", record["checkpoint"]
        assert_same_perturbation(artifact, reference / target)
        print(
            f"\nSLURM {kill.method} of {kill.run}: job {killed} {ended['JobState']} after {unit} "
            f"{seen} was saved; job {retried} resumed after {unit} {after}"
        )
    print(f"SLURM run of {', '.join(GENERATIONS)} with the kills: {elapsed:.0f} s")
