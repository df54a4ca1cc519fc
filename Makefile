# bc-sales-sync: every command a newcomer needs. Each target sets up what it needs first (venv, npm packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: help setup test lint unit demo serve bench chaos constraints clean chromium screenshots

help:
	@echo "make test   - set up, lint, run every test (Azurite and the emulators are started by the tests)"
	@echo "make demo   - set up, start the local stack, seed it and show what is there"
	@echo "make serve  - the local stack in the foreground (Ctrl-C stops it)"
	@echo "make bench  - benchmarks (figures printed; never part of make test)"
	@echo "make screenshots - the admin console's browser tests, saving each page to docs/console/"

$(STAMP_PY): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests drive the system Chromium (tests/browser; CHROMIUM_PATH overrides), never a downloaded build.
chromium:
	@if [ -n "$$CHROMIUM_PATH" ] || command -v chromium >/dev/null; then :; else \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi

setup: $(STAMP_PY) $(STAMP_NODE) chromium

lint: $(STAMP_PY)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest

unit: $(STAMP_PY)
	$(BIN)/pytest tests/unit

demo: setup
	$(PY) -m local.demo

serve: setup
	$(PY) -m local.stack.serve

bench: setup
	$(PY) -m bench

chaos: setup
	$(BIN)/pytest -m "chaos or chaos_full"

screenshots: setup
	UPDATE_SCREENSHOTS=1 $(BIN)/pytest tests/browser

constraints: $(STAMP_PY)
	@{ echo "# Every transitive Python package, pinned (pip freeze of requirements-dev.txt). Regenerate with 'make constraints'."; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) node_modules .local .mypy_cache .ruff_cache .pytest_cache
