# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make run   — install and start Billhook on the embedded default (SQLite + offline sandbox)
#   make test  — install the dev dependencies, lint, type-check and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs on two processes (pytest-xdist), a test module's tests on one of them: some modules
# share one stack across their tests (module-scoped fixtures), in order. PYTEST_ARGS="-n 0 tests/…"
# runs a part in one process.
PYTEST_ARGS ?= -n 2 --dist loadscope

.PHONY: run test install install-dev lint typecheck pytest clean

# `make run` says what it is doing: a line per step, and pip's line per package.
PIP_SHOW := --progress-bar off --disable-pip-version-check

$(BIN)/python:
	@echo "==> creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> upgrading pip"
	$(BIN)/pip install $(PIP_SHOW) --upgrade "pip>=24"

install: $(BIN)/python
	@echo "==> installing Billhook and its pinned dependencies (constraints.txt)"
	$(BIN)/pip install $(PIP_SHOW) -c constraints.txt -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	bash scripts/install-test-deps.sh

run: install
	@echo "==> starting Billhook on http://$(HOST):$(PORT) (Ctrl-C stops it); it lists the pages to open once ready"
	$(BIN)/billhook serve --host $(HOST) --port $(PORT)

lint:
	$(BIN)/ruff check billhook tests bench
	$(BIN)/ruff format --check billhook tests bench
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest $(PYTEST_ARGS)

test: install-dev lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache billhook.db* billhook-sandbox.db*
