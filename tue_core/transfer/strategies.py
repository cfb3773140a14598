"""The :data:`STRATEGIES` registry: transfer strategy name -> builder taking a ``TransferConfig``.

The strategies themselves live in :mod:`tue_core.transfer.interpolation`, their options in
:mod:`tue_core.transfer.config`, which validates ``strategy`` against this registry. The builders
read a config through the structural :class:`StrategyOptions`, so this module imports neither the
config (the config imports it) nor anything that imports the config: no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tue_core.registry import Registry
from tue_core.transfer.interpolation import Direct, MoreClasses, MoreSamples, TransferStrategy


class _AlphaRange(Protocol):
    @property
    def alpha_low(self) -> float: ...

    @property
    def alpha_high(self) -> float: ...


class _PairOptions(Protocol):
    @property
    def max_weights_per_pair(self) -> int: ...

    @property
    def alpha_spread(self) -> float: ...


class StrategyOptions(Protocol):
    """What a builder reads of a :class:`~tue_core.transfer.config.TransferConfig`."""

    @property
    def more_samples(self) -> _AlphaRange: ...

    @property
    def more_classes(self) -> _PairOptions: ...


STRATEGIES: Registry[Callable[[StrategyOptions], TransferStrategy]] = Registry("transfer strategy")


@STRATEGIES.register("direct")
def _build_direct(config: StrategyOptions) -> TransferStrategy:
    return Direct()


@STRATEGIES.register("more_samples")
def _build_more_samples(config: StrategyOptions) -> TransferStrategy:
    return MoreSamples(config.more_samples.alpha_low, config.more_samples.alpha_high)


@STRATEGIES.register("more_classes")
def _build_more_classes(config: StrategyOptions) -> TransferStrategy:
    return MoreClasses(
        max_weights_per_pair=config.more_classes.max_weights_per_pair,
        alpha_spread=config.more_classes.alpha_spread,
        alpha_low=config.more_samples.alpha_low,
        alpha_high=config.more_samples.alpha_high,
    )
