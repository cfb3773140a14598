"""The experiment config: one typed, validated, frozen source of truth.

``load_config`` is called by the Snakefile at DAG-build time, so a misspelled key, a wrong type or
an unknown dataset source fails at ``snakemake -n`` with a message naming the key and the valid
values, long before any job starts. ``config.yaml`` is paper scale; ``config/*.yaml`` hold the
other scales (``demo``: offline on CPU).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, PositiveInt, ValidationError, model_validator

from tue_core.data.config import DatasetSpec
from tue_core.defend.config import DefenseConfig
from tue_core.evaluate.linear_probe import LinearProbeConfig, paper_probe_config
from tue_core.evaluate.supervised import SupervisedConfig
from tue_core.perturb.config import PerturbConfig
from tue_core.plan.cells import Planner
from tue_core.plan.robustness import NO_DEFENSE
from tue_core.plan.tables import TablesConfig
from tue_core.ssl.config import SSLConfig, SSLTrainConfig, paper_pretrain_config
from tue_core.strict import Strict
from tue_core.transfer.config import TransferConfig

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"  # keys used in output paths (Snakemake wildcards)
Role = Literal["cifar10", "cifar100", "svhn", "svhn_small"]
DatasetName = Annotated[str, Field(pattern=NAME_PATTERN)]


class ConfigError(ValueError):
    """The config is invalid; the message lists every offending key with the valid values."""


class ScaleInfo(Strict):
    """Printed beside every table so nobody mistakes a demo number for a paper-scale one."""

    name: str
    description: str = ""


Backbone = Literal["simclr", "moco", "simsiam"]


class LinearProbeSetup(Strict):
    """Self-supervised pre-training on the (possibly poisoned) set, then a linear probe.

    Missing parts default to Table 7's recipe for the backbone this setup is keyed by.
    """

    ssl: SSLConfig
    pretrain: SSLTrainConfig
    probe: LinearProbeConfig


def _fill_probe_defaults(backbone: str, raw: Any) -> Any:
    """Table 7 defaults for the parts of a ``linear_probe.<backbone>`` entry left out."""
    if not isinstance(raw, Mapping):
        return raw
    raw = dict(raw)
    raw.setdefault("ssl", {"name": backbone})
    pretrain = dict(raw.get("pretrain") or {})
    pretrain.setdefault("optimizer", paper_pretrain_config(backbone).optimizer.model_dump())
    raw["pretrain"] = pretrain
    probe = dict(raw.get("probe") or {})
    probe.setdefault("optimizer", paper_probe_config(backbone).optimizer.model_dump())
    raw["probe"] = probe
    return raw


class EvaluationConfig(Strict):
    """How every poisoned (and clean) training set is evaluated, always on the clean test set."""

    supervised: SupervisedConfig = Field(default_factory=SupervisedConfig)
    ssl_width: PositiveInt = 64  # width of the ResNet-18 pre-trained by the linear-probe runs
    linear_probe: dict[Backbone, LinearProbeSetup] = Field(default_factory=dict)
    quantisation: Literal["round", "truncate"] = "round"  # how x + delta returns to uint8
    # Supervised epochs for some target datasets (others: supervised.epochs). A schedule cut to a
    # few epochs is a cut in optimisation steps, so a smaller set trained for as many epochs
    # takes fewer steps: give it more epochs to match (docs/cifar10-cpu-full.md).
    supervised_epochs: dict[DatasetName, PositiveInt] = Field(default_factory=dict)

    def supervised_for(self, target: str) -> SupervisedConfig:
        """The supervised recipe for training on ``target`` (its ``supervised_epochs`` entry)."""
        if target not in self.supervised_epochs:
            return self.supervised
        return self.supervised.model_copy(update={"epochs": self.supervised_epochs[target]})

    @model_validator(mode="before")
    @classmethod
    def _probe_defaults(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("linear_probe"), Mapping):
            probes = {k: _fill_probe_defaults(k, v) for k, v in data["linear_probe"].items()}
            data = {**data, "linear_probe": probes}
        return data


class ExperimentConfig(Strict):
    scale: ScaleInfo
    # Every output of this scale (results, logs, benchmarks) goes under this folder, so scales
    # never overwrite each other's files: `results` at paper scale, `results/<scale>` otherwise.
    output_dir: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$")] = "results"
    seed: int = 0
    device: str = "auto"
    datasets: dict[DatasetName, DatasetSpec]
    # The paper's dataset roles -> keys of `datasets` (the demo maps them onto offline data).
    roles: dict[Role, DatasetName] = Field(default_factory=dict)
    # Perturbation runs: name -> generator config (EMN/SN/UCL/TUE), e.g. `tue_simclr`.
    perturbations: dict[DatasetName, PerturbConfig] = Field(default_factory=dict)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tables: TablesConfig = Field(default_factory=TablesConfig)
    # Defenses a trainer may apply (tue_core.defend), by name, for `tables.robustness`; the name
    # "none" is reserved for training without one.
    defenses: dict[DatasetName, DefenseConfig] = Field(default_factory=dict)

    def planner(self) -> Planner:
        return Planner(
            roles=dict(self.roles),
            runs=dict(self.perturbations),
            tables=self.tables,
            root=self.output_dir.rstrip("/"),
            defenses=tuple(self.defenses),
            default_model=self.evaluation.supervised.model,
            seed=self.seed,
        )

    @model_validator(mode="after")
    def _no_defense_is_called_none(self) -> ExperimentConfig:
        if NO_DEFENSE in self.defenses:
            raise ValueError(
                f"defenses.{NO_DEFENSE}: the name is reserved for training without a defense"
            )
        return self

    @model_validator(mode="after")
    def _tables_have_their_inputs(self) -> ExperimentConfig:
        planner = self.planner()
        cells = planner.cells()  # raises PlanError naming the table key
        planner.robustness()
        planner.validate_figures()
        probes = {c.probe_backbone for table in cells.values() for c in table if c.probe_backbone}
        missing = sorted(probes - set(self.evaluation.linear_probe))
        if missing:
            raise ValueError(
                f"evaluation.linear_probe has no entry for {missing}, which enabled tables "
                f"evaluate with a linear probe (defined: {sorted(self.evaluation.linear_probe)})"
            )
        return self

    @model_validator(mode="after")
    def _roles_name_datasets(self) -> ExperimentConfig:
        named = {f"roles.{role}": name for role, name in self.roles.items()}
        for table in ("table3", "table6"):
            section = getattr(self.tables, table)
            if section.enabled and section.source_dataset is not None:
                named[f"tables.{table}.source_dataset"] = section.source_dataset
        for name in self.evaluation.supervised_epochs:
            named[f"evaluation.supervised_epochs.{name}"] = name
        for where, name in named.items():
            if name not in self.datasets:
                raise ValueError(
                    f"{where} names dataset {name!r}, which is not in `datasets` "
                    f"(defined: {', '.join(sorted(self.datasets))})"
                )
        return self

    def dataset(self, name: str) -> Any:
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(
                f"dataset {name!r} is not configured; configured: {', '.join(sorted(self.datasets))}"
            ) from None


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for item in err.errors():
        where = ".".join(str(part) for part in item["loc"]) or "<top level>"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  - {where}: {message}")
    return "\n".join(lines)


def load_config(
    raw: Mapping[str, Any] | str | os.PathLike[str], source: str = ""
) -> ExperimentConfig:
    """Validate a config mapping (or read and validate a YAML file)."""
    if isinstance(raw, (str, os.PathLike)):
        path = Path(raw)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        source = source or str(path)
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"config {source or '<mapping>'} must be a mapping, got {type(raw).__name__}"
        )
    try:
        return ExperimentConfig.model_validate(dict(raw))
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source or "<mapping>")) from None


def json_schema() -> dict[str, Any]:
    """The JSON schema of the config (written to ``schemas/config.schema.json``)."""
    return ExperimentConfig.model_json_schema()
