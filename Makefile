# ds-record-deleter: every entry point a developer or CI needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/functions/ds_record_deleter:$(CURDIR)
export EMULATOR_PORT ?= 9100
export PORT ?= 9000

.PHONY: install test emulator
install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt layers/deps/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

test: install
	$(PY) -m pytest

emulator: install
	$(PY) -m local.emulator --port $(EMULATOR_PORT)
