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

.PHONY: setup demo test lint pytest schema clean-results

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

clean-results:
	rm -rf results logs benchmarks/data .snakemake
