# Exchange Bot — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DATA   ?= $(or $(BOT_DATA_DIR),./data)
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install install-test run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/exchange-bot --data-dir $(DATA) ingest knowledge/ --visibility internal
	$(BIN)/exchange-bot --data-dir $(DATA) run

test: install-test
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check bot tests benchmarks scripts
	$(BIN)/ruff format --check bot tests benchmarks scripts
	$(BIN)/mypy bot

format: install-test
	$(BIN)/ruff format bot tests benchmarks scripts
	$(BIN)/ruff check --fix bot tests benchmarks scripts

bench: install-test
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DATA)
