"""Typed dataset specs: one entry of the config's ``datasets:`` section, discriminated by ``source``.

Every spec shares the subsetting knobs: ``classes`` keeps a subset of the classes (relabelled in
the order given), ``max_train_per_class`` / ``max_test_per_class`` keep the first k images of each
class in dataset order (which is also how SVHN-small is built).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, model_validator

from tue_core.strict import Strict

Resize = Literal["nearest", "bilinear", "bicubic", "lanczos", "box"]


class _Common(Strict):
    # Keep only these classes (names or 0-based indices of the source's classes), relabelled
    # 0..k-1 in the order given; e.g. disjoint CIFAR-10 class groups as source and target sets.
    classes: list[str | int] | None = Field(default=None, min_length=2)
    max_train_per_class: PositiveInt | None = None
    max_test_per_class: PositiveInt | None = None

    @model_validator(mode="after")
    def _distinct_classes(self) -> Any:
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes lists a class twice: {self.classes}")
        return self


class TorchvisionSpec(_Common):
    """CIFAR-10/100 (python pickles) and SVHN (.mat files) as torchvision stores them under ``root``."""

    source: Literal["cifar10", "cifar100", "svhn"]
    root: str = "data/raw"
    download: bool = False


class SVHNSmallSpec(_Common):
    """SVHN train split capped at ``cap_per_class`` per class in dataset order (TUE utils.py)."""

    source: Literal["svhn_small"]
    root: str = "data/raw"
    download: bool = False
    cap_per_class: PositiveInt = 5000


class ImageFolderSpec(_Common):
    """A user's ``root/{train,test}/<class>/*.{png,jpg,jpeg,bmp,webp}`` tree.

    Without a ``test`` folder, set ``test_fraction`` to split each class deterministically.
    """

    source: Literal["imagefolder"]
    root: str
    image_size: PositiveInt = 32
    resize: Resize = "bicubic"
    test_fraction: Annotated[float, Field(gt=0, lt=1)] | None = None
    split_seed: int = 0


class DigitsSpec(_Common):
    """scikit-learn's bundled 8x8 handwritten digits, upscaled to RGB ``image_size``."""

    source: Literal["digits"]
    image_size: PositiveInt = 32
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    split_seed: int = 0


class SyntheticSpec(_Common):
    """Procedural class-structured images (see :mod:`tue_core.data.synthetic`)."""

    source: Literal["synthetic"]
    num_classes: Annotated[int, Field(ge=2)] = 10
    train_per_class: Annotated[int, Field(ge=2)] = 100
    test_per_class: PositiveInt = 20
    image_size: Annotated[int, Field(ge=8)] = 32
    seed: int = 0

    @model_validator(mode="after")
    def _enough_pixels(self) -> SyntheticSpec:
        if self.image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4, got {self.image_size}")
        return self


DatasetSpec = Annotated[
    TorchvisionSpec | SVHNSmallSpec | ImageFolderSpec | DigitsSpec | SyntheticSpec,
    Field(discriminator="source"),
]


def dataset_spec_from_dict(
    raw: dict,
) -> TorchvisionSpec | SVHNSmallSpec | ImageFolderSpec | DigitsSpec | SyntheticSpec:
    """Validate one dataset entry on its own (what a workflow job receives through ``params``)."""
    from pydantic import TypeAdapter

    return TypeAdapter(DatasetSpec).validate_python(raw)
