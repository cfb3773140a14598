"""The runtime context of one workflow job: logging, CPU threads and a GPU claim, together.

Every ``workflow_scripts/*.py`` adapter runs its one library call inside :func:`job`, so logs go
to the rule's ``log:`` file, torch uses exactly the rule's ``threads`` (no oversubscription when
Snakemake runs several jobs side by side), and a GPU job holds its own device
(:func:`tue_core.gpu.claim_gpu`) before anything touches CUDA.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tue_core.device import configure_threads
from tue_core.gpu import claim_gpu
from tue_core.logs import log_to

log = logging.getLogger(__name__)


@contextmanager
def job(snakemake: Any) -> Iterator[None]:
    """``with job(snakemake): ...`` for a Snakemake ``script:`` (uses log[0], threads, resources.gpu)."""
    gpus = int(getattr(snakemake.resources, "gpu", 0) or 0)
    with log_to(snakemake.log[0] if snakemake.log else None), claim_gpu(count=gpus):
        threads = configure_threads(int(snakemake.threads))
        log.info("rule %s: %d CPU thread(s), %d GPU(s) requested", snakemake.rule, threads, gpus)
        yield
