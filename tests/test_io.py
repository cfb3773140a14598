"""Atomic writes, safe loads and sidecars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tue_core import io


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def failing(handle) -> None:
        handle.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        io.atomic_write(target, failing)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temp file left behind


def test_atomic_write_creates_parents_with_normal_permissions(tmp_path: Path) -> None:
    target = io.atomic_write_text(tmp_path / "a" / "b" / "x.txt", "hi")
    assert target.read_text() == "hi"
    assert target.stat().st_mode & 0o044 == 0o044  # readable by group/others like a normal file


def test_arrays_round_trip_and_refuse_objects(tmp_path: Path) -> None:
    arrays = {"x": np.arange(6, dtype=np.uint8).reshape(2, 3), "names": np.array(["a", "b"])}
    io.save_arrays(tmp_path / "a.npz", arrays)
    loaded = io.load_arrays(tmp_path / "a.npz")
    assert np.array_equal(loaded["x"], arrays["x"]) and loaded["names"].tolist() == ["a", "b"]
    with pytest.raises(TypeError, match="dtype object"):
        io.save_arrays(tmp_path / "b.npz", {"bad": np.array([{"a": 1}], dtype=object)})
    assert not (tmp_path / "b.npz").exists()


def test_load_arrays_reads_only_the_named_arrays(tmp_path: Path) -> None:
    arrays = {"x": np.zeros((2, 3), dtype=np.uint8), "names": np.array(["a", "b"])}
    io.save_arrays(tmp_path / "a.npz", arrays)
    assert list(io.load_arrays(tmp_path / "a.npz", names=("names",))) == ["names"]
    with pytest.raises(io.ArtifactIntegrityError, match=r"a\.npz.*KeyError.*absent"):
        io.load_arrays(tmp_path / "a.npz", names=("absent",))


def test_torch_files_load_weights_only(tmp_path: Path) -> None:
    io.save_torch(tmp_path / "ok.pt", {"w": torch.ones(2)})
    assert torch.equal(io.load_torch(tmp_path / "ok.pt")["w"], torch.ones(2))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"evil": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        io.load_torch(tmp_path / "evil.pt")


def test_sidecar_records_provenance(tmp_path: Path) -> None:
    artifact = io.atomic_write_text(tmp_path / "result.txt", "42")
    meta = io.RunMeta(kind="test", config={"lr": 0.1}, seed=3, metrics={"acc": np.float32(0.5)})
    with io.timed(meta):
        pass
    sidecar = io.write_sidecar(artifact, meta)
    data = io.read_json(sidecar)
    assert sidecar.name == "result.json"
    assert data["config_sha256"] == io.sha256_config({"lr": 0.1})
    assert data["artifact"]["sha256"] == io.sha256_file(artifact)
    assert data["metrics"] == {"acc": 0.5} and data["seed"] == 3
    assert {"python", "torch", "numpy"} <= set(data["versions"])
    assert data["code_version"].startswith("0.")


def test_array_hash_depends_on_dtype_and_shape() -> None:
    a = np.zeros(4, dtype=np.uint8)
    assert io.sha256_array(a) != io.sha256_array(a.reshape(2, 2))
    assert io.sha256_array(a) != io.sha256_array(a.astype(np.int8))


def test_a_npy_array_under_an_npz_name_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "delta.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(io.ArtifactIntegrityError, match=r"single array, not an \.npz archive"):
        io.load_arrays(path)
