"""The experiment grid: every cell of every enabled table, and the jobs those cells need.

A *cell* is one number of the paper (a row of ``paper_results.csv``): which dataset is protected,
where its perturbation came from, which method/backbone, which correspondence and which
evaluation. Each cell maps onto exactly one evaluation job (its ``metrics_path``); cells that print
the same experiment (the clean supervised baseline of Table 4's three blocks, Table 3's transfer
cell reused by Table 6...) share that path, so the work is done once.

Output layout (all under the config's ``output_dir``, ``results`` at paper scale)::

    data/{dataset}/{train,test}.npz                          prepared splits
    perturbations/{dataset}/{run}/delta.npz                  generated on the dataset itself
    variants/{target}/{source}/{run}/{correspondence}/perturbation.npz   swaps, transfers
    eval/supervised/{target}/clean/metrics.json
    eval/supervised/{target}/{source}/{run}/{correspondence}/metrics.json
    eval/linear_probe/{backbone}/{target}/...                 same shape as supervised
    eval/.../{correspondence or clean}/seed{n}/metrics.json   a repeat with training seed n
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# Generator method -> the label of the paper's tables; the class-wise control is ours.
METHOD_LABELS = {
    "emn": "EMN",
    "sn": "SN",
    "ucl": "UCL",
    "tue": "TUE",
    "tue_patch": "TUE-patch",
    "classwise_random": "Class-wise random",
}
CORRESPONDENCES = ("original", "intra", "inter")


@dataclass(frozen=True)
class Poison:
    """A perturbation applied to ``target``: generated on ``source`` by ``run``, then
    re-assigned by ``correspondence`` (swaps) or transferred (``source != target``)."""

    target: str
    source: str
    run: str
    correspondence: str = "original"
    root: str = "results"  # the config's output_dir

    @property
    def is_variant(self) -> bool:
        return self.source != self.target or self.correspondence != "original"

    @property
    def delta_path(self) -> str:
        if not self.is_variant:
            return f"{self.root}/perturbations/{self.source}/{self.run}/delta.npz"
        return f"{self.root}/variants/{self.target}/{self.source}/{self.run}/{self.correspondence}/perturbation.npz"

    @property
    def key(self) -> str:
        return f"{self.source}/{self.run}/{self.correspondence}"


@dataclass(frozen=True)
class Cell:
    """One number of the paper's tables, and the evaluation job that produces ours."""

    table: str
    protected_dataset: str  # role
    source_dataset: str  # role
    method: str  # clean | EMN | SN | UCL | TUE
    backbone: str  # "" for supervised-only methods in Tables 2/3/5/6
    correspondence: str
    evaluation: str  # supervised | linear_probe
    target: str  # dataset key (after roles)
    poison: Poison | None
    probe_backbone: str | None = None  # SSL method of the linear probe
    root: str = "results"  # the config's output_dir
    seed: int | None = None  # a repeat's training seed; None: the config's seed

    @property
    def metrics_path(self) -> str:
        if self.evaluation == "supervised":
            base = f"{self.root}/eval/supervised/{self.target}"
        else:
            base = f"{self.root}/eval/linear_probe/{self.probe_backbone}/{self.target}"
        folder = f"{base}/clean" if self.poison is None else f"{base}/{self.poison.key}"
        repeat = "" if self.seed is None else f"/seed{self.seed}"
        return f"{folder}{repeat}/metrics.json"

    def record(self) -> dict[str, Any]:
        """The cell's key columns (as in ``paper_results.csv``) plus where its metrics are."""
        return {
            "table": self.table,
            "protected_dataset": self.protected_dataset,
            "source_dataset": self.source_dataset,
            "method": self.method,
            "backbone": self.backbone,
            "correspondence": self.correspondence,
            "evaluation": self.evaluation,
            "seed": self.seed,
            "metrics_path": self.metrics_path,
        }

    def run_record(self) -> dict[str, Any]:
        """:meth:`record` plus the perturbation run and the sidecar of its generation (which a
        swap or transfer of it does not change; ``tables.extra`` rows); both are empty for a
        clean cell."""
        if self.poison is None:
            return {**self.record(), "run": "", "delta_sidecar": ""}
        generated = Poison(self.poison.source, self.poison.source, self.poison.run, root=self.root)
        sidecar = generated.delta_path.rsplit(".", 1)[0] + ".json"
        return {**self.record(), "run": self.poison.run, "delta_sidecar": sidecar}


class PlanError(ValueError):
    """A table needs something the config does not provide; the message names the key."""


@dataclass(frozen=True)
class Planner:
    """Builds cells from the validated config (roles, perturbation runs, table settings)."""

    roles: dict[str, str]
    runs: dict[str, Any]  # run name -> perturbation config (with .method, maybe .backbone)
    tables: Any  # tue_core.plan.tables.TablesConfig
    root: str = "results"
    defenses: tuple[str, ...] = ()  # names in the config's `defenses` section
    default_model: str = "resnet18"  # the supervised recipe's model
    seed: int = 0  # the config's seed: evaluations with it keep the plain metrics path

    def poison(self, target: str, source: str, run: str, corr: str = "original") -> Poison:
        return Poison(target, source, run, corr, self.root)

    def cell(self, *args: Any, probe: str | None = None) -> Cell:
        return Cell(*args, probe_backbone=probe, root=self.root)

    # ------------------------------------------------------------------ lookups
    def dataset(self, role: str, where: str) -> str:
        if role not in self.roles:
            raise PlanError(
                f"{where}: role {role!r} is not mapped in `roles` (mapped: "
                f"{', '.join(sorted(self.roles)) or 'none'}); map it or set {where.split('.')[0]}."
                f"{where.split('.')[1]}.enabled: false"
            )
        return self.roles[role]

    def run(self, name: str, where: str) -> Any:
        if name not in self.runs:
            raise PlanError(
                f"{where}: perturbation run {name!r} is not defined in `perturbations` "
                f"(defined: {', '.join(sorted(self.runs)) or 'none'})"
            )
        return self.runs[name]

    def label(self, run: str, where: str) -> tuple[str, str]:
        """(paper method label, backbone or "") of a perturbation run."""
        cfg = self.run(run, where)
        return METHOD_LABELS[cfg.method], getattr(cfg, "backbone", "") or ""

    # ------------------------------------------------------------------ tables
    def swap_table(self, name: str) -> list[Cell]:
        table = getattr(self.tables, name)
        cells = []
        for role in table.datasets:
            key = self.dataset(role, f"tables.{name}.datasets")
            for run in table.runs:
                method, backbone = self.label(run, f"tables.{name}.runs")
                for corr in CORRESPONDENCES:
                    poison = self.poison(key, key, run, corr)
                    cells.append(
                        self.cell(
                            name, role, role, method, backbone, corr, "supervised", key, poison
                        )
                    )
        return cells

    def table3(self) -> list[Cell]:
        table = self.tables.table3
        target = self.dataset(table.target, "tables.table3.target")
        source = table.source_dataset or self.dataset(table.source, "tables.table3.source")
        cells = []
        for run in table.runs:
            method, _ = self.label(run, "tables.table3.runs")
            for src_role, src_key in ((table.target, target), (table.source, source)):
                poison = self.poison(target, src_key, run)
                cells.append(
                    self.cell(
                        "table3",
                        table.target,
                        src_role,
                        method,
                        "",
                        "original",
                        "supervised",
                        target,
                        poison,
                    )
                )
        return cells

    def table4(self) -> list[Cell]:
        table = self.tables.table4
        self._check_skipped(table)
        cells = []
        for role in table.datasets:
            key = self.dataset(role, "tables.table4.datasets")
            for backbone in table.backbones:
                evaluations = ["supervised"] if table.supervised else []
                evaluations += ["linear_probe"] if table.probes(backbone) else []
                for method in ["clean", *table.methods]:
                    run = _run_for(method, backbone)
                    if run in table.skip_runs:
                        continue
                    if run is not None:
                        self.run(run, "tables.table4.methods")
                    poison = None if run is None else self.poison(key, key, run)
                    for evaluation in evaluations:
                        probe = backbone if evaluation == "linear_probe" else None
                        cells.append(
                            self.cell(
                                "table4",
                                role,
                                role,
                                method,
                                backbone,
                                "original",
                                evaluation,
                                key,
                                poison,
                                probe=probe,
                            )
                        )
        return cells

    def _check_skipped(self, table: Any) -> None:
        """``skip_runs`` must name runs the table would use (a typo would skip nothing)."""
        used = {_run_for(m, b) for m in table.methods for b in table.backbones}
        unknown = sorted(set(table.skip_runs) - used)
        if unknown:
            raise PlanError(
                f"tables.table4.skip_runs: {unknown} are not runs of this table "
                f"(its runs: {', '.join(sorted(r for r in used if r))})"
            )

    def extra(self) -> list[Cell]:
        """Supervised cells beyond the paper's tables (``tables.extra``)."""
        table = self.tables.extra
        cells = []
        for role in table.clean:
            key = self.dataset(role, "tables.extra.clean")
            cells.append(
                self.cell("extra", role, role, "clean", "", "original", "supervised", key, None)
            )
        for role in table.datasets:
            key = self.dataset(role, "tables.extra.datasets")
            for run in unique([*table.runs, *table.swap_runs]):
                where = "tables.extra.runs" if run in table.runs else "tables.extra.swap_runs"
                method, backbone = self.label(run, where)
                for corr in _extra_correspondences(run, table):
                    poison = self.poison(key, key, run, corr)
                    cells.append(
                        self.cell(
                            "extra", role, role, method, backbone, corr, "supervised", key, poison
                        )
                    )
        return cells

    def table6(self) -> list[Cell]:
        table = self.tables.table6
        source = table.source_dataset or self.dataset(table.source, "tables.table6.source")
        cells = []
        for role in table.targets:
            target = self.dataset(role, "tables.table6.targets")
            for run in table.runs:
                method, backbone = self.label(run, "tables.table6.runs")
                poison = self.poison(target, source, run)
                cells.append(
                    self.cell(
                        "table6",
                        role,
                        table.source,
                        method,
                        backbone,
                        "original",
                        "supervised",
                        target,
                        poison,
                    )
                )
        return cells

    def figure7(self) -> list[Cell]:
        fig = self.tables.figure7
        key = self.dataset(fig.dataset, "tables.figure7.dataset")
        cells = []
        for method in ["clean", *fig.methods]:
            run = _run_for(method, fig.backbone)
            if run is not None:
                self.run(run, "tables.figure7.methods")
            poison = None if run is None else self.poison(key, key, run)
            for evaluation in ("supervised", "linear_probe"):
                probe = fig.backbone if evaluation == "linear_probe" else None
                cells.append(
                    self.cell(
                        "figure7",
                        fig.dataset,
                        fig.dataset,
                        method,
                        fig.backbone,
                        "original",
                        evaluation,
                        key,
                        poison,
                        probe=probe,
                    )
                )
        return cells

    def cells(self) -> dict[str, list[Cell]]:
        """Cells of every enabled table/figure, keyed by table name."""
        builders = {
            "table2": lambda: self.swap_table("table2"),
            "table3": self.table3,
            "table4": self.table4,
            "table5": lambda: self.swap_table("table5"),
            "table6": self.table6,
            "figure7": self.figure7,
            "extra": self.extra,
        }
        return {
            name: self.repeated(name, build())
            for name, build in builders.items()
            if getattr(self.tables, name).enabled
        }

    def repeated(self, table: str, cells: list[Cell]) -> list[Cell]:
        """Each cell once per seed of ``tables.<table>.seeds`` (the config's seed keeps the
        plain path; the collector averages the repeats of a cell)."""
        seeds = getattr(getattr(self.tables, table), "seeds", None)
        if seeds is None:
            return cells
        marks = [None if seed == self.seed else seed for seed in seeds]
        return [replace(cell, seed=mark) for cell in cells for mark in marks]

    def robustness(self) -> list[Any]:
        """The robustness grid's cells (:mod:`tue_core.plan.robustness`); [] when disabled."""
        from tue_core.models import MODELS
        from tue_core.plan.robustness import robustness_cells

        table = self.tables.robustness
        if not table.enabled:
            return []
        target = self.dataset(table.dataset, "tables.robustness.dataset")
        labels = {run: self.label(run, "tables.robustness.runs") for run in table.runs}
        try:
            return robustness_cells(
                table,
                target=target,
                labels=labels,
                defenses=list(self.defenses),
                models=MODELS.names(),
                default_model=self.default_model,
                root=self.root,
                poison=lambda run: self.poison(target, target, run),
            )
        except ValueError as err:
            raise PlanError(str(err)) from None

    def validate_figures(self) -> None:
        """Check the t-SNE and sample figures name mapped roles and defined runs."""
        tsne, fig6 = self.tables.tsne, self.tables.figure6
        if tsne.enabled:
            self.dataset(tsne.dataset, "tables.tsne.dataset")
            for run in {*tsne.figure3_runs, *tsne.figure5_runs, tsne.figure4_run}:
                self.run(run, "tables.tsne")
            for role in tsne.figure4_targets:
                self.dataset(role, "tables.tsne.figure4_targets")
        if fig6.enabled:
            self.dataset(fig6.dataset, "tables.figure6.dataset")
            for run in fig6.runs:
                self.run(run, "tables.figure6.runs")


def _extra_correspondences(run: str, table: Any) -> list[str]:
    """``original`` for ``tables.extra.runs``, the two swaps for ``tables.extra.swap_runs``."""
    swaps = [c for c in CORRESPONDENCES if c != "original"] if run in table.swap_runs else []
    return (["original"] if run in table.runs else []) + swaps


def _run_for(method: str, backbone: str) -> str | None:
    """Table 4 / Figure 7: the perturbation run behind a method label in a backbone's block."""
    if method == "clean":
        return None
    if method in ("UCL", "TUE"):
        return f"{method.lower()}_{backbone}"
    return method.lower()


def unique(items: list[Any]) -> list[Any]:
    """Order-preserving de-duplication (jobs shared by several cells are listed once)."""
    return list(dict.fromkeys(items))
