# Two commands do everything on a fresh machine with Python 3.11:
#   make run    set up .venv, then run the whole project (kedro run)
#   make test   set up .venv, then run the test suite
# ELK_DIR and REFERENCE_DIR point at the input data (defaults in conf/base/globals.yml).

PYTHON ?= python3.11
VENV ?= .venv
ELK_DIR ?= ../shared/data/elk
REFERENCE_DIR ?= ../shared/data/reference
PIPELINE ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KEDRO_DISABLE_TELEMETRY := 1
# Recipes read the data folders from the environment ("$$ELK_DIR"), so that a path with spaces or
# other shell characters reaches kedro and pytest as one argument.
export ELK_DIR REFERENCE_DIR

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup browser run test benchmark viz clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name tess-cluster-age --display-name "tess-cluster-age" >/dev/null
	touch $(STAMP)

# Headless Chromium (Debian package) for the browser tests of kedro-viz and the report.
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

run: setup
	$(BIN)/kedro run $(if $(PIPELINE),--pipelines=$(PIPELINE)) --params="elk_dir=$$ELK_DIR,reference_dir=$$REFERENCE_DIR"

test: setup browser
	TESS_CLUSTER_AGE_ELK_DIR="$$(realpath -m -- "$$ELK_DIR")" TESS_CLUSTER_AGE_REFERENCE_DIR="$$(realpath -m -- "$$REFERENCE_DIR")" \
		$(BIN)/python -m pytest

benchmark: setup
	$(BIN)/python benchmarks/features.py --elk-dir "$$ELK_DIR"
	$(BIN)/python benchmarks/pipeline_runs.py --elk-dir "$$(realpath -m -- "$$ELK_DIR")"

viz: setup
	$(BIN)/kedro viz build

clean:
	rm -rf $(VENV) build
