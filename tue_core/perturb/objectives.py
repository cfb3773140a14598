"""Objectives for the PGD engine: each returns a scalar to *minimise* over delta.

``objective(model, batch, delta, generator=...)`` where ``batch`` holds the clean images, labels and
sample ids, and ``delta`` the current perturbation of that batch (requires grad). The model is
``None`` for objectives that do not use one (CSD alone).

* :class:`CrossEntropy` — EMN's inner min (Eq. 1).
* :class:`SSLObjective` — the contrastive loss of Eq. 5/6 (UCL, TUE's first term).
* :class:`ClasswiseSeparability` — the CSD term of Eq. 5 (Eq. 4).
* :class:`WeightedSum` — ``sum_k w_k * term_k`` (TUE: ``ssl_weight * L_CL + lambda * CSD``); terms
  with weight 0 are skipped, so ``ssl_weight = 0`` runs no network at all (as the reference does).

An objective whose ``accepts_groups`` is true can also take a *grouped* batch: many mini-batches
stacked into one, ``groups`` naming each row's mini-batch. It then returns the size-weighted mean
of the per-mini-batch values, whose gradient has, row by row, the sign each mini-batch alone would
give; sign-PGD on it therefore equals one PGD call per mini-batch up to float rounding
(``alternating.refine_bank``).
Only model-free objectives (CSD) accept groups: a network couples the rows of its batch (BatchNorm,
contrastive negatives).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tue_core.device import autocast_dtype, prefers_channels_last
from tue_core.perturb.csd import classwise_separability, grouped_classwise_separability


@dataclass(frozen=True)
class PerturbBatch:
    """One mini-batch of the dataset being protected (all tensors on the device)."""

    images: Tensor  # float (B, 3, H, W) clean images in [0, 1]
    labels: Tensor  # int64 (B,)
    index: Tensor  # int64 (B,) sample ids (rows of the delta bank)
    groups: Tensor | None = None  # int64 (B,): mini-batch of each row in a grouped batch
    num_groups: int = 1

    def __post_init__(self) -> None:
        if self.groups is not None and self.groups.shape != self.labels.shape:
            raise ValueError(
                f"groups must have the labels' shape {tuple(self.labels.shape)}, "
                f"got {tuple(self.groups.shape)}"
            )

    def group_weights(self) -> Tensor:
        """Each group's share of the rows (G,): the weights of the size-weighted mean."""
        if self.groups is None:
            raise ValueError("group_weights needs a grouped batch (groups is None)")
        sizes = torch.bincount(self.groups, minlength=self.num_groups)
        return sizes.to(torch.float32) / len(self.groups)


class Objective(Protocol):
    accepts_groups: bool  # can take a grouped batch (see the module docstring)

    def __call__(
        self,
        model: nn.Module | None,
        batch: PerturbBatch,
        delta: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor: ...


def refuse_groups(batch: PerturbBatch, name: str) -> None:
    if batch.groups is not None:
        raise ValueError(f"{name} runs a network, so it cannot take a grouped batch")


def autocast_for(x: Tensor) -> Any:
    """bf16 autocast on CUDA, a no-op context elsewhere (``tue_core.device.autocast_dtype``)."""
    dtype = autocast_dtype(x.device)
    return torch.autocast(x.device.type, dtype=dtype) if dtype is not None else nullcontext()


@dataclass(frozen=True)
class CrossEntropy:
    """Supervised cross-entropy of the surrogate on ``x + delta`` (EMN, Huang et al. 2021, Eq. 1)."""

    accepts_groups = False

    def __call__(
        self,
        model: nn.Module | None,
        batch: PerturbBatch,
        delta: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        if model is None:
            raise ValueError("CrossEntropy needs a classifier model")
        refuse_groups(batch, "CrossEntropy")
        with autocast_for(delta):
            logits = model(batch.images + delta)
        return F.cross_entropy(logits.float(), batch.labels)


@dataclass(frozen=True)
class SSLObjective:
    """Contrastive loss of two augmented views of ``x + delta`` (Eq. 5, first term; UCL's loss).

    The augmentation is differentiable and draws its parameters **per sample** on every call, so
    each PGD step sees fresh views of every image (as contrastive poisoning does). The TUE reference
    instead draws one torchvision parameter set per batch in its noise step, an artefact we do not
    copy (spec §2.4).

    Attributes:
        augment: ``(x float (B, 3, H, W) in [0, 1], generator=None) -> same shape``.
        update_queue: MoCo only: the noise steps also enqueue keys (both references do).
        target_grad: MoCo/SimSiam only: gradients also flow through the key / stop-gradient
            branch (TUE's ``--k_grad``, contrastive poisoning's ``--allow_mmt_grad``).
    """

    augment: Callable[..., Tensor]
    update_queue: bool = True
    target_grad: bool = True
    accepts_groups = False

    def __call__(
        self,
        model: nn.Module | None,
        batch: PerturbBatch,
        delta: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        if model is None:
            raise ValueError("SSLObjective needs an SSL method module")
        refuse_groups(batch, "SSLObjective")
        perturbed = batch.images + delta
        views = [self.augment(perturbed, generator=generator) for _ in range(2)]
        if prefers_channels_last(perturbed.device):
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        options = {"update_queue": self.update_queue, "target_grad": self.target_grad}
        with autocast_for(delta):
            output = model.step(views, **supported_options(model.step, options))
        return output.loss.float()


def supported_options(step: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``options`` that ``step`` accepts (MoCo takes both, SimSiam one, SimCLR none)."""
    try:
        accepted = inspect.signature(step).parameters
    except (TypeError, ValueError):
        return {}
    return {key: value for key, value in options.items() if key in accepted}


@dataclass(frozen=True)
class ClasswiseSeparability:
    """CSD of the batch's flattened perturbations (Ren et al. 2023, Eq. 4; see :mod:`.csd`)."""

    detach_spread: bool = True
    accepts_groups = True

    def __call__(
        self,
        model: nn.Module | None,
        batch: PerturbBatch,
        delta: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        if batch.groups is None:
            return classwise_separability(
                delta.flatten(1), batch.labels, detach_spread=self.detach_spread
            )
        values = grouped_classwise_separability(
            delta.flatten(1),
            batch.labels,
            batch.groups,
            batch.num_groups,
            detach_spread=self.detach_spread,
        )  # (G,)
        return (values * batch.group_weights()).sum()


@dataclass(frozen=True)
class WeightedSum:
    """``sum_k weight_k * term_k(model, batch, delta)``; zero-weight terms are not evaluated."""

    terms: tuple[tuple[float, Objective], ...]

    @property
    def accepts_groups(self) -> bool:
        return all(term.accepts_groups for weight, term in self.terms if weight != 0)

    def __post_init__(self) -> None:
        if not any(weight != 0 for weight, _ in self.terms):
            raise ValueError(
                "WeightedSum needs at least one non-zero weight (all-zero weights never update delta)"
            )

    def __call__(
        self,
        model: nn.Module | None,
        batch: PerturbBatch,
        delta: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        total = delta.new_zeros(())
        for weight, term in self.terms:
            if weight != 0:
                total = total + weight * term(model, batch, delta, generator=generator)
        return total
