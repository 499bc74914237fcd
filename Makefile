# Two commands for a newcomer (README, first screen); each sets up .venv first when needed.
#   make quick   the whole pipeline on real MNIST at reduced scale, then report.html
#   make test    style gates, the GPU check's CPU parts and the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN := PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: setup quick test lint

setup: $(VENV)/.installed

# torch and torchvision first, at the versions this project is tested with; then the package.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e ".[pipeline,test]"
	touch $@

quick: setup
	$(RUN) snakemake --profile profiles/quick
	$(RUN) snakemake --profile profiles/quick --report report.html

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) snakefmt --check .
	$(RUN) snakemake --lint

test: lint
	$(RUN) bash benchmarks/gpu_check.sh
	$(RUN) pytest
