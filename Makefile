# Two commands for a fresh machine:
#   make run    install into .venv and start the app on the sample archive (corpus/)
#   make test   install into .venv (with the st, ray and test extras) and run every test
#   make quick  the everyday loop: the tests not marked slow (seconds)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test quick lint bench eval clean-index

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch==2.13.0 first, so the sentence-transformers extra does not pull a CUDA build.
$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[st,ray,dev]'
	touch $(VENV)/.installed-app $@

run: $(VENV)/.installed-app
	$(BIN)/python app.py

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

quick: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_ingest.py ../shared/corpora/xwlb

clean-index:
	rm -rf index/*
