"""The training set on the device and the index batches the generators iterate over.

Images stay uint8 (N, 3, H, W) on the device; a batch is an int64 index slice of a device-side
permutation, converted to float only after slicing. No DataLoader, no per-sample Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from tue_core.data.base import PreparedDataset
from tue_core.perturb.objectives import PerturbBatch


@dataclass(frozen=True)
class DeviceData:
    """A prepared split as device tensors."""

    images: Tensor  # uint8 (N, 3, H, W)
    labels: Tensor  # int64 (N,)
    num_classes: int

    @classmethod
    def from_prepared(cls, data: PreparedDataset, device: torch.device) -> DeviceData:
        images, labels = data.to_tensors(device)
        return cls(images=images, labels=labels, num_classes=data.num_classes)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def batch(self, index: Tensor) -> PerturbBatch:
        """Clean float images in [0, 1], labels and ids of rows ``index``."""
        images = self.images.index_select(0, index).float().div_(255.0)  # (B, 3, H, W)
        return PerturbBatch(images=images, labels=self.labels.index_select(0, index), index=index)


def epoch_batches(
    n: int,
    batch_size: int,
    *,
    shuffle: bool,
    drop_last: bool,
    generator: torch.Generator | None,
    device: torch.device,
) -> list[Tensor]:
    """Index batches covering ``range(n)`` once (one permutation drawn on ``device``)."""
    if shuffle:
        order = torch.randperm(n, device=device, generator=generator)
    else:
        order = torch.arange(n, device=device)
    batches = list(order.split(batch_size))
    if drop_last and batches and len(batches[-1]) < batch_size and len(batches) > 1:
        batches.pop()
    return batches


class BatchStream:
    """An endless stream of index batches: a new shuffled epoch starts when one is used up.

    EMN's model phase takes ``train_steps`` batches at a time from such a persistent stream; its
    state (the batches left of the current epoch) is saved with EMN's checkpoints.
    """

    def __init__(
        self, n: int, batch_size: int, *, generator: torch.Generator, device: torch.device
    ) -> None:
        self.n, self.batch_size = n, batch_size
        self.generator, self.device = generator, device
        self._pending: list[Tensor] = []  # the current epoch's batches not taken yet

    def take(self, count: int) -> list[Tensor]:
        out: list[Tensor] = []
        while len(out) < count:
            if not self._pending:
                self._pending = epoch_batches(
                    self.n,
                    self.batch_size,
                    shuffle=True,
                    drop_last=False,
                    generator=self.generator,
                    device=self.device,
                )
            out.append(self._pending.pop(0))
        return out

    def state_dict(self) -> dict[str, list[Tensor]]:
        return {"pending": list(self._pending)}

    def load_state_dict(self, state: Mapping[str, list[Tensor]]) -> None:
        self._pending = [index.to(self.device) for index in state["pending"]]
