"""Beyond the paper: the robustness grid (``tables.robustness``).

A trainer who suspects poisoned data defends (APBench's set, :mod:`tue_core.defend`) or trains
another architecture. Each cell trains the configured supervised recipe on one perturbation set
(or the clean set) under one defense with one model and tests on the clean test set. The clean
row gets every defense too, so each cell compares with a clean baseline trained the same way.

Paths: ``<root>/eval/robust/<defense>/<model>/<target>/clean/metrics.json`` or
``.../<target>/<source>/<run>/original/metrics.json``; the cell without a defense on the
recipe's own model *is* the plain supervised evaluation, so it shares Table 4's file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tue_core.data.base import prepared_path
from tue_core.plan.tables import RobustnessTable

NO_DEFENSE = "none"


@dataclass(frozen=True)
class RobustCell:
    """One supervised run of the robustness grid."""

    role: str  # the dataset's role
    target: str  # its dataset key
    run: str  # perturbation run, or "clean"
    method: str  # clean | EMN | SN | UCL | TUE
    backbone: str
    defense: str  # a key of `defenses`, or "none"
    model: str  # a model registry name
    default_model: str  # the supervised recipe's model (its cells share Table 4's files)
    poison: Any  # tue_core.plan.cells.Poison of ``run`` on ``target``; None for clean
    root: str = "results"

    @property
    def shared(self) -> bool:
        """The plain supervised evaluation (no defense, the recipe's model)."""
        return self.defense == NO_DEFENSE and self.model == self.default_model

    @property
    def metrics_path(self) -> str:
        if self.shared:
            base = f"{self.root}/eval/supervised/{self.target}"
        else:
            base = f"{self.root}/eval/robust/{self.defense}/{self.model}/{self.target}"
        tail = "clean" if self.poison is None else self.poison.key
        return f"{base}/{tail}/metrics.json"

    @property
    def test_path(self) -> str:
        """The clean test set the cell is scored on (the report reads its number of classes)."""
        return prepared_path(self.root, self.target, "test")

    def record(self) -> dict[str, Any]:
        return {
            "protected_dataset": self.role,
            "run": self.run,
            "method": self.method,
            "backbone": self.backbone,
            "defense": self.defense,
            "model": self.model,
            "metrics_path": self.metrics_path,
            "test_path": self.test_path,
        }


def robustness_cells(
    table: RobustnessTable,
    *,
    target: str,
    labels: dict[str, tuple[str, str]],
    defenses: list[str],
    models: list[str],
    default_model: str,
    root: str,
    poison: Callable[[str], Any],
) -> list[RobustCell]:
    """Every cell of the grid: the defense table first, then the architecture table.

    Args:
        labels: run -> (method label, backbone) for every run of ``table.runs``.
        defenses: the names defined in the config's ``defenses`` section.
        models: the model registry's names.
        poison: run -> the planner's Poison of that run on ``target``.
    """
    unknown = sorted(set(table.defenses) - set(defenses))
    if unknown:
        raise ValueError(
            f"tables.robustness.defenses: {unknown} are not defined in `defenses` "
            f"(defined: {', '.join(sorted(defenses)) or 'none'})"
        )
    bad_models = sorted(set(table.architectures) - set(models))
    if bad_models:
        raise ValueError(
            f"tables.robustness.architectures: {bad_models} are not models "
            f"(registered: {', '.join(sorted(models))})"
        )
    rows = [("clean", ("clean", "")), *[(run, labels[run]) for run in table.runs]]
    grid = [(d, default_model) for d in [NO_DEFENSE, *table.defenses]]
    grid += [(NO_DEFENSE, m) for m in table.architectures if m != default_model]
    return [
        RobustCell(
            table.dataset,
            target,
            run,
            method,
            backbone,
            defense,
            model,
            default_model,
            None if run == "clean" else poison(run),
            root,
        )
        for defense, model in grid
        for run, (method, backbone) in rows
    ]
