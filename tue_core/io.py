"""Artifacts: atomic writes, safe loads and the JSON sidecar every output carries.

Every file the pipeline produces is written to a temporary file in the destination folder, flushed,
fsynced and renamed into place (``os.replace`` is atomic on POSIX within one filesystem), so a killed
job never leaves a half-written artifact behind. Loading never executes pickled code: arrays are
read with ``allow_pickle=False`` and torch files with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import numpy as np

from tue_core import __version__

SIDECAR_SUFFIX = ".json"
_TRACKED_LIBRARIES = ("torch", "torchvision", "numpy", "scikit-learn", "snakemake")


# --------------------------------------------------------------------------- atomic writes
def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` through ``write(fileobj)`` into a temp file, then rename it into place.

    If ``write`` raises, the temp file is removed and any existing ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp creates 0600; use the usual mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and tuples into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()  # 0-d torch tensor
    return value


def dumps_json(obj: Any) -> str:
    """Stable JSON: sorted keys, indented, trailing newline (diff-able artifacts)."""
    return json.dumps(to_jsonable(obj), sort_keys=True, indent=2) + "\n"


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, dumps_json(obj))


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# --------------------------------------------------------------------------- arrays
def save_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    """Save named arrays as an uncompressed ``.npz`` atomically (object arrays are refused)."""
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"array {name!r} has dtype object; only plain dtypes are saved")

    def write(handle: IO[bytes]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        handle.write(buffer.getbuffer())

    return atomic_write(path, write)


def load_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by :func:`save_arrays` without ever unpickling."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"array file {str(path)!r} does not exist")
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def save_torch(path: str | os.PathLike[str], obj: Any) -> Path:
    """``torch.save`` atomically (tensors, dicts of tensors and plain values only)."""
    import torch

    return atomic_write(path, lambda handle: torch.save(obj, handle))


def load_torch(path: str | os.PathLike[str], map_location: str = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``: never runs pickled code."""
    import torch

    return torch.load(path, map_location=map_location, weights_only=True)


# --------------------------------------------------------------------------- hashes
def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_array(array: np.ndarray) -> str:
    """Hash of an array's dtype, shape and bytes (C order)."""
    digest = hashlib.sha256()
    digest.update(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def sha256_config(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(dumps_json(config).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- provenance
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "tue_core": __version__}
    for name in _TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def code_version() -> str:
    """``tue_core`` version plus the git commit, with ``-dirty`` when the tree has changes."""
    repo = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}{'-dirty' if dirty else ''}"


def describe_device(device: Any = None) -> str:
    """``cpu (N threads)`` or ``cuda:<name>`` for the device a job ran on."""
    import torch

    if device is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(torch.device(device))}"
    return f"cpu ({torch.get_num_threads()} threads)"


@dataclass
class RunMeta:
    """The JSON sidecar written next to every artifact."""

    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    inputs: dict[str, str] = field(default_factory=dict)  # input path -> sha256
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    started_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    wall_seconds: float = 0.0
    code_version: str = field(default_factory=code_version)
    versions: dict[str, str] = field(default_factory=library_versions)

    @property
    def config_sha256(self) -> str:
        return sha256_config(self.config)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config_sha256"] = self.config_sha256
        return data


def hash_inputs(paths: Mapping[str, str | os.PathLike[str]] | list[str]) -> dict[str, str]:
    """Map each input path to its sha256 (the chain of custody recorded in sidecars)."""
    items = paths.values() if isinstance(paths, Mapping) else paths
    return {str(p): sha256_file(p) for p in items}


def sidecar_path(artifact: str | os.PathLike[str]) -> Path:
    """``results/x/delta.pt`` -> ``results/x/delta.json``."""
    return Path(artifact).with_suffix(SIDECAR_SUFFIX)


def write_sidecar(
    artifact: str | os.PathLike[str], meta: RunMeta, path: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``meta`` next to ``artifact`` (the artifact's sha256 is recorded too)."""
    data = meta.to_dict()
    if Path(artifact).is_file():
        data["artifact"] = {"path": str(artifact), "sha256": sha256_file(artifact)}
    return atomic_write_json(path if path is not None else sidecar_path(artifact), data)


@contextmanager
def timed(meta: RunMeta) -> Iterator[RunMeta]:
    """Record wall-clock seconds of the block into ``meta.wall_seconds``."""
    start = time.perf_counter()
    try:
        yield meta
    finally:
        meta.wall_seconds = round(time.perf_counter() - start, 3)
