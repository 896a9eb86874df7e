# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip install --quiet --progress-bar off -c constraints.txt

.PHONY: demo test test-all test-ipex test-reliability ipex-env venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing satedge and its dependencies into $(VENV) (first time: about a minute)"
	@$(PIP) --upgrade pip
	@$(PIP) -e '.[all,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/satedge sim --config sim/default.toml --out out/demo-$$(date +%Y%m%d-%H%M%S)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not ipex" -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "not ipex" -q

clean:
	rm -rf out .pytest_cache
