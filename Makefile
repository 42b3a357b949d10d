# ds-record-deleter: every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/functions/ds_record_deleter:$(CURDIR)
export EMULATOR_PORT ?= 9100
export PORT ?= 9000
EVENT ?= tests/events/direct.json

.PHONY: help install test run invoke emulator build bench clean
help:
	@echo "make run       the function behind a local HTTP trigger on 127.0.0.1:\$$PORT, on the embedded emulator"
	@echo "make test      install what the tests need into $(VENV) and run them all"
	@echo "make invoke EVENT=tests/events/<file>.json   one in-process invocation, its answer as JSON"
	@echo "make emulator  the Domain API + MNS emulator alone on 127.0.0.1:\$$EMULATOR_PORT"
	@echo "make build     build/function.zip and build/layer.zip for FC (python3.10, manylinux x86_64)"
	@echo "make bench     benchmarks against the official SDK stack; writes bench/results.json"

install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt layers/deps/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: install
	$(PY) -m pytest

run: install
	$(PY) -m local.http_trigger

invoke: install
	@$(PY) -m local.runtime $(EVENT)

emulator: install
	$(PY) -m local.emulator --port $(EMULATOR_PORT)

build: install
	$(PY) -m local.package --out build

clean:
	rm -rf build .pytest_cache

bench: install
	$(PY) -m bench.run
