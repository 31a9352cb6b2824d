# Every target bootstraps what it needs: a .venv with the package and its extras,
# rebuilt when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: all test lint run cluster bench bench-quick clean

all: test

$(STAMP): pyproject.toml $(wildcard */__init__.py)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check actors supervision transport tests bench examples
	$(VENV)/bin/ruff format --check actors supervision transport tests bench examples
	$(VENV)/bin/mypy

run: $(STAMP)
	$(PY) -m actors run examples/pipeline/tree.toml --duration 5

cluster: $(STAMP)
	$(PY) -m examples.cluster

bench: $(BENCH_STAMP)
	$(PY) -m bench

bench-quick: $(BENCH_STAMP)
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
