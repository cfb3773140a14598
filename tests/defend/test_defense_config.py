"""Defense configs: documented defaults, variant presets, and errors that name the bad value."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tue_core.defend import (
    AdversarialTrainingConfig,
    BitDepthConfig,
    CutMixConfig,
    GaussianBlurConfig,
    JPEGConfig,
    MixupConfig,
    UEraserConfig,
    build_defense,
    parse_defense_config,
)


def test_apbench_defaults() -> None:
    assert JPEGConfig().quality == 10
    assert (BitDepthConfig().bits, BitDepthConfig().mode) == (2, "posterize")
    assert (GaussianBlurConfig().kernel_size, GaussianBlurConfig().sigma) == (3, 0.1)
    assert MixupConfig().alpha == 1.0 and CutMixConfig().alpha == 1.0 and CutMixConfig().prob == 1.0
    standard = UEraserConfig()
    assert (standard.variant, standard.repeats, standard.adversarial_epochs) == ("standard", 5, 50)
    lite, top = UEraserConfig(variant="lite"), UEraserConfig(variant="max")
    assert (lite.repeats, lite.adversarial_epochs, lite.epochs_factor) == (1, 0, 1.0)
    assert (top.repeats, top.adversarial_epochs, top.epochs_factor) == (5, None, 1.5)
    assert UEraserConfig(variant="max", repeats=3).repeats == 3  # explicit values win
    assert parse_defense_config({"name": "iss", "against": "l2"}).compression == "grayscale"


def test_ueraser_adversarial_epochs_are_an_absolute_count_capped_by_the_run() -> None:
    standard = UEraserConfig()  # APBench: 50 of 200 epochs
    assert standard.adversarial_epochs_in(200) == 50
    assert standard.adversarial_epochs_in(5) == 5  # a short run is adversarial throughout
    assert UEraserConfig(adversarial_epochs=2).adversarial_epochs_in(5) == 2
    assert UEraserConfig(variant="max").adversarial_epochs_in(300) == 300
    assert UEraserConfig(variant="lite").adversarial_epochs_in(200) == 0
    assert [standard.repeats_at(e) for e in (0, 49, 50)] == [5, 5, 1]


@pytest.mark.parametrize("quality", [0, 101])
def test_jpeg_quality_out_of_range_names_field_and_value(quality: int) -> None:
    with pytest.raises(ValidationError, match=rf"quality[\s\S]*input_value={quality}"):
        JPEGConfig(quality=quality)
    with pytest.raises(ValidationError, match=rf"jpeg_quality[\s\S]*input_value={quality}"):
        parse_defense_config({"name": "iss", "jpeg_quality": quality})


@pytest.mark.parametrize("bits", [0, 9])
def test_bits_out_of_range_names_field_and_value(bits: int) -> None:
    with pytest.raises(ValidationError, match=rf"bits[\s\S]*input_value={bits}"):
        BitDepthConfig(bits=bits)


def test_other_bad_values_are_named() -> None:
    with pytest.raises(ValidationError, match="kernel_size must be odd, got 4"):
        GaussianBlurConfig(kernel_size=4)
    with pytest.raises(ValidationError, match=r"step_size must lie in .* got 0\.1"):
        AdversarialTrainingConfig(step_size=0.1)
    with pytest.raises(ValidationError, match=r"L-inf eps lies in .* got 2\.0"):
        AdversarialTrainingConfig(eps=2.0, step_size=0.1)
    with pytest.raises(ValidationError, match="repeats must be 1, got 5"):
        UEraserConfig(variant="lite", repeats=5)
    with pytest.raises(ValidationError, match="repeats must be >= 2, got 1"):
        UEraserConfig(repeats=1)
    with pytest.raises(ValidationError, match=r"plasma_contrast_roughness .* got \(0.8, 0.2\)"):
        UEraserConfig(plasma_contrast_roughness=(0.8, 0.2))
    with pytest.raises(ValidationError, match="unknown key"):
        parse_defense_config({"name": "jpeg", "qualty": 10})
    with pytest.raises(ValidationError, match="grayscale"):
        parse_defense_config({"name": "greyscale"})  # the valid tags are listed


def test_configs_are_frozen() -> None:
    cfg = JPEGConfig()
    with pytest.raises(ValidationError):
        cfg.quality = 50  # type: ignore[misc]
    assert build_defense(cfg).cfg is not None
