# ketaclinic — every target works on a fresh clone: it creates .venv and installs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

## make run: migrate the SQLite database, load the demo clinic, serve on http://127.0.0.1:8000
## (and the HL7 MLLP listener for monitors on port 2575)
run: $(STAMP)
	$(BIN)/ketaclinic demo --hl7-port 2575

## make test: the whole suite (lint, types, architecture, then pytest on every core; each test
## file stays on one worker, so module-scoped fixtures such as the browser are made once; the
## 25 slowest tests are listed at the end, to keep the suite's time in view)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=25 \
		--cov --cov-report=term:skip-covered --cov-fail-under=80

## make check: what CI runs
check: test

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy bench

## make bench: performance against the peers of DESIGN.md §5, written to docs/benchmarks.md
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
