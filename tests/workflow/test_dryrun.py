"""The workflow parses, lints and plans the expected jobs for each shipped config."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SNAKEMAKE, "-n", "--forceall", "--quiet", "rules", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def job_counts(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.M)}


@pytest.mark.parametrize(
    ("configfile", "datasets"),
    [("config.yaml", 4), ("config/demo.yaml", 4), ("config/cifar10-cpu.yaml", 3)],
)
def test_dry_run_plans_one_preparation_per_dataset(configfile: str, datasets: int) -> None:
    result = dry_run("--configfile", configfile)
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout + result.stderr).get("prepare_dataset") == datasets


def test_bad_config_fails_at_dry_run_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (
        (ROOT / "config" / "demo.yaml")
        .read_text()
        .replace("test_fraction: 0.2", "test_fractoin: 0.2", 1)
    )
    bad.write_text(text)
    result = dry_run("--configfile", str(bad))
    assert result.returncode != 0
    assert "unknown key(s) 'test_fractoin'" in result.stdout + result.stderr
