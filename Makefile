# Everything runs in the course's own virtual environment (.venv), created on first use.
# Data: RNN_COURSE_DATA=/folder/with/energy.csv, else data/ here, else it is downloaded (docs/deployment.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKERS ?= 2
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test test-fast release benchmark calibrate screenshots system-grading system-tests

# The development environment: the student library's dependencies and the extras instructor, research and
# test (pyproject.toml; docs/contributing.md, "Environments"). Students install release/student-library/ instead.
$(VENV)/installed: pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint requirements-lock.txt --editable '.[instructor,research,test]'
	touch $@

# Formgrader's pages need MathJax 2 (keyboard grading stops without it): served from Debian's libjs-mathjax
# at /static/mathjax/ by every Jupyter server of this environment, so that no CDN is needed.
$(VENV)/etc/jupyter/jupyter_server_config.py: $(VENV)/installed
	mkdir -p $(dir $@)
	echo 'c.ServerApp.extra_static_paths = ["/usr/share/javascript"]  # written by the course Makefile' > $@

setup: $(VENV)/installed $(VENV)/etc/jupyter/jupyter_server_config.py

# What grading (and the tests) need from the machine, before the long install: installed as root on
# Debian, else make stops and prints the one command to run (instructor/commands/system_packages.py).
# (Explicit targets: make skips pattern rules for .PHONY targets, so `system-%:` never ran.)
system-grading system-tests:
	@$(PYTHON) -m instructor system-packages $(@:system-%=%)

demo: system-grading setup   ## the instructor's whole cycle on the demo class
	$(PY) -m instructor demo

test: system-tests setup     ## the whole suite, real autograde runs included, on $(WORKERS) workers
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup

test-fast: system-tests setup  ## everything but the real autograde runs
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup -m "not autograde"

screenshots: setup   ## the docs' pictures of Formgrader and feedback, taken by the browser tests (Chromium)
	RNN_COURSE_SCREENSHOTS=1 $(PY) -m pytest tests/test_browser.py

release: setup       ## regenerate release/ and solutions/ from source/ (commit the result)
	$(PY) -m instructor release

benchmark: setup     ## seconds per autograded notebook and reference MAPE; a class graded in parallel against serial
	$(PY) -m instructor benchmark
	$(PY) -m instructor benchmark --class-grading
	$(PY) -m instructor benchmark --warm-kernels --class-size 8

calibrate: setup     ## MAPE distributions the pass marks come from (about an hour)
	$(PY) -m instructor calibrate
