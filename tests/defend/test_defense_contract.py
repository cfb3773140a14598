"""The contract every registered defense keeps, each built from its default config.

Preprocessing: uint8 (N, 3, H, W) in, uint8 of the same shape and device out, deterministic.
Training time: float batch in [0, 1] and soft targets (rows >= 0 summing to 1) out, same shape,
dtype and device; same generator seed -> same output; another seed -> another output.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tue_core.defend import DEFENSES, build_defense, parse_defense_config
from tue_core.defend.base import PreprocessDefense, TrainTimeDefense

NUM_CLASSES = 10
# every registry entry with its defaults, plus UEraser's two other settings
CASES = [{"name": name} for name in DEFENSES.names()] + [
    {"name": "ueraser", "variant": "lite"},
    {"name": "ueraser", "variant": "max"},
]
CASE_IDS = [
    case["name"] if len(case) == 1 else f"{case['name']}-{case['variant']}" for case in CASES
]


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, NUM_CLASSES))


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """256 tiny 32x32 uint8 images (the batch size the contract is checked at)."""
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (256, 3, 32, 32), dtype=torch.uint8, generator=generator)


@pytest.fixture(scope="module")
def labels() -> torch.Tensor:
    return torch.arange(256, dtype=torch.int64) % NUM_CLASSES


def test_registry_matches_the_config_union() -> None:
    assert DEFENSES.names() == [
        "adversarial_training",
        "bit_depth_reduction",
        "cutmix",
        "cutout",
        "gaussian_blur",
        "grayscale",
        "iss",
        "jpeg",
        "mixup",
        "ueraser",
    ]
    for name in DEFENSES.names():
        cfg = parse_defense_config({"name": name})
        assert cfg.name == name
        defense = build_defense(cfg)
        assert type(defense) is DEFENSES.get(name)
        assert defense.kind in ("preprocess", "train_time")
        assert isinstance(
            defense, PreprocessDefense if defense.kind == "preprocess" else TrainTimeDefense
        )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_describe_is_json_and_names_a_source(case: dict) -> None:
    import json

    defense = build_defense(case)
    record = json.loads(json.dumps(defense.describe()))
    assert record["name"] == case["name"]
    assert record["kind"] == defense.kind
    assert isinstance(record["parameters"], dict) and "name" not in record["parameters"]
    assert len(record["source"]) > 10


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_defense_contract(case: dict, images: torch.Tensor, labels: torch.Tensor) -> None:
    defense = build_defense(case)
    if defense.kind == "preprocess":
        out = defense(images)
        assert out.dtype == torch.uint8
        assert out.shape == images.shape and out.device == images.device
        assert out.is_contiguous()
        assert torch.equal(defense(images), out)  # deterministic
        assert torch.equal(defense(images[:7]), out[:7])  # per-image: batch-independent
        return

    x = images.float() / 255
    model = linear_model()

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        return defense(x, labels, num_classes=NUM_CLASSES, generator=generator, model=model)

    out, targets = run(0)
    assert out.dtype == x.dtype and out.shape == x.shape and out.device == x.device
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert targets.shape == (len(x), NUM_CLASSES) and targets.is_floating_point()
    assert float(targets.min()) >= 0.0
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(len(x)), atol=1e-5, rtol=0)
    again, again_targets = run(0)
    assert torch.equal(out, again) and torch.equal(targets, again_targets)
    if defense.stochastic:
        other, _ = run(1)
        assert not torch.equal(out, other)


@pytest.mark.parametrize("name", [n for n in DEFENSES.names()])
def test_bad_inputs_are_refused(name: str) -> None:
    defense = build_defense(name)
    if defense.kind == "preprocess":
        with pytest.raises(ValueError, match="uint8"):
            defense(torch.zeros(2, 3, 8, 8))
        with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
            defense(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
        return
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="int64 labels"):
        defense(
            torch.rand(2, 3, 8, 8),
            torch.zeros(2, dtype=torch.int32),
            num_classes=2,
            generator=generator,
        )
    with pytest.raises(ValueError, match="float batch"):
        defense(
            torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
            torch.zeros(2, dtype=torch.int64),
            num_classes=2,
            generator=generator,
        )


@pytest.mark.parametrize(
    "case",
    [{"name": "adversarial_training"}, {"name": "ueraser"}, {"name": "ueraser", "variant": "max"}],
)
def test_model_free_call_of_a_model_defense_names_the_defense(case: dict) -> None:
    defense = build_defense(case)
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=f"{case['name']}.*needs the model"):
        defense(
            torch.rand(2, 3, 8, 8),
            torch.zeros(2, dtype=torch.int64),
            num_classes=2,
            generator=generator,
        )
