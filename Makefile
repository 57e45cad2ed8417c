# The two commands from the README. Both create .venv and install the app if needed.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: up test lint bench histories

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

up: $(STAMP)
	$(VENV)/bin/stellarflow up

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python bench/dag_overhead.py

# Record real workflow histories for tests/test_replay.py (tests/histories/README.md says when to).
histories: $(STAMP)
	$(VENV)/bin/python -m tests.histories.record
