"""``tue-protect --check``: clean vs protected accuracy of a quick recipe, and an honest verdict."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tue_core import io
from tue_core.perturb.artifact import PerturbationSet
from tue_core.transfer.check import CheckConfig, RunSummary, check_protection, verdict
from tue_core.transfer.cli import main

EPS = 8 / 255


@pytest.fixture()
def perturbation(tmp_path):
    labels = np.repeat(np.arange(2), 4).astype(np.int64)
    delta = np.where(labels[:, None, None, None] == 0, EPS, -EPS) * np.ones((8, 3, 8, 8))
    pset = PerturbationSet(delta.astype(np.float32), labels, EPS)
    return pset.save(tmp_path / "pert.npz", io.RunMeta(kind="test"))


@pytest.fixture()
def photos(tmp_path):
    """Two learnable classes (dark vs bright noise), 10 images each, class-folder layout."""
    root, rng = tmp_path / "photos", np.random.default_rng(0)
    for label, name in enumerate(("dark", "bright")):
        (root / name).mkdir(parents=True)
        for k in range(10):
            base = 60 + 120 * label
            pixels = rng.integers(base - 40, base + 40, size=(8, 8, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{k}.png")
    return root


def test_check_runs_end_to_end_and_prints_both_accuracies_and_the_verdict(
    photos, perturbation, tmp_path, capsys
) -> None:
    before = sorted(p.name for p in photos.rglob("*"))
    out = tmp_path / "protected"
    args = ["-i", str(photos), "-o", str(out), "-p", str(perturbation), "--check"]
    assert main([*args, "--check-epochs", "2", "--check-size", "8", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    for needle in ("clean:", "protected:", "chance level 50.00%", "verdict: "):
        assert needle in printed
    assert "held-out 20% of each class" in printed and "on 16 images" in printed
    record = io.read_json(out / "check.json")
    assert record["test_images"] == 4 and record["verdict"] in printed
    assert sorted(p.name for p in photos.rglob("*")) == before  # nothing written into the input


def test_the_check_trains_the_same_images_clean_and_protected(photos, perturbation, tmp_path):
    main(["-i", str(photos), "-o", str(tmp_path / "p"), "-p", str(perturbation)])
    seen = []

    def fake_train(train, test, cfg, device, seed):
        seen.append((train.images.copy(), train.labels.copy(), test.images.copy()))
        from tue_core.evaluate.result import EvalResult

        return EvalResult(90.0 if len(seen) == 1 else 50.0, 90.0, 1, [], 1.0)

    cfg = CheckConfig(image_size=8, epochs=1)
    report = check_protection(photos, tmp_path / "p", cfg, device="cpu", train=fake_train)
    (clean, labels_a, test_a), (protected, labels_b, test_b) = seen
    assert np.array_equal(labels_a, labels_b) and np.array_equal(test_a, test_b)
    assert not np.array_equal(clean, protected)  # the protected copies differ ...
    assert np.abs(clean.astype(int) - protected.astype(int)).max() <= 8  # ... by at most eps
    # the final accuracy drops 40 points, but a trainer stopping at the peak loses nothing
    assert report.drop == 40.0 and report.verdict.startswith("NOT EFFECTIVE")


@pytest.mark.parametrize(
    ("clean", "protected", "expected"),
    [
        ((80, 80), (15, 20), "WORKS"),
        ((80, 80), (40, 45), "PARTIAL"),
        ((80, 80), (70, 78), "NOT EFFECTIVE"),
        ((80, 80), (15, 75), "NOT EFFECTIVE"),  # a trainer stopping at the peak learns it
        ((15, 15), (10, 10), "INCONCLUSIVE"),
    ],
)
def test_verdict_thresholds(clean, protected, expected) -> None:
    line = verdict(RunSummary(clean[0], clean[1], 3), RunSummary(protected[0], protected[1], 3), 10)
    assert line.startswith(expected)


def test_check_needs_the_manifest_and_two_images_per_class(photos, perturbation, tmp_path):
    with pytest.raises(ValueError, match=r"manifest.csv: no manifest; run tue-protect"):
        check_protection(photos, tmp_path / "nowhere", CheckConfig(epochs=1))
    for path in list((photos / "dark").glob("*.png"))[1:]:
        path.unlink()
    main(["-i", str(photos), "-o", str(tmp_path / "p"), "-p", str(perturbation)])
    with pytest.raises(
        ValueError, match=r"class 'dark' has 1 readable image\(s\); the check needs at least 2"
    ):
        check_protection(photos, tmp_path / "p", CheckConfig(epochs=1, image_size=8))
