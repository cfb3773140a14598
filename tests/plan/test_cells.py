"""The planned grid matches the paper's tables cell for cell, and shares work between tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tue_core.config import ConfigError, load_config
from tue_core.plan.cells import Poison
from tue_core.report.paper import KEY_COLUMNS, load_paper_results

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def paper_cells() -> dict[str, list]:
    return load_config(ROOT / "config.yaml").planner().cells()


def test_every_paper_number_has_exactly_one_planned_cell(paper_cells) -> None:
    planned = pd.DataFrame([c.record() for t in paper_cells.values() for c in t])
    paper = load_paper_results()
    paper = paper[paper["table"].str.startswith("table")]
    planned_tables = planned[planned["table"].str.startswith("table")]
    ours = set(map(tuple, planned_tables[list(KEY_COLUMNS)].astype(str).values))
    theirs = set(map(tuple, paper[list(KEY_COLUMNS)].fillna("").astype(str).values))
    assert ours == theirs
    assert len(ours) == len(planned_tables)  # no duplicate cells


def test_shared_experiments_run_once(paper_cells) -> None:
    table4 = paper_cells["table4"]
    clean_supervised = {
        c.metrics_path for c in table4 if c.method == "clean" and c.evaluation == "supervised"
    }
    assert len(clean_supervised) == 2  # one per dataset, shared by the three backbone blocks
    t3 = {c.metrics_path for c in paper_cells["table3"] if c.source_dataset == "cifar10"}
    t6 = {c.metrics_path for c in paper_cells["table6"] if c.protected_dataset == "svhn_small"}
    assert t3 <= t6  # Table 3's transfer cells are Table 6's


def test_paths_follow_the_layout(paper_cells) -> None:
    swap = next(c for c in paper_cells["table2"] if c.correspondence == "intra")
    assert swap.poison == Poison("cifar10", "cifar10", "emn", "intra")
    assert swap.poison.delta_path == "results/variants/cifar10/cifar10/emn/intra/perturbation.npz"
    assert swap.metrics_path == "results/eval/supervised/cifar10/cifar10/emn/intra/metrics.json"
    original = Poison("cifar10", "cifar10", "emn")
    assert original.delta_path == "results/perturbations/cifar10/emn/delta.npz"
    probe = next(
        c for c in paper_cells["table4"] if c.evaluation == "linear_probe" and c.method == "TUE"
    )
    assert probe.metrics_path.startswith(f"results/eval/linear_probe/{probe.backbone}/")
    assert probe.poison.run == f"tue_{probe.backbone}"


def test_output_dir_prefixes_every_path() -> None:
    cells = load_config(ROOT / "config" / "demo.yaml").planner().cells()
    paths = [c.metrics_path for t in cells.values() for c in t]
    assert all(p.startswith("results/demo/eval/") for p in paths)


def demo(**tables) -> dict:
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    raw["tables"].update(tables)
    return raw


def test_a_table_naming_an_undefined_run_fails_with_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"tables\.table2\.runs: perturbation run 'emm' is not defined"
    ):
        load_config(demo(table2={"runs": ["emm"]}))


def test_disabled_table_needs_nothing() -> None:
    raw = demo(table6={"enabled": False, "targets": ["svhn"], "runs": ["nope"]})
    cells = load_config(raw).planner().cells()
    assert "table6" not in cells


def test_linear_probe_backbone_must_be_configured() -> None:
    raw = demo()
    del raw["evaluation"]["linear_probe"]["moco"]
    with pytest.raises(ConfigError, match=r"evaluation.linear_probe has no entry for \['moco'\]"):
        load_config(raw)


def _class_group_config(source_dataset: str) -> dict:
    """The demo, with its CIFAR-10 stand-in split into a source class group and a target group."""
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    base = cfg["datasets"]["synthetic10"]
    cfg["datasets"]["group_a"] = {**base, "classes": [0, 1, 2, 3]}
    cfg["datasets"]["group_b"] = {**base, "classes": [4, 5, 6, 7]}
    cfg["roles"]["svhn_small"] = "group_b"
    cfg["tables"]["table3"]["source_dataset"] = source_dataset
    cfg["tables"]["table6"] = {"source": "cifar10", "targets": ["svhn_small"], "runs": ["emn"]}
    cfg["tables"]["table6"]["source_dataset"] = source_dataset
    return cfg


def test_tables_3_and_6_can_transfer_from_a_dataset_other_than_the_source_role() -> None:
    cells = load_config(_class_group_config("group_a")).planner().cells()
    transferred = [c for c in cells["table3"] if c.source_dataset == "cifar10"]
    assert transferred and all(c.poison.source == "group_a" for c in transferred)
    assert all(c.poison.target == "group_b" for c in transferred)
    assert {c.poison.source for c in cells["table6"]} == {"group_a"}
    # the other tables keep the role's own dataset
    assert {c.poison.source for c in cells["table2"] if c.poison} == {"synthetic10", "synthetic20"}


def test_the_scale_line_names_the_dataset_tables_3_and_6_transfer_from() -> None:
    from tue_core.report.scale import format_scale, scale_summary

    line = format_scale(scale_summary(load_config(_class_group_config("group_a"))))
    assert "table3, table6 perturbations: cifar10 role made on group_a" in line
    assert "made on" not in format_scale(scale_summary(load_config(ROOT / "config.yaml")))


def test_an_unknown_source_dataset_is_named_with_the_defined_ones() -> None:
    with pytest.raises(ConfigError, match=r"tables.table3.source_dataset names dataset 'nope'"):
        load_config(_class_group_config("nope"))


def test_table4_skip_runs_and_probe_backbones_drop_exactly_those_cells() -> None:
    full = load_config(demo()).planner().cells()["table4"]
    cut = (
        load_config(demo(table4={"skip_runs": ["ucl_moco"], "linear_probe_backbones": ["simclr"]}))
        .planner()
        .cells()["table4"]
    )
    runs = {c.poison.run for c in cut if c.poison}
    assert "ucl_moco" not in runs and "ucl_simsiam" in runs
    probes = {c.backbone for c in cut if c.evaluation == "linear_probe"}
    assert probes == {"simclr"}
    kept = {c.record()["metrics_path"] for c in cut}
    assert kept < {c.record()["metrics_path"] for c in full}  # a subset, nothing new
    assert any(c.backbone == "moco" and c.evaluation == "supervised" for c in cut)


def test_table4_skip_runs_naming_no_run_of_the_table_fails_with_its_runs() -> None:
    with pytest.raises(ConfigError, match=r"tables.table4.skip_runs: \['ucl_mocco'\] are not runs"):
        load_config(demo(table4={"skip_runs": ["ucl_mocco"]}))


def test_probe_backbones_outside_the_table_fail() -> None:
    with pytest.raises(
        ConfigError, match=r"linear_probe_backbones \['moco'\] are not in backbones"
    ):
        load_config(demo(table4={"backbones": ["simclr"], "linear_probe_backbones": ["moco"]}))


def test_extra_runs_are_supervised_cells_with_their_sidecar() -> None:
    cells = load_config(demo(extra={"runs": ["tue_simclr", "emn"]})).planner().cells()["extra"]
    assert [c.poison.run for c in cells] == ["tue_simclr", "emn"]
    record = cells[0].run_record()
    assert record["table"] == "extra" and record["evaluation"] == "supervised"
    assert record["delta_sidecar"] == "results/demo/perturbations/synthetic10/tue_simclr/delta.json"
    with pytest.raises(ConfigError, match=r"tables.extra.runs: perturbation run 'tue_x'"):
        load_config(demo(extra={"runs": ["tue_x"]}))


def test_extra_swap_runs_add_swap_cells_that_read_the_generation_sidecar() -> None:
    extra = {"runs": ["emn", "tue_simclr"], "swap_runs": ["tue_simclr", "sn"]}
    cells = load_config(demo(extra=extra)).planner().cells()["extra"]
    assert [(c.poison.run, c.correspondence) for c in cells] == [
        ("emn", "original"),
        ("tue_simclr", "original"),
        ("tue_simclr", "intra"),
        ("tue_simclr", "inter"),
        ("sn", "intra"),
        ("sn", "inter"),
    ]
    assert cells[2].metrics_path.endswith("/synthetic10/tue_simclr/intra/metrics.json")
    assert cells[3].poison.delta_path.endswith("/tue_simclr/inter/perturbation.npz")
    sidecar = "results/demo/perturbations/synthetic10/tue_simclr/delta.json"
    assert {c.run_record()["delta_sidecar"] for c in cells[1:4]} == {sidecar}
    with pytest.raises(ConfigError, match=r"tables.extra.swap_runs: perturbation run 'tue_x'"):
        load_config(demo(extra={"swap_runs": ["tue_x"]}))


def test_extra_clean_rows_name_their_role() -> None:
    cells = load_config(demo(extra={"clean": ["svhn_small"]})).planner().cells()["extra"]
    assert [(c.method, c.protected_dataset, c.poison) for c in cells] == [
        ("clean", "svhn_small", None)
    ]
    assert cells[0].run_record()["delta_sidecar"] == ""


def test_table_seeds_repeat_every_cell_and_keep_the_config_seeds_path() -> None:
    """``seeds: [0, 2]`` with the config's seed 0: each cell twice, once on the plain path."""
    one = load_config(demo(table2={"datasets": ["cifar10"], "runs": ["emn"]}))
    two = load_config(demo(table2={"datasets": ["cifar10"], "runs": ["emn"], "seeds": [0, 2]}))
    plain = one.planner().cells()["table2"]
    repeated = two.planner().cells()["table2"]
    assert len(repeated) == 2 * len(plain) == 6
    assert [c.record()["seed"] for c in repeated] == [None, 2] * 3
    paths = [c.metrics_path for c in repeated]
    assert paths[0::2] == [c.metrics_path for c in plain]  # measured runs are reused
    assert (
        paths[1]
        == "results/demo/eval/supervised/synthetic10/synthetic10/emn/original/seed2/metrics.json"
    )
    assert len(set(paths)) == 6


def test_seeds_without_the_config_seed_repeat_probes_and_clean_cells_on_seed_paths() -> None:
    cells = load_config(demo(table4={"datasets": ["cifar10"], "seeds": [3]})).planner().cells()
    paths = [c.metrics_path for c in cells["table4"]]
    assert paths and all("/seed3/metrics.json" in p for p in paths)
    assert "results/demo/eval/linear_probe/simclr/synthetic10/clean/seed3/metrics.json" in paths
    # tables without seeds are not touched
    assert not any("/seed" in c.metrics_path for c in cells["table6"])


@pytest.mark.parametrize("seeds", [[], [1, 1]])
def test_table_seeds_must_be_distinct_and_non_empty(seeds: list[int]) -> None:
    with pytest.raises(ConfigError, match=r"tables\.table2\.seeds.*distinct seeds"):
        load_config(demo(table2={"runs": ["emn"], "seeds": seeds}))
