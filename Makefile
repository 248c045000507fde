# Everything runs in the course's own virtual environment (.venv), created on first use.
# Data: RNN_COURSE_DATA=/folder/with/energy.csv, else data/ here, else it is downloaded (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test test-fast release benchmark calibrate

$(VENV)/installed: pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint requirements-lock.txt --editable '.[test]'
	touch $@

setup: $(VENV)/installed

demo: setup          ## the instructor's whole cycle on the demo class
	$(PY) -m grader_tests.demo

test: setup          ## the whole test suite, autograding included (about 12 minutes on 2 cores)
	$(PY) -m pytest

test-fast: setup     ## everything but the real autograde runs (about 2 minutes)
	$(PY) -m pytest -m "not autograde"

release: setup       ## regenerate release/ and solutions/ from source/ (commit the result)
	$(PY) -c 'from grader_tests import classroom; classroom.release(classroom.REPO)'

benchmark: setup     ## seconds per autograded notebook and reference MAPE
	$(PY) -m grader_tests.benchmark

calibrate: setup     ## MAPE distributions the pass marks come from (about an hour)
	$(PY) -m grader_tests.calibrate
