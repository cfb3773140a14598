"""Snakemake adapter: Figure 6 (samples and their perturbations)."""

from pathlib import Path

from tue_core.report.build import samples_job
from tue_core.runtime import job

with job(snakemake):
    samples_job(
        snakemake.input.train[0],
        snakemake.params.perturbations,
        Path(snakemake.output.png).with_suffix(""),
        snakemake.params.scale,
        classes=snakemake.params.classes,
        per_class=snakemake.params.per_class,
        seed=snakemake.params.seed,
    )
