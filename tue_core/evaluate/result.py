"""The result of one evaluation: final- and best-epoch clean test accuracy plus the history.

Accuracies are in percent, as in the paper's tables. The final-epoch accuracy is the honest number
(TUE's supervised script and the paper report it); the best epoch over the test set is what CP and
APBench report (spec §1.7, §9.7), so both are kept, separately.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tue_core import io


@dataclass
class EvalResult:
    """Clean-test accuracy of one trained classifier (percent) and how it got there."""

    final_acc: float
    best_acc: float
    best_epoch: int  # 1-based
    history: list[dict[str, Any]]
    images_per_second: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_history(
        cls, history: list[dict[str, Any]], key: str = "test_acc", **extra: Any
    ) -> EvalResult:
        """Summarise per-epoch records that each hold ``key`` and ``images_per_second``."""
        if not history:
            raise ValueError("cannot summarise an empty history (0 epochs were run)")
        best = max(history, key=lambda record: record[key])
        speeds = [record["images_per_second"] for record in history]
        return cls(
            final_acc=float(history[-1][key]),
            best_acc=float(best[key]),
            best_epoch=int(best["epoch"]),
            history=list(history),
            images_per_second=round(sum(speeds) / len(speeds), 1),
            extra=dict(extra),
        )

    def to_dict(self) -> dict[str, Any]:
        return io.to_jsonable(asdict(self))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result as JSON, atomically (the last thing a run writes)."""
        return io.atomic_write_json(path, self.to_dict())
