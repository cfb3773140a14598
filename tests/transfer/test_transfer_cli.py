"""``tue-protect`` end to end on a tiny image folder (PNG/JPG/BMP, another size, a corrupt file)."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest
from PIL import Image

from tue_core import io
from tue_core.perturb.artifact import PerturbationSet
from tue_core.transfer.cli import main

EPS = 8 / 255


@pytest.fixture()
def perturbation(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2), 3).astype(np.int64)  # 2 classes x 3 perturbations, 8x8
    delta = (EPS * rng.choice([-1.0, 1.0], size=(6, 3, 8, 8))).astype(np.float32)
    return PerturbationSet(delta, labels, EPS).save(tmp_path / "pert.npz", io.RunMeta(kind="test"))


def _image(path, hw=(8, 8), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(20, 236, size=(*hw, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture()
def photos(tmp_path):
    root = tmp_path / "photos"
    _image(root / "train" / "cat" / "a.png", seed=1)
    _image(root / "train" / "cat" / "b.jpg", seed=2)
    _image(root / "train" / "cat" / "sub" / "c.jpeg", hw=(12, 10), seed=3)  # another size
    _image(root / "train" / "dog" / "d.png", seed=4)
    _image(root / "train" / "dog" / "e.bmp", seed=5)
    _image(root / "train" / "dog" / "f.PNG", seed=6)
    _image(root / "train" / "dog" / "g.png", seed=7)  # 4 dogs > 3 perturbations: Eq. 8
    (root / "train" / "dog" / "broken.jpg").write_bytes(b"not an image at all")
    (root / "train" / "dog" / "notes.txt").write_text("ignored")
    _image(root / "test" / "cat" / "t.png", seed=8)  # the test split is not protected
    return root


def _run(photos, out, perturbation, *extra):
    return main(["-i", str(photos), "-o", str(out), "-p", str(perturbation), *extra])


def test_protect_writes_pngs_manifest_and_reports_unreadable(
    photos, perturbation, tmp_path, caplog
):
    out = tmp_path / "protected"
    inputs_before = sorted(photos.rglob("*"))
    with caplog.at_level(logging.INFO):
        status = _run(photos, out, perturbation)
    assert status == 1  # one unreadable file
    assert "broken.jpg" in caplog.text
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == [
        "train/cat/a.png",
        "train/cat/b.png",
        "train/cat/sub/c.png",
        "train/dog/d.png",
        "train/dog/e.png",
        "train/dog/f.png",
        "train/dog/g.png",
    ]
    for name in written:  # valid uint8 RGB, same size, within the budget of the decoded input
        source = next((photos / name).parent.glob((photos / name).stem + ".*"))
        before = np.asarray(Image.open(source).convert("RGB"), dtype=np.int16)
        after = np.asarray(Image.open(out / name), dtype=np.int16)
        assert after.shape == before.shape
        assert 0 < np.abs(after - before).max() <= 8
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert len(rows) == 7 and {r["class"] for r in rows} == {"cat", "dog"}
    by_file = {r["file"]: r for r in rows}
    assert by_file["train/cat/b.jpg"]["protected_file"] == "train/cat/b.png"
    assert by_file["train/cat/sub/c.jpeg"]["height"] == "12"
    assert {int(r["source_i"]) // 3 for r in rows if r["class"] == "dog"} == {1}
    sidecar = json.loads((out / "manifest.json").read_text())
    assert list(sidecar["extra"]["unreadable"]) == ["train/dog/broken.jpg"]
    assert sidecar["extra"]["source_perturbation"]["sha256"] == io.sha256_file(perturbation)
    assert sidecar["extra"]["ignored_files"] == ["train/dog/notes.txt"]
    assert sorted(photos.rglob("*")) == inputs_before  # the input is never touched


def test_same_seed_same_assignment(photos, perturbation, tmp_path):
    manifests = []
    for name, seed in (("one", "3"), ("two", "3"), ("three", "4")):
        _run(photos, tmp_path / name, perturbation, "--seed", seed)
        manifests.append((tmp_path / name / "manifest.csv").read_text())
    assert manifests[0] == manifests[1] and manifests[0] != manifests[2]


@pytest.mark.parametrize("where", ["same", "inside"])
def test_refuses_to_write_into_the_input(photos, perturbation, where, caplog):
    out = photos if where == "same" else photos / "train" / "protected"
    before = sorted(photos.rglob("*"))
    assert _run(photos, out, perturbation) == 2
    assert "refusing to write into the input folder" in caplog.text
    assert sorted(photos.rglob("*")) == before


def test_refuses_colliding_names_and_non_empty_output(tmp_path, perturbation, caplog):
    root = tmp_path / "flat"  # root/<class>/ layout
    _image(root / "cat" / "a.png", seed=1)
    _image(root / "cat" / "a.jpg", seed=2)
    _image(root / "dog" / "b.png", seed=3)
    assert _run(root, tmp_path / "o1", perturbation) == 2
    assert "would both be written as 'cat/a.png'" in caplog.text
    (root / "cat" / "a.jpg").unlink()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    assert _run(root, busy, perturbation) == 2
    assert "is not empty (pass --overwrite)" in caplog.text
    assert _run(root, busy, perturbation, "--overwrite") == 0
    assert (busy / "cat" / "a.png").is_file() and (busy / "dog" / "b.png").is_file()


def test_bad_perturbation_file_is_reported(photos, tmp_path, caplog):
    bogus = tmp_path / "bogus.npz"
    bogus.write_bytes(b"zip? no")
    assert _run(photos, tmp_path / "out", bogus) == 2
    assert "cannot read perturbation file" in caplog.text


def test_a_perturbation_over_its_own_budget_is_refused_naming_the_file(photos, tmp_path, caplog):
    labels = np.repeat(np.arange(2), 3).astype(np.int64)
    delta = np.full((6, 3, 8, 8), 16 / 255, np.float32)  # declared eps 8/255, made at 16/255
    loud = PerturbationSet(delta, labels, 16 / 255).save(tmp_path / "loud.npz", io.RunMeta("t"))
    arrays = dict(np.load(loud))
    np.savez(loud, **{**arrays, "eps": np.float64(EPS)})  # a file that lies about its budget
    io.sidecar_path(loud).unlink()  # a user's own file, without a sidecar to check it against
    before = sorted(photos.rglob("*"))
    assert _run(photos, tmp_path / "out", loud, "--overwrite") == 2
    assert "loud.npz" in caplog.text
    assert "max |delta| = 0.0627451 (16.00/255) exceeds the set's own L-inf budget" in caplog.text
    assert not (tmp_path / "out").exists() and sorted(photos.rglob("*")) == before


def test_check_of_a_one_class_folder_is_refused_before_anything_is_written(
    tmp_path, perturbation, caplog
):
    root = tmp_path / "one"
    for k in range(3):
        _image(root / "cat" / f"{k}.png", seed=k)
    before = sorted(root.rglob("*"))
    assert _run(root, tmp_path / "out", perturbation, "--check") == 2
    assert "the check needs at least 2 classes with images, found 1 (cat)" in caplog.text
    assert not (tmp_path / "out").exists() and sorted(root.rglob("*")) == before
    _image(root / "dog" / "only.png", seed=9)
    assert _run(root, tmp_path / "out", perturbation, "--check") == 2
    assert "class(es) 'dog' have 1 image" in caplog.text
    assert not (tmp_path / "out").exists()
