"""Snakemake adapter: transfer a perturbation set to another dataset (Tables 3 and 6)."""

from pathlib import Path

from tue_core.jobs import transfer_perturbation
from tue_core.runtime import job

with job(snakemake):
    transfer_perturbation(
        snakemake.input.delta,
        snakemake.input.target,
        Path(snakemake.output.delta).parent,
        snakemake.params.transfer,
        seed=snakemake.params.seed,
    )
