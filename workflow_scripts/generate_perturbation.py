"""Snakemake adapter: generate one perturbation set on one dataset."""

from tue_core.jobs import generate_perturbation
from tue_core.runtime import job

with job(snakemake):
    generate_perturbation(
        snakemake.input.train,
        snakemake.output.delta,
        snakemake.params.config,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
