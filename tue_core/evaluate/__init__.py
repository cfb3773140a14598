"""Evaluations of (possibly perturbed) training sets on the clean test set.

``supervised`` (cross-entropy ResNet-18, paper recipe) and ``linear_probe`` (SSL pre-training,
then a linear classifier on the frozen encoder); both return an :class:`EvalResult`.
"""

from tue_core.evaluate.result import EvalResult

__all__ = ["EvalResult"]
