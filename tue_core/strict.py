"""Base class of every typed config section: unknown keys are errors, values are frozen."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Strict(BaseModel):
    """pydantic model with ``extra="forbid"`` (a misspelled key fails) and ``frozen=True``.

    Unknown keys are reported together with the valid ones, so ``roott:`` says what was meant.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            valid = set(cls.model_fields)
            unknown = sorted(str(k) for k in data if k not in valid)
            if unknown:
                raise ValueError(
                    f"unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
                    f"{', '.join(sorted(valid))}"
                )
        return data
