"""Snakemake adapter: one of the paper's tables, ours beside the paper's."""

from pathlib import Path

from tue_core.report.build import table_job
from tue_core.runtime import job

with job(snakemake):
    table_job(
        snakemake.wildcards.table,
        snakemake.params.cells,
        Path(snakemake.output.csv).parent,
        snakemake.params.scale,
    )
