"""Snakemake adapter: SSL pre-training on a (poisoned) set + linear probe on the clean set."""

from tue_core.jobs import evaluate_linear_probe
from tue_core.runtime import job

with job(snakemake):
    evaluate_linear_probe(
        snakemake.input.train,
        snakemake.input.test,
        snakemake.output.metrics,
        snakemake.params.setup,
        model_width=snakemake.params.width,
        delta_path=snakemake.input.get("delta"),
        quantisation=snakemake.params.quantisation,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
