"""Cost model: every job the workflow plans for a config, its model work, FLOPs and hours.

Jobs are enumerated from the same :class:`~tue_core.plan.cells.Planner` the Snakefile uses
(``rules/common.smk``): one evaluation job per distinct metrics path, one generation per
(dataset, run) some poison or figure needs, one swap/transfer per variant poison, one
``prepare_dataset`` per dataset used, and the report rules. Each job's model work is counted from
its resolved config as *units* of a loop kind (images for training and forward passes,
image-steps for PGD), and each kind has a cost in forward-pass equivalents per unit:

============================  ====  =====================================================
kind                          fwd   why
============================  ====  =====================================================
``forward``                   1     test pass, EMN's accuracy check, probe feature pass
``supervised_train``          3     forward + backward (input and weight grads, 2x fwd)
``pgd_ce``                    2     forward + input gradient (weights frozen)
``ssl_train:simclr|simsiam``  6     two views, each forward + backward
``ssl_train:moco``            4     query forward + backward, key forward (x2 symmetric)
``pgd_ssl:<backbone>``        4     two views, each forward + input gradient (MoCo
                                    without ``k_grad``: 3)
``csd``                       0     TUE released mode: CSD on delta alone, no network
============================  ====  =====================================================

FLOPs are those factors times the backbone's measured forward FLOPs at the job's width and image
size (``torch.utils.flop_counter``; heads and losses are < 2% at width 64 and ignored). Hours come
from a :class:`Throughput`: the effective FLOP rate of each loop kind, measured by
``benchmarks/speed.py`` / ``benchmarks/gpu_check.py`` (kept across widths, i.e. the same FLOP
utilisation is assumed), or an explicitly labelled assumption.

EMN's stop is data-driven (99% train accuracy); it is counted as ``min(max_rounds, emn_rounds)``
rounds with ``emn_rounds = 20`` by default (performance.md §3.1's assumption).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tue_core.data.base import prepared_path
from tue_core.plan.cells import Poison, unique

FWD_FACTORS: dict[str, float] = {
    "forward": 1.0,
    "supervised_train": 3.0,
    "pgd_ce": 2.0,
    "ssl_train:simclr": 6.0,
    "ssl_train:simsiam": 6.0,
    "ssl_train:moco": 4.0,
    "pgd_ssl:simclr": 4.0,
    "pgd_ssl:simsiam": 4.0,
    "pgd_ssl:moco": 4.0,
    "csd": 0.0,
}
EMN_ROUNDS_ASSUMED = 20  # performance.md §3.1: "~20 rounds (an assumption)"
# performance.md §0 / §4.3: ~175 TFLOP/s effective (~50k img/s ResNet-18 training) on an H200,
# an estimate from published A100 figures; no GPU has measured this project's loops.
ASSUMED_GPU_TFLOPS = 175.0
E_FLOP = 50_000 * 3.329e9  # performance.md's unit "E": one fwd+bwd epoch of 50k images at width 64

# torchvision's train/test splits (per class, label order); SVHN's are the standard statistics
# of the .mat files (label 10 = digit 0 mapped to 0), as spec §2.8 lists them.
_SVHN_TRAIN = (4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659)
_SVHN_TEST = (1744, 5099, 4149, 2882, 2523, 2384, 1977, 2019, 1660, 1595)
_TORCHVISION = {
    "cifar10": ((5000,) * 10, (1000,) * 10),
    "cifar100": ((500,) * 100, (100,) * 100),
    "svhn": (_SVHN_TRAIN, _SVHN_TEST),
}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


# --------------------------------------------------------------------------- dataset sizes
@dataclass(frozen=True)
class DataSize:
    train: int
    test: int
    image_size: int


def _capped(counts: Iterable[int], cap: int | None) -> int:
    return sum(c if cap is None else min(c, cap) for c in counts)


def _folder_counts(root: Path) -> list[int]:
    """Images per class folder of ``root`` (``root/<class>/*.<image suffix>``)."""
    return [
        sum(1 for f in d.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)
        for d in sorted(root.iterdir())
        if d.is_dir()
    ]


def _digits_counts(spec: Any) -> tuple[list[int], list[int]]:
    from sklearn.datasets import load_digits

    from tue_core.data.digits import stratified_split

    labels = load_digits().target
    split = stratified_split(labels, spec.test_fraction, spec.split_seed)
    per_class = [
        [int((labels[split[part]] == c).sum()) for c in range(10)] for part in ("train", "test")
    ]
    return per_class[0], per_class[1]


def _class_indices(spec: Any) -> list[int]:
    """``spec.classes`` as indices into the source's class order (names need a known order)."""
    if all(isinstance(c, int) for c in spec.classes):
        return list(spec.classes)
    if spec.source == "imagefolder":
        names = sorted(d.name for d in (Path(spec.root) / "train").iterdir() if d.is_dir())
    elif spec.source == "digits":
        names = [str(d) for d in range(10)]
    elif spec.source == "synthetic":
        names = [f"class{c:02d}" for c in range(spec.num_classes)]
    else:
        raise UnknownSizeError(
            f"{spec.source}: class names are known only once prepared; give classes as indices"
        )
    unknown = [c for c in spec.classes if isinstance(c, str) and c not in names]
    if unknown:
        raise ValueError(f"classes {unknown} are not classes of {spec.source}; valid: {names}")
    return [c if isinstance(c, int) else names.index(c) for c in spec.classes]


class UnknownSizeError(ValueError):
    """A dataset whose image counts cannot be known here (an image folder that is absent)."""


def dataset_size(spec: Any) -> DataSize:
    """Train/test image counts and image size of a dataset spec, without loading its images.

    Raises:
        UnknownSizeError: an image folder whose ``root`` has no ``train/`` folder here.
    """
    source = spec.source
    if source in _TORCHVISION or source == "svhn_small":
        train, test = _TORCHVISION["svhn" if source == "svhn_small" else source]
        if source == "svhn_small":
            train = tuple(min(c, spec.cap_per_class) for c in train)
        size, train_n, test_n = 32, train, test
    elif source == "synthetic":
        size = spec.image_size
        train_n = (spec.train_per_class,) * spec.num_classes
        test_n = (spec.test_per_class,) * spec.num_classes
    elif source == "digits":
        size, (train_n, test_n) = spec.image_size, _digits_counts(spec)
    elif source == "imagefolder":
        root = Path(spec.root)
        if not (root / "train").is_dir():
            raise UnknownSizeError(f"image folder {root} has no train/ folder here")
        size, train_n = spec.image_size, _folder_counts(root / "train")
        test_n = _folder_counts(root / "test") if (root / "test").is_dir() else [0]
    else:  # pragma: no cover - the config's Literal rejects other sources
        raise ValueError(f"unknown dataset source {source!r}")
    if getattr(spec, "classes", None) is not None:
        index = _class_indices(spec)
        train_n, test_n = [train_n[i] for i in index], [test_n[i] for i in index]
    return DataSize(
        train=_capped(train_n, spec.max_train_per_class),
        test=_capped(test_n, spec.max_test_per_class),
        image_size=size,
    )


# --------------------------------------------------------------------------- work and jobs
@cache
def forward_flops(width: int, image_size: int, arch: str = "resnet18") -> float:
    """FLOPs of one image's forward pass through ``arch`` at ``width`` (flop counter, batch 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tue_core.models import build_model

    model = build_model(arch, 10, width).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(2, 3, image_size, image_size))
    return counter.get_total_flops() / 2


@dataclass(frozen=True)
class Work:
    """``units`` of loop ``kind`` at ``width`` / ``image_size`` (``fwd`` forward passes each)."""

    kind: str
    units: float
    width: int
    image_size: int
    fwd: float
    arch: str = "resnet18"

    @property
    def image_passes(self) -> float:
        """Forward-pass equivalents."""
        return self.units * self.fwd

    @property
    def flops(self) -> float:
        return self.image_passes * forward_flops(self.width, self.image_size, self.arch)


def work(
    kind: str,
    units: float,
    width: int,
    image_size: int,
    fwd: float | None = None,
    arch: str = "resnet18",
) -> Work:
    factor = FWD_FACTORS[kind] if fwd is None else fwd
    return Work(kind, float(units), width, image_size, factor, arch)


@dataclass(frozen=True)
class Job:
    """One job of ``rule`` writing ``output``; ``unknown``: dataset keys whose size is unknown
    (then ``work`` is empty although the job has model work)."""

    rule: str
    output: str
    work: tuple[Work, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def image_passes(self) -> float:
        return sum(w.image_passes for w in self.work)

    @property
    def flops(self) -> float:
        return sum(w.flops for w in self.work)


def steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    full, rest = divmod(n, batch_size)
    return full if drop_last or rest == 0 else full + 1


def _moco_fwd(ssl: Any, pgd: bool, target_grad: bool = True) -> float:
    """MoCo's forward equivalents per image: query + key branch, doubled when symmetric."""
    per_pair = (2.0 + (2.0 if target_grad else 1.0)) if pgd else 4.0
    return per_pair * (2 if getattr(ssl, "symmetric", False) else 1)


def supervised_work(cfg: Any, size: DataSize) -> tuple[Work, ...]:
    """``evaluate_supervised``: every epoch trains on the set and tests on the clean test set."""
    return (
        work("supervised_train", cfg.epochs * size.train, cfg.width, size.image_size),
        work("forward", cfg.epochs * size.test, cfg.width, size.image_size),
    )


def robust_work(cfg: Any, size: DataSize, defense: Any, model: str) -> tuple[Work, ...]:
    """``evaluate_robust``: the supervised recipe with ``model`` under ``defense`` (None: none).

    Adversarial training adds ``steps`` forward+backward passes per training image (one PGD step
    costs about one training step); UEraser's max-loss selection adds ``repeats`` forward passes
    per image in its adversarial epochs (a forward is a third of a training step); the rest cost
    no model work. ``epochs_factor`` (UEraser-Max) lengthens training.
    """
    epochs = max(1, round(getattr(defense, "epochs_factor", 1.0) * cfg.epochs))
    extra = 0.0
    if defense is not None and defense.name == "adversarial_training":
        extra = float(defense.steps)
    elif defense is not None and defense.name == "ueraser":
        share = defense.adversarial_epochs_in(epochs) / epochs
        extra = share * defense.repeats / FWD_FACTORS["supervised_train"]
    train = work("supervised_train", epochs * size.train * (1 + extra), cfg.width, size.image_size)
    test = work("forward", epochs * size.test, cfg.width, size.image_size)
    return (
        dataclasses.replace(train, arch=model),
        dataclasses.replace(test, arch=model),
    )


def probe_work(backbone: str, setup: Any, width: int, size: DataSize) -> tuple[Work, ...]:
    """``evaluate_linear_probe``: SSL pre-training, then the probe's forward passes."""
    pre = setup.pretrain
    seen = (
        steps_per_epoch(size.train, pre.batch_size, pre.drop_last) * pre.batch_size
        if pre.drop_last
        else size.train
    )
    fwd = _moco_fwd(setup.ssl, pgd=False) if backbone == "moco" else None
    probe = setup.probe
    probe_images = size.train if probe.augment == "none" else probe.epochs * size.train
    return (
        work(f"ssl_train:{backbone}", pre.epochs * seen, width, size.image_size, fwd),
        work("forward", probe_images + size.test, width, size.image_size),
    )


def emn_work(cfg: Any, size: DataSize, emn_rounds: int) -> tuple[Work, ...]:
    """Rounds of (train_steps model steps, a PGD pass over the set, an accuracy pass)."""
    rounds, width, px = min(cfg.max_rounds, emn_rounds), cfg.trainer.width, size.image_size
    return (
        work("supervised_train", rounds * cfg.train_steps * cfg.batch_size, width, px),
        work("pgd_ce", rounds * size.train * cfg.pgd_steps, width, px),
        work("forward", rounds * size.train, width, px),
    )


def ssl_minmin_work(cfg: Any, size: DataSize) -> tuple[Work, ...]:
    """UCL/TUE (Eq. 6): per epoch, every model-phase batch (unless S1 is skipped, see
    ``train_surrogate``) plus ceil(batches / train_steps) PGD passes over the whole set
    (``tue_core.perturb.ssl_minmin``)."""
    batches = steps_per_epoch(size.train, cfg.batch_size, cfg.drop_last)
    seen = batches * cfg.batch_size if cfg.drop_last else size.train
    passes = math.ceil(batches / cfg.train_steps)
    width, px, backbone = cfg.surrogate.width, size.image_size, cfg.backbone
    uses_network = cfg.s2_uses_network()
    ssl = cfg.ssl_config()
    train_fwd = _moco_fwd(ssl, pgd=False) if backbone == "moco" else None
    pgd_units = cfg.epochs * passes * size.train * cfg.pgd_steps
    if uses_network:
        pgd_fwd = _moco_fwd(ssl, True, cfg.pgd_target_grad) if backbone == "moco" else None
        pgd = work(f"pgd_ssl:{backbone}", pgd_units, width, px, pgd_fwd)
    else:
        pgd = work("csd", pgd_units, width, px)
    if not cfg.trains_surrogate():  # S1 skipped (CSD-only S2): no surrogate training at all
        return (pgd,)
    return (work(f"ssl_train:{backbone}", cfg.epochs * seen, width, px, train_fwd), pgd)


_MODEL_METHODS = ("emn", "ucl", "tue", "tue_patch")  # SN: closed form on the CPU, no model work


def generation_work(cfg: Any, size: DataSize, emn_rounds: int) -> tuple[Work, ...]:
    if cfg.method == "emn":
        return emn_work(cfg, size, emn_rounds)
    if cfg.method in ("ucl", "tue", "tue_patch"):
        return ssl_minmin_work(cfg, size)
    return ()


def figure_poisons(cfg: Any) -> list[Poison]:
    """Perturbations the t-SNE and sample figures read (as ``tsne_panels``/``figure6_*`` in
    ``rules/common.smk`` derive them)."""
    planner, roles, out = cfg.planner(), cfg.roles, []
    tsne, fig6 = cfg.tables.tsne, cfg.tables.figure6
    if tsne.enabled:
        home = roles[tsne.dataset]
        runs = unique([*tsne.figure3_runs, *tsne.figure5_runs])
        out += [planner.poison(home, home, run) for run in runs]
        out += [planner.poison(roles[t], home, tsne.figure4_run) for t in tsne.figure4_targets]
    if fig6.enabled:
        home = roles[fig6.dataset]
        out += [planner.poison(home, home, run) for run in fig6.runs]
    return out


@dataclass
class Plan:
    """The jobs of ``all`` for one config, grouped by rule.

    ``unknown``: dataset key -> why its size cannot be known here (only with
    ``plan_jobs(..., allow_unknown=True)``); those keys are missing from ``sizes``.
    """

    scale: str
    jobs: list[Job] = field(default_factory=list)
    sizes: dict[str, DataSize] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)

    def by_rule(self) -> dict[str, list[Job]]:
        out: dict[str, list[Job]] = {}
        for job in self.jobs:
            out.setdefault(job.rule, []).append(job)
        return out

    def counts(self) -> dict[str, int]:
        return {rule: len(jobs) for rule, jobs in self.by_rule().items()}


def _eval_jobs(cfg: Any, cells: list[Any], sizes: dict[str, DataSize]) -> list[Job]:
    jobs, seen = [], set()
    for cell in cells:
        if cell.metrics_path in seen:
            continue
        seen.add(cell.metrics_path)
        kind = "clean" if cell.poison is None else "poisoned"
        size = sizes.get(cell.target)
        protocol = "supervised" if cell.evaluation == "supervised" else "linear_probe"
        repeat = "" if cell.seed is None else "_seeded"
        rule = f"evaluate_{protocol}_{kind}{repeat}"
        if size is None:
            jobs.append(Job(rule, cell.metrics_path, unknown=(cell.target,)))
        elif cell.evaluation == "supervised":
            supervised = cfg.evaluation.supervised_for(cell.target)
            jobs.append(Job(rule, cell.metrics_path, supervised_work(supervised, size)))
        else:
            setup = cfg.evaluation.linear_probe[cell.probe_backbone]
            done = probe_work(cell.probe_backbone, setup, cfg.evaluation.ssl_width, size)
            jobs.append(Job(rule, cell.metrics_path, done))
    return jobs


def _robust_jobs(
    cfg: Any, cells: list[Any], sizes: dict[str, DataSize], counted: set[str]
) -> list[Job]:
    """The robustness grid's jobs not in ``counted`` (the paper tables' outputs): its cells
    without a defense on the recipe's model are plain supervised evaluations."""
    jobs, seen = [], set(counted)
    for cell in cells:
        if cell.metrics_path in seen:
            continue
        seen.add(cell.metrics_path)
        kind = "clean" if cell.poison is None else "poisoned"
        rule = f"evaluate_{'supervised' if cell.shared else 'robust'}_{kind}"
        size = sizes.get(cell.target)
        if size is None:
            jobs.append(Job(rule, cell.metrics_path, unknown=(cell.target,)))
            continue
        defense = None if cell.shared else cfg.defenses.get(cell.defense)
        done = robust_work(cfg.evaluation.supervised_for(cell.target), size, defense, cell.model)
        jobs.append(Job(rule, cell.metrics_path, done))
    return jobs


def _report_jobs(cfg: Any, tables: list[str]) -> list[Job]:
    out = cfg.output_dir.rstrip("/")
    jobs = [Job("table", f"{out}/tables/{t}.csv") for t in tables if t.startswith("table")]
    if "extra" in tables and cfg.tables.extra.runs:
        jobs.append(Job("extra_table", f"{out}/tables/extra.csv"))
    if cfg.planner().robustness():
        jobs.append(Job("robustness_table", f"{out}/tables/robustness.csv"))
    if "figure7" in tables:
        jobs += [Job("figure_bars", f"{out}/figures/figure{n}.png") for n in (1, 7)]
    if cfg.tables.tsne.enabled:
        jobs += [Job("figure_tsne", f"{out}/figures/figure{n}.png") for n in (3, 4, 5)]
    if cfg.tables.figure6.enabled:
        jobs.append(Job("figure_samples", f"{out}/figures/figure6.png"))
    return [*jobs, Job("markdown_report", f"{out}/report.md"), Job("all", "all")]


def plan_jobs(
    cfg: Any,
    *,
    emn_rounds: int = EMN_ROUNDS_ASSUMED,
    sizes: dict[str, DataSize] | None = None,
    allow_unknown: bool = False,
) -> Plan:
    """Every job of the ``all`` target of ``cfg`` (an :class:`~tue_core.config.ExperimentConfig`).

    Args:
        emn_rounds: rounds counted for EMN (capped by each run's ``max_rounds``).
        sizes: dataset key -> size; missing keys are computed with :func:`dataset_size`.
        allow_unknown: a dataset whose size cannot be known (an absent image folder) goes to
            ``Plan.unknown`` and its jobs get no work but ``Job.unknown``, instead of raising.

    Raises:
        UnknownSizeError: a dataset's size cannot be known and ``allow_unknown`` is false.
    """
    cells = [c for table in cfg.planner().cells().values() for c in table]
    robust = cfg.planner().robustness()
    poisons = unique(
        [c.poison for c in [*cells, *robust] if c.poison is not None] + figure_poisons(cfg)
    )
    used = unique(
        [c.target for c in [*cells, *robust]]
        + [p.source for p in poisons]
        + [p.target for p in poisons]
        + ([cfg.roles[cfg.tables.figure6.dataset]] if cfg.tables.figure6.enabled else [])
    )
    known = dict(sizes or {})
    sizes, unknown = {}, {}
    for name in used:
        try:
            sizes[name] = known.get(name) or dataset_size(cfg.dataset(name))
        except UnknownSizeError as err:
            if not allow_unknown:
                raise UnknownSizeError(
                    f"{err}; the size of dataset {name!r} is unknown (point "
                    f"datasets.{name}.root at a copy)"
                ) from None
            unknown[name] = str(err)
    out = cfg.output_dir.rstrip("/")
    jobs = [Job("prepare_dataset", prepared_path(out, name)) for name in used]
    for source, run in unique([(p.source, p.run) for p in poisons]):
        output = f"{out}/perturbations/{source}/{run}/delta.npz"
        if source in unknown:
            has_work = cfg.perturbations[run].method in _MODEL_METHODS
            jobs.append(Job("generate_perturbation", output, unknown=(source,) if has_work else ()))
        else:
            done = generation_work(cfg.perturbations[run], sizes[source], emn_rounds)
            jobs.append(Job("generate_perturbation", output, done))
    for p in unique([p for p in poisons if p.is_variant]):
        rule = "swap_perturbation" if p.source == p.target else "transfer_perturbation"
        jobs.append(Job(rule, p.delta_path))
    jobs += _eval_jobs(cfg, cells, sizes)
    jobs += _robust_jobs(cfg, robust, sizes, {job.output for job in jobs})
    jobs += _report_jobs(cfg, list(cfg.planner().cells()))
    return Plan(scale=cfg.scale.name, jobs=jobs, sizes=sizes, unknown=unknown)


# --------------------------------------------------------------------------- throughput
_SPEED_KINDS = {
    "supervised": "supervised_train",
    "forward": "forward",
    "pgd_ce": "pgd_ce",
    **{f"ssl_{b}": f"ssl_train:{b}" for b in ("simclr", "moco", "simsiam")},
    **{f"pgd_ssl_{b}": f"pgd_ssl:{b}" for b in ("simclr", "moco", "simsiam")},
}


@dataclass(frozen=True)
class Throughput:
    """Effective FLOP/s per loop kind on one machine, and where the numbers come from."""

    label: str
    flop_rate: dict[str, float]
    measured: bool

    def rate(self, kind: str) -> float:
        if kind in self.flop_rate:
            return self.flop_rate[kind]
        return min(self.flop_rate.values())  # an unmeasured kind: the slowest measured rate

    def hours(self, items: Iterable[Work]) -> float:
        return sum(w.flops / self.rate(w.kind) for w in items if w.fwd > 0) / 3600

    @classmethod
    def assumed_gpu(cls, tflops: float = ASSUMED_GPU_TFLOPS) -> Throughput:
        label = (
            f"ASSUMED {tflops:g} TFLOP/s effective on one H200 (performance.md §0/§4.3 "
            "estimate, ~50k img/s ResNet-18 training); not measured"
        )
        return cls(label, {kind: tflops * 1e12 for kind in FWD_FACTORS}, measured=False)

    @classmethod
    def from_speed_json(cls, path: str | os.PathLike[str]) -> Throughput:
        """Rates from a ``benchmarks.speed`` record (or a GPU check that embeds one as "speed").

        Each loop's measured units/s times its FLOPs per unit at the benchmark's width gives its
        effective FLOP/s, which is then kept for any width.
        """
        from tue_core import io

        record = io.read_json(path)
        record = record.get("speed", record)
        s = record["settings"]
        fwd = forward_flops(s["width"], s["image_size"])
        rates = {
            _SPEED_KINDS[name]: loop["ours"]["per_second"] * fwd * FWD_FACTORS[_SPEED_KINDS[name]]
            for name, loop in record["loops"].items()
            if name in _SPEED_KINDS
        }
        machine = record["machine"]
        where = machine.get("gpu") or machine.get("processor")
        label = (
            f"measured: {Path(path).name} ({machine['device']} {where}, {machine['threads']} "
            f"threads, width {s['width']}, torch {machine['torch']}; kept per loop kind across widths)"
        )
        return cls(label, rates, measured=True)
