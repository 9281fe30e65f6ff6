# Two entry points for a fresh machine: `make demo` and `make test`.
# The CPU build of torch is installed first and explicitly: with it in place, the
# `torch>=2.0` requirement is satisfied and pip never downloads CUDA wheels.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sk3dface-installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/sk3dface demo --out demo_output

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

bench: setup
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/landmarks.py
	$(PY) benchmarks/fitting.py
	$(PY) benchmarks/classifiers.py
	$(PY) benchmarks/real_data.py
	$(PY) benchmarks/grid_search.py

clean:
	rm -rf $(VENV) demo_output
