"""Training-time defenses: the transform each applies, its targets, and the model left untouched."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tue_core.defend import (
    AdversarialTraining,
    AdversarialTrainingConfig,
    CutMix,
    CutMixConfig,
    Cutout,
    CutoutConfig,
    Mixup,
    MixupConfig,
    UEraser,
    UEraserConfig,
    one_hot,
    soft_cross_entropy,
)
from tue_core.defend import augment_ops as ops
from tue_core.models import build_model

NUM_CLASSES = 4


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(8, 3, 8, 8, generator=gen(1))
    return x, torch.arange(8, dtype=torch.int64) % NUM_CLASSES


@pytest.fixture
def resnet() -> nn.Module:
    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=NUM_CLASSES, width=2)
    model.train()
    return model


def snapshot(model: nn.Module) -> tuple[list, list, list]:
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    buffers = [b.clone() for b in model.buffers()]
    modes = [m.training for m in model.modules()]
    return grads, buffers, modes


def assert_untouched(model: nn.Module, before: tuple[list, list, list]) -> None:
    grads, buffers, modes = snapshot(model)
    for old, new in zip(before[0], grads, strict=True):
        assert (old is None and new is None) or torch.equal(old, new)
    for old, new in zip(before[1], buffers, strict=True):
        assert torch.equal(old, new)
    assert modes == before[2]


# --------------------------------------------------------------------------- loss and targets
def test_soft_cross_entropy_equals_cross_entropy_on_one_hot() -> None:
    logits = torch.randn(6, 5, generator=gen())
    y = torch.tensor([0, 4, 2, 2, 1, 3])
    torch.testing.assert_close(
        soft_cross_entropy(logits, one_hot(y, 5)), F.cross_entropy(logits, y)
    )
    mixed = 0.3 * one_hot(y, 5) + 0.7 * one_hot(y.flip(0), 5)
    expected = 0.3 * F.cross_entropy(logits, y, reduction="none") + 0.7 * F.cross_entropy(
        logits, y.flip(0), reduction="none"
    )
    torch.testing.assert_close(soft_cross_entropy(logits, mixed, reduction="none"), expected)
    with pytest.raises(ValueError, match="differ in shape"):
        soft_cross_entropy(logits, torch.full((6, 4), 0.25))


# --------------------------------------------------------------------------- cutout
def test_cutout_zeroes_one_clipped_square() -> None:
    x = torch.ones(64, 3, 16, 16)
    y = torch.zeros(64, dtype=torch.int64)
    out, targets = Cutout()(x, y, num_classes=2, generator=gen())
    assert torch.equal(targets, one_hot(y, 2))
    holes = out[:, 0] == 0  # (B, H, W)
    assert torch.equal(holes[:, None].expand_as(out), out == 0)  # same hole in every channel
    rows, cols = holes.any(dim=2), holes.any(dim=1)  # (B, H), (B, W)
    height, width = rows.sum(dim=1), cols.sum(dim=1)
    assert torch.equal(holes.sum(dim=(1, 2)), height * width)  # a filled rectangle
    assert int(height.max()) == 8 and int(width.max()) == 8  # length 16 / 32 * 16 = 8
    assert bool(((height == 8) & (width == 8)).any())  # unclipped squares occur
    assert bool((height * width < 64).any())  # and clipped ones, at the border


def test_cutout_length_and_holes_are_configurable() -> None:
    x = torch.ones(16, 3, 32, 32)
    y = torch.zeros(16, dtype=torch.int64)
    out, _ = Cutout(CutoutConfig(length=4, holes=3))(x, y, num_classes=2, generator=gen())
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert int(zeros.max()) <= 3 * 16 and int(zeros.min()) > 0
    assert Cutout().length_for(32, 32) == 16  # DeVries & Taylor's / APBench's 16 px at 32x32


# --------------------------------------------------------------------------- mixup / cutmix
@pytest.mark.parametrize("per_sample", [True, False])
def test_mixup_mixes_images_and_labels_with_the_drawn_lambda(per_sample: bool) -> None:
    x = torch.rand(4, 3, 8, 8, generator=gen(3))
    y = torch.arange(4)
    mixup = Mixup(MixupConfig(per_sample=per_sample))
    out, targets = mixup(x, y, num_classes=4, generator=gen(5))
    lam, perm = mixup.sample(4, x.device, gen(5))  # the same draws from the same seed
    weight = lam.view(-1, 1, 1, 1)
    torch.testing.assert_close(out, weight * x + (1 - weight) * x[perm])
    expected = lam[:, None] * one_hot(y, 4) + (1 - lam[:, None]) * one_hot(y[perm], 4)
    torch.testing.assert_close(targets, expected)
    assert (lam.unique().numel() == 1) != per_sample


def test_beta_draws_other_alphas_from_the_generator() -> None:
    a = ops.sample_beta(0.4, 4000, torch.device("cpu"), gen(0))
    b = ops.sample_beta(0.4, 4000, torch.device("cpu"), gen(0))
    assert torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert abs(float(a.mean()) - 0.5) < 0.03
    assert abs(float(a.var()) - 0.25 / 1.8) < 0.02  # Beta(a, a) variance 1 / (4 (2a + 1))


def test_cutmix_targets_are_the_pasted_pixel_fractions() -> None:
    batch = 32  # constant images with distinct values and labels: a pixel tells its source
    values = torch.arange(batch, dtype=torch.float32).div(batch)
    x = values.view(-1, 1, 1, 1).expand(batch, 3, 16, 16).contiguous()
    y = torch.arange(batch)
    out, targets = CutMix()(x, y, num_classes=batch, generator=gen())
    own_share = (out[:, 0] == values.view(-1, 1, 1)).float().mean(dim=(1, 2))
    torch.testing.assert_close(targets[torch.arange(batch), y], own_share)
    assert bool((own_share < 1).any()) and bool((own_share > 0).any())
    pasted = out[:, 0] != values.view(-1, 1, 1)  # (B, H, W): a filled box per sample
    rows, cols = pasted.any(dim=2).sum(dim=1), pasted.any(dim=1).sum(dim=1)
    assert torch.equal(pasted.sum(dim=(1, 2)), rows * cols)
    untouched, _ = CutMix(CutMixConfig(prob=0.0))(x, y, num_classes=batch, generator=gen())
    assert torch.equal(untouched, x)


# --------------------------------------------------------------------------- UEraser ops
def test_plasma_maps_lie_in_unit_range_and_roughness_sets_their_detail() -> None:
    smooth = ops.plasma_fractal(64, (32, 32), torch.full((64,), 0.1), gen())
    rough = ops.plasma_fractal(64, (32, 32), torch.full((64,), 0.9), gen())
    for maps in (smooth, rough):
        assert maps.shape == (64, 32, 32)
        assert float(maps.min()) >= 0.0 and float(maps.max()) <= 1.0
    detail = lambda m: (m[:, 1:] - m[:, :-1]).abs().mean()  # noqa: E731
    assert float(detail(rough)) > 2 * float(detail(smooth))
    odd = ops.plasma_fractal(3, (7, 12), torch.full((3,), 0.5), gen())
    assert odd.shape == (3, 7, 12)


def test_trivial_augment_ops_keep_shape_and_range() -> None:
    x = torch.rand(len(ops.TRIVIAL_AUGMENT_OPS) * 3, 3, 12, 10, generator=gen())
    op_index = torch.arange(len(x)) % len(ops.TRIVIAL_AUGMENT_OPS)
    magnitudes = ops.sample_trivial_augment(x, gen())[1]
    out = ops.trivial_augment(x, op_index, magnitudes)
    assert out.shape == x.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    # zero-magnitude geometry and sharpness 1 are the identity; 8-bit posterize keeps 256 levels
    zero = torch.zeros(len(x))
    torch.testing.assert_close(ops.rotate(x, zero), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(ops.shear(x, zero, axis=1), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(ops.translate(x, zero, axis=0), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(ops.sharpness(x, torch.ones(len(x))), x)
    assert torch.equal(
        ops.posterize(x, torch.full((len(x),), 8.0)), torch.floor(x * 256).clamp(max=255) / 256
    )
    shuffled = ops.channel_shuffle(x, ops.sample_channel_permutations(x, gen()))
    torch.testing.assert_close(shuffled.sort(dim=1).values, x.sort(dim=1).values)


# --------------------------------------------------------------------------- UEraser
def test_ueraser_returns_the_max_loss_augmentation(batch, resnet) -> None:
    x, y = batch
    defense = UEraser()
    assert defense.repeats == 5 and defense.needs_model
    before = snapshot(resnet)
    out, targets = defense(x, y, num_classes=NUM_CLASSES, generator=gen(7), model=resnet)
    assert_untouched(resnet, before)  # grads, BatchNorm buffers and modes
    candidates = defense.augment(x.repeat(5, 1, 1, 1), gen(7))  # the same draws
    with torch.no_grad():
        losses = F.cross_entropy(resnet(candidates), y.repeat(5), reduction="none").view(5, -1)
    best = losses.argmax(dim=0)
    torch.testing.assert_close(out, candidates.view(5, 8, 3, 8, 8)[best, torch.arange(8)])
    assert torch.equal(targets, one_hot(y, NUM_CLASSES))


def test_ueraser_schedule_and_variants() -> None:
    standard = UEraser()
    standard.set_epoch(49)
    assert standard.repeats == 5
    standard.set_epoch(50)
    assert standard.repeats == 1 and not standard.needs_model  # APBench --repeat_epoch 50
    lite, top = UEraser(UEraserConfig(variant="lite")), UEraser(UEraserConfig(variant="max"))
    assert lite.repeats == 1 and not lite.needs_model and lite.epochs_factor == 1.0
    top.set_epoch(299)
    assert top.repeats == 5 and top.epochs_factor == 1.5 and top.cfg.epochs(200) == 300
    x, y = torch.rand(4, 3, 8, 8, generator=gen()), torch.zeros(4, dtype=torch.int64)
    out, _ = lite(x, y, num_classes=2, generator=gen())  # no model needed
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        standard.set_epoch(-1)


# --------------------------------------------------------------------------- adversarial training
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_adversarial_training_raises_the_loss_inside_the_ball(batch, resnet, norm: str) -> None:
    x, y = batch
    cfg = AdversarialTrainingConfig(norm=norm, steps=5)
    for p in resnet.parameters():
        p.grad = torch.full_like(p, 0.5)  # a pending gradient must survive
    resnet.layer1.eval()  # a mixed train/eval state must come back as it was
    before = snapshot(resnet)
    out, targets = AdversarialTraining(cfg)(
        x, y, num_classes=NUM_CLASSES, generator=gen(), model=resnet
    )
    assert_untouched(resnet, before)
    assert not out.requires_grad
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    delta = (out - x).flatten(1)
    if norm == "linf":
        assert float(delta.abs().max()) <= cfg.eps + 1e-6
    else:
        assert float(delta.norm(dim=1).max()) <= cfg.eps + 1e-5
    resnet.eval()
    with torch.no_grad():  # a random width-2 net is nearly flat: the loss rises, a little
        clean = F.cross_entropy(resnet(x), y)
        adversarial = soft_cross_entropy(resnet(out), targets)
    assert float(adversarial) > float(clean)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_adversarial_training_raises_a_fixed_models_loss(batch, norm: str) -> None:
    x, y = batch
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, NUM_CLASSES))
    nn.init.normal_(model[1].weight)  # confident logits, so the budget visibly matters
    out, targets = AdversarialTraining(AdversarialTrainingConfig(norm=norm))(
        x, y, num_classes=NUM_CLASSES, generator=gen(), model=model
    )
    with torch.no_grad():
        clean = F.cross_entropy(model(x), y)
        adversarial = soft_cross_entropy(model(out), targets)
    assert float(adversarial) > float(clean) + 1.0


def test_the_l2_random_start_is_uniform_in_the_ball() -> None:
    """Uniform in a d-ball puts the radius at eps * U^(1/d): nearly all of the mass sits at the
    surface for d = 192 (median 0.9964 eps); a uniform radius would put the median at 0.5 eps."""
    cfg = AdversarialTrainingConfig(norm="l2")
    x = torch.full((512, 3, 8, 8), 0.5)  # far from 0 and 1, so clamping never shortens delta
    start = AdversarialTraining(cfg)._start(x, gen())
    radii = start.flatten(1).norm(dim=1) / cfg.eps
    assert float(radii.max()) <= 1.0 + 1e-5
    assert float(radii.median()) == pytest.approx(0.5 ** (1 / 192), abs=0.005)


def test_adversarial_training_defaults() -> None:
    linf, l2 = AdversarialTrainingConfig(), AdversarialTrainingConfig(norm="l2")
    assert linf.eps == pytest.approx(8 / 255) and linf.step_size == pytest.approx(2 / 255)
    assert l2.eps == pytest.approx(0.5) and l2.step_size == pytest.approx(0.125)
    assert AdversarialTrainingConfig(eps=4 / 255).step_size == pytest.approx(1 / 255)
    assert not AdversarialTraining(AdversarialTrainingConfig(random_start=False)).stochastic
