"""Does the protection work at the owner's scale? Train on it and see (``tue-protect --check``).

Nobody should believe in a protection that is not there. After :func:`protect_folder`, this
trains a quick supervised recipe twice from scratch, once on the clean originals and once on the
protected copies of the same training images, and tests both on the same clean images: the
owner's own ``test/`` split when the folder has one, else a held-out part of every class (whose
protected copies are never trained on). It reports both accuracies, the drop, chance level, each
run's peak accuracy and epoch (a trainer who stops early sees the peak), and a verdict line.

Verdict: with ``gain = clean - chance`` (what the recipe learns from the clean images) and
``removed = (clean - protected) / gain``, the protection *works against this recipe* when it
removes at least 70% of the gain at the final epoch and at the peak, is *partial* from 30%, and
is *not effective* below; the check is *inconclusive* when the recipe learns less than 10 points
above chance from the clean images (nothing to remove). It says nothing about other recipes,
longer training or defenses (see docs/robustness.md).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, PositiveInt

from tue_core import io
from tue_core.data.base import PreparedDataset
from tue_core.data.imagefolder import read_images
from tue_core.evaluate.result import EvalResult
from tue_core.evaluate.supervised import SupervisedConfig, train_supervised
from tue_core.ssl.config import OptimizerConfig
from tue_core.strict import Strict
from tue_core.transfer.image_folder import ImageFolder, scan_image_folder
from tue_core.transfer.protect import MANIFEST_FILE

log = logging.getLogger(__name__)

CHECK_FILE = "check.json"
WORKS, PARTIAL = 0.7, 0.3  # shares of the clean gain removed
MIN_GAIN = 10.0  # points above chance the clean run must reach for the check to mean anything


class CheckConfig(Strict):
    """The quick recipe the check trains (an owner's set: small, a few dozen epochs)."""

    image_size: PositiveInt = 32  # both sets are resized to this (as a trainer would)
    resize: str = "bilinear"
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)  # per class, without a test/ split
    epochs: PositiveInt = 30
    batch_size: PositiveInt = 64
    width: PositiveInt = 16
    model: str = "resnet18"
    lr: float = Field(default=0.05, gt=0)

    def supervised(self) -> SupervisedConfig:
        return SupervisedConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            width=self.width,
            model=self.model,
            optimizer=OptimizerConfig(lr=self.lr, schedule="cosine", weight_decay=5e-4),
            checkpoint_every=self.epochs,
        )


@dataclass(frozen=True)
class RunSummary:
    final: float  # test accuracy (%) after the last epoch
    peak: float
    peak_epoch: int

    @classmethod
    def of(cls, result: EvalResult) -> RunSummary:
        return cls(result.final_acc, result.best_acc, result.best_epoch)


@dataclass(frozen=True)
class CheckReport:
    clean: RunSummary
    protected: RunSummary
    chance: float  # % of the test set's most frequent class
    train_images: int
    test_images: int
    test_source: str  # "test split" or "held-out 20% of each class"
    verdict: str
    config: dict[str, Any]

    @property
    def drop(self) -> float:
        return self.clean.final - self.protected.final

    def lines(self) -> list[str]:
        return [
            f"trained {self.config['epochs']} epochs on {self.train_images} images, "
            f"tested on {self.test_images} clean images ({self.test_source})",
            f"clean:     {self.clean.final:6.2f}% (peak {self.clean.peak:.2f}% at epoch "
            f"{self.clean.peak_epoch})",
            f"protected: {self.protected.final:6.2f}% (peak {self.protected.peak:.2f}% at epoch "
            f"{self.protected.peak_epoch})",
            f"drop {self.drop:.2f} points; chance level {self.chance:.2f}%",
            f"verdict: {self.verdict}",
        ]


def verdict(clean: RunSummary, protected: RunSummary, chance: float) -> str:
    """The verdict line (see the module docstring for the thresholds)."""
    gain = clean.final - chance
    if gain < MIN_GAIN:
        return (
            f"INCONCLUSIVE: the quick recipe reaches only {clean.final:.1f}% on your clean images "
            f"(chance {chance:.1f}%), so there is no learning for the protection to remove"
        )
    removed = min((clean.final - protected.final) / gain, (clean.peak - protected.peak) / gain)
    share = f"removes {100 * max(removed, 0):.0f}% of what the recipe learns from clean images"
    if removed >= WORKS:
        return f"WORKS against this recipe: the protection {share} (final and peak)"
    if removed >= PARTIAL:
        return f"PARTIAL: the protection {share}; a trainer still learns a useful model"
    return f"NOT EFFECTIVE: the protection {share}; do not rely on it for this data"


def _has_test_split(folder: ImageFolder, input_root: Path) -> bool:
    """Whether the check tests on the owner's ``test/`` split (a ``train/`` + ``test/`` layout)."""
    return folder.class_root != input_root and (input_root / "test").is_dir()


def check_can_run(input_root: str | Path) -> None:
    """Refuse, before anything is protected, a folder the check cannot measure: fewer than two
    classes, or (without a ``test/`` split) a class with fewer than two images."""
    input_root = Path(input_root)
    folder = scan_image_folder(input_root)
    counts = np.bincount(folder.labels, minlength=len(folder.class_names))
    if np.count_nonzero(counts) < 2:
        raise ValueError(
            f"{input_root}: the check needs at least 2 classes with images, found "
            f"{np.count_nonzero(counts)} ({', '.join(folder.class_names)})"
        )
    if not _has_test_split(folder, input_root):
        small = [n for n, c in zip(folder.class_names, counts, strict=True) if 0 < c < 2]
        if small:
            raise ValueError(
                f"{input_root}: class(es) {', '.join(map(repr, small))} have 1 image; without a "
                "test/ split the check holds out part of each class and needs at least 2 per class"
            )


def _manifest_rows(output_root: Path) -> list[dict[str, str]]:
    path = output_root / MANIFEST_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no manifest; run tue-protect on this folder first")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _holdout(labels: np.ndarray, fraction: float, seed: int, names: tuple[str, ...]) -> np.ndarray:
    """Boolean mask of the held-out images: ``fraction`` of each class (at least one)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        if len(rows) < 2:
            raise ValueError(
                f"class {names[cls]!r} has {len(rows)} readable image(s); the check needs at "
                "least 2 per class (one to train on, one to test)"
            )
        take = max(1, round(fraction * len(rows)))
        held[rng.choice(rows, size=take, replace=False)] = True
    return held


def _dataset(
    images: np.ndarray, labels: np.ndarray, names: tuple[str, ...], split: str
) -> PreparedDataset:
    return PreparedDataset(
        name="check",
        split=split,
        images=np.ascontiguousarray(images),
        labels=labels.astype(np.int64),
        class_names=names,
    )


def check_protection(
    input_root: str | Path,
    output_root: str | Path,
    cfg: CheckConfig | None = None,
    *,
    device: str = "auto",
    seed: int = 0,
    train: Callable[..., EvalResult] = train_supervised,
) -> CheckReport:
    """Train the quick recipe on the clean and on the protected copies; write ``check.json``.

    ``output_root`` is the folder :func:`~tue_core.transfer.protect.protect_folder` wrote (its
    manifest pairs every protected file with its original); nothing is written to ``input_root``.
    """
    cfg = cfg or CheckConfig()
    input_root, output_root = Path(input_root), Path(output_root)
    rows = _manifest_rows(output_root)
    folder = scan_image_folder(input_root)
    labels = np.asarray([int(r["label"]) for r in rows], dtype=np.int64)
    if len(np.unique(labels)) < 2:
        raise ValueError(f"{input_root}: the check needs at least 2 classes with images")
    size = cfg.image_size
    clean, _ = read_images([input_root / r["file"] for r in rows], size, cfg.resize)
    protected, _ = read_images([output_root / r["protected_file"] for r in rows], size, cfg.resize)
    test_dir = input_root / "test"
    if _has_test_split(folder, input_root):
        test_folder = scan_image_folder(test_dir)
        index = {name: i for i, name in enumerate(folder.class_names)}
        test_labels = np.asarray([index[test_folder.class_names[k]] for k in test_folder.labels])
        test_images, _ = read_images([test_dir / f for f in test_folder.files], size, cfg.resize)
        keep, source = np.ones(len(labels), dtype=bool), "test split"
    else:
        held = _holdout(labels, cfg.holdout_fraction, seed, folder.class_names)
        test_images, test_labels, keep = clean[held], labels[held], ~held
        source = f"held-out {100 * cfg.holdout_fraction:.0f}% of each class"
    names = folder.class_names
    test = _dataset(test_images, test_labels, names, "test")
    recipe = cfg.supervised()  # a batch no larger than the set (a few hundred images, say)
    recipe = recipe.model_copy(update={"batch_size": min(recipe.batch_size, int(keep.sum()))})
    results = {}
    for kind, images in (("clean", clean), ("protected", protected)):
        log.info("check: training on the %s images (%d epochs)", kind, cfg.epochs)
        data = _dataset(images[keep], labels[keep], names, "train")
        results[kind] = RunSummary.of(train(data, test, recipe, device, seed))
    chance = 100.0 * np.bincount(test_labels).max() / len(test_labels)
    report = CheckReport(
        clean=results["clean"],
        protected=results["protected"],
        chance=chance,
        train_images=int(keep.sum()),
        test_images=len(test_labels),
        test_source=source,
        verdict=verdict(results["clean"], results["protected"], chance),
        config=cfg.model_dump(mode="json"),
    )
    record = {**asdict(report), "drop": report.drop, "code_version": io.code_version()}
    io.atomic_write_json(output_root / CHECK_FILE, record)
    return report
