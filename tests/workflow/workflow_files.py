"""Copying the repository's workflow files into a scratch folder for end-to-end runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Left out of the workflow copy: not part of the workflow, or too big.
NOT_WORKFLOW = ("tests/", "docs/", "data/", "results/", ".venv/", "benchmarks/")


def copy_workflow(dest: Path) -> Path:
    """The repository's workflow files (tracked or new, not ignored) copied to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for relative in listed:
        source = ROOT / relative
        if not relative or relative.startswith(NOT_WORKFLOW) or not source.is_file():
            continue
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / relative)
    return dest
