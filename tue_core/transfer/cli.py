"""``tue-protect``: protect an image folder with an existing perturbation set.

    tue-protect --input photos/ --output photos_protected/ --perturbation tue_cifar10.npz
    tue-protect ... --check   # then measure it: clean vs protected accuracy and a verdict

See :mod:`tue_core.transfer.protect` for what is written and
:mod:`tue_core.transfer.image_folder` for the accepted layouts. Exit status: 0 when every image
was protected, 1 when some files could not be read (the others are written and the unreadable
ones are listed), 2 on bad arguments or a refused output folder (nothing written).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from tue_core import io
from tue_core.perturb.artifact import load_perturbation
from tue_core.transfer.check import CheckConfig, check_can_run, check_protection
from tue_core.transfer.config import AUTO, TransferConfig
from tue_core.transfer.protect import protect_folder
from tue_core.transfer.resize import RESIZE_MODES
from tue_core.transfer.strategies import STRATEGIES

log = logging.getLogger("tue_core.transfer.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tue-protect",
        description="Write unlearnable (protected) PNG copies of an image folder "
        "(root/<class>/*.png|jpg|... or root/train/<class>/...) "
        "using an existing perturbation set.",
    )
    parser.add_argument("-i", "--input", required=True, help="image folder to protect (read only)")
    parser.add_argument("-o", "--output", required=True, help="new folder for the protected copies")
    parser.add_argument("-p", "--perturbation", required=True, help="perturbation set (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the assignment (default 0)")
    parser.add_argument(
        "--strategy",
        default=AUTO,
        choices=[AUTO, *STRATEGIES.names()],
        help="how perturbations are mapped onto the classes (default auto)",
    )
    parser.add_argument(
        "--resize",
        default="bilinear",
        choices=list(RESIZE_MODES),
        help="how a perturbation made at another size is resized to each image (default "
        "bilinear: on a 48-pixel, 5-class set checked at 32 pixels it protected best on average "
        "over TUE, SN and TUE-patch and best for TUE and SN; area was 3 points better for "
        "TUE-patch, within one seed's noise; generating at 48 pixels was worse; "
        "docs/tue-patch.md)",
    )
    parser.add_argument("--quantisation", default="round", choices=["round", "truncate"])
    parser.add_argument("--overwrite", action="store_true", help="allow a non-empty output folder")
    check = parser.add_argument_group(
        "check",
        "--check trains a quick recipe on the clean and on the protected copies and reports "
        "whether the protection removes what it learns (tue_core.transfer.check)",
    )
    check.add_argument("--check", action="store_true", help="measure the protection afterwards")
    check.add_argument("--check-epochs", type=int, default=30, help="epochs per run (default 30)")
    check.add_argument(
        "--check-size", type=int, default=32, help="image size the check trains at (default 32)"
    )
    check.add_argument("--device", default="auto", help="device of the check (auto, cpu, cuda)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def _has_sidecar(path: str) -> bool:
    """Whether ``path`` can be checked against its sidecar's sha256 (a user's own file may not)."""
    if io.sidecar_path(path).is_file() or not os.path.isfile(path):
        return True  # a missing file gets the loader's error
    log.warning("%s has no sidecar %s: its sha256 cannot be checked", path, io.sidecar_path(path))
    return False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    try:
        settings = None
        if args.check:  # refuse what the check cannot measure before anything is written
            settings = CheckConfig(epochs=args.check_epochs, image_size=args.check_size)
            check_can_run(args.input)
        pset = load_perturbation(args.perturbation, verify=_has_sidecar(args.perturbation))
        report = protect_folder(
            args.input,
            args.output,
            pset,
            args.perturbation,
            config=TransferConfig(strategy=args.strategy, resize=args.resize),
            seed=args.seed,
            quantisation=args.quantisation,
            overwrite=args.overwrite,
        )
        if settings is not None:
            result = check_protection(
                args.input, args.output, settings, device=args.device, seed=args.seed
            )
            for line in result.lines():
                print(line)  # the owner's answer, on stdout
    except ValueError as err:  # includes PerturbationFileError and refused folders
        log.error("%s", err)
        return 2
    return 1 if report.unreadable else 0


if __name__ == "__main__":
    raise SystemExit(main())
