"""Speed benchmarks and the GPU check (never part of the timed test suite; see docs/benchmarks.md).

* :mod:`benchmarks.speed` — our loops against naive public-code-style loops, side by side.
* :mod:`benchmarks.gpu_check` — the same at paper settings, plus a short generation + evaluation.
* :mod:`benchmarks.cost_model` — GPU/CPU-hours of every rule from measured throughput.

Run them from the repository root as modules (``python -m benchmarks.speed``), so ``tue_core``
imports from the checkout even where it is not installed (the GPU machine).
"""
