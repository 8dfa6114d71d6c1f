# Two entry points for a fresh machine with Python 3.11 and make:
#   make demo   runs a full decision end to end on the embedded default (SQLite)
#   make test   runs the whole test suite (SQLite and PostgreSQL)
# Each creates .venv and installs what it needs on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := cli decisions experts flows migrations tests bench

.PHONY: demo test chromium bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/counsel demo

# The browser test drives the Prefect UI in Debian's Chromium (Playwright cannot download one here).
chromium:
	@command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/noto ] || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium fonts-noto-cjk) >/dev/null \
	  || echo "Chromium could not be installed; the browser test will say so."; }

# Two pytest workers: the Prefect tests (flows, browser) beside the rest (tests/conftest.py).
test: $(STAMP) chromium
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/routing.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
