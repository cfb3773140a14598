"""tables/robustness.* and figures/robustness.png from the grid's metrics files."""

from __future__ import annotations

import math

import pandas as pd

from tue_core import io
from tue_core.report.robustness import ROBUSTNESS_COLUMNS, robustness_job

DEFENSES = {"gray": {"name": "grayscale"}, "jpeg10": {"name": "jpeg", "quality": 10}}


def _cell(tmp_path, run: str, method: str, defense: str, model: str = "resnet18") -> dict:
    return {
        "protected_dataset": "cifar10",
        "run": run,
        "method": method,
        "backbone": "",
        "defense": defense,
        "model": model,
        "metrics_path": str(tmp_path / "eval" / defense / model / run / "metrics.json"),
    }


def _metrics(cell: dict, final: float, best: float, epoch: int) -> None:
    record = {"metrics": {"final_acc": final, "best_acc": best, "best_epoch": epoch}}
    io.atomic_write_json(cell["metrics_path"], {**record, "config": {"epochs": 5}})


def test_cells_hold_final_peak_and_the_published_anchor(tmp_path, demo_scale) -> None:
    cells = [
        _cell(tmp_path, run, method, defense)
        for defense in ("none", "gray", "jpeg10")
        for run, method in (("clean", "clean"), ("emn", "EMN"))
    ]
    cells.append(_cell(tmp_path, "emn", "EMN", "none", "mobilenetv2"))
    for index, cell in enumerate(cells[:-1]):
        _metrics(cell, 0.1 + 0.1 * index, 0.2 + 0.1 * index, 2)
    paths = robustness_job(
        cells, DEFENSES, tmp_path / "tables", tmp_path / "fig" / "rob", demo_scale
    )

    frame = pd.read_csv(paths["csv"], keep_default_na=False, na_values=[""])
    assert tuple(frame.columns) == ROBUSTNESS_COLUMNS
    emn_jpeg = frame[(frame["run"] == "emn") & (frame["defense"] == "jpeg10")].iloc[0]
    assert (emn_jpeg["final"], emn_jpeg["peak"], emn_jpeg["peak_epoch"]) == (60.0, 70.0, 2)
    assert emn_jpeg["reference"] == 81.5 and "ISS" in emn_jpeg["reference_source"]
    clean_gray = frame[(frame["run"] == "clean") & (frame["defense"] == "gray")].iloc[0]
    assert clean_gray["reference"] == 92.41
    missing = frame[frame["model"] == "mobilenetv2"].iloc[0]
    assert missing["status"] == "missing" and math.isnan(missing["final"])
    text = paths["md"].read_text()
    assert (
        "| EMN `emn` | 20.00 / 30.00@2 [21.05] | 40.00 / 50.00@2 [93.01] | 60.00 / 70.00@2 [81.50] |"
        in text
    )
    assert "### Architectures, no defense" in text and "| missing |" in text
    assert (tmp_path / "fig" / "rob.png").stat().st_size > 0
    assert paths["tex"].read_text().startswith(r"\begin{tabular}{lccc}")


def test_a_jpeg_of_another_quality_has_no_anchor(tmp_path, demo_scale) -> None:
    cell = _cell(tmp_path, "emn", "EMN", "jpeg50")
    _metrics(cell, 0.5, 0.5, 1)
    paths = robustness_job(
        [cell], {"jpeg50": {"name": "jpeg", "quality": 50}}, tmp_path, tmp_path / "f", demo_scale
    )
    assert math.isnan(pd.read_csv(paths["csv"])["reference"].iloc[0])


def test_restored_compares_with_the_clean_run_under_the_same_defense(tmp_path, demo_scale) -> None:
    cells = {
        (run, defense): _cell(tmp_path, run, method, defense)
        for defense in ("none", "gray", "jpeg10")
        for run, method in (("clean", "clean"), ("emn", "EMN"))
    }
    _metrics(cells["clean", "none"], 0.80, 0.80, 5)
    _metrics(cells["emn", "none"], 0.20, 0.75, 1)  # 60 below at the end, 5 below at its peak
    _metrics(cells["clean", "gray"], 0.70, 0.72, 5)
    _metrics(cells["emn", "gray"], 0.60, 0.61, 5)  # exactly 10 below: still restored
    _metrics(cells["clean", "jpeg10"], 0.60, 0.60, 5)  # emn under jpeg10 missing: no verdict
    paths = robustness_job(
        list(cells.values()), DEFENSES, tmp_path / "t", tmp_path / "f", demo_scale
    )

    frame = pd.read_csv(paths["csv"], keep_default_na=False, na_values=[""]).set_index(
        ["run", "defense"]
    )
    assert frame.loc[("emn", "none"), ["gap", "restored"]].tolist() == [60.0, "no"]
    assert frame.loc[("emn", "none"), ["peak_gap", "restored_at_peak"]].tolist() == [5.0, "yes"]
    assert frame.loc[("emn", "gray"), ["gap", "restored"]].tolist() == [10.0, "yes"]
    assert frame.loc[("emn", "gray"), "clean_final"] == 70.0
    assert pd.isna(frame.loc[("emn", "jpeg10"), "restored"])
    assert pd.isna(frame.loc[("clean", "gray"), "restored"])  # the baseline has no verdict
    text = paths["md"].read_text()
    assert "### Restored to within 10 points of clean under the same defense" in text
    assert "| EMN `emn` | no (60.0) / yes (5.0) | yes (10.0) / no (11.0) | missing |" in text


def test_a_stricter_margin_changes_the_verdict(tmp_path, demo_scale) -> None:
    from tue_core.report.robustness import robustness_frame

    clean, emn = _cell(tmp_path, "clean", "clean", "gray"), _cell(tmp_path, "emn", "EMN", "gray")
    _metrics(clean, 0.70, 0.70, 5)
    _metrics(emn, 0.62, 0.62, 5)
    loose = robustness_frame([clean, emn], DEFENSES, demo_scale)
    strict = robustness_frame([clean, emn], DEFENSES, demo_scale, margin=5.0)
    assert loose["restored"].tolist() == ["", "yes"]
    assert strict["restored"].tolist() == ["", "no"]


def test_no_verdict_where_the_defense_keeps_clean_training_at_chance(tmp_path, demo_scale) -> None:
    """A defended clean run at chance would make every perturbed run 'restored': n/a instead."""
    from tue_core.data import prepare_dataset
    from tue_core.data.config import SyntheticSpec
    from tue_core.report.robustness import robustness_frame, robustness_markdown

    spec = SyntheticSpec(
        source="synthetic", num_classes=10, train_per_class=2, test_per_class=2, image_size=8
    )
    split = {s: tmp_path / "data" / f"{s}.npz" for s in ("train", "test")}
    prepare_dataset(spec, "ten", split)
    cells = {
        (run, defense): {**_cell(tmp_path, run, method, defense), "test_path": str(split["test"])}
        for defense in ("gray", "jpeg10")
        for run, method in (("clean", "clean"), ("emn", "EMN"))
    }
    _metrics(cells["clean", "gray"], 0.15, 0.35, 1)  # ends within 10 of chance (10%), peaks above
    _metrics(cells["emn", "gray"], 0.12, 0.30, 1)
    _metrics(cells["clean", "jpeg10"], 0.21, 0.21, 5)  # 11 above chance: a baseline
    _metrics(cells["emn", "jpeg10"], 0.12, 0.12, 5)
    frame = robustness_frame(list(cells.values()), DEFENSES, demo_scale).set_index(
        ["run", "defense"]
    )
    assert frame.loc[("emn", "gray"), "chance"] == 10.0
    assert frame.loc[("emn", "gray"), ["restored", "restored_at_peak"]].tolist() == ["n/a", "yes"]
    assert frame.loc[("emn", "jpeg10"), ["restored", "restored_at_peak"]].tolist() == ["yes", "yes"]
    text = robustness_markdown(frame.reset_index(), demo_scale)
    assert "| EMN `emn` | n/a (clean 15.0) / yes (5.0) | yes (9.0) / yes (9.0) |" in text


def test_an_absent_test_set_skips_the_chance_check(tmp_path, demo_scale, caplog) -> None:
    from tue_core.report.robustness import robustness_frame

    absent = str(tmp_path / "data" / "test.npz")
    clean = {**_cell(tmp_path, "clean", "clean", "gray"), "test_path": absent}
    emn = {**_cell(tmp_path, "emn", "EMN", "gray"), "test_path": absent}
    _metrics(clean, 0.12, 0.12, 5)
    _metrics(emn, 0.11, 0.11, 5)
    frame = robustness_frame([clean, emn], DEFENSES, demo_scale)
    assert frame["restored"].tolist() == ["", "yes"] and frame["chance"].isna().all()
    assert caplog.text.count("is absent") == 1
