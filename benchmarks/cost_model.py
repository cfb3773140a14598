"""Hours of every rule and of ``all`` at each scale, from measured throughput (``make cost``).

    python -m benchmarks.cost_model                              # the three shipped scales
    python -m benchmarks.cost_model --config config.yaml --jobs  # one scale, every job listed

Jobs and their model work come from :mod:`tue_core.plan.cost` (the planner the Snakefile uses).
CPU hours use ``--cpu`` or, by default, ``benchmarks/results/cpu-speed-w16-t1.json`` (per-thread
rates of every loop; the CPU scales run one thread per job), else ``cpu-speed-w16.json``. GPU
hours use ``--gpu`` or ``benchmarks/results/gpu-check.json`` when one exists, else the labelled
assumption of :meth:`tue_core.plan.cost.Throughput.assumed_gpu`. The defaults are fixed names, not
the newest file: a partial run (e.g. ``--loops pgd_ssl_simclr``) must not stand in for all loops.

A dataset whose size cannot be known here (an image folder that is absent, as in a fresh clone)
does not stop the run: the rules whose work depends on it print "size unknown: point
datasets.<name>.root at a copy" instead of numbers.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tue_core.config import load_config
from tue_core.plan.cost import E_FLOP, EMN_ROUNDS_ASSUMED, Job, Plan, Throughput, plan_jobs

log = logging.getLogger("benchmarks.cost_model")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = (
    "config.yaml",
    "config/demo.yaml",
    "config/cifar10-cpu.yaml",
    "config/cifar10-cpu-full.yaml",
)


DEFAULT_CPU = ("cpu-speed-w16-t1.json", "cpu-speed-w16.json")  # first that exists
DEFAULT_GPU = ("gpu-check.json",)


def first_existing(names: tuple[str, ...]) -> Path | None:
    return next((RESULTS / n for n in names if (RESULTS / n).is_file()), None)


def unknown_note(jobs: list[Job]) -> str | None:
    """``size unknown: point datasets.<name>.root at a copy`` when some job's size is unknown."""
    names = list(dict.fromkeys(name for job in jobs for name in job.unknown))
    if not names:
        return None
    return f"size unknown: point {', '.join(f'datasets.{n}.root' for n in names)} at a copy"


def rule_table(plan: Plan, cpu: Throughput | None, gpu: Throughput) -> str:
    """Markdown: one row per rule and an ``all`` total (a rule with a job whose dataset size is
    unknown, and then the total, says so instead of numbers)."""
    head = "| rule | jobs | G image-passes | PFLOP | E | CPU-h | GPU-h |"
    rows = [head, "|---|---|---|---|---|---|---|"]
    totals = [0, 0.0, 0.0, 0.0, 0.0]
    for rule, jobs in plan.by_rule().items():
        work = [w for job in jobs for w in job.work]
        passes, flops = sum(w.image_passes for w in work), sum(w.flops for w in work)
        cpu_h = cpu.hours(work) if cpu else float("nan")
        values = [len(jobs), passes, flops, cpu_h, gpu.hours(work)]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        note = unknown_note(jobs)
        rows.append(_unknown_row(rule, len(jobs), note) if note else _row(rule, *values))
    note = unknown_note(plan.jobs)
    rows.append(
        _unknown_row("**all (total)**", len(plan.jobs), note)
        if note
        else _row("**all (total)**", *totals)
    )
    return "\n".join(rows)


def _unknown_row(name: str, jobs: int, note: str) -> str:
    return f"| {name} | {jobs} | {note} |" + " |" * 4


def _num(x: float) -> str:
    """Three significant figures, thousands separated; ``-`` for no work."""
    if x != x:  # NaN: no CPU measurement
        return "n/a"
    if x == 0:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _row(name: str, jobs: int, passes: float, flops: float, cpu_h: float, gpu_h: float) -> str:
    cells = [passes / 1e9, flops / 1e15, flops / E_FLOP, cpu_h, gpu_h]
    return f"| {name} | {jobs} | " + " | ".join(_num(c) for c in cells) + " |"


def job_table(plan: Plan, gpu: Throughput) -> str:
    rows = ["| rule | output | PFLOP | GPU-h |", "|---|---|---|---|"]
    for job in plan.jobs:
        if job.unknown:
            rows.append(f"| {job.rule} | {job.output} | {unknown_note([job])} | |")
        elif job.work:
            rows.append(
                f"| {job.rule} | {job.output} | {_num(job.flops / 1e15)} | {_num(gpu.hours(job.work))} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", nargs="+", default=list(CONFIGS))
    parser.add_argument("--cpu", type=Path, default=None, help="a benchmarks.speed JSON")
    parser.add_argument("--gpu", type=Path, default=None, help="a benchmarks.gpu_check JSON")
    parser.add_argument("--emn-rounds", type=int, default=EMN_ROUNDS_ASSUMED)
    parser.add_argument("--jobs", action="store_true", help="also list every job")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    cpu_path = args.cpu or first_existing(DEFAULT_CPU)
    gpu_path = args.gpu or first_existing(DEFAULT_GPU)
    cpu = Throughput.from_speed_json(cpu_path) if cpu_path else None
    gpu = Throughput.from_speed_json(gpu_path) if gpu_path else Throughput.assumed_gpu()
    print(f"CPU-h: {cpu.label if cpu else 'no CPU benchmark JSON found (run make bench)'}")
    print(f"GPU-h: {gpu.label}")
    print(f"EMN counted at min(max_rounds, {args.emn_rounds}) rounds; E = 50k x 3.33 GFLOP.\n")
    for config in args.config:
        plan = plan_jobs(load_config(config), emn_rounds=args.emn_rounds, allow_unknown=True)
        sizes = [f"{k} {v.train}/{v.test}@{v.image_size}px" for k, v in plan.sizes.items()]
        sizes += [f"{k} size unknown" for k in plan.unknown]
        print(f"## {plan.scale} ({config}): {', '.join(sizes)}\n")
        for name, why in plan.unknown.items():
            print(f"{name}: {why}; its size is unknown (set datasets.{name}.root in {config})\n")
        print(rule_table(plan, cpu, gpu), "\n")
        if args.jobs:
            print(job_table(plan, gpu), "\n")


if __name__ == "__main__":
    main()
