"""Side-by-side speed of our loops against naive public-code-style loops, on one machine, one run.

    python -m benchmarks.speed                      # CPU, width 16, writes benchmarks/results/cpu-speed-w16.json
    python -m benchmarks.speed --smoke --out /tmp/s.json   # seconds: the plumbing only

For each loop (supervised epoch; SSL epoch for SimCLR, MoCo, SimSiam; PGD pass on cross-entropy;
plus ours-only PGD on the SSL loss and the forward test pass, which the cost model needs) it
times ours, the naive reference (``benchmarks.naive``) and the bare model (forward + backward on
tensors made in advance), interleaved, and reports the median images/s, the ratio ours / naive,
the share of each step spent outside the model (``1 - t_bare / t``) and the model FLOP
utilisation against this machine's measured matmul rate. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from tue_core import io
from tue_core.device import resolve_device

from . import harness, naive, ours

log = logging.getLogger("benchmarks.speed")
RESULTS = Path(__file__).resolve().parent / "results"
SIDE_BY_SIDE = ("supervised", "ssl_simclr", "ssl_moco", "ssl_simsiam", "pgd_ce")
OURS_ONLY = ("pgd_ssl_simclr", "pgd_ssl_moco", "pgd_ssl_simsiam", "forward")


@dataclass
class Settings:
    """Sizes of one benchmark run (defaults: the CPU run of docs/benchmarks.md)."""

    width: int = 16
    image_size: int = 32
    images: int = 768  # per supervised / SSL epoch
    pgd_images: int = 256  # per PGD pass
    batch_size: int = 128  # supervised (TUE's evaluation)
    ssl_batch_size: int = 256  # SSL and PGD (512 at paper scale; 256 on the CPU configs)
    pgd_steps: int = 3
    repeats: int = 5
    threads: int = 2
    device: str = "cpu"
    workers: int = 0  # naive DataLoader workers (0 on the CPU: each worker re-imports torch)
    compile: bool = False
    loops: list[str] = field(default_factory=lambda: [*SIDE_BY_SIDE, *OURS_ONLY])


SMOKE = Settings(
    width=4, image_size=16, images=64, pgd_images=32, batch_size=32, ssl_batch_size=32,
    pgd_steps=1, repeats=1, threads=1, loops=[*SIDE_BY_SIDE, *OURS_ONLY],
)  # fmt: skip


def build(name: str, setup: ours.Setup, s: Settings) -> tuple[ours.BenchLoop, Any]:
    """Our loop ``name`` and its naive counterpart (``None`` for the ours-only loops)."""
    if name == "supervised":
        return ours.supervised(setup, s.batch_size), naive.supervised(
            setup, s.batch_size, s.workers
        )
    if name.startswith("ssl_"):
        backbone = name.removeprefix("ssl_")
        return (
            ours.ssl(setup, backbone, s.ssl_batch_size),
            naive.ssl(setup, backbone, s.ssl_batch_size, s.workers),
        )
    if name == "pgd_ce":
        return (
            ours.pgd_ce(setup, s.ssl_batch_size, s.pgd_steps),
            naive.pgd_ce(setup, s.ssl_batch_size, s.pgd_steps, s.workers),
        )
    if name.startswith("pgd_ssl_"):
        return ours.pgd_ssl(
            setup, name.removeprefix("pgd_ssl_"), s.ssl_batch_size, s.pgd_steps
        ), None
    if name == "forward":
        return ours.forward(setup, 1024), None
    raise KeyError(f"unknown loop {name!r}; valid: {', '.join(SIDE_BY_SIDE + OURS_ONLY)}")


def measure(
    bench: ours.BenchLoop, naive_fn: Any, s: Settings, device: torch.device, rate: float
) -> dict[str, Any]:
    """Interleaved timings of ours / bare / naive and the derived ratios for one loop."""
    flops = harness.flops_of(bench.bare_step) / bench.step_work
    variants = {"ours": bench.ours, "bare": bench.bare}
    if naive_fn is not None:
        variants["naive"] = naive_fn
    harness.reset_peak_memory(device)
    samples = harness.interleaved(variants, s.repeats, device)
    out: dict[str, Any] = {
        "unit": bench.unit, "work": bench.work, "batch_size": bench.batch_size,
        "flops_per_unit": flops, "peak_memory_gib": harness.peak_memory_gib(device), **bench.extra,
    }  # fmt: skip
    bare, bare_best = samples["bare"].median, min(samples["bare"].seconds)
    for name, sample in samples.items():
        summary = sample.summary(bench.work)
        summary["mfu"] = round(summary["per_second"] * flops / rate, 4)
        if name != "bare":  # medians (the figure quoted); best-of-N as a check under load
            summary["share_outside_model"] = round(1 - bare / sample.median, 4)
            summary["share_outside_model_best"] = round(1 - bare_best / min(sample.seconds), 4)
        out[name] = summary
    if "naive" in samples:
        out["ratio_ours_over_naive"] = round(samples["naive"].median / samples["ours"].median, 3)
    return out


def run(s: Settings) -> dict[str, Any]:
    """Every loop of ``s.loops``; returns the JSON-ready record."""
    device = resolve_device(s.device)
    torch.set_num_threads(s.threads)
    info = harness.machine_info(device)
    rate = harness.matmul_rate(device)
    setup_of = {
        "images": ours.make_setup(s.images, s.image_size, s.width, device, compile=s.compile),
        "pgd": ours.make_setup(s.pgd_images, s.image_size, s.width, device, compile=s.compile),
    }
    loops: dict[str, Any] = {}
    for name in tqdm(s.loops, desc="loops", disable=None):
        setup = setup_of["pgd" if name.startswith("pgd") else "images"]
        bench, naive_fn = build(name, setup, s)
        loops[name] = measure(bench, naive_fn, s, device, rate["flops_per_second"])
        log.info("%s: %s", name, {k: v for k, v in loops[name].items() if k in ("ours", "naive")})
        del bench, naive_fn
        gc.collect()
    info["loadavg_end"] = list(os.getloadavg())
    return {"settings": asdict(s), "machine": info, "matmul": rate, "loops": loops}


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def table(record: dict[str, Any]) -> str:
    """The Markdown table of docs/benchmarks.md from a record (``—``: no naive counterpart)."""
    rows = [
        "| loop | unit | ours /s | naive /s | ours / naive | ours outside model "
        "| naive outside model | ours MFU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in record["loops"].items():
        nv, ours_ = r.get("naive", {}), r["ours"]
        cells = [
            _cell(ours_["per_second"], ".1f"),
            _cell(nv.get("per_second"), ".1f"),
            _cell(r.get("ratio_ours_over_naive"), ".2f"),
            _cell(ours_["share_outside_model"], ".1%"),
            _cell(nv.get("share_outside_model"), ".1%"),
            _cell(ours_["mfu"], ".1%"),
        ]
        rows.append(f"| {name} | {r['unit']} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> tuple[Settings, Path]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Settings()
    for key, value in asdict(defaults).items():
        if key == "loops":
            parser.add_argument(
                "--loops", nargs="+", default=value, choices=[*SIDE_BY_SIDE, *OURS_ONLY]
            )
        elif isinstance(value, bool):
            parser.add_argument(f"--{key.replace('_', '-')}", action="store_true")
        else:
            parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the plumbing only")
    parser.add_argument("--out", type=Path, default=None)
    args = vars(parser.parse_args(argv))
    smoke, out = args.pop("smoke"), args.pop("out")
    settings = SMOKE if smoke else Settings(**args)
    return (
        settings,
        out
        or RESULTS
        / f"{'smoke' if smoke else settings.device.split(':')[0]}-speed-w{settings.width}.json",
    )


def main(argv: list[str] | None = None) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings, out = parse_args(argv)
    record = run(settings)
    path = io.atomic_write_json(out, record)
    print(table(record))
    print(
        f"load average {record['machine']['loadavg_start']} -> {record['machine']['loadavg_end']}; wrote {path}"
    )
    return path


if __name__ == "__main__":
    main()
