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
# The oldest supported stack: Google Colab's pins (tests/colab-pins.txt) on this machine's Python
# (Colab's ipykernel 5.5.6 is patched for 3.12; the PyPI one imports `imp`, gone in 3.12). Built by
# installing the pins and the test tools, then the README's Colab line with no constraint: a pin
# it moves stops the build (tests/stack_pins.py).
COLAB_PYTHON ?= $(PYTHON)
COLAB_VENV ?= .venv-colab
COLAB_PY := $(COLAB_VENV)/bin/python
COLAB_PINS := tests/colab-pins.txt
COLAB_STAMP := $(COLAB_VENV)/.installed
# The test tools, installed with the pins (constrained by them) before the Colab line.
COLAB_TOOLS := pytest pytest-timeout hypothesis nbclient nbformat matplotlib
# What runs on both stacks: the kernel tests of the cell semantics and the corpus test.
COLAB_TESTS := tests/test_stacks.py tests/test_magic.py tests/test_corpus.py tests/test_cell_semantics.py \
  tests/test_kernel_faults.py tests/test_kernel_live.py
# Public notebooks for the corpus test: pinned sdists from PyPI, fetched by pip (not committed).
CORPUS := .corpus/.fetched

.PHONY: lab test test-colab test-fast lint gpu-test setup colab-setup envs browser benchmark apps serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[all]" "$(TORCH_PIN)"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

$(COLAB_STAMP): pyproject.toml $(COLAB_PINS)
	@$(COLAB_PYTHON) -c 'import sys; sys.exit(sys.version_info >= (3, 12) and "ipykernel 5.5.6 from PyPI needs Python <= 3.11 (it imports imp): make COLAB_PYTHON=python3.11")'
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_PY) -m pip install --quiet -r $(COLAB_PINS) -c $(COLAB_PINS) $(COLAB_TOOLS)
	$(COLAB_PY) -m pip install --quiet -e ".[colab]"
	$(COLAB_PY) -m tests.stack_pins $(COLAB_PINS)
	$(COLAB_PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(COLAB_STAMP)

colab-setup: $(COLAB_STAMP)

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

# Both environments at once: pip spends much of its time on the disk, and this saves about a
# minute of a fresh clone's `make test`.
envs:
	@$(MAKE) --no-print-directory -j2 --output-sync=target $(STAMP) $(COLAB_STAMP)

test: envs
	@$(MAKE) --no-print-directory $(CORPUS) browser lint
	$(PY) -m pytest -q
	@$(MAKE) --no-print-directory test-colab

# The oldest stack's subset (the newest stack ran everything above).
test-colab: $(COLAB_STAMP) $(CORPUS)
	LEPTON_STACK=colab $(COLAB_PY) -m pytest -q -p no:cacheprovider $(COLAB_TESTS)

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
	rm -rf $(VENV) $(COLAB_VENV) .pytest_cache test-artifacts .corpus
