# Entry points: `make demo` and `make test` set everything up by themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
XDIST ?= -n 2

.PHONY: demo test lint format check-install clean sysdeps

$(STAMP): pyproject.toml setup.py scripts/sysdeps.sh
	@bash scripts/sysdeps.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,dev]'
	@touch $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh

demo: $(STAMP)
	$(PY) -m ccgrad demo

test: $(STAMP)
	$(PY) -m ruff check ccgrad tests benchmarks examples
	$(PY) -m pytest $(XDIST) --durations=15 -q tests
	$(MAKE) --no-print-directory check-install

lint: $(STAMP)
	$(PY) -m ruff check ccgrad tests benchmarks examples

format: $(STAMP)
	$(PY) -m ruff format ccgrad tests benchmarks examples

# A non-editable install into a fresh venv must import and run a function.
check-install: $(STAMP)
	@bash scripts/check_install.sh "$(PYTHON)"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
