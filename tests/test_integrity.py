"""Artifacts are checked against their sidecar's sha256 before use; full disks fail cleanly."""

from __future__ import annotations

import errno
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tue_core import io, jobs
from tue_core.data.base import DatasetError, PreparedDataset, load_prepared
from tue_core.perturb.artifact import PerturbationFileError, PerturbationSet, load_perturbation

EPS = 8 / 255
SUPERVISED = {"epochs": 1, "batch_size": 8, "width": 4}


def tiny_split(split: str = "train", per_class: int = 4, size: int = 8) -> PreparedDataset:
    rng = np.random.default_rng(0 if split == "train" else 1)
    labels = np.repeat(np.arange(2, dtype=np.int64), per_class)
    images = rng.integers(0, 256, size=(len(labels), size, size, 3), dtype=np.uint8)
    return PreparedDataset("tiny", split, images, labels, ("cat", "dog"))


def tiny_pset(rows: int = 8, size: int = 8) -> PerturbationSet:
    rng = np.random.default_rng(2)
    delta = rng.uniform(-EPS, EPS, size=(rows, 3, size, size)).astype(np.float32)
    return PerturbationSet(delta, np.repeat(np.arange(2, dtype=np.int64), rows // 2), EPS)


def save_dataset(path: Path) -> Path:
    return tiny_split(path.stem).save(path)


def save_pset(path: Path) -> Path:
    return tiny_pset().save(path, io.RunMeta(kind="perturbation"))


KINDS = {
    "dataset": (save_dataset, load_prepared, DatasetError),
    "perturbation": (save_pset, load_perturbation, PerturbationFileError),
}


@pytest.fixture(params=sorted(KINDS))
def artifact(request, tmp_path: Path) -> tuple[Path, Callable, type[Exception]]:
    save, load, error = KINDS[request.param]
    return save(tmp_path / "train.npz"), load, error


def flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def assert_names_file_and_fix(message: str, path: Path) -> None:
    assert str(path) in message
    assert f"delete '{path}' (and its sidecar '{io.sidecar_path(path)}')" in message
    assert "rerun the rule/job that makes it" in message


# --------------------------------------------------------------------------- loaders
def test_good_file_loads(artifact) -> None:
    path, load, _ = artifact
    assert len(load(path)) == 8
    assert io.verify_artifact(path)["artifact"]["sha256"] == io.sha256_file(path)


def test_flipped_byte_is_a_mismatch(artifact) -> None:
    path, load, error = artifact
    flip_byte(path)
    with pytest.raises(io.ArtifactIntegrityError, match="does not match its sidecar") as info:
        load(path)
    assert isinstance(info.value, error)  # callers catching the loader's own error still do
    message = str(info.value)
    assert "truncated or was changed after it was written" in message
    assert io.sha256_file(path)[:12] in message
    assert_names_file_and_fix(message, path)


def test_truncated_file_is_a_mismatch(artifact) -> None:
    path, load, error = artifact
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    with pytest.raises(error, match="truncated or was changed") as info:
        load(path)
    assert f"{size // 2} bytes (sidecar: {size})" in str(info.value)
    assert_names_file_and_fix(str(info.value), path)


def test_missing_sidecar_is_refused(artifact) -> None:
    path, load, error = artifact
    io.sidecar_path(path).unlink()
    with pytest.raises(error, match="is missing") as info:
        load(path)
    assert f"its sidecar '{io.sidecar_path(path)}' is missing" in str(info.value)
    assert_names_file_and_fix(str(info.value), path)
    assert len(load(path, verify=False)) == 8  # a caller that knows the file has none


@pytest.mark.parametrize("text", ["{not json", '{"kind": "dataset"}', '{"artifact": {}}'])
def test_unreadable_sidecar_is_refused(artifact, text: str) -> None:
    path, load, error = artifact
    io.sidecar_path(path).write_text(text)
    with pytest.raises(error, match=r"is unreadable or records no artifact\.sha256") as info:
        load(path)
    assert_names_file_and_fix(str(info.value), path)


def test_missing_file_is_refused(artifact) -> None:
    path, load, error = artifact
    path.unlink()
    with pytest.raises(error, match="the file does not exist; rerun") as info:
        load(path)
    assert str(path) in str(info.value) and "stale sidecar" in str(info.value)


def test_unparsable_file_with_matching_hash_names_it(artifact) -> None:
    path, load, error = artifact
    path.write_bytes(b"PK\x03\x04 but not really a zip")
    io.write_sidecar(path, io.RunMeta(kind="test"))  # the hash agrees with these bytes
    with pytest.raises(error, match=r"as an \.npz archive") as info:
        load(path)
    assert_names_file_and_fix(str(info.value), path)


def test_variant_files_all_record_their_sha256(tmp_path: Path) -> None:
    from tue_core.transfer.mapping import swap_perturbations
    from tue_core.transfer.variant import save_variant

    source = save_pset(tmp_path / "delta.npz")
    pset = load_perturbation(source)
    swapped, assignment = swap_perturbations(pset, "intra", 0, labels=pset.labels)
    written = save_variant(tmp_path / "v", swapped, assignment, source, target=tiny_split())
    assert set(written) == {"perturbation", "assignment", "poisoned"}
    for path in written.values():
        io.verify_artifact(path)


# --------------------------------------------------------------------------- jobs
@pytest.fixture
def job_inputs(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """Prepared splits and a perturbation set; any training or generation fails the test."""
    import tue_core.evaluate.supervised as supervised
    import tue_core.perturb.registry as registry

    def no_work(*args, **kwargs):
        raise AssertionError("work started on a corrupted input")

    monkeypatch.setattr(supervised, "train_supervised", no_work)
    monkeypatch.setattr(registry, "generate", no_work)
    return {
        "train": save_dataset(tmp_path / "data" / "train.npz"),
        "test": save_dataset(tmp_path / "data" / "test.npz"),
        "delta": save_pset(tmp_path / "delta.npz"),
        "out": tmp_path / "out",
    }


@pytest.mark.parametrize("broken", ["train", "test", "delta"])
def test_evaluation_refuses_a_corrupted_input_before_work(job_inputs, broken: str) -> None:
    flip_byte(job_inputs[broken])
    metrics = job_inputs["out"] / "metrics.json"
    with pytest.raises(io.ArtifactIntegrityError, match=re.escape(str(job_inputs[broken]))):
        jobs.evaluate_supervised(
            job_inputs["train"],
            job_inputs["test"],
            metrics,
            SUPERVISED,
            delta_path=job_inputs["delta"],
            device="cpu",
        )
    assert not metrics.exists() and not job_inputs["out"].exists()


def test_generation_refuses_a_train_split_without_sidecar(job_inputs) -> None:
    io.sidecar_path(job_inputs["train"]).unlink()
    out = job_inputs["out"] / "delta.npz"
    with pytest.raises(io.ArtifactIntegrityError, match="is missing"):
        jobs.generate_perturbation(job_inputs["train"], out, {"method": "sn"}, seed=0, device="cpu")
    assert not out.exists() and not job_inputs["out"].exists()


def test_transfer_cli_checks_a_sidecar_when_there_is_one(job_inputs, tmp_path, caplog) -> None:
    from tue_core.transfer.cli import main

    photos = tmp_path / "photos" / "cat"
    photos.mkdir(parents=True)
    flip_byte(job_inputs["delta"])
    argv = ["-i", str(photos.parent), "-o", str(tmp_path / "p"), "-p", str(job_inputs["delta"])]
    assert main(argv) == 2
    assert "does not match its sidecar" in caplog.text
    io.sidecar_path(job_inputs["delta"]).unlink()  # a user's own file: no sidecar, a warning
    main(argv)
    assert "has no sidecar" in caplog.text


# --------------------------------------------------------------------------- full disk
def folder_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_previous_intact(path: Path, before: dict[Path, bytes]) -> None:
    for file, data in before.items():
        assert file.read_bytes() == data
    assert len(load_perturbation(path)) == 8
    assert not [n for n in folder_names(path.parent) if n.endswith(".tmp")]


def fail_fsync(monkeypatch, code: int, after: int = 0) -> None:
    """Make every ``os.fsync`` after the first ``after`` calls raise ``OSError(code)``."""
    real, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) > after:
            raise OSError(code, os.strerror(code))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize(
    ("code", "after", "words"),
    [
        (errno.ENOSPC, 0, "no space left on device"),
        (errno.EDQUOT, 0, "disk quota exceeded"),
        (errno.ENOSPC, 1, "no space left on device"),  # the artifact fits, its sidecar does not
    ],
)
def test_simulated_full_disk_keeps_the_previous_artifact(
    tmp_path: Path, monkeypatch, code: int, after: int, words: str
) -> None:
    path = save_pset(tmp_path / "delta.npz")
    before = {p: p.read_bytes() for p in (path, io.sidecar_path(path))}
    fail_fsync(monkeypatch, code, after)
    with pytest.raises(io.DiskFullError) as info:
        tiny_pset(rows=16).save(path, io.RunMeta(kind="perturbation"))
    monkeypatch.undo()
    assert isinstance(info.value, OSError) and info.value.errno == code
    message = str(info.value)
    assert message.startswith(words) and f"(in '{tmp_path}')" in message
    assert "free space or point output_dir at a larger disk, then rerun" in message
    assert "is untouched" in message
    assert_previous_intact(path, before)
    assert folder_names(tmp_path) == ["delta.json", "delta.npz"]


def test_full_disk_while_writing_a_sidecar_leaves_no_temp(tmp_path: Path, monkeypatch) -> None:
    artifact = io.atomic_write_text(tmp_path / "result.txt", "42")
    fail_fsync(monkeypatch, errno.ENOSPC)
    with pytest.raises(io.DiskFullError, match=r"result\.json"):
        io.write_sidecar(artifact, io.RunMeta(kind="test"))
    assert folder_names(tmp_path) == ["result.txt"]


def test_other_write_errors_pass_through(tmp_path: Path) -> None:
    def write(handle) -> None:
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError, match="I/O error") as info:
        io.atomic_write(tmp_path / "x.bin", write)
    assert not isinstance(info.value, io.DiskFullError)
    assert folder_names(tmp_path) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs at ``tmp_path/small`` (root and a working ``mount`` needed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_real_full_filesystem_keeps_the_previous_artifact(small_tmpfs: Path) -> None:
    path = save_pset(small_tmpfs / "delta.npz")
    before = {p: p.read_bytes() for p in (path, io.sidecar_path(path))}
    too_big = tiny_pset(rows=8, size=64)  # 8 * 3 * 64 * 64 float32 = 384 KiB > 256 KiB
    with pytest.raises(io.DiskFullError, match="no space left on device") as info:
        too_big.save(path, io.RunMeta(kind="perturbation"))
    assert info.value.errno == errno.ENOSPC
    assert f"writing '{path}'" in str(info.value) and "is untouched" in str(info.value)
    assert_previous_intact(path, before)
    assert folder_names(small_tmpfs) == ["delta.json", "delta.npz"]


def test_torch_file_on_a_full_filesystem_raises_disk_full(small_tmpfs: Path) -> None:
    import torch

    path = io.save_torch(small_tmpfs / "state.pt", {"w": torch.zeros(8)})
    before = path.read_bytes()
    with pytest.raises(io.DiskFullError, match="no space left on device"):
        io.save_torch(path, {"w": torch.zeros(100_000)})  # 400 KB > 256 KiB
    assert path.read_bytes() == before and folder_names(small_tmpfs) == ["state.pt"]


def test_checkpoint_on_a_full_filesystem_is_logged_and_the_job_goes_on(
    small_tmpfs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    from tue_core.checkpoint import Checkpoint

    checkpoint = Checkpoint(small_tmpfs / ".checkpoint.pt", {"job": 1}, torch.device("cpu"))
    assert checkpoint.save({"w": torch.zeros(8)}, unit="round", count=1)
    before = (small_tmpfs / ".checkpoint.pt").read_bytes()
    with caplog.at_level("ERROR", logger="tue_core.checkpoint"):
        saved = checkpoint.save({"w": torch.zeros(100_000)}, unit="round", count=2)
    assert not saved and "not written" in caplog.text and "no space left" in caplog.text
    assert (small_tmpfs / ".checkpoint.pt").read_bytes() == before  # round 1 still resumable
    assert folder_names(small_tmpfs) == [".checkpoint.pt"]
    assert Checkpoint(small_tmpfs / ".checkpoint.pt", {"job": 1}, torch.device("cpu")).load()
