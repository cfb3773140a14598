"""The cost model: the jobs it plans are Snakemake's, and its counts match a hand computation."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from paper_grid import DEMO_ALL, PAPER_ALL

from tue_core.config import load_config
from tue_core.data.config import dataset_spec_from_dict
from tue_core.plan.cost import (
    E_FLOP,
    Throughput,
    UnknownSizeError,
    dataset_size,
    forward_flops,
    plan_jobs,
)

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "scale": {"name": "tiny"},
    "output_dir": "results/tiny",
    "datasets": {
        "syn": {
            "source": "synthetic",
            "num_classes": 10,
            "train_per_class": 10,
            "test_per_class": 5,
            "image_size": 16,
        }
    },
    "roles": {"cifar10": "syn"},
    "perturbations": {
        "emn": {
            "method": "emn",
            "batch_size": 32,
            "train_steps": 2,
            "pgd_steps": 3,
            "max_rounds": 4,
            "trainer": {"width": 4},
        },
        "tue_simclr": {
            "method": "tue",
            "backbone": "simclr",
            "batch_size": 32,
            "epochs": 2,
            "train_steps": 2,
            "pgd_steps": 3,
            "surrogate": {"width": 4},
        },
    },
    "evaluation": {
        "supervised": {"epochs": 3, "batch_size": 32, "width": 4},
        "ssl_width": 4,
        "linear_probe": {
            "simclr": {
                "pretrain": {"epochs": 2, "batch_size": 32},
                "probe": {"epochs": 2, "batch_size": 32},
            }
        },
    },
    "tables": {
        "table2": {"datasets": ["cifar10"], "runs": ["emn"]},
        "table3": {"enabled": False},
        "table4": {
            "datasets": ["cifar10"],
            "backbones": ["simclr"],
            "methods": ["TUE"],
            "supervised": False,
        },
        "table5": {"enabled": False, "runs": []},
        "table6": {"enabled": False},
        "figure7": {"enabled": False},
        "tsne": {"enabled": False},
        "figure6": {"enabled": False},
    },
}


@pytest.mark.parametrize(
    ("config", "expected"), [("config.yaml", PAPER_ALL), ("config/demo.yaml", DEMO_ALL)]
)
def test_jobs_are_the_workflow_dag(config: str, expected: dict[str, int]) -> None:
    assert plan_jobs(load_config(ROOT / config)).counts() == expected


def test_tiny_config_hand_counted() -> None:
    plan = plan_jobs(load_config(TINY))
    passes = {job.output.removeprefix("results/tiny/"): job.image_passes for job in plan.jobs}
    # supervised: 3 epochs x (100 train x fwd+bwd 3 + 50 test x fwd 1)
    for corr in ("original", "intra", "inter"):
        assert passes[f"eval/supervised/syn/syn/emn/{corr}/metrics.json"] == 3 * (300 + 50)
    # EMN: 4 rounds x (2 steps x 32 images x 3 + 100 images x PGD-3 x 2 + 100 forwards)
    assert passes["perturbations/syn/emn/delta.npz"] == 4 * (2 * 32 * 3 + 100 * 3 * 2 + 100)
    # TUE-SimCLR (paper mode): 4 batches/epoch (no drop_last) -> 2 PGD passes per epoch;
    # 2 epochs x (100 images x 2 views x 3 + 2 passes x 100 x PGD-3 x 2 views x 2)
    assert passes["perturbations/syn/tue_simclr/delta.npz"] == 2 * (600 + 2 * 100 * 3 * 4)
    # probe: 2 epochs x 3 full batches (drop_last) x 32 x 6, then 2 x 100 + 50 forwards
    for key in ("clean", "syn/tue_simclr/original"):
        assert passes[f"eval/linear_probe/simclr/syn/{key}/metrics.json"] == 2 * 96 * 6 + 250
    assert plan.counts()["swap_perturbation"] == 2
    assert sum(j.image_passes for j in plan.jobs if j.rule.startswith("swap")) == 0


def test_supervised_epochs_of_a_target_are_counted() -> None:
    tiny = copy.deepcopy(TINY)
    tiny["evaluation"]["supervised_epochs"] = {"syn": 5}
    passes = {job.output: job.image_passes for job in plan_jobs(load_config(tiny)).jobs}
    # 5 epochs instead of the recipe's 3: 5 x (100 train x fwd+bwd 3 + 50 test x fwd 1)
    assert passes["results/tiny/eval/supervised/syn/syn/emn/original/metrics.json"] == 5 * 350


def test_paper_grid_total_matches_the_performance_estimate() -> None:
    plan = plan_jobs(load_config(ROOT / "config.yaml"))
    robust = sum(job.flops for job in plan.jobs if job.rule.startswith("evaluate_robust"))
    total = sum(job.flops for job in plan.jobs) - robust
    # performance.md §4.3 estimated ~120k E = 2.0e19 FLOP for the paper's grid (~20 EMN rounds)
    assert 0.8e5 < total / E_FLOP < 1.6e5
    # beyond the paper: 80 more 200-epoch runs, PGD-10 adversarial training 11x a plain one
    assert 0.2 * total < robust < total


def test_forward_flops_match_the_measured_resnet18() -> None:
    assert forward_flops(64, 32) == pytest.approx(1.111e9, rel=0.01)  # performance.md §4.1
    assert forward_flops(16, 32) == pytest.approx(0.070e9, rel=0.02)


def test_dataset_sizes() -> None:
    spec = dataset_spec_from_dict({"source": "cifar10", "max_train_per_class": 500})
    assert (dataset_size(spec).train, dataset_size(spec).test) == (5000, 10000)
    small = dataset_spec_from_dict({"source": "svhn_small"})
    assert dataset_size(small).train == 49607  # TUE's SVHN-small (spec §2.8)
    digits = dataset_size(dataset_spec_from_dict({"source": "digits", "image_size": 16}))
    assert digits.train + digits.test == 1797 and digits.image_size == 16


def test_hours_from_a_measured_json(tmp_path: Path) -> None:
    record = {
        "settings": {"width": 4, "image_size": 16},
        "machine": {"device": "cpu", "processor": "x", "threads": 1, "torch": "t"},
        "loops": {"supervised": {"ours": {"per_second": 100.0}}},
    }
    path = tmp_path / "speed.json"
    path.write_text(json.dumps(record))
    throughput = Throughput.from_speed_json(path)
    job = next(
        j for j in plan_jobs(load_config(TINY)).jobs if j.rule == "evaluate_supervised_poisoned"
    )
    train = [w for w in job.work if w.kind == "supervised_train"]
    assert throughput.hours(train) == pytest.approx(300 / 100 / 3600)  # 300 images at 100/s
    assumed = Throughput.assumed_gpu(100.0)
    assert not assumed.measured and "ASSUMED" in assumed.label
    assert assumed.hours(train) == pytest.approx(train[0].flops / 100e12 / 3600)


def _absent_folder_config(tmp_path: Path) -> dict:
    """TINY with its dataset an image folder that is not there (as in a fresh clone)."""
    raw = copy.deepcopy(TINY)
    raw["scale"] = {"name": "absent"}
    missing = tmp_path / "no" / "photos"
    raw["datasets"] = {"photos": {"source": "imagefolder", "root": str(missing), "image_size": 16}}
    raw["roles"] = {"cifar10": "photos"}
    return raw


def test_an_absent_image_folder_names_its_dataset(tmp_path: Path) -> None:
    cfg = load_config(_absent_folder_config(tmp_path))
    with pytest.raises(UnknownSizeError, match=r"point datasets\.photos\.root at a copy"):
        plan_jobs(cfg)
    plan = plan_jobs(cfg, allow_unknown=True)
    assert plan.counts() == plan_jobs(load_config(TINY)).counts()  # the same jobs, sizes aside
    assert set(plan.unknown) == {"photos"} and "no train/ folder" in plan.unknown["photos"]
    assert not plan.sizes and not any(job.work for job in plan.jobs)
    unknown = {job.rule for job in plan.jobs if job.unknown}
    assert unknown == {rule for rule in plan.counts() if rule.startswith(("gen", "eval"))}


def test_cost_model_prints_a_scale_whose_size_is_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # `benchmarks` is a folder of the checkout
    from benchmarks import cost_model

    known, absent = tmp_path / "tiny.yaml", tmp_path / "absent.yaml"
    known.write_text(json.dumps(TINY))  # JSON is YAML
    absent.write_text(json.dumps(_absent_folder_config(tmp_path)))
    cost_model.main(["--config", str(known), str(absent)])  # no exception
    printed = capsys.readouterr().out
    tiny, rest = printed.split(f"## absent ({absent})")
    assert f"## tiny ({known}): syn 100/50@16px" in tiny and "size unknown" not in tiny
    assert "no train/ folder" in rest and f"set datasets.photos.root in {absent}" in rest
    note = "size unknown: point datasets.photos.root at a copy"
    rows = {line.split(" | ")[0][2:]: line for line in rest.splitlines() if line.startswith("| ")}
    for rule in ("generate_perturbation", "evaluate_supervised_poisoned", "**all (total)**"):
        assert note in rows[rule]
    assert rows["swap_perturbation"] == "| swap_perturbation | 2 | - | - | - | - | - |"
