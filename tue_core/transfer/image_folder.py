"""Reading a data owner's image folder and deciding where its protected copies go.

Layouts (class names = sorted sub-folder names, hidden entries ignored):

* ``root/<class>/**/*.{png,jpg,jpeg,bmp,webp}``;
* ``root/train/<class>/...`` (optionally with ``root/test/...``): only the train split is protected.

Output paths mirror the input relative to ``root`` (``train/`` kept), with the suffix replaced by
``.png`` (lossless, so the perturbation survives): ``root/cat/a.jpg -> out/cat/a.png``. The output
folder may not be the input folder or lie inside it, and two inputs that would share an output
name (``a.jpg`` and ``a.png``) are refused before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass(frozen=True)
class ImageFolder:
    root: Path  # the folder given by the user
    class_root: Path  # root or root/train
    class_names: tuple[str, ...]
    files: tuple[Path, ...]  # relative to root, sorted by class then path
    labels: np.ndarray  # int64 (N,)
    ignored: tuple[Path, ...]  # non-image files, relative to root

    @property
    def layout(self) -> str:
        return "train split" if self.class_root != self.root else "class folders"


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_image_folder(root: str | Path) -> ImageFolder:
    """List the images of ``root`` by class (see the module docstring for the layouts)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"input folder {str(root)!r} does not exist or is not a folder")
    class_root = root / "train" if (root / "train").is_dir() else root
    classes = _visible_dirs(class_root)
    if not classes:
        raise ValueError(
            f"no class folders found in {str(class_root)!r} (expected <root>/<class>/*.png)"
        )
    files: list[Path] = []
    labels: list[int] = []
    ignored: list[Path] = []
    for label, folder in enumerate(classes):
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or any(part.startswith(".") for part in relative.parts):
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES:
                files.append(relative)
                labels.append(label)
            else:
                ignored.append(relative)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {str(class_root)!r}")
    return ImageFolder(
        root,
        class_root,
        tuple(c.name for c in classes),
        tuple(files),
        np.asarray(labels, dtype=np.int64),
        tuple(ignored),
    )


def output_name(relative: Path) -> Path:
    """``cat/a.jpg -> cat/a.png``."""
    return relative.with_suffix(".png")


def check_output_folder(input_root: Path, output_root: Path, overwrite: bool) -> None:
    """Refuse an output folder equal to or inside the input folder, or a non-empty one."""
    source, target = input_root.resolve(), output_root.resolve()
    if target == source or target.is_relative_to(source):
        raise ValueError(
            f"refusing to write into the input folder: output {str(output_root)!r} is "
            f"{'the same folder as' if target == source else 'inside'} input {str(input_root)!r}"
        )
    if output_root.exists() and not output_root.is_dir():
        raise ValueError(f"output {str(output_root)!r} exists and is not a folder")
    if output_root.is_dir() and any(output_root.iterdir()) and not overwrite:
        raise ValueError(f"output folder {str(output_root)!r} is not empty (pass --overwrite)")


def check_output_names(folder: ImageFolder, output_root: Path) -> None:
    """Refuse two inputs with one output name, or an output path that lands in the input folder."""
    seen: dict[Path, Path] = {}
    source = folder.root.resolve()
    for relative in folder.files:
        name = output_name(relative)
        if name in seen:
            raise ValueError(
                f"{str(seen[name])!r} and {str(relative)!r} would both be written as "
                f"{str(name)!r}; rename one of them"
            )
        seen[name] = relative
        if (output_root / name).resolve().is_relative_to(source):
            raise ValueError(
                f"output file {str(output_root / name)!r} would land in the input folder"
            )
