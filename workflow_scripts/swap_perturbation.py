"""Snakemake adapter: intra- or inter-class swap of a perturbation set (Tables 2 and 5)."""

from pathlib import Path

from tue_core.jobs import swap_perturbation
from tue_core.runtime import job

with job(snakemake):
    swap_perturbation(
        snakemake.input.delta,
        snakemake.input.train,
        Path(snakemake.output.delta).parent,
        snakemake.wildcards.swap,
        seed=snakemake.params.seed,
    )
