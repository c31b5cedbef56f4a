# `make lab` and `make test` set everything up on first use: a .venv with the project in it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test test-fast test-matrix test-colab demo release bench bench-grading clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# As root (a container, a cloud VM) Jupyter refuses to start without --allow-root.
lab: $(STAMP)
	$(BIN)/jupyter lab assignments/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# pytest-xdist: WORKERS processes (2 by default, this machine's cores), each taking whole test
# files (tests/conftest.py orders them); `make test WORKERS=0` runs everything in one process.
WORKERS ?= 2
XDIST   := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadfile --no-loadscope-reorder)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow and not browser"

# Every supported Python (pyenv's or on the PATH; a missing one is skipped) and the lowest and newest
# numpy, each in its own environment under .nox/ (noxfile.py; `$(BIN)/nox -l` lists the sessions).
test-matrix: $(STAMP)
	$(BIN)/nox

release: $(STAMP)
	$(BIN)/course release

# Lecture demos (Voila, code hidden): `make demo` lists them all, `make demo DEMO=relu-sum` serves one.
DEMO ?=
demo: $(STAMP)
	$(BIN)/course demo $(DEMO)

# Colab's versions (tests/colab-constraints.txt; pinned there only because they emulate Colab) in a
# second environment on Colab's Python: the notebooks run as in Colab, then the headless widget tests.
# Colab's older runtime version (Python 3.12): `make test-colab COLAB_PYTHON=path/to/python3.12`.
COLAB_PYTHON ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13) python3.13)
COLAB_VENV  := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed-$(notdir $(COLAB_PYTHON))
COLAB_TESTS := tests/test_colab.py tests/test_demos.py \
	tests/test_notebooks.py::test_setup_cell_runs_before_the_package_is_installed_and_installs_only_in_colab \
	$(wildcard tests/test_widget*.py tests/test_backward_stepper.py tests/test_conv_explorer.py tests/test_conv_gradient_explorer.py)

$(COLAB_STAMP): pyproject.toml tests/colab-constraints.txt
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -r tests/colab-constraints.txt
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(COLAB_VENV)/bin/python -m pip install --quiet -c tests/colab-constraints.txt \
		"scikit-learn>=1.0" "nbformat>=5.7" "nbclient>=0.7" "jupytext>=1.15" "pytest>=7" "hypothesis>=6.70"
	touch $(COLAB_STAMP)

test-colab: $(COLAB_STAMP)
	COURSE_COLAB_ENV=1 $(COLAB_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not browser" $(COLAB_TESTS)

# Benchmarks run with this machine's OpenBLAS overrides unset (see benchmarks/README.md).
bench: $(STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_core.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_cnn.py

# About half an hour: 100 submissions of module 03, `course grade --jobs 2` against nbgrader.
bench-grading: $(STAMP)
	$(BIN)/python benchmarks/bench_autograder.py --n 100 --jobs 2

clean:
	rm -rf $(VENV) $(COLAB_VENV) .nox .pytest_cache .hypothesis
