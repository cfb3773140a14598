"""Snakemake adapter: prepare one configured dataset (both splits + kept indices)."""

from tue_core.data import prepare_dataset
from tue_core.data.config import dataset_spec_from_dict
from tue_core.runtime import job

with job(snakemake):
    prepare_dataset(
        dataset_spec_from_dict(snakemake.params.spec),
        name=snakemake.wildcards.dataset,
        outputs=dict(snakemake.output.items()),
        config=snakemake.params.spec,
    )
