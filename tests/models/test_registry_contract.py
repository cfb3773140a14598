"""The backbone contract, checked for every entry of ``MODELS`` (a new model is covered as registered)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tue_core.models import MODELS, SplitBatchNorm2d, build_model, set_bn_splits

WIDTH = 8  # valid for every model (DenseNet growth 4, ViT dim 48) and cheap on one thread
NAMES = MODELS.names()

# name -> (parameters at width 64 with 10 classes, embed_dim at width 64). The CNN counts are those
# of kuangliu/pytorch-cifar's ResNet18, VGG('VGG16'), MobileNetV2 and DenseNet121; the ViT's is
# timm's VisionTransformer(img_size=32, patch_size=4, embed_dim=384, depth=7, num_heads=6).
STANDARD = {
    "resnet18": (11_173_962, 512),
    "vgg16": (14_728_266, 512),
    "mobilenetv2": (2_296_922, 1280),
    "densenet121": (6_956_298, 1024),
    "vit_small": (12_470_026, 384),
}
# name -> forward_features shape for two 32x32 images at width 8.
FEATURE_SHAPES = {
    "resnet18": (2, 64, 4, 4),
    "vgg16": (2, 64, 1, 1),
    "mobilenetv2": (2, 160, 4, 4),
    "densenet121": (2, 128, 4, 4),
    "vit_small": (2, 65, 48),  # class token + 8x8 patches
}


def images(batch: int = 2, size: int = 32) -> torch.Tensor:
    return torch.rand(batch, 3, size, size)


def test_every_registered_model_has_reference_sizes_and_unknown_names_list_the_valid_ones() -> None:
    assert set(STANDARD) == set(NAMES) == set(FEATURE_SHAPES)
    with pytest.raises(KeyError, match=", ".join(NAMES)):
        build_model("vgg11")


@pytest.mark.parametrize("name", NAMES)
def test_shapes_of_features_embedding_and_logits(name: str) -> None:
    model = build_model(name, num_classes=7, width=WIDTH).eval()
    x = images()
    with torch.no_grad():
        features, embedding, logits = model.forward_features(x), model.embed(x), model(x)
    assert features.shape == FEATURE_SHAPES[name]
    assert embedding.shape == (2, model.embed_dim)
    assert logits.shape == (2, 7)
    torch.testing.assert_close(logits, model.forward_head(embedding))


@pytest.mark.parametrize("name", NAMES)
def test_normalised_variant_is_the_head_of_the_unit_embedding(name: str) -> None:
    torch.manual_seed(0)
    plain = build_model(name, width=WIDTH).eval()
    normed = build_model(name, width=WIDTH, normalize_features=True).eval()
    normed.load_state_dict(plain.state_dict())
    x = images(3)
    with torch.no_grad():
        embedding = plain.embed(x)
        torch.testing.assert_close(normed.embed(x), embedding)
        torch.testing.assert_close(normed(x), plain.forward_head(F.normalize(embedding, dim=1)))
        assert not torch.allclose(normed(x), plain(x))


@pytest.mark.parametrize("name", NAMES)
def test_reset_classifier_changes_the_outputs_and_keeps_the_device(name: str) -> None:
    model = build_model(name, width=WIDTH).eval()
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(images()).shape == (2, 3)
    on_meta = build_model(name, width=WIDTH).to("meta")
    on_meta.reset_classifier(5)
    assert all(p.device.type == "meta" for p in on_meta.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_backward_gives_finite_gradients_to_every_parameter_and_both_modes_run(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, width=WIDTH).train()
    loss = F.cross_entropy(model(images()), torch.tensor([1, 4]))
    loss.backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name
    model.eval()
    x = images()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))  # eval is deterministic


@pytest.mark.parametrize("name", NAMES)
def test_every_batch_norm_is_split_batch_norm_and_splitting_runs(name: str) -> None:
    model = build_model(name, width=WIDTH).train()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert all(isinstance(m, SplitBatchNorm2d) for m in norms)
    set_bn_splits(model, 2)
    assert all(m.splits == 2 for m in norms)
    assert model(images(4)).shape == (4, 10)  # 2 samples per split


@pytest.mark.parametrize("name", NAMES)
def test_width_and_num_classes_below_one_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="width"):
        build_model(name, width=0)
    with pytest.raises(ValueError, match="num_classes"):
        build_model(name, num_classes=0)


@pytest.mark.parametrize("name", NAMES)
def test_standard_width_has_the_reference_parameter_count(name: str) -> None:
    parameters, embed_dim = STANDARD[name]
    model = build_model(name, num_classes=10, width=64)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert model.embed_dim == embed_dim


def test_densenet_needs_a_growth_rate_of_at_least_one() -> None:
    with pytest.raises(ValueError, match="width >= 2"):
        build_model("densenet121", width=1)
    assert build_model("densenet121", width=2).growth == 1


def test_vgg_pools_round_up_so_small_inputs_stop_at_one_pixel() -> None:
    model = build_model("vgg16", width=WIDTH).eval()
    with torch.no_grad():
        assert model.embed(images(size=64)).shape == (2, 64)  # 2x2 map, average-pooled
        assert model.forward_features(images(size=32)).shape == (2, 64, 1, 1)
        assert model.forward_features(images(size=16)).shape == (2, 64, 1, 1)  # 16-8-4-2-1-1


def test_vit_resamples_its_position_embedding_for_other_grids() -> None:
    model = build_model("vit_small", width=WIDTH).eval()
    with torch.no_grad():
        assert model.forward_features(images(size=16)).shape == (2, 1 + 16, 48)
        assert model.forward_features(images(size=48)).shape == (2, 1 + 144, 48)
        assert model(torch.rand(2, 3, 32, 48)).shape == (2, 10)
        with pytest.raises(ValueError, match="divisible by the patch size 4"):
            model(images(size=30))
