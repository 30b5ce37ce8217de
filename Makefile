# Entry points: `make demo` and `make test` set everything up by themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
XDIST ?= -n 2

.PHONY: demo test lint format check-install clean sysdeps bench bench-quick stress asan

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

BENCH_STAMP := $(VENV)/.bench-stamp
BENCH_ARGS ?=

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,dev,bench]'
	@touch $(BENCH_STAMP)

# The benchmark suite against numpy, PyTensor and JAX (see BENCHMARKS.md).
bench: $(BENCH_STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

# Each workload at its smallest size, once, no timing gates (CI runs it so the suite cannot rot).
bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick --strict $(BENCH_ARGS)

# The heavy reliability suite (tests/reliability with CCGRAD_STRESS=1), then its figures (RELIABILITY.md).
stress: $(STAMP)
	@PY=$(PY) bash scripts/stress.sh

# Generated C and the dispatcher under AddressSanitizer + UBSan: bad-input and random-graph fuzzing.
asan: $(STAMP)
	@PY=$(PY) bash scripts/asan.sh

# A non-editable install into a fresh venv must import and run a function.
check-install: $(STAMP)
	@bash scripts/check_install.sh "$(PYTHON)"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
