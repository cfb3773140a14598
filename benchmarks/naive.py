"""Naive reference loops in the style of the public code (shared/spec/reference-implementations.md).

What the public TUE / EMN / contrastive-poisoning scripts do, written here from their description:

* a ``torch.utils.data.Dataset`` over uint8 HWC arrays that builds a PIL image per sample and runs
  torchvision's per-sample transforms (``RandomCrop(32, padding=4)`` + flip for supervised
  training, spec §2.7; ``RandomResizedCrop`` + flip + ``RandomApply(ColorJitter)`` +
  ``RandomGrayscale`` for each SSL view, spec §2.9), batched by a ``DataLoader``;
* fp32, no channels_last, no autocast, batches copied to the device per step, ``loss.item()``
  every step (the references accumulate their logs that way);
* the perturbation kept as one CPU tensor that is gathered and written back sample by sample in
  Python, its batches found through the sample ids the dataset returns (TUE's
  ``replace_targets_with_id``, spec §2.1), and EMN's ``min_min_attack`` PGD step (spec §3).

The model and the loss modules are the project's own (``tue_core.models``, ``tue_core.ssl``), so
ours and naive run the same arithmetic: the ratio measures the pipeline around the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from tue_core.models import build_model

from .ours import EPS, STEP_SIZE, Setup, ssl_method


class PILDataset(Dataset):
    """(transform(PIL image), label[, index]) per sample, as torchvision's CIFAR10 class does."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        transform: Callable[[Image.Image], Any],
        views: int = 1,
        with_index: bool = False,
    ) -> None:
        self.images, self.labels, self.transform = images, labels, transform
        self.views, self.with_index = views, with_index

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        img = Image.fromarray(self.images[i])
        views = tuple(self.transform(img) for _ in range(self.views))
        label = int(self.labels[i])
        return (*views, label, i) if self.with_index else (*views, label)


def supervised_transform(size: int) -> transforms.Compose:
    return transforms.Compose(
        [transforms.RandomCrop(size, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor()]
    )  # fmt: skip


def ssl_transform(size: int) -> transforms.Compose:
    """The SimCLR view transform of the dev-fork / CP evaluation scripts (per image, PIL)."""
    jitter = transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(size),
            transforms.RandomHorizontalFlip(p=0.5),
            transforms.RandomApply([jitter], p=0.8),
            transforms.RandomGrayscale(p=0.2),
            transforms.ToTensor(),
        ]
    )


def loader(
    dataset: Dataset, batch_size: int, workers: int, drop_last: bool, cuda: bool
) -> DataLoader:
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
        drop_last=drop_last, pin_memory=cuda,
    )  # fmt: skip


def supervised(setup: Setup, batch_size: int, workers: int) -> Callable[[], None]:
    """TUE ``supervised_test.py``-style epoch: DataLoader, SGD, per-step ``.item()``."""
    device, size = setup.device, setup.images_hwc.shape[1]
    model = build_model("resnet18", setup.num_classes, setup.width).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    data = PILDataset(setup.images_hwc, setup.labels_np, supervised_transform(size))
    batches = loader(data, batch_size, workers, drop_last=False, cuda=device.type == "cuda")

    def epoch() -> None:
        model.train()
        total, correct = 0.0, 0
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            correct += (logits.argmax(1) == y).sum().item()

    return epoch


def ssl(setup: Setup, backbone: str, batch_size: int, workers: int) -> Callable[[], None]:
    """leftthomas/dev-fork-style SSL epoch: two PIL-augmented views per sample, drop_last."""
    device, size = setup.device, setup.images_hwc.shape[1]
    method = ssl_method(setup, backbone, batch_size).to(device)
    opt = torch.optim.SGD(method.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)
    data = PILDataset(setup.images_hwc, setup.labels_np, ssl_transform(size), views=2)
    batches = loader(data, batch_size, workers, drop_last=True, cuda=device.type == "cuda")

    def epoch() -> None:
        method.train()
        total = 0.0
        for v1, v2, _ in batches:
            loss = method.step([v1.to(device), v2.to(device)]).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            method.after_optimizer_step()
            total += loss.item()

    return epoch


def min_min_attack(model: nn.Module, x: Tensor, y: Tensor, noise: Tensor, steps: int) -> Tensor:
    """EMN's PGD (``toolbox.py``): sign descent on CE from ``x + noise``; returns the new noise."""
    x_adv = torch.clamp(x + noise, 0, 1).requires_grad_(True)
    for _ in range(steps):
        opt = torch.optim.SGD([x_adv], lr=1e-3)
        opt.zero_grad()
        model.zero_grad()
        loss = F.cross_entropy(model(x_adv), y)
        loss.backward()
        eta = STEP_SIZE * x_adv.grad.data.sign()
        x_adv = x_adv.data - eta
        eta = torch.clamp(x_adv - x, -EPS, EPS)
        x_adv = torch.clamp(x + eta, 0, 1).requires_grad_(True)
    return eta


def pgd_ce(setup: Setup, batch_size: int, steps: int, workers: int) -> Callable[[], None]:
    """EMN/TUE-style noise pass: CPU noise tensor, per-sample gather and write-back."""
    device, n = setup.device, len(setup.labels_np)
    model = build_model("resnet18", setup.num_classes, setup.width).to(device).eval()
    for p in model.parameters():
        p.requires_grad = False
    noise = (torch.rand((n, 3, *setup.images_hwc.shape[1:3])) * 2 - 1) * EPS
    data = PILDataset(setup.images_hwc, setup.labels_np, transforms.ToTensor(), with_index=True)
    batches = loader(data, batch_size, workers, drop_last=False, cuda=device.type == "cuda")

    def noise_pass() -> None:
        for x, y, idx in batches:
            batch_noise = torch.stack([noise[i] for i in idx.tolist()]).to(device)
            eta = min_min_attack(model, x.to(device), y.to(device), batch_noise, steps)
            for j, i in enumerate(idx.tolist()):
                noise[i] = eta[j].detach().cpu()

    return noise_pass
