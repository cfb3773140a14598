# One entry point: `make demo` (set up + run the offline demo), `make test` (set up + all checks).
# Uses the active virtualenv if there is one, else creates .venv in the repo.
PYTHON ?= python3
VENV ?= .venv
ifdef VIRTUAL_ENV
BIN := $(VIRTUAL_ENV)/bin
else
BIN := $(VENV)/bin
endif
# torch is installed first and pinned so pip never pulls a newer multi-GB build; override for
# other machines, e.g. `make setup TORCH_SPEC="torch==2.9.1 torchvision==0.24.1"` on aarch64.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
CORES ?= 2
STAMP := $(BIN)/.tue-pipeline-installed

.PHONY: setup demo test lint pytest schema clean-results reference

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch, torchvision" 2>/dev/null || $(BIN)/python -m pip install $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: setup
	$(BIN)/snakemake --configfile config/demo.yaml --cores $(CORES) all

test: setup lint pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint --configfile config/demo.yaml

pytest: setup
	$(BIN)/python -m pytest -q

schema: setup
	$(BIN)/python -m tue_core.schema schemas/config.schema.json

# Local single-node SLURM cluster for tests/CI (root: apt-get installs slurmctld/slurmd/munge if
# missing). The test cluster has no slurmdbd, so status queries must use squeue.
SUDO ?= $(if $(filter 0,$(shell id -u)),,sudo)
SLURM_LOCAL_FLAGS := --slurm-status-command squeue --slurm-init-seconds-before-status-checks 2 --seconds-between-status-checks 2

.PHONY: slurm-up slurm-down test-slurm demo-slurm

slurm-up:
	$(SUDO) tools/slurm/up.sh

slurm-down:
	$(SUDO) tools/slurm/down.sh

test-slurm: setup slurm-up
	$(BIN)/python -m pytest -q -m slurm tests/workflow/test_slurm.py

demo-slurm: setup slurm-up
	timeout -k 10 3600 $(BIN)/snakemake --workflow-profile profiles/slurm --configfile config/demo.yaml $(SLURM_LOCAL_FLAGS) all

# A scale's whole grid, then its small outputs (tables, metrics, sidecars, timings) copied to
# reference_results/<scale>/ for git (tue_core.report.reference). Needs the scale's data, e.g.
# real CIFAR-10 as an image folder under data/raw/cifar10 for the default scale.
SCALE ?= cifar10-cpu-full
reference: setup
	@start=$$(date +%s); \
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$(CORES) all --configfile config/$(SCALE).yaml \
	  && $(BIN)/python -m tue_core.report.reference --results results/$(SCALE) \
	    --out reference_results/$(SCALE) --run-wall-seconds $$(( $$(date +%s) - start ))

clean-results:
	rm -rf results logs benchmarks/data .snakemake

# Benchmarks, never part of `make test` (docs/benchmarks.md): `bench` times our loops against naive
# public-code-style loops on this CPU (writes benchmarks/results/cpu-speed-w16.json); `cost` prints
# the GPU/CPU-hours of every rule at each scale from the measured JSONs.
.PHONY: bench cost

bench: setup
	$(BIN)/python -m benchmarks.speed --threads $(CORES)

cost: setup
	$(BIN)/python -m benchmarks.cost_model
