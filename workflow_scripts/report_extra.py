"""Snakemake adapter: runs beyond the paper's tables, with their perturbations' diagnostics."""

from pathlib import Path

from tue_core.report.extra import write_extra_table
from tue_core.runtime import job

with job(snakemake):
    write_extra_table(
        snakemake.params.cells, Path(snakemake.output.csv).parent, snakemake.params.scale
    )
