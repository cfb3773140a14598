"""Snakemake adapter: Figures 3-5 (t-SNE of perturbations)."""

from pathlib import Path

from tue_core.report.build import tsne_job
from tue_core.runtime import job

with job(snakemake):
    tsne_job(
        snakemake.wildcards.figure,
        snakemake.params.panels,
        Path(snakemake.output.png).with_suffix(""),
        snakemake.params.scale,
        snakemake.params.settings,
    )
