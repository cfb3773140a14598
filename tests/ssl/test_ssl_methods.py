"""SSL methods: the step contract for every registered method, and MoCo's queue and EMA."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from tue_core.models import build_model
from tue_core.ssl.config import MoCoConfig, SimCLRConfig, SimSiamConfig
from tue_core.ssl.methods import SSL_METHODS, MoCo, build_ssl_method

TINY = {
    "simclr": SimCLRConfig(hidden_dim=16, out_dim=8),
    "moco": MoCoConfig(queue_size=32, out_dim=8, bn_splits=2),
    "simsiam": SimSiamConfig(proj_dim=16, pred_hidden_dim=8),
}


def _method(name: str, **overrides):
    torch.manual_seed(0)
    cfg = TINY[name].model_copy(update=overrides)
    return build_ssl_method(cfg, build_model(width=4))


def _views(batch: int = 8, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(batch, 3, 16, 16, generator=generator) for _ in range(2)]


def test_every_registered_method_has_a_tiny_config() -> None:
    assert SSL_METHODS.names() == sorted(TINY)


@pytest.mark.parametrize("name", SSL_METHODS.names())
def test_step_is_differentiable_with_respect_to_views_and_backbone(name: str) -> None:
    method = _method(name).train()
    views = [v.requires_grad_(True) for v in _views()]
    output = method.step(views)
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    output.loss.backward()
    assert views[0].grad is not None and views[0].grad.abs().sum() > 0
    assert method.backbone.conv1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", SSL_METHODS.names())
def test_a_few_steps_lower_the_loss_on_fixed_views(name: str) -> None:
    method = _method(name).train()
    views = _views(batch=16)
    trainable = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.05, momentum=0.9)
    kwargs = {"update_queue": False} if name == "moco" else {}

    def loss() -> float:
        torch.manual_seed(1)  # the same MoCo key shuffle every time
        return method.step(views, **kwargs).loss.item()

    before = loss()
    for _ in range(12):
        optimizer.zero_grad()
        method.step(views, **kwargs).loss.backward()
        optimizer.step()
        method.after_optimizer_step()
    assert loss() < before - 0.01


def test_simsiam_stop_gradient_blocks_the_target_branch_unless_asked() -> None:
    method = _method("simsiam").train()
    z_grads = []
    for target_grad in (False, True):
        views = _views()
        method.projector.zero_grad()
        method.predictor.zero_grad()
        method.step(views, target_grad=target_grad).loss.backward()
        z_grads.append(method.projector[-1].weight.grad.abs().sum().item())
    # the projector gets gradient through p in both cases; more when z is not detached
    assert z_grads[1] > z_grads[0] > 0


def test_moco_queue_takes_the_keys_and_wraps_around() -> None:
    method: MoCo = _method("moco").train()
    before = method.queue.clone()
    method.step(_views(batch=8), update_queue=False)
    torch.testing.assert_close(method.queue, before)
    for step in range(5):  # 5 x 8 keys into a queue of 32: the pointer wraps to 8
        method.step(_views(batch=8, seed=step))
    assert int(method.queue_ptr) == 8
    norms = method.queue.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert not torch.allclose(method.queue, before)


def test_moco_key_grad_option_reaches_the_key_view() -> None:
    for target_grad, expect in ((False, False), (True, True)):
        method = _method("moco").train()
        views = [v.requires_grad_(True) for v in _views()]
        method.step(views, update_queue=False, target_grad=target_grad).loss.backward()
        reached = views[1].grad is not None and views[1].grad.abs().sum() > 0
        assert reached == expect
    assert not any(p.requires_grad for p in method.key_encoder.parameters())


def test_moco_momentum_update_moves_keys_towards_queries() -> None:
    method: MoCo = _method("moco")
    query, key = method.backbone.conv1.weight, method.key_encoder.backbone.conv1.weight
    torch.testing.assert_close(query, key)
    with torch.no_grad():
        query.add_(1.0)
    old_key = key.clone()
    method.after_optimizer_step()
    torch.testing.assert_close(key, 0.99 * old_key + 0.01 * query)


def test_moco_options_and_batch_checks() -> None:
    method = _method("moco", head="mlp", symmetric=True)
    assert len(method.head) == 3  # Linear - ReLU - Linear
    method.train().step(_views(batch=8))
    assert int(method.queue_ptr) == 16  # both key sets were enqueued
    with pytest.raises(ValueError, match="divisible"):
        method.step(_views(batch=7))
    with pytest.raises(ValueError, match="queue_size 32"):
        method.step(_views(batch=18))


def test_unknown_method_names_are_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="simclr"):
        build_ssl_method({"name": "byol"}, build_model(width=4))
    with pytest.raises(KeyError, match="moco, simclr, simsiam"):
        SSL_METHODS.get("byol")
    with pytest.raises(ValueError, match="two views"):
        _method("simclr").step(_views()[:1])
