"""Typed options of the transfer strategies (one section of the pipeline config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tue_core.strict import Strict
from tue_core.transfer.strategies import STRATEGIES

AUTO = "auto"


class MoreSamplesOptions(Strict):
    """Eq. 8: extra perturbations ``alpha * delta_i + (1 - alpha) * delta_j`` with ``y_i == y_j``.

    ``alpha`` is drawn uniformly from ``[alpha_low, alpha_high]`` for every extra sample.
    """

    alpha_low: float = Field(0.0, ge=0.0, le=1.0)
    alpha_high: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> MoreSamplesOptions:
        if self.alpha_low > self.alpha_high:
            raise ValueError(
                f"alpha_low ({self.alpha_low}) must not exceed alpha_high ({self.alpha_high})"
            )
        return self


class MoreClassesOptions(Strict):
    """Eq. 7: new classes from pairs of source classes (see :class:`MoreClasses`).

    ``max_weights_per_pair`` bounds how many classes one pair of source classes may give (with
    ``W`` weights the nominal alphas are ``1/(W+1) .. W/(W+1)``); ``alpha_spread`` in ``[0, 1)`` is
    the fraction of the gap between two nominal alphas that a class's samples may vary over
    (0: every sample of a class uses its nominal alpha).
    """

    max_weights_per_pair: int = Field(2, ge=1)
    alpha_spread: float = Field(0.5, ge=0.0, lt=1.0)


class TransferConfig(Strict):
    """How a perturbation set is mapped onto another dataset.

    ``strategy``: ``auto`` (``more_samples`` when the target has no more classes than the source,
    ``more_classes`` otherwise) or a name registered in
    :data:`tue_core.transfer.strategies.STRATEGIES` (``direct``, ``more_samples``,
    ``more_classes``). ``resize``: how a perturbation is resized when the target images have
    another size (then re-clamped to ``[-eps, eps]``).
    """

    strategy: str = AUTO
    more_samples: MoreSamplesOptions = MoreSamplesOptions()
    more_classes: MoreClassesOptions = MoreClassesOptions()
    resize: Literal["bilinear", "area", "nearest"] = "bilinear"

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, name: str) -> str:
        if name != AUTO and name not in STRATEGIES:
            raise ValueError(
                f"unknown transfer strategy {name!r}; "
                f"valid: {', '.join([AUTO, *STRATEGIES.names()])}"
            )
        return name
