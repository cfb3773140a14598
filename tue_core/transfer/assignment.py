"""Which source perturbation(s) each target sample received: the record every transfer saves.

Every variant (intra/inter-class swap, direct transfer, interpolation for more samples or more
classes) is described by the same three per-sample arrays:

    delta_t[k] = alpha[k] * delta_s[source_i[k]] + (1 - alpha[k]) * delta_s[source_j[k]]

A plain re-assignment (swap, direct transfer) has ``alpha == 1`` and ``source_j == source_i``;
Eq. 8 (more samples) uses two sources of one class, Eq. 7 (more classes) two sources of two
classes. A per-target-class table (``class_a``, ``class_b``, ``class_weight``) records the class
pattern each target class was given. Saved as ``.npz`` (no pickles) with a JSON sidecar.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tue_core import io

FORMAT_VERSION = 1
_CHUNK = 4096  # rows per block when materialising (bounded float32 temporaries)


class AssignmentError(ValueError):
    """An assignment is malformed or does not fit the perturbation set it is applied to."""


@dataclass(frozen=True)
class Assignment:
    kind: str  # "intra_swap", "inter_swap", "direct", "more_samples", "more_classes"
    source_i: np.ndarray  # int64 (N_t,), first source row of each target sample
    source_j: np.ndarray  # int64 (N_t,), second source row (== source_i when not interpolated)
    alpha: np.ndarray  # float32 (N_t,), weight of source_i
    target_labels: np.ndarray  # int64 (N_t,)
    num_source: int  # rows of the source perturbation set
    class_a: np.ndarray  # int64 (K_t,), source class of each target class (first of the pair)
    class_b: np.ndarray  # int64 (K_t,), second source class (== class_a for a pure class)
    class_weight: np.ndarray  # float32 (K_t,), nominal alpha of each class pattern (1: pure)

    def __post_init__(self) -> None:
        n = self.target_labels.shape[0]
        for name in ("source_i", "source_j", "alpha"):
            if getattr(self, name).shape != (n,):
                raise AssignmentError(
                    f"{name} must have shape ({n},), got {getattr(self, name).shape}"
                )
        k = self.class_a.shape[0]
        if self.class_b.shape != (k,) or self.class_weight.shape != (k,):
            raise AssignmentError("class_a, class_b and class_weight must have the same length")
        if n and (
            min(self.source_i.min(), self.source_j.min()) < 0
            or max(self.source_i.max(), self.source_j.max()) >= self.num_source
        ):
            raise AssignmentError(f"source indices must lie in [0, {self.num_source})")
        if n and (self.alpha.min() < 0 or self.alpha.max() > 1):
            raise AssignmentError("alpha must lie in [0, 1]")

    def __len__(self) -> int:
        return int(self.target_labels.shape[0])

    @property
    def interpolated(self) -> np.ndarray:
        """bool (N_t,): samples built from two different source perturbations."""
        return (self.source_i != self.source_j) & (self.alpha < 1)

    def summary(self) -> dict[str, object]:
        """Counts for sidecars and logs."""
        return {
            "kind": self.kind,
            "num_target": len(self),
            "num_source": self.num_source,
            "num_target_classes": int(self.class_a.shape[0]),
            "num_interpolated": int(self.interpolated.sum()),
            "num_distinct_sources_used": int(np.unique(self.source_i).size),
        }

    def materialise(self, delta: np.ndarray, eps: float = float("inf")) -> np.ndarray:
        """The target perturbations: float32 (N_t, 3, H, W), clamped to [-eps, eps].

        The clamp only removes float rounding: a convex combination of rows in [-eps, eps] lies
        in [-eps, eps]. ``alpha == 1`` rows are copied exactly.
        """
        if delta.shape[0] != self.num_source:
            raise AssignmentError(
                f"assignment was made for {self.num_source} source rows, delta has {delta.shape[0]}"
            )
        out = np.empty((len(self), *delta.shape[1:]), dtype=np.float32)
        for start in range(0, len(self), _CHUNK):
            rows = slice(start, start + _CHUNK)
            a = self.alpha[rows].astype(np.float32)[:, None, None, None]  # (B, 1, 1, 1)
            mixed = a * delta[self.source_i[rows]] + (1 - a) * delta[self.source_j[rows]]
            out[rows] = np.clip(mixed, -eps, eps) if np.isfinite(eps) else mixed
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], meta: io.RunMeta) -> Path:
        """Write ``path`` (.npz) and its JSON sidecar atomically, as one pair."""
        meta.extra = {**meta.extra, "assignment": self.summary()}
        return io.save_arrays(
            path,
            {
                "kind": np.asarray(self.kind),
                "source_i": self.source_i.astype(np.int64),
                "source_j": self.source_j.astype(np.int64),
                "alpha": self.alpha.astype(np.float32),
                "target_labels": self.target_labels.astype(np.int64),
                "num_source": np.asarray(self.num_source, dtype=np.int64),
                "class_a": self.class_a.astype(np.int64),
                "class_b": self.class_b.astype(np.int64),
                "class_weight": self.class_weight.astype(np.float32),
                "format_version": np.asarray(FORMAT_VERSION),
            },
            meta=meta,
        )


def load_assignment(path: str | os.PathLike[str]) -> Assignment:
    """Read an assignment written by :meth:`Assignment.save`, checked against its sidecar's sha256."""
    io.verify_artifact(path, what="assignment file")
    arrays = io.load_arrays(path, what="assignment file")
    fields = (
        "kind",
        "source_i",
        "source_j",
        "alpha",
        "target_labels",
        "num_source",
        "class_a",
        "class_b",
        "class_weight",
        "format_version",
    )
    missing = sorted(set(fields) - set(arrays))
    if missing:
        raise AssignmentError(f"{path}: not an assignment file (missing {missing})")
    if int(arrays["format_version"]) != FORMAT_VERSION:
        raise AssignmentError(
            f"{path}: format_version {int(arrays['format_version'])} is not {FORMAT_VERSION}"
        )
    return Assignment(
        kind=str(arrays["kind"]),
        source_i=arrays["source_i"],
        source_j=arrays["source_j"],
        alpha=arrays["alpha"],
        target_labels=arrays["target_labels"],
        num_source=int(arrays["num_source"]),
        class_a=arrays["class_a"],
        class_b=arrays["class_b"],
        class_weight=arrays["class_weight"],
    )


def reassignment(
    kind: str,
    source_of: np.ndarray,
    target_labels: np.ndarray,
    num_source: int,
    class_source: np.ndarray,
) -> Assignment:
    """An assignment without interpolation: target ``k`` gets ``delta_source[source_of[k]]``."""
    source_of = np.asarray(source_of, dtype=np.int64)
    class_source = np.asarray(class_source, dtype=np.int64)
    return Assignment(
        kind=kind,
        source_i=source_of,
        source_j=source_of.copy(),
        alpha=np.ones(len(source_of), dtype=np.float32),
        target_labels=np.asarray(target_labels, dtype=np.int64),
        num_source=num_source,
        class_a=class_source,
        class_b=class_source.copy(),
        class_weight=np.ones(len(class_source), dtype=np.float32),
    )
