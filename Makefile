# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip install --quiet --progress-bar off -c constraints.txt

.PHONY: demo test lint test-all test-ipex test-reliability ipex-env venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing satedge and its dependencies into $(VENV) (first time: about a minute)"
	@$(PIP) --upgrade pip
	@$(PIP) -e '.[all,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/satedge sim --config sim/default.toml --out out/demo-$$(date +%Y%m%d-%H%M%S)

# Two pytest workers (pytest-xdist): most tests wait on real daemons, sockets and simulated time, so two
# run side by side in about the time of one; every test keeps its own ports, folders and processes, and a
# file stays on one worker (`--dist loadfile`), so a module's fixture (a Docker Compose project) starts once.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow and not ipex and not reliability" -q

# The quality gates: ruff (lint, import order, docstrings on the public API) and mypy (strict on
# the core, onboard and ground), both configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test-reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "not ipex" -q

# Intel Extension for PyTorch is archived and runs only with torch 2.8: its own venv (about 7 GB).
ipex-env: .venv-ipex/.installed

.venv-ipex/.installed: training/ipex/setup.sh
	training/ipex/setup.sh .venv-ipex

test-ipex: .venv-ipex/.installed
	.venv-ipex/bin/python -m pytest -m ipex tests/training/test_train.py -q

clean:
	rm -rf out .pytest_cache
