"""The scale a number was produced at, printed under every table and figure.

A demo run on synthetic data with two epochs and a paper-scale run write tables of the same
shape; the scale note keeps anybody from reading one as the other. The paper's own scale (§5.1,
Appendix B, Table 7): full CIFAR-10/100 and SVHN, ResNet-18, 200 supervised epochs, 1000 SSL
pre-training epochs and a 100-epoch linear probe.

``scale`` is a mapping like::

    {"name": "demo", "description": "...", "epochs": {"supervised": 2, "ssl": 3},
     "train_sizes": {"cifar10": 500}, "device": "cpu"}

Only ``name`` is required; other keys are printed as ``key: value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PAPER_SCALE_NAME = "paper"
PAPER_SCALE_SUMMARY = (
    "the paper: full CIFAR-10/100 (50,000 train images), SVHN (73,257), ResNet-18; "
    "200 supervised epochs, 1000 SSL pre-training + 100 linear-probe epochs"
)
_ORDER = ("description", "epochs", "train_sizes", "device")


def check_scale(scale: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``scale`` is a mapping with a non-empty ``name``."""
    if not isinstance(scale, Mapping) or not str(scale.get("name") or "").strip():
        raise ValueError(
            f"scale must be a mapping with a non-empty 'name' (and optionally {list(_ORDER)}), "
            f"got {scale!r}"
        )


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    return " ".join(str(value).split())  # folds YAML's multi-line descriptions


def scale_fields(scale: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(label, text)`` pairs in a fixed order: name, description, epochs, sizes, device, rest."""
    check_scale(scale)
    keys = [k for k in _ORDER if k in scale] + [k for k in scale if k not in (*_ORDER, "name")]
    return [("scale", str(scale["name"]))] + [(k.replace("_", " "), _value(scale[k])) for k in keys]


def is_paper_scale(scale: Mapping[str, Any]) -> bool:
    check_scale(scale)
    return str(scale["name"]) == PAPER_SCALE_NAME


def format_scale(scale: Mapping[str, Any]) -> str:
    """One line, e.g. ``demo | epochs: supervised 2 | device: cpu | NOT paper scale (...)``."""
    fields = scale_fields(scale)
    parts = [fields[0][1]] + [f"{label}: {text}" for label, text in fields[1:]]
    if not is_paper_scale(scale):
        parts.append(f"NOT paper scale (compare with {PAPER_SCALE_SUMMARY})")
    return " | ".join(parts)


def scale_summary(cfg: Any) -> dict[str, Any]:
    """The scale record of an :class:`~tue_core.config.ExperimentConfig`: name, description,
    epochs, model, dataset roles and device (what every table and figure prints)."""
    ev = cfg.evaluation
    return {
        "name": cfg.scale.name,
        "description": cfg.scale.description,
        "epochs": {
            "supervised": ev.supervised.epochs,
            **{f"supervised on {d}": n for d, n in ev.supervised_epochs.items()},
            **{f"{b} pre-training": s.pretrain.epochs for b, s in ev.linear_probe.items()},
            **{f"{b} probe": s.probe.epochs for b, s in ev.linear_probe.items()},
        },
        "model": f"{ev.supervised.model} width {ev.supervised.width} (SSL width {ev.ssl_width})",
        "datasets": dict(cfg.roles),
        **_transfer_sources(cfg),
        "device": cfg.device,
    }


def _transfer_sources(cfg: Any) -> dict[str, str]:
    """Where Tables 3 and 6 make their perturbations when it is not the source role's dataset
    (``tables.<t>.source_dataset``): their rows keep the paper's label, so the line says it."""
    made_on: dict[str, list[str]] = {}
    for table in ("table3", "table6"):
        section = getattr(cfg.tables, table)
        if section.enabled and section.source_dataset is not None:
            role = f"{section.source} role"
            made_on.setdefault(f"{role} made on {section.source_dataset}", []).append(table)
    return {f"{', '.join(tables)} perturbations": where for where, tables in made_on.items()}
