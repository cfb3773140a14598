"""Snakemake adapter: supervised training under a defense or with another model (robustness)."""

from tue_core.jobs import evaluate_supervised
from tue_core.runtime import job

with job(snakemake):
    evaluate_supervised(
        snakemake.input.train,
        snakemake.input.test,
        snakemake.output.metrics,
        snakemake.params.config,
        delta_path=snakemake.input.get("delta"),
        quantisation=snakemake.params.quantisation,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
        defense=snakemake.params.defense,
    )
