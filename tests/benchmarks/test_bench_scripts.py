"""The benchmark scripts' --smoke paths run on the CPU in seconds and write valid JSON.

These check plumbing only; the benchmarks themselves are never timed tests (docs/benchmarks.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _repo_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # `benchmarks` is a folder of the checkout


def test_speed_smoke_writes_every_loop(tmp_path: Path) -> None:
    from benchmarks import speed

    record = json.loads(speed.main(["--smoke", "--out", str(tmp_path / "s.json")]).read_text())
    assert set(record["loops"]) == set(speed.SIDE_BY_SIDE + speed.OURS_ONLY)
    for name in speed.SIDE_BY_SIDE:
        loop = record["loops"][name]
        assert loop["ours"]["per_second"] > 0 and loop["naive"]["per_second"] > 0
        assert loop["ratio_ours_over_naive"] > 0 and loop["flops_per_unit"] > 0
        assert "share_outside_model" in loop["ours"] and "mfu" in loop["ours"]
    assert len(record["machine"]["loadavg_start"]) == 3 and record["matmul"]["flops_per_second"] > 0


def test_gpu_check_smoke_and_cost_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import cost_model, gpu_check

    out = gpu_check.main(
        ["--smoke", "--loops", "supervised", "pgd_ce", "--out", str(tmp_path / "g.json")]
    )
    record = json.loads(out.read_text())
    assert record["smoke"] and set(record["speed"]["loops"]) == {"supervised", "pgd_ce"}
    for name in ("emn", "tue_simclr"):
        assert record["generation_and_evaluation"][name]["generation_seconds"] > 0
    csd = record["csd_pass"]
    assert csd["looped"]["per_second"] > 0 and csd["grouped"]["per_second"] > 0
    assert csd["grouped_speedup"] > 0
    cost_model.main(["--config", "config/demo.yaml", "--gpu", str(out), "--cpu", str(out)])
    printed = capsys.readouterr().out
    assert "measured: g.json" in printed and "**all (total)**" in printed


def test_classwise_random_control_is_one_sign_pattern_per_class() -> None:
    from benchmarks.cpu_calibration import classwise_random_delta

    labels = np.array([0, 1, 2, 0, 1, 2, 2], dtype=np.int64)
    eps = 8 / 255
    delta = classwise_random_delta(labels, (4, 5), eps, seed=3)
    assert delta.shape == (7, 3, 4, 5) and delta.dtype == np.float32
    assert np.allclose(np.abs(delta), eps)  # saturated: every pixel at +-eps
    for c in range(3):  # identical within a class ...
        rows = delta[labels == c]
        assert (rows == rows[0]).all()
    assert (delta[0] != delta[1]).any() and (delta[1] != delta[2]).any()  # ... distinct across
    assert np.array_equal(delta, classwise_random_delta(labels, (4, 5), eps, seed=3))
    assert not np.array_equal(delta, classwise_random_delta(labels, (4, 5), eps, seed=4))


def test_csd_pass_benchmark_writes_both_variants(tmp_path: Path) -> None:
    from benchmarks import csd_pass

    out = csd_pass.main(
        ["--images", "96", "--batch-size", "16", "--steps", "2", "--repeats", "1", "--threads",
         "1", "--out", str(tmp_path / "c.json")]
    )  # fmt: skip
    record = json.loads(out.read_text())
    result = record["result"]
    assert record["kind"] == "csd_pass" and result["images"] == 96
    assert len(result["looped"]["seconds"]) == 1 and len(result["grouped"]["seconds"]) == 1
    assert len(record["machine"]["loadavg_end"]) == 3


def test_tue_effect_smoke_records_every_phase(tmp_path: Path) -> None:
    from benchmarks import tue_effect

    out = tue_effect.main(["--smoke", "--mode", "released", "--out", str(tmp_path / "t.json")])
    record = json.loads(out.read_text())
    assert record["generation_config"]["mode"] == "released"
    assert record["weights_used"] == {"ssl_weight": 0.0, "csd_weight": 0.1}
    assert record["argv"][:2] == ["--smoke", "--mode"]
    assert record["generation"]["schedule"]["s2_uses_network"] is False
    assert record["shortened"]["supervised"]["epochs"] == 1
    for name in ("supervised_poisoned", "supervised_clean"):
        assert len(record[name]["history"]) == 1
    expected = record["supervised_clean"]["final_acc"] - record["supervised_poisoned"]["final_acc"]
    assert record["drop_points"] == pytest.approx(expected, abs=0.01)


def test_tue_effect_refuses_a_run_that_is_not_tue(tmp_path: Path) -> None:
    from benchmarks import tue_effect

    with pytest.raises(SystemExit, match="is emn, not tue"):
        tue_effect.main(["--smoke", "--run", "emn", "--out", str(tmp_path / "t.json")])
    with pytest.raises(SystemExit, match="no perturbation run 'nope'"):
        tue_effect.main(["--smoke", "--run", "nope", "--out", str(tmp_path / "t.json")])
    assert not (tmp_path / "t.json").exists()  # refused before any work or output


def test_generation_cost_times_one_unit_of_each_generator(tmp_path: Path) -> None:
    from benchmarks import generation_cost
    from tue_core.data import load_split
    from tue_core.data.config import SyntheticSpec

    spec = SyntheticSpec(source="synthetic", num_classes=4, train_per_class=32, image_size=16)
    load_split(spec, "train").save(tmp_path / "train.npz")
    out = tmp_path / "cost.json"
    runs = ["emn", "sn", "tue_simclr", "ucl_moco"]
    argv = ["--data", str(tmp_path / "train.npz"), "--config", str(ROOT / "config/demo.yaml")]
    assert (
        generation_cost.main([*argv, "--runs", *runs, "--fraction", "0.5", "--out", str(out)]) == 0
    )
    result = json.loads(out.read_text())
    assert result["images"] == 128 and set(result["runs"]) == set(runs)
    emn, tue = result["runs"]["emn"], result["runs"]["tue_simclr"]
    assert emn["unit"] == "round" and emn["measured_rows"] == 64
    assert emn["seconds_per_unit"] >= emn["noise_pass_seconds"] > 0
    assert tue["unit"] == "noise pass" and tue["surrogate_trained"] and tue["model_steps"] == 2
    assert tue["units_in_schedule"] == 1  # demo: 1 epoch of 2 batches, 3 steps per pass


def test_owner_scale_protects_and_checks_each_pair_training_the_clean_run_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from benchmarks import owner_scale
    from tue_core.perturb.artifact import PerturbationSet
    from tue_core.perturb.registry import GenerationResult

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in ("cat", "dog"):
            folder = tmp_path / "cifar" / split / name
            folder.mkdir(parents=True)
            for k in range(5):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{k:04d}.jpg")
    labels = np.arange(20) % 4
    delta = (np.sign(rng.standard_normal((4, 3, 32, 32))) * 8 / 255)[labels].astype(np.float32)
    pset = PerturbationSet(delta=delta, labels=labels, eps=8 / 255, norm="linf")
    meta = {
        "csd_whole_set": 0.0,
        "linear_separability": {},
        "losses": {},
        "device": "cpu",
        "runtime_seconds": 0.0,
    }
    GenerationResult(pset=pset, meta=meta, config={}).save(tmp_path / "delta.npz")
    calls = []
    real = owner_scale.train_supervised
    monkeypatch.setattr(
        owner_scale, "train_supervised", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    out = tmp_path / "owner.json"
    argv = (
        [
            "--cifar", str(tmp_path / "cifar"),
            "--perturbation", f"cw={tmp_path / 'delta.npz'}",
            "--resize", "bilinear", "nearest",
            "--classes", "cat", "dog",
            "--train-per-class", "3", "--test-per-class", "2",
            "--size", "40", "--epochs", "1",
            "--work", str(tmp_path / "work"), "--out", str(out),
        ]
    )  # fmt: skip
    owner_scale.main(argv)
    record = json.loads(out.read_text())
    assert [(r["perturbation"], r["resize"]) for r in record["rows"]] == [
        ("cw", "bilinear"),
        ("cw", "nearest"),
    ]
    assert len(calls) == 3  # one clean run, shared, and one protected run per pair
    first, second = record["rows"]
    assert first["clean_final"] == second["clean_final"] and "verdict" in first
    again = tmp_path / "again.json"
    owner_scale.main([*argv[:-1], str(again)])  # a later invocation reuses the stored runs
    assert len(calls) == 3 and json.loads(again.read_text())["rows"] == [
        {**row, "seconds": new["seconds"]}
        for row, new in zip(record["rows"], json.loads(again.read_text())["rows"], strict=True)
    ]
    owner = tmp_path / "work" / "owner"
    assert (
        len(list(owner.glob("train/*/*.png"))) == 6 and len(list(owner.glob("test/*/*.png"))) == 4
    )
    with Image.open(next(owner.glob("train/cat/*.png"))) as image:
        assert image.size == (40, 40)
    # the third way: a perturbation generated at the owner's size (demo's tue_patch, 4x4 blocks)
    native = tmp_path / "native.json"
    generated = ["--generate", "patch=tue_patch", "--config", str(ROOT / "config/demo.yaml")]
    owner_scale.main([*argv[:-1], str(native), *generated, "--generate-per-class", "3"])
    row = json.loads(native.read_text())["rows"][-1]
    assert (row["perturbation"], row["resize"]) == ("patch", "none")
    made = np.load(tmp_path / "work" / "generated-patch-40px.npz")["delta"]
    assert made.shape == (6, 3, 40, 40)
