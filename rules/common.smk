# Helpers shared by every rule: the validated config and the target lists derived from it.
# A bad config fails here, at `snakemake -n`, before any job runs. All logic lives in tue_core.
from tue_core.config import NAME_PATTERN, load_config
from tue_core.data.base import prepared_path
from tue_core.models import MODELS
from tue_core.plan.cells import unique
from tue_core.plan.robustness import NO_DEFENSE
from tue_core.report.scale import scale_summary
from tue_core.report.robustness import defense_records

CFG = load_config(config, source="the Snakemake config (config.yaml or --configfile)")
NAME_REGEX = NAME_PATTERN.strip("^$")
OUT = CFG.output_dir.rstrip("/")
CELLS = CFG.planner().cells()


def prepared(name, split="train"):
    return prepared_path(OUT, name, split)


def dataset_spec(wildcards):
    """The resolved spec of one dataset (as params, so editing it reruns the job)."""
    return CFG.dataset(wildcards.dataset).model_dump(mode="json")


def run_config(wildcards):
    return CFG.perturbations[wildcards.run].model_dump(mode="json")


def run_gpus(wildcards):
    """SN and the class-wise control are closed-form and run on the CPU; the others train a network."""
    return (
        0
        if CFG.perturbations[wildcards.run].method in ("sn", "classwise_random")
        else 1
    )


def poison_delta(wildcards):
    """The perturbation file behind an evaluation of a poisoned training set."""
    return (
        CFG.planner()
        .poison(wildcards.target, wildcards.source, wildcards.run, wildcards.corr)
        .delta_path
    )


def repeat_seed(wildcards):
    """The training seed of a repeated evaluation (.../seed<n>/metrics.json)."""
    return int(wildcards.seed)


def probe_setup(wildcards):
    return CFG.evaluation.linear_probe[wildcards.backbone].model_dump(mode="json")


def table_cells(table):
    """Key columns + metrics path of every cell of one table (params of its report rule)."""
    return [cell.record() for cell in CELLS.get(table, [])]


def table_metrics(table):
    return unique([cell.metrics_path for cell in CELLS.get(table, [])])


def extra_cells():
    """``tables.extra``: each cell's record plus its run and perturbation sidecar."""
    return [cell.run_record() for cell in CELLS.get("extra", [])]


def extra_sidecars():
    """The perturbation sidecars the extra table reads (clean rows have none)."""
    return unique([c["delta_sidecar"] for c in extra_cells() if c["delta_sidecar"]])


ROBUST = CFG.planner().robustness()
MODEL_REGEX = "|".join(MODELS.names())


def supervised_config(wildcards):
    """The supervised recipe for the target (as params: a change reruns the job)."""
    return CFG.evaluation.supervised_for(wildcards.target).model_dump(mode="json")


def robust_config(wildcards):
    """The target's supervised recipe with the cell's model (as params: a change reruns)."""
    cfg = CFG.evaluation.supervised_for(wildcards.target)
    return cfg.model_copy(update={"model": wildcards.model}).model_dump(mode="json")


def robust_defense(wildcards):
    if wildcards.defense == NO_DEFENSE:
        return None
    return CFG.defenses[wildcards.defense].model_dump(mode="json")


def robust_cells():
    return [cell.record() for cell in ROBUST]


def all_metrics():
    return unique([path for table in CELLS for path in table_metrics(table)])


def all_outputs():
    """Every target of `all`: every table and figure, and the report that shows them."""
    return [f"{OUT}/report.md"]


def scale_info():
    """Printed under every table and figure: what scale produced these numbers."""
    return scale_summary(CFG)


def role(name):
    return CFG.roles[name]


def tsne_panels(figure):
    """Figures 3-5: the perturbation sets of each t-SNE panel (path, title, method)."""
    tsne = CFG.tables.tsne
    home = role(tsne.dataset)
    label = lambda run: CFG.planner().label(run, "tables.tsne")
    if figure == "figure4":
        run = tsne.figure4_run
        return [
            {
                "path": CFG.planner().poison(role(target), home, run).delta_path,
                "title": f"{' '.join(label(run))} on {target}",
                "method": label(run)[0],
            }
            for target in tsne.figure4_targets
        ]
    runs = tsne.figure3_runs if figure == "figure3" else tsne.figure5_runs
    return [
        {
            "path": CFG.planner().poison(home, home, run).delta_path,
            "title": " ".join(label(run)).strip(),
            "method": label(run)[0],
        }
        for run in runs
    ]


def tsne_inputs(figure):
    return [panel["path"] for panel in tsne_panels(figure)]


def figure6_train():
    fig = CFG.tables.figure6
    return [prepared(role(fig.dataset))] if fig.enabled else []


def figure6_perturbations():
    fig = CFG.tables.figure6
    if not fig.enabled:
        return {}
    home = role(fig.dataset)
    return {
        " ".join(CFG.planner().label(run, "tables.figure6"))
        .strip(): CFG.planner()
        .poison(home, home, run)
        .delta_path
        for run in fig.runs
    }


def report_tables():
    tables = [f"{OUT}/tables/{name}.md" for name in CELLS if name.startswith("table")]
    tables += [f"{OUT}/tables/extra.md"] if CELLS.get("extra") else []
    return tables + ([f"{OUT}/tables/robustness.md"] if ROBUST else [])


def report_figures():
    figures = []
    if "figure7" in CELLS:
        figures += [f"{OUT}/figures/figure1.png", f"{OUT}/figures/figure7.png"]
    if CFG.tables.tsne.enabled:
        figures += [f"{OUT}/figures/figure{n}.png" for n in (3, 4, 5)]
    if CFG.tables.figure6.enabled:
        figures.append(f"{OUT}/figures/figure6.png")
    if ROBUST:
        figures.append(f"{OUT}/figures/robustness.png")
    return figures


def table_metrics_for(wildcards):
    return table_metrics(wildcards.table)


def table_cells_for(wildcards):
    return table_cells(wildcards.table)


def tsne_inputs_for(wildcards):
    return tsne_inputs(wildcards.figure)


def tsne_panels_for(wildcards):
    return tsne_panels(wildcards.figure)
