# Two entry points: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-output
PYTEST_ARGS ?=

.PHONY: demo test install geoid lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned: an unpinned torch (or one pulled in by lightning) is a multi-GB CUDA build
TORCH ?= torch==2.13.0

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,model]"
	touch $(STAMP)

install: $(STAMP) geoid

# PROJ's EGM96 geoid grid (Debian package proj-data) converts DEM heights to ellipsoidal
# heights. Installed where we can (root + apt-get); otherwise senprep says how to get it.
geoid:
	@if [ ! -f /usr/share/proj/egm96_15.gtx ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = "0" ]; then \
		(apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq proj-data >/dev/null 2>&1) \
		|| echo "warning: proj-data not installed; use --no-geoid or install it" >&2; \
	fi

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: install
	$(BIN)/python examples/demo.py --out $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check sen_preproc mccgan tests benches examples
	$(BIN)/ruff format --check sen_preproc mccgan tests benches examples

typecheck: $(STAMP)
	$(BIN)/mypy

bench: install
	$(BIN)/python benches/bench_s1.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
