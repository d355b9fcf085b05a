# Two commands on a fresh machine: `make lab` (set up, open JupyterLab on the lessons) and
# `make test` (set up, run the whole suite). Everything is installed into .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PORT ?= 8888
# CPU build of torch: an unpinned torch pulls several GB of CUDA packages.
TORCH_PIN ?= torch==2.13.0
STAMP := $(VENV)/.installed
# Public notebooks for the corpus test: pinned sdists from PyPI, fetched by pip (not committed).
CORPUS := .corpus/.fetched

.PHONY: lab test test-fast lint gpu-test setup browser benchmark apps serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[all]" "$(TORCH_PIN)"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

$(CORPUS): $(STAMP) tests/corpus/sources.py
	$(PY) -m tests.corpus.fetch .corpus
	touch $(CORPUS)

# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Opens a browser where there is a display; as root (containers) Jupyter needs --allow-root.
LAB_FLAGS := $(if $(DISPLAY),,--no-browser) $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) --ip=127.0.0.1 --port=$(PORT) --ServerApp.root_dir=notebooks

test: $(STAMP) $(CORPUS) browser lint
	$(PY) -m pytest -q

# Lint and types (pyproject.toml says which rules and which modules, and why).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test-fast: $(STAMP) lint
	$(PY) -m pytest -q -m "not browser and not kernel"

gpu-test: $(STAMP)
	$(PY) -m pytest -q -m gpu

benchmark: $(STAMP)
	$(PY) benchmarks/overhead.py

apps: $(STAMP)
	$(VENV)/bin/lepton-lab serve

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts .corpus
