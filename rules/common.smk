# Helpers shared by every rule: the validated config and the target lists derived from it.
# A bad config fails here, at `snakemake -n`, before any job runs.
from tue_core.config import NAME_PATTERN, load_config

CFG = load_config(
    config, source="the Snakemake config (config.yaml + --configfile/--config)"
)
NAME_REGEX = NAME_PATTERN.strip("^$")


def prepared_dataset_files(name):
    """The prepared splits of one configured dataset."""
    return [f"results/data/{name}/{split}.npz" for split in ("train", "test")]


def dataset_spec(wildcards):
    """The resolved spec of one dataset (as params, so editing it reruns the job)."""
    return CFG.dataset(wildcards.dataset).model_dump()


def all_outputs():
    """Every target of `all` for the configured scale."""
    return [path for name in CFG.datasets for path in prepared_dataset_files(name)]
