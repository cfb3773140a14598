# tue-pipeline: regenerate the tables and figures of "Transferable Unlearnable Examples"
# (Ren et al., ICLR 2023). Paper scale by default; `--configfile config/demo.yaml` runs offline.
from snakemake.utils import min_version

min_version("9.0")


# `--configfile config/demo.yaml` replaces config.yaml instead of being merged into it (Snakemake
# would otherwise keep config.yaml's datasets beside the demo's); `--config key=value` still
# overrides single keys of whichever file is in use.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/perturb.smk"
include: "rules/variants.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


wildcard_constraints:
    dataset=NAME_REGEX,
    split="train|test",
    target=NAME_REGEX,
    source=NAME_REGEX,
    run=NAME_REGEX,
    backbone="simclr|moco|simsiam",
    corr="original|intra|inter",
    defense=NAME_REGEX,
    seed="[0-9]+",


localrules:
    all,
    table,
    extra_table,
    robustness_table,
    figure_bars,
    figure_tsne,
    figure_samples,
    markdown_report,


rule all:
    default_target: True
    input:
        all_outputs(),
