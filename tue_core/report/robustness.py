"""Beyond the paper: how each perturbation survives a defending trainer (``tables/robustness.*``).

Rows are the clean set and each perturbation run; the first table's columns are no defense and
each configured defense (APBench's set, :mod:`tue_core.defend`), the second's each architecture
trained without defense. A cell holds the final clean-test accuracy and the peak one with its
epoch: early stopping at the peak is itself a defense (Sandoval-Segura et al., arXiv 2204.08615).
Where the ISS paper (Liu et al. 2023, github.com/liuzrcc/ImageShortcutSqueezing, CIFAR-10,
ResNet-18, 200 epochs) published a number for the same method and defense it is shown beside
ours in brackets; it is a paper-scale anchor for direction, not a target for a CPU scale.

A defense *restores* a perturbed set when training on it defended ends within
:data:`RESTORE_MARGIN` points of the clean set trained with the same defense and model (issue
"Beyond the paper": like with like, so the defense's own cost on clean data is not counted
against it). Each row carries that gap for the final and for the peak accuracy, and the
Markdown table has a section with the verdicts. A verdict needs a baseline that learned: where
the defended clean run ends within the margin of chance (1 / number of classes of the test set),
every perturbed run would count as restored, so the verdict reads ``n/a`` instead.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from tue_core import io
from tue_core.report.figure_io import add_scale_note, new_figure, save_figure
from tue_core.report.palette import method_color
from tue_core.report.paper import DATASET_LABELS, method_label
from tue_core.report.scale import check_scale, format_scale

log = logging.getLogger(__name__)

REFERENCE_RESOURCE = "robustness_reference.csv"
ROBUSTNESS_COLUMNS: tuple[str, ...] = (
    "protected_dataset",
    "run",
    "method",
    "backbone",
    "defense",
    "defense_name",
    "model",
    "status",
    "final",
    "peak",
    "peak_epoch",
    "epochs",
    "reference",
    "reference_source",
    "chance",
    "clean_final",
    "gap",
    "restored",
    "peak_gap",
    "restored_at_peak",
    "scale_name",
)
RESTORE_MARGIN = 10.0
"""Points below the defended clean baseline that still count as restored (issue 16's bar)."""


def load_reference(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Published anchors: ``dataset, method, defense_name, parameters (JSON), model, accuracy,
    source``."""
    if path is None:
        with resources.files("tue_core.report").joinpath(REFERENCE_RESOURCE).open() as handle:
            return pd.read_csv(handle, dtype={"parameters": str}, keep_default_na=False)
    return pd.read_csv(path, dtype={"parameters": str}, keep_default_na=False)


def _reference_for(
    reference: pd.DataFrame,
    dataset: str,
    method: str,
    defense: Mapping[str, Any] | None,
    model: str,
) -> tuple[float, str]:
    """The anchor whose dataset, method, model, defense name and stated parameters match ours."""
    name = "none" if defense is None else str(defense["name"])
    for row in reference.to_dict("records"):
        if (row["dataset"], row["method"], row["defense_name"], row["model"]) != (
            dataset,
            method,
            name,
            model,
        ):
            continue
        wanted = json.loads(row["parameters"] or "{}")
        if defense is None or all(defense.get(k) == v for k, v in wanted.items()):
            return float(row["accuracy"]), str(row["source"])
    return math.nan, ""


def _chance(test_path: str | None, cache: dict[str, float]) -> float:
    """Accuracy of guessing one class, in %, from the test set's class names.

    NaN (no chance check) where the cell names no test set or it is not on disk (a report
    rebuilt from restored metrics alone), with a warning.
    """
    if test_path is None:
        return math.nan
    if test_path not in cache:
        if Path(test_path).is_file():
            from tue_core.data import prepared_class_names

            cache[test_path] = 100.0 / len(prepared_class_names(test_path))
        else:
            log.warning("%s is absent: verdicts cannot check clean against chance", test_path)
            cache[test_path] = math.nan
    return cache[test_path]


def run_accuracies(path: Path) -> dict[str, Any]:
    """A supervised run's final and peak clean-test accuracy in %, peak epoch and epochs.

    ``status`` is ``"missing"`` (NaN accuracies) where the sidecar does not exist yet.
    """
    if not path.exists():
        return {"status": "missing", "final": math.nan, "peak": math.nan, "peak_epoch": 0}
    record = io.read_json(path)
    metrics = record.get("metrics", {})
    return {
        "status": "ok",
        "final": round(100.0 * float(metrics["final_acc"]), 4),
        "peak": round(100.0 * float(metrics["best_acc"]), 4),
        "peak_epoch": int(metrics.get("best_epoch") or 0),
        "epochs": int(record.get("config", {}).get("epochs") or 0),
    }


def robustness_frame(
    cells: Sequence[Mapping[str, Any]],
    defenses: Mapping[str, Mapping[str, Any]],
    scale: Mapping[str, Any],
    reference: pd.DataFrame | None = None,
    margin: float = RESTORE_MARGIN,
) -> pd.DataFrame:
    """:data:`ROBUSTNESS_COLUMNS`, one row per cell (``RobustCell.record()`` dicts).

    ``margin``: points below the defended clean baseline that still count as restored.
    """
    check_scale(scale)
    reference = load_reference() if reference is None else reference
    rows, chances = [], {}
    for cell in cells:
        defense = defenses.get(cell["defense"])
        if cell["defense"] != "none" and defense is None:
            raise ValueError(
                f"cell {cell['run']}/{cell['defense']}: defense {cell['defense']!r} is not among "
                f"the configured ones ({', '.join(sorted(defenses)) or 'none'})"
            )
        value, source = _reference_for(
            reference, cell["protected_dataset"], cell["method"], defense, cell["model"]
        )
        rows.append(
            {
                **{k: cell[k] for k in ("protected_dataset", "run", "method", "backbone")},
                "defense": cell["defense"],
                "defense_name": "none" if defense is None else defense["name"],
                "model": cell["model"],
                "epochs": 0,
                **run_accuracies(Path(cell["metrics_path"])),
                "reference": value,
                "reference_source": source,
                "chance": _chance(cell.get("test_path"), chances),
            }
        )
    measured = ROBUSTNESS_COLUMNS[: ROBUSTNESS_COLUMNS.index("clean_final")]
    frame = pd.DataFrame(rows, columns=list(measured))
    frame = _with_restore_verdicts(frame, margin)
    frame["scale_name"] = str(scale["name"])
    frame.attrs["restore_margin"] = margin
    return frame


def _with_restore_verdicts(frame: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Add each row's gap to the clean run under the same defense and model, and the verdicts.

    ``gap = clean final - final`` and ``peak_gap = clean peak - peak`` in points; ``restored``
    is ``"yes"`` when the gap is at most ``margin``, ``"no"`` when larger, ``"n/a"`` when the
    defended clean run itself ends within ``margin`` of chance (no baseline to restore to), and
    ``""`` where either run is missing or the row is the clean run itself.
    """
    clean = frame[(frame["run"] == "clean") & (frame["status"] == "ok")]
    baseline = clean.set_index(["defense", "model"])[["final", "peak"]]
    keys = pd.MultiIndex.from_frame(frame[["defense", "model"]])
    clean_final = baseline["final"].reindex(keys).to_numpy()
    clean_peak = baseline["peak"].reindex(keys).to_numpy()
    is_clean = frame["run"] == "clean"
    chance = frame["chance"]
    frame["clean_final"] = clean_final
    frame["gap"] = (frame["clean_final"] - frame["final"]).where(~is_clean).round(4)
    final_learned = ~(clean_final <= chance + margin)  # NaN chance: nothing to check
    peak_learned = ~(clean_peak <= chance + margin)
    frame["restored"] = [
        _verdict(g, margin, ok) for g, ok in zip(frame["gap"], final_learned, strict=True)
    ]
    frame["peak_gap"] = (clean_peak - frame["peak"]).where(~is_clean).round(4)
    frame["restored_at_peak"] = [
        _verdict(g, margin, ok) for g, ok in zip(frame["peak_gap"], peak_learned, strict=True)
    ]
    return frame


def _verdict(gap: float, margin: float, baseline_learned: bool = True) -> str:
    if not math.isfinite(gap):
        return ""
    if not baseline_learned:
        return "n/a"
    return "yes" if gap <= margin else "no"


def _row_label(row: Mapping[str, Any]) -> str:
    run = "" if row["run"] == "clean" else f" `{row['run']}`"
    return method_label(row["method"], row["backbone"]) + run


def _cell_text(row: Mapping[str, Any]) -> str:
    if row["status"] != "ok":
        return "missing"
    text = f"{row['final']:.2f} / {row['peak']:.2f}@{row['peak_epoch']}"
    if math.isfinite(row["reference"]):
        text += f" [{row['reference']:.2f}]"
    return text


def _grid(
    frame: pd.DataFrame, column: str, text: Callable[[Mapping[str, Any]], str] = _cell_text
) -> pd.DataFrame:
    """Rows = run (in the config's order), columns = ``column`` values, cells = ``text(row)``."""
    records = frame.to_dict("records")
    frame = frame.assign(row=[_row_label(r) for r in records], text=[text(r) for r in records])
    rows = list(dict.fromkeys(frame["row"]))
    columns = list(dict.fromkeys(frame[column]))
    grid = frame.pivot(index="row", columns=column, values="text").loc[rows, columns]
    return grid.fillna("-")  # a cell the grid does not have


def robustness_markdown(frame: pd.DataFrame, scale: Mapping[str, Any]) -> str:
    dataset = DATASET_LABELS[frame["protected_dataset"].iloc[0]] if len(frame) else ""
    default_model = frame["model"].iloc[0] if len(frame) else ""
    parts = [f"## Robustness to a defending trainer ({dataset})", ""]
    sections = (
        ("Defenses", frame[frame["model"] == default_model], "defense"),
        ("Architectures, no defense", frame[frame["defense"] == "none"], "model"),
    )
    for title, part, column in sections:
        if part[column].nunique() < (1 if column == "defense" else 2):
            continue
        grid = _grid(part, column)
        parts += [f"### {title}", "", "| | " + " | ".join(grid.columns) + " |"]
        parts.append("|---" * (len(grid.columns) + 1) + "|")
        for label, values in grid.iterrows():
            parts.append(f"| {label} | " + " | ".join(values) + " |")
        parts.append("")
    parts += _verdict_section(frame, frame.attrs.get("restore_margin", RESTORE_MARGIN))
    parts += [
        "Each cell: final / peak@epoch clean-test accuracy (%), [ISS's published number for the "
        "same method and defense, CIFAR-10 ResNet-18 at 200 epochs, where one exists].",
        "",
        f"Scale: {format_scale(scale)}",
        "",
    ]
    return "\n".join(parts)


def _verdict_text(row: Mapping[str, Any]) -> str:
    if not row["restored"]:
        return "missing" if row["status"] != "ok" else "no baseline"

    def one(verdict: str, gap: float) -> str:
        return "n/a" if verdict == "n/a" else f"{verdict} ({gap:.1f})"

    text = one(row["restored"], row["gap"])
    if row["restored"] == "n/a":
        text += f" (clean {row['clean_final']:.1f})"
    if row["restored_at_peak"]:
        text += f" / {one(row['restored_at_peak'], row['peak_gap'])}"
    return text


def _verdict_section(frame: pd.DataFrame, margin: float) -> list[str]:
    """Per perturbation run and column: is it restored to within the margin of clean?"""
    perturbed = _with_display_column(frame)[frame["run"] != "clean"]
    if perturbed.empty:
        return []
    default_model = frame["model"].iloc[0]
    grid = _grid(perturbed, "column", _verdict_text)
    parts = [
        f"### Restored to within {margin:g} points of clean under the same defense",
        "",
        "| | " + " | ".join(grid.columns) + " |",
        "|---" * (len(grid.columns) + 1) + "|",
    ]
    parts += [f"| {k} | " + " | ".join(v) + " |" for k, v in grid.iterrows()]
    parts += [
        "",
        "Each cell: restored at the final epoch (points below the defended clean run's final) / "
        "with early stopping at the peak (points below the clean run's peak; the peak is picked "
        "on the clean test set, an oracle a real trainer would approximate with held-out "
        "data, so it flatters early stopping); n/a: the defended clean run itself ends within "
        "the margin of chance, so there is nothing to restore to. Columns after "
        f"the defenses are other architectures trained without defense ({default_model} is "
        "the first column's model).",
        "",
    ]
    return parts


def _with_display_column(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``column``: the defense for the first row's model, the model for other architectures
    (trained without defense): the columns of the verdict section and the figure."""
    default_model = frame["model"].iloc[0] if len(frame) else ""
    records = frame.to_dict("records")
    return frame.assign(
        column=[r["defense"] if r["model"] == default_model else r["model"] for r in records]
    )


def robustness_latex(frame: pd.DataFrame) -> str:
    grid = _grid(frame[frame["model"] == frame["model"].iloc[0]], "defense") if len(frame) else None
    if grid is None:
        return ""
    escape = lambda s: str(s).replace("_", r"\_").replace("`", "").replace("%", r"\%")  # noqa: E731
    lines = [
        r"\begin{tabular}{l" + "c" * len(grid.columns) + "}",
        r"\toprule",
        " & ".join(["", *map(escape, grid.columns)]) + r" \\",
        r"\midrule",
        *[" & ".join([escape(k), *map(escape, v)]) + r" \\" for k, v in grid.iterrows()],
        r"\bottomrule",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


def plot_robustness(frame: pd.DataFrame, out_stem: str | os.PathLike[str], scale: Any) -> None:
    """Grouped bars: x = defense (and architecture), one bar per run (final), a dot at the peak."""
    frame = _with_display_column(frame)
    columns = list(dict.fromkeys(frame["column"]))
    runs = list(dict.fromkeys(frame["run"]))
    figure = new_figure(max(6.0, 1.1 * len(columns) + 2), 3.6)
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(runs))
    for index, run in enumerate(runs):
        part = frame[frame["run"] == run].set_index("column").reindex(columns)
        xs = [c + (index - (len(runs) - 1) / 2) * width for c in range(len(columns))]
        label = _row_label(part.dropna(subset=["method"]).iloc[0])
        colour = method_color(part.dropna(subset=["method"]).iloc[0]["method"])
        axes.bar(xs, part["final"], width, label=label.replace("`", ""), color=colour)
        axes.plot(xs, part["peak"], "k.", markersize=4)
    axes.set_xticks(range(len(columns)), columns, rotation=20, ha="right")
    axes.set_ylabel("clean test accuracy (%)")
    axes.set_ylim(0, 100)
    axes.legend(fontsize=7, ncols=min(4, len(runs)))
    axes.set_title("Final accuracy (bars) and peak (dots) under each defense / architecture")
    add_scale_note(figure, scale)
    save_figure(figure, out_stem)


def defense_records(cfg: Any) -> dict[str, dict[str, Any]]:
    """The config's defenses as JSON records, as :func:`robustness_job` takes them."""
    return {name: d.model_dump(mode="json") for name, d in cfg.defenses.items()}


def robustness_job(
    cells: Sequence[Mapping[str, Any]],
    defenses: Mapping[str, Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    figure_stem: str | os.PathLike[str],
    scale: Mapping[str, Any],
) -> dict[str, Path]:
    """Write ``robustness.{csv,md,tex}`` under ``out_dir`` and the figure at ``figure_stem``."""
    frame = robustness_frame(cells, defenses, scale)
    out = Path(out_dir)
    paths = {kind: out / f"robustness.{kind}" for kind in ("csv", "md", "tex")}
    io.atomic_write_text(paths["csv"], frame.to_csv(index=False))
    io.atomic_write_text(paths["md"], robustness_markdown(frame, scale))
    io.atomic_write_text(paths["tex"], robustness_latex(frame))
    plot_robustness(frame, figure_stem, scale)
    return paths
