# Two commands: `make demo` (embedded demo) and `make test` (the whole suite on real
# PostgreSQL, Kafka and chDB). Both set up everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,embedded]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/ruff check hallwatch services tests scripts bench
	$(BIN)/mypy
	$(BIN)/python -m pytest tests -q -p no:cacheprovider

# Fault injection (tests/chaos): one long run per seed; `make chaos SEED=7` replays seed 7,
# `make chaos SEED=1 SEEDS=20` runs seeds 1..20. The short variant runs in `make test`.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.run $(if $(SEED),--seed $(SEED)) --seeds $(or $(SEEDS),1)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) var
