# Every target bootstraps what it needs: a .venv with the package and its extras,
# rebuilt when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
DOCS_STAMP := $(VENV)/.installed-docs
BROWSER_STAMP := $(VENV)/.installed-browser
CHROMIUM ?= /usr/bin/chromium

.PHONY: all test test-browser test-pythons faults lint typecheck tree docs run cluster bench bench-quick bench-pythons clean

all: test

$(STAMP): pyproject.toml $(wildcard */__init__.py)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,docs]'
	touch $@

$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[browser]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

# With coverage of the runtime packages, subprocesses included; below the floor
# ([tool.coverage.report] fail_under) the run fails. The stress tests run apart, without
# coverage: tracing every line would slow their million messages past their deadline,
# and they cover no line the others miss. The browser tests need Chromium: see
# test-browser.
test: $(STAMP)
	$(PY) -m pytest -q -m "not stress and not browser and not faults" --cov --cov-report=term
	$(PY) -m pytest -q -m stress

# The observer page in headless Chromium, driven by Playwright. The browser is Debian's
# package (apt-get install chromium), never one Playwright downloads.
test-browser: $(BROWSER_STAMP)
	@test -x $(CHROMIUM) || { echo "make test-browser needs Chromium at $(CHROMIUM): apt-get install -y chromium (or CHROMIUM=/path/to/chromium)" >&2; exit 2; }
	ACTORS_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q -m browser tests/browser

# Every fault scenario (tests/faults, the long ones included), then the table of
# docs/reliability.md regenerated from what the checker counted.
faults: $(STAMP)
	rm -f build/faults.jsonl && mkdir -p build
	FAULTS_REPORT=build/faults.jsonl $(PY) -m pytest -q -p no:randomly tests/faults
	$(PY) -m tests.faults.table build/faults.jsonl docs/reliability.md

lint: $(STAMP)
	$(VENV)/bin/ruff check actors supervision transport tests bench examples
	$(VENV)/bin/ruff format --check actors supervision transport tests bench examples
	$(MAKE) --no-print-directory typecheck

# mypy and the docs' API pages (griffe) map folders to modules one to one, so they read a
# tree of links shaped like the installed package: supervision/ and transport/ appear as
# actors/supervision and actors/transport, as they do once installed (see
# [tool.setuptools] in pyproject.toml).
TREE := build/tree
tree:
	rm -rf $(TREE) && mkdir -p $(TREE)/actors
	ln -s $(CURDIR)/actors/* $(TREE)/actors/
	ln -s $(CURDIR)/supervision $(TREE)/actors/supervision
	ln -s $(CURDIR)/transport $(TREE)/actors/transport

typecheck: $(STAMP) tree
	cd $(TREE) && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml -p actors

# The site goes to site/; --strict turns every warning (a broken link or anchor, a page
# missing from the nav, a docstring that does not render) into a failure.
docs: $(DOCS_STAMP) tree
	$(VENV)/bin/mkdocs build --strict

run: $(STAMP)
	$(PY) -m actors run examples/pipeline/tree.toml --duration 5

cluster: $(STAMP)
	$(PY) -m examples.cluster

bench: $(BENCH_STAMP)
	$(PY) -m bench

bench-quick: $(BENCH_STAMP)
	$(PY) -m bench --quick

# The newer interpreters, each in its own venv (.venv-3.12 ...): pyenv's newest of that
# version, else python3.X on PATH; one that is not installed is skipped, said on stderr.
PYTHONS ?= 3.12 3.13
PYENV_ROOT ?= $(HOME)/.pyenv
comma := ,
# $(1): the extras to install, $(2): what the venv's python runs ($$v: the version).
define for_each_python
	@for v in $(PYTHONS); do \
	  py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python$$v 2>/dev/null | sort -V | tail -1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v || true); \
	  if [ -z "$$py" ]; then echo "$@: no Python $$v, skipped" >&2; continue; fi; \
	  test -x .venv-$$v/bin/python || $$py -m venv .venv-$$v || exit 1; \
	  .venv-$$v/bin/python -m pip install --quiet -e '.[$(1)]' || exit 1; \
	  echo "$@: Python $$v" >&2; \
	  .venv-$$v/bin/python $(2) || exit 1; \
	done
endef

# The benchmark suite once more per newer interpreter, its results tagged
# (latest-py3.12.json ...). BENCH_ARGS=--quick for the quick suite.
bench-pythons: $(BENCH_STAMP)
	$(call for_each_python,dev$(comma)bench,-m bench --tag py$$v $(BENCH_ARGS))

# `make test`'s suite (without coverage) once more per newer interpreter: 3.11 is what
# CI runs; this catches what a newer one changes (module imports, object sizes, TLS).
test-pythons:
	$(call for_each_python,dev,-m pytest -q -m "not stress and not browser and not faults")

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache build site *.egg-info
