"""The two call shapes every defense has, and the record each writes into a run's sidecar.

* :class:`PreprocessDefense`: ``defense(images) -> images``, uint8 (N, 3, H, W) in and out, same
  device, applied once to the whole (poisoned) training set before training. Deterministic.
* :class:`TrainTimeDefense`: ``defense(x, y, *, num_classes, generator, model=None) -> (x, targets)``
  on each training batch: float x (B, 3, H, W) in [0, 1] and int64 labels (B,) in, the batch to
  train on (float, [0, 1], same shape and device) and soft targets (B, num_classes) out, each row
  non-negative and summing to 1. All randomness comes from ``generator`` (on x's device).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

Kind = Literal["preprocess", "train_time"]


class Defense:
    """Common part: the config, the kind and a JSON-able description."""

    kind: ClassVar[Kind]
    source: ClassVar[str]  # citation of the method and of the defaults
    stochastic: ClassVar[bool] = False  # draws from the generator

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    @property
    def name(self) -> str:
        return str(self.cfg.name)

    def parameters(self) -> dict[str, Any]:
        """The config's values (JSON types), ``name`` left out."""
        data = self.cfg.model_dump(mode="json")
        data.pop("name", None)
        return data

    def describe(self) -> dict[str, Any]:
        """``{name, kind, parameters, source}`` for a run's sidecar."""
        return {
            "name": self.name,
            "kind": self.kind,
            "parameters": self.parameters(),
            "source": self.source,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cfg!r})"


class PreprocessDefense(Defense):
    """A transform of the whole training set: uint8 (N, 3, H, W) -> uint8 of the same shape."""

    kind: ClassVar[Kind] = "preprocess"
    chunk_size: ClassVar[int] = 4096  # images per step: bounds the float intermediates' memory

    def __call__(self, images: Tensor) -> Tensor:
        check_uint8_images(images)
        if len(images) == 0:
            return images.clone()
        out = torch.cat(
            [
                self._apply(images[start : start + self.chunk_size])
                for start in range(0, len(images), self.chunk_size)
            ]
        )
        return out.to(device=images.device, dtype=torch.uint8).contiguous()

    def _apply(self, images: Tensor) -> Tensor:
        """uint8 (n, 3, H, W) -> uint8 (n, 3, H, W) for one chunk."""
        raise NotImplementedError


class TrainTimeDefense(Defense):
    """A per-batch transform of (images, labels) into (images, soft targets)."""

    kind: ClassVar[Kind] = "train_time"
    stochastic: ClassVar[bool] = True

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.epoch = 0

    @property
    def needs_model(self) -> bool:
        """Whether the call at the current epoch needs ``model``."""
        return False

    def set_epoch(self, epoch: int) -> None:
        """Tell the defense the 0-based epoch about to run (UEraser's schedule reads it)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def __call__(
        self,
        x: Tensor,
        y: Tensor,
        *,
        num_classes: int,
        generator: torch.Generator,
        model: nn.Module | None = None,
    ) -> tuple[Tensor, Tensor]:
        check_float_batch(x, y, num_classes)
        if self.needs_model and model is None:
            raise ValueError(
                f"defense {self.name!r} needs the model being trained (model=None was passed)"
            )
        return self._apply(x, y, num_classes=num_classes, generator=generator, model=model)

    def _apply(
        self,
        x: Tensor,
        y: Tensor,
        *,
        num_classes: int,
        generator: torch.Generator,
        model: nn.Module | None,
    ) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


# --------------------------------------------------------------------------- input checks
def check_uint8_images(images: Tensor) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}"
        )


def check_float_batch(x: Tensor, y: Tensor, num_classes: int) -> None:
    if x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
        raise ValueError(
            f"expected a float batch (B, 3, H, W) in [0, 1], got {x.dtype} {tuple(x.shape)}"
        )
    if y.dtype != torch.int64 or y.shape != (x.shape[0],):
        raise ValueError(
            f"expected int64 labels of shape ({x.shape[0]},), got {y.dtype} {tuple(y.shape)}"
        )
    if y.device != x.device:
        raise ValueError(f"images on {x.device} but labels on {y.device}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")


# --------------------------------------------------------------------------- targets and loss
def one_hot(y: Tensor, num_classes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """(B,) int64 -> (B, num_classes) one-hot rows (an out-of-range label is an indexing error)."""
    out = torch.zeros((y.shape[0], num_classes), dtype=dtype, device=y.device)
    return out.scatter_(1, y[:, None], 1.0)


def soft_cross_entropy(
    logits: Tensor, targets: Tensor, reduction: Literal["mean", "sum", "none"] = "mean"
) -> Tensor:
    """Cross-entropy against soft targets: ``-sum_c targets_c * log_softmax(logits)_c``.

    Equals ``F.cross_entropy(logits, y)`` for one-hot targets; computed in float32.

    Args:
        logits: (B, C) scores.
        targets: (B, C) rows of non-negative weights summing to 1.
        reduction: ``"mean"`` over the batch (default), ``"sum"``, or ``"none"`` (B,).
    """
    if logits.shape != targets.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape"
        )
    losses = -(targets.float() * torch.log_softmax(logits.float(), dim=1)).sum(dim=1)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
