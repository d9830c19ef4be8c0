# Two commands on a fresh machine: `make demo` (set up, then run both main jobs) and `make test`.
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint format bench

$(STAMP): pyproject.toml tools/setup.sh
	bash tools/setup.sh $(VENV)
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	bash tools/demo.sh $(VENV)

test: setup
	$(VENV)/bin/python -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(VENV)/bin/python tools/bench_features.py
