"""Artifacts: atomic writes, safe loads and the JSON sidecar every output carries.

Every file the pipeline produces is written to a temporary file in the destination folder, flushed,
fsynced and renamed into place (``os.replace`` is atomic on POSIX within one filesystem), so a killed
job never leaves a half-written artifact behind. Loading never executes pickled code: arrays are
read with ``allow_pickle=False`` and torch files with ``weights_only=True``. A full disk raises
:class:`DiskFullError` and leaves the previous file in place. :func:`verify_artifact` checks a file
against the sha256 its sidecar records before it is used.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
import time
import zipfile
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


class ArtifactIntegrityError(ValueError):
    """An artifact is missing, has no usable sidecar, or differs from the sha256 it records."""


# --------------------------------------------------------------------------- atomic writes
_NO_SPACE = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


class DiskFullError(OSError):
    """Writing an artifact failed for lack of space (``errno`` is ENOSPC or EDQUOT)."""

    def __init__(self, code: int, message: str, filename: str) -> None:
        super().__init__(code, message, filename)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _disk_full(err: OSError, target: Path) -> DiskFullError:
    previous = (
        f"the previous {str(target)!r} is untouched"
        if target.exists()
        else "no partial file was left behind"
    )
    message = (
        f"{_NO_SPACE[err.errno]} writing {str(target)!r} (in {str(target.parent)!r}): free space "
        f"or point output_dir at a larger disk, then rerun; {previous}"
    )
    return DiskFullError(err.errno, message, str(target))


def _write_temp(target: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write a fsynced temp file beside ``target`` through ``write``; on failure remove it."""
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp creates 0600; use the usual mode
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in _NO_SPACE:
            raise _disk_full(err, target) from err
        raise
    return Path(tmp)


def _commit(pairs: list[tuple[Path, Path]]) -> None:
    """``os.replace`` each ``(tmp, target)`` in order; any temp left on failure is removed."""
    try:
        for tmp, target in pairs:
            try:
                os.replace(tmp, target)
            except OSError as err:
                if err.errno in _NO_SPACE:
                    raise _disk_full(err, target) from err
                raise
    finally:
        for tmp, _ in pairs:
            tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` through ``write(fileobj)`` into a temp file, then rename it into place.

    If ``write`` raises, the temp file is removed and any existing ``path`` is left untouched; a
    full disk (ENOSPC/EDQUOT) raises :class:`DiskFullError` naming ``path``.
    """
    target = Path(path)
    _commit([(_write_temp(target, write), target)])
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
def save_arrays(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], meta: RunMeta | None = None
) -> Path:
    """Save named arrays as an uncompressed ``.npz`` atomically (object arrays are refused).

    With ``meta``, its sidecar (recording the file's sha256) is written to a temp file too before
    either is renamed into place, so a failed write (a full disk) leaves the previous pair intact.
    """
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"array {name!r} has dtype object; only plain dtypes are saved")

    def write(handle: IO[bytes]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        handle.write(buffer.getbuffer())

    target = Path(path)
    data_tmp = _write_temp(target, write)
    pairs = [(data_tmp, target)]
    try:
        if meta is not None:
            record = _sidecar_record(meta, target, data_tmp)
            side = sidecar_path(target)
            pairs.append((_write_temp(side, lambda h: h.write(dumps_json(record).encode())), side))
    except BaseException:
        data_tmp.unlink(missing_ok=True)
        raise
    _commit(pairs)
    return target


def load_arrays(
    path: str | os.PathLike[str],
    what: str = "array file",
    names: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by :func:`save_arrays` without ever unpickling.

    With ``names``, only those arrays are read (an ``.npz`` member is decompressed on access),
    and one the archive lacks raises :class:`ArtifactIntegrityError`. A file that is not a
    readable ``.npz`` raises :class:`ArtifactIntegrityError` naming it.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):  # a .npy array under an .npz name
            raise ValueError("it holds a single array, not an .npz archive")
        with npz:
            return {name: npz[name] for name in (npz.files if names is None else names)}
    except PermissionError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as err:
        raise ArtifactIntegrityError(
            f"cannot read {what} {str(path)!r} as an .npz archive ({type(err).__name__}: {err}): "
            f"{_redo_hint(path)}"
        ) from err


def save_torch(path: str | os.PathLike[str], obj: Any) -> Path:
    """``torch.save`` atomically (tensors, dicts of tensors and plain values only).

    The object is serialised in memory first: torch's zip writer turns a failed ``write`` into a
    bare ``RuntimeError``, which would hide a full disk from :class:`DiskFullError`.
    """
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))


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


def utc_now() -> str:
    """The current UTC time as the sidecars write it (ISO 8601, whole seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
    started_at: str = field(default_factory=utc_now)
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


def _sidecar_record(meta: RunMeta, artifact: Path, content: Path) -> dict[str, Any]:
    """``meta`` plus ``artifact``: the path, sha256 and size of ``content`` (its bytes)."""
    data = meta.to_dict()
    data["artifact"] = {
        "path": str(artifact),
        "sha256": sha256_file(content),
        "size": content.stat().st_size,
    }
    return data


def write_sidecar(
    artifact: str | os.PathLike[str], meta: RunMeta, path: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``meta`` next to ``artifact`` (the artifact's sha256 and size are recorded too)."""
    artifact = Path(artifact)
    data = _sidecar_record(meta, artifact, artifact) if artifact.is_file() else meta.to_dict()
    return atomic_write_json(path if path is not None else sidecar_path(artifact), data)


# --------------------------------------------------------------------------- integrity
def _redo_hint(path: str | os.PathLike[str]) -> str:
    return (
        f"delete {str(path)!r} (and its sidecar {str(sidecar_path(path))!r}) and rerun the "
        "rule/job that makes it"
    )


def verify_artifact(path: str | os.PathLike[str], what: str = "artifact") -> dict[str, Any]:
    """Check ``path`` against the sha256 its sidecar records and return the sidecar.

    Raises :class:`ArtifactIntegrityError` naming the file and what to do when the file or its
    sidecar is missing, the sidecar is unreadable or records no sha256, or the hashes differ.
    """
    artifact, side = Path(path), sidecar_path(path)
    if not artifact.is_file():
        stale = f" (and delete the stale sidecar {str(side)!r})" if side.exists() else ""
        raise ArtifactIntegrityError(
            f"cannot read {what} {str(artifact)!r}: the file does not exist; rerun the "
            f"rule/job that makes it{stale}"
        )
    if not side.is_file():
        raise ArtifactIntegrityError(
            f"cannot verify {what} {str(artifact)!r}: its sidecar {str(side)!r} is missing, so "
            f"the file's sha256 is unknown; {_redo_hint(artifact)}"
        )
    try:
        sidecar = read_json(side)
        expected = sidecar["artifact"]["sha256"]
        if not isinstance(expected, str):
            raise TypeError(f"artifact.sha256 is {type(expected).__name__}, not a string")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ArtifactIntegrityError(
            f"cannot verify {what} {str(artifact)!r}: its sidecar {str(side)!r} is unreadable "
            f"or records no artifact.sha256 ({type(err).__name__}: {err}); {_redo_hint(artifact)}"
        ) from err
    actual = sha256_file(artifact)
    if actual != expected:
        size = artifact.stat().st_size
        recorded = sidecar["artifact"].get("size")
        sizes = f"{size} bytes" + (f" (sidecar: {recorded})" if recorded is not None else "")
        raise ArtifactIntegrityError(
            f"{what} {str(artifact)!r} does not match its sidecar {str(side)!r}: sha256 "
            f"{actual[:12]}... on disk ({sizes}), {expected[:12]}... recorded; the file is "
            f"truncated or was changed after it was written: {_redo_hint(artifact)}"
        )
    return sidecar


@contextmanager
def timed(meta: RunMeta) -> Iterator[RunMeta]:
    """Record wall-clock seconds of the block into ``meta.wall_seconds``."""
    start = time.perf_counter()
    try:
        yield meta
    finally:
        meta.wall_seconds = round(time.perf_counter() - start, 3)
