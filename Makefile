# ds-record-deleter: every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
# FC runs python3.10: the tests and the build use a 3.10 when one is found (on PATH, else pyenv's),
# else python3 with a warning. CI insists on 3.10 (.ci/run).
PYTHON ?= $(shell .ci/find-python310 2>/dev/null || command -v python3)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/functions/ds_record_deleter:$(CURDIR)
export EMULATOR_PORT ?= 9100
export PORT ?= 9000
EVENT ?= tests/events/direct.json

.PHONY: help install test run invoke emulator build bench clean deploy cli mutate
help:
	@echo "make run       the function behind a local HTTP trigger on 127.0.0.1:\$$PORT, on the embedded emulator"
	@echo "make test      install what the tests need into $(VENV) and run them all"
	@echo "make invoke EVENT=tests/events/<file>.json   one in-process invocation, its answer as JSON"
	@echo "make emulator  the Domain API + MNS emulator alone on 127.0.0.1:\$$EMULATOR_PORT"
	@echo "make build     build/function.zip and build/layer.zip for FC (python3.10, manylinux x86_64)"
	@echo "make bench     benchmarks against the official SDK stack; writes bench/results.json"
	@echo "make mutate    mutation campaign over the exactly-once core (not part of make test; about 45 minutes)"
	@echo "make deploy    build, upload to OSS, create or update the ROS stack (README: Deploying); DRY_RUN=1 only prints the plan"
	@echo "make cli ARGS=\"send --webhook URL --domain D --key-tag N --follow\"   the operator's tool (README: For operators)"
	@echo "make clean     remove build/ and .pytest_cache (not .venv)"

install: $(VENV)/.installed-$(PYTHON_VERSION)

# One stamp per Python version: a .venv made by another Python is made again.
$(VENV)/.installed-$(PYTHON_VERSION): requirements-dev.txt layers/deps/requirements.txt
	@echo "Python for the tests and the build: $(PYTHON) (Python $(PYTHON_VERSION)$(if $(filter 3.10,$(PYTHON_VERSION)),, -- NOT 3.10, the version FC runs: install python3.10 or pyenv's 3.10))"
	@test -n "$(PYTHON_VERSION)" || { echo "no usable Python found (tried python3.10, pyenv's 3.10, python3)"; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: install
	$(PY) -m pytest

run: install
	$(PY) -m local.http_trigger

invoke: install
	@$(PY) -m local.runtime $(EVENT)

# The operator's tool (python -m local.cli --help): send, dry-run, follow.
cli: install
	@$(PY) -m local.cli $(ARGS)

emulator: install
	@$(PY) -m local.emulator --port $(EMULATOR_PORT)

build: install
	$(PY) -m local.package --out build

clean:
	rm -rf build .pytest_cache

bench: install
	$(PY) -m bench.run

# Flips or deletes one guard of submission.py, reconcile.py, idempotency.py at a time and runs the
# core's tests against it; fails if a mutant survives that tests/mutation/equivalents.py does not
# explain. MUTATE_ARGS passes options (e.g. MUTATE_ARGS="--only reconcile.py", or "--campaign").
mutate: install
	$(PY) -m tests.mutation.mutate $(MUTATE_ARGS)

# The cloud SDKs make deploy calls, in .venv beside the test tools (requirements-dev.txt includes
# them, so the tests can drive local/deploy_cloud.py); never in the layer.
$(VENV)/.installed-$(PYTHON_VERSION): local/deploy-requirements.txt
$(VENV)/.deploy-installed: local/deploy-requirements.txt $(VENV)/.installed-$(PYTHON_VERSION)
	$(PY) -m pip install --quiet --disable-pip-version-check -r local/deploy-requirements.txt
	touch $@

# DRY_RUN=1 prints the plan with no credentials and no network, so it skips the SDKs too.
deploy: build $(if $(filter 1,$(DRY_RUN)),,$(VENV)/.deploy-installed)
	@$(PY) -m local.deploy $(if $(filter 1,$(DRY_RUN)),--dry-run)
