"""SSL methods: small modules that own their heads and map views to a loss (spec §2.4, anchors §3.3).

Each method's ``step(views)`` is differentiable with respect to the views, so the same object both
trains the SSL model (``ssl/train.py``, the one loop) and defines the perturbation objective of
UCL/TUE (PGD steps call ``method.step`` on augmented ``x + delta``). Method-specific extras (MoCo's
EMA key encoder and queue) live here, never in the loop.

Views are forwarded one at a time, as every reference does, so BatchNorm statistics are per view.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tue_core.models.norm import set_bn_splits
from tue_core.registry import Registry
from tue_core.ssl.config import MoCoConfig, SimCLRConfig, SimSiamConfig, parse_ssl_config
from tue_core.ssl.heads import mlp
from tue_core.ssl.losses import info_nce_with_queue, negative_cosine, nt_xent

SSL_METHODS: Registry[Callable[..., SSLMethod]] = Registry("SSL method")


@dataclass
class StepOutput:
    """A method step's loss (scalar, differentiable) and float logs for the history."""

    loss: Tensor
    logs: dict[str, float] = field(default_factory=dict)


class SSLMethod(nn.Module, ABC):
    """A backbone (``.embed(x) -> (B, D)``, ``.embed_dim``) plus method-specific heads and state."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    @abstractmethod
    def step(self, views: Sequence[Tensor]) -> StepOutput:
        """Loss of two views (each float (B, 3, H, W)); differentiable w.r.t. the views."""

    def after_optimizer_step(self) -> None:
        """Hook run after every optimiser step (MoCo's momentum update); no-op by default."""


def _two_views(views: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    if len(views) != 2:
        raise ValueError(f"SSL methods take exactly two views, got {len(views)}")
    return views[0], views[1]


@SSL_METHODS.register("simclr")
class SimCLR(SSLMethod):
    """SimCLR (Chen et al. 2020, arXiv:2002.05709): NT-Xent over in-batch negatives."""

    def __init__(self, backbone: nn.Module, cfg: SimCLRConfig) -> None:
        super().__init__(backbone)
        self.cfg = cfg
        self.projector = mlp([backbone.embed_dim, cfg.hidden_dim, cfg.out_dim])

    def step(self, views: Sequence[Tensor]) -> StepOutput:
        v0, v1 = _two_views(views)
        z0 = self.projector(self.backbone.embed(v0))  # (B, out_dim)
        z1 = self.projector(self.backbone.embed(v1))
        return StepOutput(nt_xent(z0, z1, self.cfg.temperature))


@SSL_METHODS.register("simsiam")
class SimSiam(SSLMethod):
    """SimSiam (Chen & He 2021, arXiv:2011.10566): symmetric negative cosine with stop-gradient."""

    def __init__(self, backbone: nn.Module, cfg: SimSiamConfig) -> None:
        super().__init__(backbone)
        self.cfg = cfg
        dim = cfg.proj_dim
        self.projector = mlp([backbone.embed_dim, dim, dim], out_norm=True)
        self.predictor = mlp([dim, cfg.pred_hidden_dim, dim])

    def step(self, views: Sequence[Tensor], *, target_grad: bool = False) -> StepOutput:
        """``target_grad=True`` drops the stop-gradient (TUE's ``k_grad``, perturbation steps only)."""
        v0, v1 = _two_views(views)
        z0 = self.projector(self.backbone.embed(v0))  # (B, proj_dim)
        z1 = self.projector(self.backbone.embed(v1))
        p0, p1 = self.predictor(z0), self.predictor(z1)
        stop = not target_grad
        loss = 0.5 * (negative_cosine(p0, z1, stop) + negative_cosine(p1, z0, stop))
        return StepOutput(loss)


class _Encoder(nn.Module):
    """Backbone + head, normalised output: MoCo's query and key encoders."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.head(self.backbone.embed(x)), dim=1)


@SSL_METHODS.register("moco")
class MoCo(SSLMethod):
    """MoCo (He et al. 2020, arXiv:1911.05722) with TUE's single-device setup (spec §2.4).

    The key encoder is an EMA copy of backbone + head (momentum 0.99), updated after every
    optimiser step (TUE updates it before the next step: the same sequence). Keys are shuffled
    before the key encoder so that, with split BN, a query and its key never share statistics.
    The queue (K, D) is a buffer, so it is saved with the state dict.
    """

    def __init__(self, backbone: nn.Module, cfg: MoCoConfig) -> None:
        super().__init__(backbone)
        self.cfg = cfg
        dims = [backbone.embed_dim, cfg.out_dim]
        if cfg.head == "mlp":
            dims = [backbone.embed_dim, cfg.hidden_dim, cfg.out_dim]
        self.head = mlp(dims, hidden_norm=False)
        set_bn_splits(backbone, cfg.bn_splits)
        self.key_encoder = copy.deepcopy(_Encoder(backbone, self.head))
        self.key_encoder.requires_grad_(False)
        queue = F.normalize(torch.randn(cfg.queue_size, cfg.out_dim), dim=1)
        self.register_buffer("queue", queue)  # (K, out_dim)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def _queries(self, x: Tensor) -> Tensor:
        return F.normalize(self.head(self.backbone.embed(x)), dim=1)  # (B, out_dim)

    def _keys(self, x: Tensor, target_grad: bool) -> Tensor:
        order = torch.randperm(x.shape[0], device=x.device)
        with torch.set_grad_enabled(target_grad and torch.is_grad_enabled()):
            keys = self.key_encoder(x[order])
        return keys[torch.argsort(order)]  # (B, out_dim), unshuffled

    def step(
        self, views: Sequence[Tensor], update_queue: bool = True, *, target_grad: bool = False
    ) -> StepOutput:
        """InfoNCE of queries from view 0 against keys from view 1 and the queue.

        Args:
            views: two float (B, 3, H, W) batches.
            update_queue: enqueue this step's keys (TUE enqueues in noise steps too).
            target_grad: let gradients reach the views through the key branch (TUE's ``k_grad``).
        """
        v0, v1 = _two_views(views)
        self._check_batch(v0.shape[0])
        q0, k1 = self._queries(v0), self._keys(v1, target_grad)
        queue = self.queue.clone()  # the graph keeps this copy; the buffer is updated in place
        loss = info_nce_with_queue(q0, k1, queue, self.cfg.temperature)
        keys = k1
        if self.cfg.symmetric:  # MoCo CIFAR demo: loss_12 + loss_21, both key sets enqueued
            q1, k0 = self._queries(v1), self._keys(v0, target_grad)
            loss = loss + info_nce_with_queue(q1, k0, queue, self.cfg.temperature)
            keys = torch.cat([k1, k0])
        if update_queue:
            self._enqueue(keys.detach())
        return StepOutput(loss)

    def _check_batch(self, batch: int) -> None:
        needed = batch * (2 if self.cfg.symmetric else 1)
        if needed > self.cfg.queue_size:
            raise ValueError(f"MoCo queue_size {self.cfg.queue_size} < keys per step {needed}")
        if self.training and batch % self.cfg.bn_splits:
            raise ValueError(
                f"MoCo with bn_splits={self.cfg.bn_splits} needs a batch size divisible by it, "
                f"got {batch} (use drop_last or a batch size that is a multiple)"
            )

    @torch.no_grad()
    def _enqueue(self, keys: Tensor) -> None:
        slots = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % len(self.queue)
        self.queue[slots] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % len(self.queue))

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """key <- m * key + (1 - m) * query, for the parameters of backbone and head."""
        query = list(self.backbone.parameters()) + list(self.head.parameters())
        key = list(self.key_encoder.parameters())
        torch._foreach_lerp_(key, query, 1.0 - self.cfg.momentum)


def build_ssl_method(
    cfg: SimCLRConfig | MoCoConfig | SimSiamConfig | Mapping[str, Any], backbone: nn.Module
) -> SSLMethod:
    """The SSL method named by ``cfg.name`` around ``backbone`` (a mapping is validated first)."""
    cfg = parse_ssl_config(cfg)
    return SSL_METHODS.get(cfg.name)(backbone, cfg)
