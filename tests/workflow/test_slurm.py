"""The workflow runs through a real SLURM cluster with profiles/slurm.

A session fixture brings up a single-node cluster on localhost (tools/slurm/up.sh: munged,
slurmctld, slurmd, two fake GPUs, partitions `cpu` and `gpu`), then:

* the demo's cheap jobs run with `snakemake --workflow-profile profiles/slurm --configfile
  config/demo.yaml` in a copy of the workflow; every job must be a completed SLURM job in that
  directory with its plugin log, and every output must exist;
* a toy workflow of GPU and CPU jobs checks the profile's GPU mapping: `gpu=1` jobs go to the
  `gpu` partition with one GPU each and claim_gpu trusts SLURM's device; CPU jobs get none.

The test cluster has no accounting database, so status queries use squeue
(`--slurm-status-command squeue`); without it the plugin waits forever. Every snakemake call
has a hard timeout for the same reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
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
