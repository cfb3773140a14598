"""Which experiments each table and figure of the paper needs (the ``tables:`` config section).

Datasets are named by the paper's *roles* (cifar10, cifar100, svhn, svhn_small); the config's
``roles`` maps them onto dataset entries, so the demo can play CIFAR-10 with synthetic images.
Perturbation runs are named by keys of the ``perturbations`` section (``emn``, ``sn``,
``ucl_simclr``, ``tue_moco``...). Cells of the paper outside what a table enables are reported as
disabled, never silently blank.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from tue_core.strict import Strict

Role = Literal["cifar10", "cifar100", "svhn", "svhn_small"]
Backbone = Literal["simclr", "moco", "simsiam"]
TableMethod = Literal["EMN", "SN", "UCL", "TUE"]
TUE_RUNS = ["tue_simclr", "tue_moco", "tue_simsiam"]


class Repeated(Strict):
    """A table whose evaluations may be repeated with several training seeds.

    ``seeds``: the training seeds of every evaluation of the table (the perturbations stay the
    ones made with the config's ``seed``); the table shows their mean, with the standard
    deviation and the number of runs. ``None`` is one run with the config's ``seed``. A run with
    the config's seed keeps the plain path (``.../metrics.json``); the others go to
    ``.../seed<n>/metrics.json``, so adding seeds reuses what was measured.
    """

    seeds: list[NonNegativeInt] | None = None

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)):
            raise ValueError(
                f"seeds must be a non-empty list of distinct seeds, got {seeds}; "
                "leave it out for one run with the config's seed"
            )
        return seeds


class SwapTable(Repeated):
    """Tables 2 and 5: original vs intra- vs inter-class correspondence, supervised training."""

    enabled: bool = True
    datasets: list[Role] = Field(default_factory=lambda: ["cifar10", "cifar100"])
    runs: list[str]


class Table3(Repeated):
    """Table 3: perturbations made on the target itself vs transferred from ``source``."""

    enabled: bool = True
    source: Role = "cifar10"
    target: Role = "svhn_small"
    runs: list[str] = Field(default_factory=lambda: ["emn", "sn"])
    # A key of `datasets` the source perturbations are made on instead of the source role's own
    # dataset, e.g. a CIFAR-10 class group disjoint from the target groups (`classes`) when the
    # targets are built from CIFAR-10 too; the rows still name the source role.
    source_dataset: str | None = None


class Table4(Repeated):
    """Table 4: supervised and linear-probe accuracy per backbone (training-wise transfer).

    For UCL and TUE the perturbation of the column's backbone is used (``ucl_<backbone>``,
    ``tue_<backbone>``); EMN and SN have one perturbation for every backbone.
    """

    enabled: bool = True
    datasets: list[Role] = Field(default_factory=lambda: ["cifar10", "cifar100"])
    backbones: list[Backbone] = Field(default_factory=lambda: ["simclr", "moco", "simsiam"])
    methods: list[TableMethod] = Field(default_factory=lambda: ["EMN", "SN", "UCL", "TUE"])
    supervised: bool = True
    linear_probe: bool = True
    # Runs a scale does not make (e.g. ``ucl_moco`` on a CPU); their cells read ``disabled``.
    skip_runs: list[str] = Field(default_factory=list)
    # The backbones whose linear-probe cells are run; None: every backbone in ``backbones``.
    linear_probe_backbones: list[Backbone] | None = None

    @model_validator(mode="after")
    def _probe_backbones_are_shown(self) -> Table4:
        extra = sorted(set(self.linear_probe_backbones or []) - set(self.backbones))
        if extra:
            raise ValueError(
                f"linear_probe_backbones {extra} are not in backbones {self.backbones}; "
                "a linear probe is only run for a backbone the table shows"
            )
        return self

    def probes(self, backbone: str) -> bool:
        """Whether this backbone's block gets linear-probe cells."""
        chosen = self.linear_probe_backbones
        return self.linear_probe and (chosen is None or backbone in chosen)


class Table6(Repeated):
    """Table 6: CIFAR-10 perturbations transferred to other datasets (with interpolation)."""

    enabled: bool = True
    source: Role = "cifar10"
    targets: list[Role] = Field(default_factory=lambda: ["svhn_small", "cifar100", "svhn"])
    runs: list[str] = Field(default_factory=lambda: ["emn", "sn", *TUE_RUNS])
    # A key of `datasets` the source perturbations are made on instead of the source role's own
    # dataset, e.g. a CIFAR-10 class group disjoint from the target groups (`classes`) when the
    # targets are built from CIFAR-10 too; the rows still name the source role.
    source_dataset: str | None = None


class ExtraRuns(Strict):
    """Evaluations beyond the paper's tables: the supervised accuracy of more perturbation runs
    on a role's dataset (``tables/extra.csv``), e.g. TUE in the paper's mode beside the released
    mode that fills Table 4, each with its perturbation's CSD and linear separability."""

    enabled: bool = True
    datasets: list[Role] = Field(default_factory=lambda: ["cifar10"])
    runs: list[str] = Field(default_factory=list)
    # Runs also listed under Tables 2/5's intra- and inter-class swaps, e.g. a variant that the
    # paper's swap tables have no row for.
    swap_runs: list[str] = Field(default_factory=list)
    # Roles whose clean supervised accuracy is listed too, e.g. the targets of Tables 3 and 6,
    # which the paper's tables give no clean column for.
    clean: list[Role] = Field(default_factory=list)


class RobustnessTable(Strict):
    """Beyond the paper (``tables/robustness.*``): rows = clean + ``runs``; columns = no defense
    + ``defenses`` (names in the config's ``defenses`` section); a second table trains each of
    ``architectures`` (model registry names) without defense. See :mod:`tue_core.plan.robustness`.
    """

    enabled: bool = False
    dataset: Role = "cifar10"
    runs: list[str] = Field(default_factory=list)
    defenses: list[str] = Field(default_factory=list)
    architectures: list[str] = Field(default_factory=list)


class Figure7(Strict):
    """Figure 1/7: supervised vs linear-probe accuracy for clean, EMN, SN, UCL (and TUE)."""

    enabled: bool = True
    dataset: Role = "cifar10"
    backbone: Backbone = "simclr"
    methods: list[TableMethod] = Field(default_factory=lambda: ["EMN", "SN", "UCL", "TUE"])


class TSNEFigures(Strict):
    """Figures 3, 4 and 5: t-SNE of perturbations in input space."""

    enabled: bool = True
    dataset: Role = "cifar10"
    figure3_runs: list[str] = Field(default_factory=lambda: ["emn", "sn", "tue_simclr"])
    figure4_run: str = "tue_simclr"
    figure4_targets: list[Role] = Field(default_factory=lambda: ["svhn", "cifar100"])
    figure5_runs: list[str] = Field(default_factory=lambda: ["ucl_simclr", "tue_simclr"])
    max_points: PositiveInt = 2000
    perplexity: float = Field(default=30.0, gt=0)
    seed: int = 0


class Figure6(Strict):
    """Figure 6: samples and their perturbations for two classes per method."""

    enabled: bool = True
    dataset: Role = "cifar10"
    runs: list[str] = Field(default_factory=lambda: ["emn", "ucl_simclr", "tue_simclr"])
    classes: list[int] = Field(default_factory=lambda: [7, 0])  # CIFAR-10: horse, airplane
    samples_per_class: PositiveInt = 3


class TablesConfig(Strict):
    table2: SwapTable = Field(default_factory=lambda: SwapTable(runs=["emn", "sn"]))
    table3: Table3 = Field(default_factory=Table3)
    table4: Table4 = Field(default_factory=Table4)
    table5: SwapTable = Field(default_factory=lambda: SwapTable(runs=["emn", "sn", *TUE_RUNS]))
    table6: Table6 = Field(default_factory=Table6)
    figure7: Figure7 = Field(default_factory=Figure7)
    tsne: TSNEFigures = Field(default_factory=TSNEFigures)
    figure6: Figure6 = Field(default_factory=Figure6)
    extra: ExtraRuns = Field(default_factory=ExtraRuns)
    robustness: RobustnessTable = Field(default_factory=RobustnessTable)
