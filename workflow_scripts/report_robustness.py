"""Snakemake adapter: the robustness tables and figure (defenses, architectures)."""

from pathlib import Path

from tue_core.report.robustness import robustness_job
from tue_core.runtime import job

with job(snakemake):
    robustness_job(
        snakemake.params.cells,
        snakemake.params.defenses,
        Path(snakemake.output.csv).parent,
        Path(snakemake.output.png).with_suffix(""),
        snakemake.params.scale,
    )
