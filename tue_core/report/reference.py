"""Reference results: a scale's small outputs, copied where git keeps them.

``results/<scale>/`` holds arrays (prepared datasets, perturbations) that are far too large to
commit. What a reader needs to check or cite a run is small: the tables, every evaluation's
metrics JSON and per-epoch history, every perturbation's sidecar (schedule, losses, whole-set
CSD, linear separability, timings), the per-job benchmark TSVs and the figures. This module
copies exactly those into ``reference_results/<scale>/`` (each file atomically) and writes a
``MANIFEST.json``: the code version that made each file, the file list and the wall time per
rule, summed from Snakemake's benchmark files.

``python -m tue_core.report.reference --results results/cifar10-cpu-full
--out reference_results/cifar10-cpu-full``

With ``--partial CONFIG`` the tables are first rebuilt from whatever metrics exist (cells not run
yet read ``missing``), so a grid spread over several sittings can be reported part-way; the
manifest then says ``"partial": true``. On a fresh machine, ``--restore`` copies the committed
evaluation metrics back into the results folder and ``--missing CONFIG`` prints the metrics files
still to make, in table order, as Snakemake targets for the next sitting:

    python -m tue_core.report.reference --restore --results R --out reference_results/X
    snakemake --cores 2 $(python -m tue_core.report.reference --missing config/X.yaml \
        --results R --out reference_results/X) --configfile config/X.yaml
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tue_core import io

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

# (folder under results/<scale>, glob, largest size a file may have to be copied)
COPIED: tuple[tuple[str, str, int], ...] = (
    ("tables", "*.csv", 1 << 20),
    ("tables", "*.md", 1 << 20),
    ("tables", "*.tex", 1 << 20),
    ("eval", "**/metrics.json", 1 << 20),
    ("eval", "**/metrics.history.jsonl", 1 << 20),
    ("perturbations", "*/*/delta.json", 4 << 20),
    ("variants", "**/perturbation.json", 4 << 20),
    ("benchmarks", "**/*.tsv", 1 << 20),
    ("figures", "*.png", 2 << 20),
    (".", "report.md", 1 << 20),
)


class ReferenceError(ValueError):
    """The results folder cannot be exported (absent, empty, or holding an oversized file)."""


def files_to_copy(results: Path) -> list[Path]:
    """Every file of :data:`COPIED` under ``results``, relative to it, sorted."""
    if not results.is_dir():
        raise ReferenceError(f"{results}: no such results folder (run the scale first)")
    found: set[Path] = set()
    for folder, pattern, limit in COPIED:
        base = results / folder
        for path in base.glob(pattern) if base.is_dir() else []:
            if not path.is_file() or ".tmp" in path.name:
                continue
            if path.stat().st_size > limit:
                raise ReferenceError(
                    f"{path}: {path.stat().st_size} bytes is over the {limit}-byte limit for "
                    f"{folder}/{pattern}; reference results hold small files only"
                )
            found.add(path.relative_to(results))
    if not any(p.parts[0] in ("eval", "tables") for p in found):
        raise ReferenceError(f"{results}: no evaluation metrics or tables to export")
    return sorted(found)


def rule_wall_times(results: Path, files: Iterable[Path]) -> dict[str, dict[str, float]]:
    """Per rule folder of ``benchmarks/`` (data, perturbations, eval/...): job count and seconds."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: {"jobs": 0, "seconds": 0.0})
    for rel in files:
        if rel.parts[0] != "benchmarks" or rel.suffix != ".tsv":
            continue
        with open(results / rel, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        kind = "/".join(rel.parts[1:3]) if rel.parts[1] == "eval" else rel.parts[1]
        totals[kind]["jobs"] += 1
        totals[kind]["seconds"] += sum(float(row["s"]) for row in rows)
    return {
        k: {"jobs": int(v["jobs"]), "seconds": round(v["seconds"], 1)} for k, v in totals.items()
    }


def _code_versions(results: Path, files: Iterable[Path]) -> list[str]:
    versions = set()
    for rel in files:
        if rel.suffix == ".json":
            data = io.read_json(results / rel)
            if isinstance(data, dict) and data.get("code_version"):
                versions.add(str(data["code_version"]))
    return sorted(versions)


def export_reference(
    results: PathLike, out: PathLike, *, note: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Copy the small outputs of ``results`` into ``out`` and write ``out/MANIFEST.json``.

    Files already in ``out`` that the results no longer hold are left alone; every copied file
    is replaced atomically, so an interrupted export never leaves a half-written file.
    """
    results, out = Path(results), Path(out)
    files = files_to_copy(results)
    for rel in files:
        io.atomic_write_bytes(out / rel, (results / rel).read_bytes())
    manifest = {
        "results": str(results),
        "code_versions": _code_versions(results, files),
        "exported_by": io.code_version(),
        "rule_wall_seconds": rule_wall_times(results, files),
        "files": [str(p) for p in files],
        **(note or {}),
    }
    io.atomic_write_json(out / "MANIFEST.json", manifest)
    log.info("exported %d files from %s to %s", len(files), results, out)
    return manifest


def partial_tables(config_path: PathLike, results: PathLike) -> list[Path]:
    """Rebuild ``<results>/tables/`` from the metrics that exist (see the module docstring)."""
    from tue_core.config import load_config
    from tue_core.report.build import table_job
    from tue_core.report.extra import write_extra_table
    from tue_core.report.robustness import defense_records, robustness_job
    from tue_core.report.scale import scale_summary

    cfg = load_config(config_path)
    if Path(cfg.output_dir) != Path(results):
        raise ReferenceError(
            f"{config_path}: its output_dir {cfg.output_dir!r} is not the results folder {results}"
        )
    out = Path(results) / "tables"
    scale = scale_summary(cfg)
    written = []
    for name, cells in cfg.planner().cells().items():
        if name.startswith("table"):
            table_job(name, [c.record() for c in cells], out, scale, missing_ok=True)
            written.append(out / f"{name}.csv")
        elif name == "extra" and cells:
            write_extra_table([c.run_record() for c in cells], out, scale)
            written.append(out / "extra.csv")
    robust = cfg.planner().robustness()
    if robust:
        figure = Path(results) / "figures" / "robustness"
        robustness_job([c.record() for c in robust], defense_records(cfg), out, figure, scale)
        written.append(out / "robustness.csv")
    return written


def restore_metrics(reference: PathLike, results: PathLike) -> list[Path]:
    """Copy the committed evaluation metrics (and histories) of ``reference`` into ``results``
    where ``results`` lacks them; returns what was restored (nothing is overwritten)."""
    reference, results = Path(reference), Path(results)
    restored = []
    for pattern in ("eval/**/metrics.json", "eval/**/metrics.history.jsonl"):
        for path in sorted(reference.glob(pattern)):
            target = results / path.relative_to(reference)
            if not target.exists():
                io.atomic_write_bytes(target, path.read_bytes())
                restored.append(target)
    return restored


def missing_metrics(config_path: PathLike) -> list[str]:
    """The metrics files of every enabled table not made yet, in table order, deduplicated."""
    from tue_core.config import load_config
    from tue_core.plan.cells import unique

    cfg = load_config(config_path)
    cells = [c for table in cfg.planner().cells().values() for c in table]
    paths = unique([c.metrics_path for c in [*cells, *cfg.planner().robustness()]])
    return [p for p in paths if not Path(p).exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="a scale's output_dir, e.g. results/x")
    parser.add_argument("--out", required=True, help="where to copy, e.g. reference_results/x")
    parser.add_argument(
        "--run-wall-seconds",
        type=float,
        help="wall time of the snakemake run that produced the results, recorded as given",
    )
    parser.add_argument(
        "--partial",
        metavar="CONFIG",
        help="rebuild the tables from the metrics that exist first (unrun cells: missing)",
    )
    parser.add_argument(
        "--restore", action="store_true", help="copy committed metrics back into --results, stop"
    )
    parser.add_argument(
        "--missing", metavar="CONFIG", help="print the metrics files still to make, stop"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.restore:
        log.info("restored %d files", len(restore_metrics(args.out, args.results)))
        return 0
    if args.missing:
        print("\n".join(missing_metrics(args.missing)))
        return 0
    seconds = args.run_wall_seconds
    note: dict[str, Any] = {} if seconds is None else {"last_run_wall_seconds": seconds}
    try:
        if args.partial:
            partial_tables(args.partial, args.results)
            note["partial"] = True
        export_reference(args.results, args.out, note=note)
    except ReferenceError as err:
        parser.exit(2, f"error: {err}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
