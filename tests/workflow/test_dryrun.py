"""The workflow parses and plans exactly the jobs each target needs, for each shipped config."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from paper_grid import DEMO_ALL, PAPER_ALL

from tue_core.config import load_config
from tue_core.plan.cost import plan_jobs

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SNAKEMAKE, *args, "-n", "--forceall", "--nolock", "--quiet", "rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def job_counts(*args: str) -> dict[str, int]:
    result = dry_run(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout + result.stderr
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", text, re.M)}
    counts.pop("total", None)
    return counts


def test_all_lists_the_full_paper_grid() -> None:
    assert job_counts("all") == PAPER_ALL


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # Table 2: EMN and SN on CIFAR-10/100, original + intra + inter: 4 generations,
        # 8 swaps, 12 supervised runs; nothing of SSL.
        (
            "results/tables/table2.csv",
            {
                "prepare_dataset": 2,
                "generate_perturbation": 4,
                "swap_perturbation": 8,
                "evaluate_supervised_poisoned": 12,
                "table": 1,
            },
        ),
        # Table 3: EMN/SN made on SVHN-small and transferred from CIFAR-10.
        (
            "results/tables/table3.csv",
            {
                "prepare_dataset": 2,
                "generate_perturbation": 4,
                "transfer_perturbation": 2,
                "evaluate_supervised_poisoned": 4,
                "table": 1,
            },
        ),
        # Table 4: 8 perturbation runs per dataset, supervised and 3 linear probes each.
        (
            "results/tables/table4.csv",
            {
                "prepare_dataset": 2,
                "generate_perturbation": 16,
                "evaluate_supervised_clean": 2,
                "evaluate_supervised_poisoned": 16,
                "evaluate_linear_probe_clean": 6,
                "evaluate_linear_probe_poisoned": 24,
                "table": 1,
            },
        ),
        # Table 6: 5 CIFAR-10 runs transferred to 3 datasets.
        (
            "results/tables/table6.csv",
            {
                "prepare_dataset": 4,
                "generate_perturbation": 5,
                "transfer_perturbation": 15,
                "evaluate_supervised_poisoned": 15,
                "table": 1,
            },
        ),
        # Figure 4: TUE (SimCLR) interpolated onto SVHN and CIFAR-100; no training job.
        (
            "results/figures/figure4.png",
            {
                "prepare_dataset": 3,
                "generate_perturbation": 1,
                "transfer_perturbation": 2,
                "figure_tsne": 1,
            },
        ),
    ],
    ids=["table2", "table3", "table4", "table6", "figure4"],
)
def test_each_target_builds_only_what_it_needs(target: str, expected: dict[str, int]) -> None:
    assert job_counts(target) == expected


def test_demo_runs_the_same_dag() -> None:
    """Every rule of the paper grid, with a smaller robustness grid."""
    assert job_counts("--configfile", "config/demo.yaml") == DEMO_ALL


def test_cifar10_cpu_disables_cifar100_cells() -> None:
    counts = job_counts("--configfile", "config/cifar10-cpu.yaml")
    assert counts["evaluate_supervised_clean"] == 1  # CIFAR-10 only
    assert counts["generate_perturbation"] == 10  # 8 on CIFAR-10 + EMN/SN on SVHN-small


def test_cifar10_cpu_full_plans_its_cut_grid() -> None:
    config = ROOT / "config" / "cifar10-cpu-full.yaml"
    counts = job_counts("--configfile", str(config))
    # CIFAR-10 (10 runs: Table 4's 6, TUE paper mode, the class-wise control, TUE-patch and EMN
    # to the reference's stop rule) + EMN/SN/TUE on the source group + EMN/SN on the svhn_small
    # group
    assert counts["generate_perturbation"] == 15
    # Tables 2 and 5 repeat their 6 + 3 cells with seed 1
    assert counts["evaluate_supervised_poisoned_seeded"] == 9
    assert counts["evaluate_supervised_clean"] == 3  # CIFAR-10 and the two target groups
    assert counts["evaluate_linear_probe_poisoned"] == 4  # SimCLR only: EMN, SN, UCL, TUE
    assert counts["extra_table"] == 1
    # 3 runs x 2 target groups, and Figure 4's TUE from all of CIFAR-10 onto the six-class group
    assert counts["transfer_perturbation"] == 7
    # The cost model plans the same jobs, repeats included (counts only: the image folder need
    # not be here, so sizes may be unknown).
    assert plan_jobs(load_config(config), allow_unknown=True).counts() == counts


def test_bad_config_fails_at_dry_run_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "config" / "demo.yaml").read_text()
    bad.write_text(text.replace("test_fraction: 0.2", "test_fractoin: 0.2", 1))
    result = dry_run("--configfile", str(bad))
    assert result.returncode != 0
    assert "unknown key(s) 'test_fractoin'" in result.stdout + result.stderr


def test_table_needing_a_disabled_role_fails_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "config" / "cifar10-cpu.yaml").read_text()
    bad.write_text(
        text.replace("table4: {datasets: [cifar10]}", "table4: {datasets: [cifar10, cifar100]}")
    )
    result = dry_run("--configfile", str(bad))
    assert result.returncode != 0
    assert (
        "tables.table4.datasets: role 'cifar100' is not mapped in `roles`"
        in result.stdout + result.stderr
    )
