"""Typed configs of the defenses an unauthorised trainer uses against poisoned data, by ``name``.

The set is APBench's (Qin et al. 2023, arXiv 2308.03258, github.com/lafeat/apbench): four
preprocessing defenses applied once to the training set (grayscale, JPEG, bit-depth reduction,
Gaussian blur) plus ISS, which picks one of them by the poison's norm, and five training-time
defenses (cutout, mixup, cutmix, UEraser, adversarial training). Defaults are APBench's
``train.py`` / ``util.py`` / ``mardrys.py`` / ``defense/ueraser.py`` unless a comment says
otherwise; every check that can fail runs here, when the config is built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from tue_core.strict import Strict

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
UnitRange = tuple[Probability, Probability]


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if not low <= value[0] <= value[1] <= high:
        raise ValueError(f"{name} must satisfy {low} <= low <= high <= {high}, got {value}")


# --------------------------------------------------------------------------- preprocessing
class GrayscaleConfig(Strict):
    """Grayscale with 3 channels kept (APBench ``--gray``: ``transforms.Grayscale(3)``).

    ITU-R 601-2 luma with torchvision's weights (0.2989, 0.587, 0.114), truncated to uint8 as
    torchvision's ``rgb_to_grayscale`` does on uint8 (APBench runs PIL's ``convert("L")``, which
    rounds: the two differ by at most one grey level).
    """

    name: Literal["grayscale"] = "grayscale"


class JPEGConfig(Strict):
    """JPEG re-encoding (APBench ``--jpeg``: PIL ``quality=10``; ISS's JPEG-10)."""

    name: Literal["jpeg"] = "jpeg"
    quality: Annotated[int, Field(ge=1, le=100)] = 10


class BitDepthConfig(Strict):
    """Bit-depth reduction to ``bits`` bits per channel (APBench ``--bdr``: 2 bits).

    ``mode="posterize"`` (default) is APBench's ``transforms.RandomPosterize(bits=2, p=1)``: keep
    the top ``bits`` bits (``v & ~(2**(8 - bits) - 1)``), so each bucket maps to its lower end
    (2 bits: 0, 64, 128, 192). ``mode="feature_squeezing"`` is Xu et al. 2018's formula
    ``round(v / 255 * (2**bits - 1)) / (2**bits - 1) * 255`` (2 bits: 0, 85, 170, 255).
    """

    name: Literal["bit_depth_reduction"] = "bit_depth_reduction"
    bits: Annotated[int, Field(ge=1, le=8)] = 2
    mode: Literal["posterize", "feature_squeezing"] = "posterize"


class GaussianBlurConfig(Strict):
    """Gaussian blur (APBench ``--gaussian``: ``transforms.GaussianBlur(3, sigma=0.1)``).

    With sigma 0.1 the off-centre taps weigh ``exp(-50)``: APBench's setting is the identity on
    uint8 images; a larger sigma is a real low-pass filter.
    """

    name: Literal["gaussian_blur"] = "gaussian_blur"
    kernel_size: PositiveInt = 3
    sigma: PositiveFloat = 0.1

    @model_validator(mode="after")
    def _odd_kernel(self) -> GaussianBlurConfig:
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        return self


class ISSConfig(Strict):
    """Image Shortcut Squeezing (Liu, Zhao & Larson 2023, arXiv 2301.13838, ICML 2023).

    ISS compresses the poisoned training set with the compression that matches the poison's
    norm: JPEG-10 against L-inf-bounded poisons (EM, REM, TAP, ...: high-frequency perturbations
    that JPEG's quantisation removes) and grayscale against L2-bounded / low-frequency, colour-based
    ones (LSP, ...). ``against`` names the poison's norm; ``jpeg_quality`` is ISS's 10.
    """

    name: Literal["iss"] = "iss"
    against: Literal["linf", "l2"] = "linf"
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = 10

    @property
    def compression(self) -> Literal["jpeg", "grayscale"]:
        return "jpeg" if self.against == "linf" else "grayscale"


# --------------------------------------------------------------------------- training time
class CutoutConfig(Strict):
    """Cutout (DeVries & Taylor 2017, arXiv 1708.04552; APBench ``util.Cutout(16)``).

    ``holes`` squares of side ``length`` set to 0, each centred on a uniform pixel and clipped at
    the border. ``length=None`` scales DeVries & Taylor's / APBench's 16 px at 32x32 to the image:
    ``round(min(H, W) / 2)``.
    """

    name: Literal["cutout"] = "cutout"
    length: PositiveInt | None = None
    holes: PositiveInt = 1


class MixupConfig(Strict):
    """Mixup (Zhang et al. 2018, arXiv 1710.09412), ``lambda ~ Beta(alpha, alpha)``, alpha 1.0.

    ``per_sample=True`` (default) is APBench's ``kornia.augmentation.RandomMixUpV2()``: every sample
    draws its own lambda (Beta(1, 1) = kornia's U(0, 1)) and partner (one random permutation);
    ``False`` draws one lambda per batch, as Zhang et al.'s reference code.
    """

    name: Literal["mixup"] = "mixup"
    alpha: PositiveFloat = 1.0
    per_sample: bool = True


class CutMixConfig(Strict):
    """CutMix (Yun et al. 2019, arXiv 1905.04899), ``lambda ~ Beta(alpha, alpha)``, alpha 1.0.

    As APBench's ``kornia.augmentation.RandomCutMixV2()``: each sample (with probability
    ``prob``, kornia's p = 1.0) pastes a box of side ``floor(sqrt(1 - lambda) * H)`` x
    ``floor(sqrt(1 - lambda) * W)`` from its partner, placed uniformly inside the image; the
    targets are weighted by the pasted area actually used.
    """

    name: Literal["cutmix"] = "cutmix"
    alpha: PositiveFloat = 1.0
    prob: Probability = 1.0


# UEraser's three settings (Qin et al. 2023, arXiv 2303.15127). repeats: K augmentations per
# sample, training on the max-loss one; adversarial_epochs: epochs (from the start) that use K
# repeats, None = all of them; epochs_factor: training length relative to the base recipe.
# APBench train.py: K = 5 and ``--repeat_epoch`` "0 for -lite / 50 for UEraser / 300 for -max"
# with 200 epochs by default; Max's 300 repeat epochs cover a 300-epoch run (factor 1.5). The
# lafeat/ueraser README's example uses 60 adversarial epochs of 200 instead of APBench's 50.
UERASER_VARIANTS: dict[str, dict[str, Any]] = {
    "lite": {"repeats": 1, "adversarial_epochs": 0, "epochs_factor": 1.0},
    "standard": {"repeats": 5, "adversarial_epochs": 50, "epochs_factor": 1.0},
    "max": {"repeats": 5, "adversarial_epochs": None, "epochs_factor": 1.5},
}


class UEraserConfig(Strict):
    """UEraser (Qin et al. 2023, "Learning the Unlearnable", arXiv 2303.15127; APBench/lafeat).

    The augmentation is APBench's ``defense/ueraser.py`` kornia pipeline, per sample: plasma
    brightness (p 1, roughness U(0.3, 0.7), intensity U(0.5, 1)), plasma contrast (p 1,
    roughness U(0.3, 0.7)), channel shuffle (p 0.5), then TrivialAugment (one op per sample).
    The plasma probabilities are those of the APBench commit the project's reference notes pin
    (``../shared/spec``: 9a6fb911, 2025-04-15); some commits of that file use 0.5 for both.
    ``variant`` fills ``repeats``, ``adversarial_epochs`` and ``epochs_factor`` from
    :data:`UERASER_VARIANTS` where they are not given. ``epochs_factor`` is read by the caller,
    which trains ``round(factor * epochs)`` epochs; nothing here runs training.
    """

    name: Literal["ueraser"] = "ueraser"
    variant: Literal["lite", "standard", "max"] = "standard"
    repeats: PositiveInt
    adversarial_epochs: NonNegativeInt | None
    epochs_factor: PositiveFloat
    plasma_brightness_p: Probability = 1.0
    plasma_brightness_roughness: UnitRange = (0.3, 0.7)
    plasma_brightness_intensity: UnitRange = (0.5, 1.0)
    plasma_contrast_p: Probability = 1.0
    plasma_contrast_roughness: UnitRange = (0.3, 0.7)
    channel_shuffle_p: Probability = 0.5
    trivial_augment: bool = True

    @model_validator(mode="before")
    @classmethod
    def _fill_variant(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        variant = data.get("variant", "standard")
        if variant not in UERASER_VARIANTS:
            return data  # the Literal check reports the valid names
        return {**UERASER_VARIANTS[variant], **data}

    @model_validator(mode="after")
    def _check(self) -> UEraserConfig:
        if self.variant == "lite" and self.repeats != 1:
            raise ValueError(
                f"variant 'lite' draws one augmentation per sample; repeats must be 1, "
                f"got {self.repeats}"
            )
        if self.variant != "lite" and self.repeats < 2:
            raise ValueError(
                f"variant {self.variant!r} trains on the max-loss of K augmentations; "
                f"repeats must be >= 2, got {self.repeats}"
            )
        for name in ("plasma_brightness_roughness", "plasma_contrast_roughness"):
            _check_range(name, getattr(self, name), 0.0, 1.0)
        _check_range("plasma_brightness_intensity", self.plasma_brightness_intensity, 0.0, 1.0)
        return self

    def repeats_at(self, epoch: int) -> int:
        """K at 0-based ``epoch``: ``repeats`` during the adversarial epochs, 1 afterwards."""
        if self.adversarial_epochs is None or epoch < self.adversarial_epochs:
            return self.repeats
        return 1

    def adversarial_epochs_in(self, epochs: int) -> int:
        """How many of a run's ``epochs`` use K repeats: ``adversarial_epochs`` is an absolute
        count (APBench's ``--repeat_epoch``), so on a schedule shorter than it (50 of APBench's
        200 epochs for ``standard``; a 5-epoch CPU run) every epoch is adversarial."""
        if self.repeats == 1:
            return 0
        return epochs if self.adversarial_epochs is None else min(self.adversarial_epochs, epochs)

    def epochs(self, base_epochs: int) -> int:
        """Training length for a base recipe of ``base_epochs`` (Max trains longer)."""
        return max(1, round(self.epochs_factor * base_epochs))


ADV_DEFAULT_EPS = {"linf": 8 / 255, "l2": 0.5}


class AdversarialTrainingConfig(Strict):
    """PGD adversarial training (Madry et al. 2018, arXiv 1706.06083; APBench ``mardrys.py``).

    L-inf: eps 8/255 (APBench ``--at_eps``), L2: eps 0.5 (per-image norm in [0, 1] pixel units).
    ``step_size`` defaults to ``eps / 4`` (2/255 at 8/255; 0.125 for L2 0.5); APBench uses 10 steps
    of 0.007 (~1.8/255). ``random_start`` draws the start uniformly in the ball (Madry et al.;
    APBench adds ``step_size * N(0, 1)`` noise instead).
    """

    name: Literal["adversarial_training"] = "adversarial_training"
    norm: Literal["linf", "l2"] = "linf"
    eps: PositiveFloat
    step_size: PositiveFloat
    steps: PositiveInt = 10
    random_start: bool = True

    @model_validator(mode="before")
    @classmethod
    def _fill_ball(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        norm = data.get("norm", "linf")
        if norm not in ADV_DEFAULT_EPS:
            return data  # the Literal check reports the valid names
        eps = data.get("eps", ADV_DEFAULT_EPS[norm])
        filled = {"eps": eps, **data}
        if "step_size" not in data and isinstance(eps, (int, float)):
            filled["step_size"] = eps / 4
        return filled

    @model_validator(mode="after")
    def _check_ball(self) -> AdversarialTrainingConfig:
        if self.norm == "linf" and self.eps > 1.0:
            raise ValueError(
                f"an L-inf eps lies in (0, 1] (pixel units, e.g. 8/255), got {self.eps}"
            )
        if self.step_size > self.eps:
            raise ValueError(
                f"step_size must lie in (0, eps] = (0, {self.eps:.6g}], got {self.step_size}"
            )
        return self


DefenseConfig = Annotated[
    GrayscaleConfig
    | JPEGConfig
    | BitDepthConfig
    | GaussianBlurConfig
    | ISSConfig
    | CutoutConfig
    | MixupConfig
    | CutMixConfig
    | UEraserConfig
    | AdversarialTrainingConfig,
    Field(discriminator="name"),
]
"""Any defense config; ``name`` selects the class (see ``tue_core.defend.registry.DEFENSES``)."""
