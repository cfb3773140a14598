"""Mapping a perturbation set onto other samples or another dataset (paper §3.2.2, §4.2, §5.3).

* :func:`swap_perturbations`: the same dataset with the perturbations re-assigned inside classes
  or between classes (Tables 2 and 5; constructions in :mod:`tue_core.transfer.swaps`).
* :func:`transfer_perturbations`: a perturbation set made on one dataset, mapped class by class
  onto another (Tables 3 and 6): CIFAR-10 -> SVHN-small directly, -> SVHN with more samples per
  class (Eq. 8), -> CIFAR-100 with more classes (Eq. 7); the strategies live in
  :mod:`tue_core.transfer.interpolation`. Perturbations are resized when the image size differs.

Both return the new :class:`PerturbationSet` (rows in target order, labels = target labels) and the
:class:`Assignment` that produced it; both are deterministic given ``seed``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from tue_core.perturb.artifact import PerturbationSet
from tue_core.transfer.assignment import Assignment, reassignment
from tue_core.transfer.config import AUTO, TransferConfig
from tue_core.transfer.resize import resize_perturbation
from tue_core.transfer.strategies import STRATEGIES
from tue_core.transfer.swaps import inter_class_swap, intra_class_swap

log = logging.getLogger(__name__)

SwapKind = Literal["intra", "inter"]


def check_labels_match(perturbation_labels: np.ndarray, labels: np.ndarray) -> None:
    """Raise ValueError when a perturbation set's labels are not ``labels`` (same order)."""
    if perturbation_labels.shape != labels.shape:
        raise ValueError(
            f"perturbation labels have shape {perturbation_labels.shape} but the dataset labels "
            f"have shape {labels.shape}"
        )
    differ = np.flatnonzero(perturbation_labels != labels)
    if differ.size:
        first = int(differ[0])
        raise ValueError(
            f"perturbation labels do not match the dataset labels: {differ.size} of "
            f"{len(labels)} differ, first at index {first} (perturbation label "
            f"{int(perturbation_labels[first])}, dataset label {int(labels[first])})"
        )


def swap_perturbations(
    pset: PerturbationSet, kind: SwapKind, seed: int, labels: np.ndarray | None = None
) -> tuple[PerturbationSet, Assignment]:
    """Intra- or inter-class swap of ``pset`` over its own samples.

    ``labels`` (optional): the dataset's labels, checked against ``pset.labels`` first.
    """
    if kind not in ("intra", "inter"):
        raise ValueError(f"swap kind must be 'intra' or 'inter', got {kind!r}")
    if labels is not None:
        check_labels_match(pset.labels, np.asarray(labels))
    rng = np.random.default_rng(seed)
    num_classes = int(pset.labels.max()) + 1 if len(pset) else 0
    if kind == "intra":
        source_of = intra_class_swap(pset.labels, rng)
        class_source = np.arange(num_classes)
    else:
        source_of, class_source = inter_class_swap(pset.labels, rng)
    assignment = reassignment(f"{kind}_swap", source_of, pset.labels, len(pset), class_source)
    swapped = PerturbationSet(pset.delta[source_of], pset.labels.copy(), pset.eps, pset.norm)
    log.info("%s-class swap of %d perturbations (seed %d)", kind, len(pset), seed)
    return swapped, assignment


def _check_source_labels(labels: np.ndarray) -> int:
    if len(labels) == 0:
        raise ValueError("the source perturbation set is empty")
    if labels.min() < 0:
        raise ValueError(f"source perturbation labels must be >= 0, got {int(labels.min())}")
    counts = np.bincount(labels)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(
            f"source perturbation labels must cover 0..{len(counts) - 1}; class {int(empty[0])} "
            f"has no perturbation (empty classes: {empty.tolist()})"
        )
    return len(counts)


def _check_target_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"target labels must be a non-empty 1-D integer array, got {labels.dtype} "
            f"{labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"target labels must lie in [0, {num_classes}) (target_num_classes={num_classes}), "
            f"got [{int(labels.min())}, {int(labels.max())}]"
        )
    return labels.astype(np.int64, copy=False)


def resolve_strategy(
    config: TransferConfig, num_source_classes: int, target_num_classes: int
) -> str:
    """``auto`` -> ``more_samples`` if the target has no more classes than the source, else
    ``more_classes``; any other name is returned as is."""
    if config.strategy != AUTO:
        return config.strategy
    return "more_samples" if target_num_classes <= num_source_classes else "more_classes"


def as_config(strategy: str | TransferConfig) -> TransferConfig:
    """A strategy name becomes ``TransferConfig(strategy=name)``; a config is returned as is."""
    return strategy if isinstance(strategy, TransferConfig) else TransferConfig(strategy=strategy)


def plan_transfer(
    source_labels: np.ndarray,
    target_labels: np.ndarray,
    target_num_classes: int,
    strategy: str | TransferConfig = AUTO,
    seed: int = 0,
) -> Assignment:
    """The assignment alone (no perturbation values touched): validated, seeded, cheap."""
    config = as_config(strategy)
    num_source_classes = _check_source_labels(np.asarray(source_labels))
    labels = _check_target_labels(target_labels, target_num_classes)
    name = resolve_strategy(config, num_source_classes, target_num_classes)
    builder = STRATEGIES.get(name)(config)
    return builder.assign(
        np.asarray(source_labels, dtype=np.int64),
        labels,
        target_num_classes,
        np.random.default_rng(seed),
    )


def transfer_perturbations(
    source: PerturbationSet,
    target_labels: np.ndarray,
    target_num_classes: int,
    target_hw: tuple[int, int],
    strategy: str | TransferConfig = AUTO,
    seed: int = 0,
) -> tuple[PerturbationSet, Assignment]:
    """Map ``source`` onto a target dataset with labels ``target_labels`` and images ``target_hw``.

    ``strategy``: a strategy name (``auto``, ``direct``, ``more_samples``, ``more_classes``) or a
    full :class:`TransferConfig`. Target class ``k`` takes source class ``k`` (and, beyond the
    source classes, an Eq. 7 pair pattern). Perturbations are resized to ``target_hw`` first when
    needed (``config.resize``), and every result is clamped to ``[-eps, eps]`` for L-inf sets.
    """
    config = as_config(strategy)
    assignment = plan_transfer(source.labels, target_labels, target_num_classes, config, seed)
    labels = assignment.target_labels
    eps = source.eps if source.norm == "linf" else float("inf")
    resized = resize_perturbation(source.delta, target_hw, config.resize, eps)
    delta = assignment.materialise(resized, eps)  # (N_t, 3, H, W)
    log.info(
        "transfer %s: %d -> %d perturbations, %s -> %s (%d interpolated)",
        assignment.kind,
        len(source),
        len(labels),
        tuple(source.delta.shape[2:]),
        tuple(target_hw),
        int(assignment.interpolated.sum()),
    )
    return PerturbationSet(delta, labels.copy(), source.eps, source.norm), assignment
