"""ResNet-18 (CIFAR stem), the model registry and split batch norm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tue_core.models import MODELS, ResNet18, SplitBatchNorm2d, build_model, set_bn_splits


def test_registry_lists_resnet18_and_rejects_unknown_names() -> None:
    assert "resnet18" in MODELS.names()
    with pytest.raises(KeyError, match="resnet18"):
        build_model("vgg11")


@pytest.mark.parametrize("width", [4, 8])
def test_shapes_of_features_embedding_and_logits(width: int) -> None:
    model = build_model(num_classes=7, width=width)
    x = torch.rand(5, 3, 16, 16)
    assert model.embed_dim == 8 * width
    assert model.forward_features(x).shape == (5, 8 * width, 2, 2)
    assert model.embed(x).shape == (5, 8 * width)
    assert model(x).shape == (5, 7)


def test_standard_width_is_the_11m_parameter_resnet18_with_cifar_stem() -> None:
    model = build_model(width=64)
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert model.forward_features(torch.rand(1, 3, 32, 32)).shape == (1, 512, 4, 4)


def test_forward_is_head_of_embedding_and_normalised_variant_normalises() -> None:
    torch.manual_seed(0)
    plain = build_model(width=4).eval()
    normed = build_model(width=4, normalize_features=True).eval()
    normed.load_state_dict(plain.state_dict())
    x = torch.rand(3, 3, 16, 16)
    features = plain.embed(x)
    torch.testing.assert_close(plain(x), plain.fc(features))
    torch.testing.assert_close(normed(x), plain.fc(F.normalize(features, dim=1)))
    assert not torch.allclose(normed(x), plain(x))


def test_reset_classifier_changes_the_number_of_outputs() -> None:
    model = build_model(width=4)
    model.reset_classifier(3)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 3)


def test_one_split_is_plain_batch_norm_and_splits_use_their_own_statistics() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 4, 3, 3) * torch.arange(1, 9).view(8, 1, 1, 1)
    split, plain = SplitBatchNorm2d(4), nn.BatchNorm2d(4)
    torch.testing.assert_close(split(x), plain(x))
    torch.testing.assert_close(split.running_var, plain.running_var)
    split.splits = 2
    out = split(x)
    reference = nn.BatchNorm2d(4)
    for part in (0, 1):  # sample n belongs to split n % 2
        torch.testing.assert_close(out[part::2], reference(x[part::2]))
    with pytest.raises(ValueError, match="divisible by 2"):
        split(torch.randn(5, 4, 3, 3))


def test_set_bn_splits_reaches_every_norm_layer() -> None:
    model = ResNet18(width=4)
    set_bn_splits(model, 4)
    layers = [m for m in model.modules() if isinstance(m, SplitBatchNorm2d)]
    assert layers and all(m.splits == 4 for m in layers)
    assert model(torch.rand(8, 3, 16, 16)).shape == (8, 10)
