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
from pydantic import Field, ValidationError, model_validator

from tue_core.data.config import DatasetSpec
from tue_core.strict import Strict

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"  # keys used in output paths (Snakemake wildcards)
Role = Literal["cifar10", "cifar100", "svhn", "svhn_small"]
DatasetName = Annotated[str, Field(pattern=NAME_PATTERN)]


class ConfigError(ValueError):
    """The config is invalid; the message lists every offending key with the valid values."""


class ScaleInfo(Strict):
    """Printed beside every table so nobody mistakes a demo number for a paper-scale one."""

    name: str
    description: str = ""


class ExperimentConfig(Strict):
    scale: ScaleInfo
    seed: int = 0
    device: str = "auto"
    datasets: dict[DatasetName, DatasetSpec]
    # The paper's dataset roles -> keys of `datasets` (the demo maps them onto offline data).
    roles: dict[Role, DatasetName] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _roles_name_datasets(self) -> ExperimentConfig:
        for role, name in self.roles.items():
            if name not in self.datasets:
                raise ValueError(
                    f"roles.{role} names dataset {name!r}, which is not in `datasets` "
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
