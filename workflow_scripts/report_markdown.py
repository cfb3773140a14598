"""Snakemake adapter: results/report.md (tables inline, figures linked, provenance)."""

from tue_core.report.build import report_job
from tue_core.runtime import job

with job(snakemake):
    report_job(
        snakemake.output[0],
        snakemake.input.tables,
        snakemake.input.figures,
        snakemake.params.scale,
        snakemake.params.config,
    )
