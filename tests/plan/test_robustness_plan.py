"""tables.robustness: the grid of defenses and architectures, its paths, errors and cost."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tue_core.config import ConfigError, load_config
from tue_core.plan.cost import plan_jobs

ROOT = Path(__file__).resolve().parents[2]


def demo(robustness: dict | None = None, defenses: dict | None = None) -> dict:
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    raw["defenses"] = (
        {"gray": {"name": "grayscale"}, "adv": {"name": "adversarial_training", "steps": 2}}
        if defenses is None
        else defenses
    )
    raw["tables"]["robustness"] = {
        "enabled": True,
        "runs": ["emn", "tue_simclr"],
        "defenses": ["gray", "adv"],
        "architectures": ["mobilenetv2"],
        **(robustness or {}),
    }
    return raw


def test_every_row_gets_every_defense_and_architecture_and_shares_the_plain_cells() -> None:
    cells = load_config(demo()).planner().robustness()
    grid = {(c.run, c.defense, c.model) for c in cells}
    rows = {"clean", "emn", "tue_simclr"}
    expected = {(r, d, "resnet18") for r in rows for d in ("none", "gray", "adv")}
    assert grid == expected | {(r, "none", "mobilenetv2") for r in rows}
    plain = next(
        c for c in cells if c.run == "emn" and c.defense == "none" and c.model == "resnet18"
    )
    assert plain.shared
    assert plain.metrics_path.endswith(
        "eval/supervised/synthetic10/synthetic10/emn/original/metrics.json"
    )
    gray = next(c for c in cells if c.run == "clean" and c.defense == "gray")
    assert (
        gray.metrics_path == "results/demo/eval/robust/gray/resnet18/synthetic10/clean/metrics.json"
    )


def test_disabled_by_default_and_bad_names_fail_with_the_valid_ones() -> None:
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    del raw["tables"]["robustness"]
    assert load_config(raw).planner().robustness() == []
    with pytest.raises(ConfigError, match=r"robustness.defenses: \['jpg'\] are not defined"):
        load_config(demo({"defenses": ["jpg"]}))
    with pytest.raises(ConfigError, match=r"robustness.architectures: \['vgg11'\] are not models"):
        load_config(demo({"architectures": ["vgg11"]}))
    with pytest.raises(ConfigError, match=r"robustness.runs: perturbation run 'nope'"):
        load_config(demo({"runs": ["nope"]}))
    with pytest.raises(ConfigError, match=r"defenses.none: the name is reserved"):
        load_config(demo(defenses={"none": {"name": "grayscale"}}))
    with pytest.raises(ConfigError, match=r"quality"):
        load_config(demo(defenses={"gray": {"name": "jpeg", "quality": 0}}))


def test_the_cost_model_counts_adversarial_training_steps_and_other_architectures() -> None:
    jobs = {j.output: j for j in plan_jobs(load_config(demo())).jobs}
    root = "results/demo/eval"
    plain = jobs[f"{root}/supervised/synthetic10/clean/metrics.json"]
    gray = jobs[f"{root}/robust/gray/resnet18/synthetic10/clean/metrics.json"]
    adv = jobs[f"{root}/robust/adv/resnet18/synthetic10/clean/metrics.json"]
    vgg = jobs[f"{root}/robust/none/mobilenetv2/synthetic10/clean/metrics.json"]
    assert gray.flops == pytest.approx(plain.flops)
    train = lambda job: next(w for w in job.work if w.kind == "supervised_train")  # noqa: E731
    assert train(adv).image_passes == pytest.approx(3 * train(plain).image_passes)  # 1 + 2 steps
    assert vgg.flops != pytest.approx(plain.flops) and train(vgg).arch == "mobilenetv2"
    assert "robustness_table" in {j.rule for j in jobs.values()}
