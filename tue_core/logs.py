"""Logging set-up for jobs: one format, to a log file and to stderr."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def log_to(
    path: str | os.PathLike[str] | None, level: int = logging.INFO
) -> Iterator[logging.Logger]:
    """Send ``tue_core`` logging to ``path`` (and stderr) for the duration of the block.

    Exceptions raised inside the block are logged with their traceback before propagating, so a
    failed Snakemake job's log file says why it failed.
    """
    root = logging.getLogger()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, mode="w", encoding="utf-8"))
    previous_level = root.level
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    try:
        yield logging.getLogger("tue_core")
    except BaseException:
        logging.getLogger("tue_core").exception("job failed")
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)
