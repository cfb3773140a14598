"""``tue-prepare``: prepare one configured dataset without Snakemake.

tue-prepare --config config/cifar10-cpu.yaml --dataset cifar10 --out results/data/cifar10
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tue_core.config import load_config
from tue_core.data.prepare import prepare_dataset
from tue_core.logs import log_to


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tue-prepare", description=__doc__)
    parser.add_argument("--config", default="config.yaml", help="experiment config (YAML)")
    parser.add_argument("--dataset", required=True, help="a key of the config's `datasets`")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    spec = cfg.dataset(args.dataset)
    outputs = {split: args.out / f"{split}.npz" for split in ("train", "test")}
    with log_to(args.out / "prepare.log"):
        prepare_dataset(
            spec,
            args.dataset,
            {**outputs, "indices": args.out / "train_indices.txt"},
            config=spec.model_dump(),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
