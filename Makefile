# Quick start: `make run` trains the default model; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: run test lint bench clean

$(VENV)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[cli]'
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[cli,test,bench]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(VENV)/bin/chainrule train

test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench examples
	$(PY) -m pytest

bench: $(VENV)/.installed-test
	$(VENV)/bin/chainrule bench

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
