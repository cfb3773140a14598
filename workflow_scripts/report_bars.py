"""Snakemake adapter: Figure 1 or 7 (grouped accuracy bars)."""

from pathlib import Path

from tue_core.report.build import bars_job
from tue_core.runtime import job

with job(snakemake):
    bars_job(
        snakemake.wildcards.figure,
        snakemake.params.cells,
        Path(snakemake.output.png).with_suffix(""),
        snakemake.params.scale,
        dataset=snakemake.params.dataset,
        backbone=snakemake.params.backbone,
    )
