"""Shared fixtures, and the order in which pytest-xdist's workers take the test files.

`make test` runs on two workers with `--dist loadfile`: a worker takes a test file whole, so a
file's module-scoped fixtures (a graded course, a running JupyterLab) and a module's shared
notebook run (tests/notebook_probe.py, read only by tests/test_nb_<module>.py) are built once.
Files go out longest first (`--no-loadscope-reorder`: xdist would otherwise send the files with
the most tests first, and a three-test file of five minutes last), so no worker is left with a
long one at the end. (Cross-file groups,
`--dist loadgroup`, are not used: pytest-xdist 3.8 names a group through an attribute that
pytest 9 no longer reads, and its groups silently fall apart.)
"""
from __future__ import annotations

import pytest

import autograder._nbformat  # noqa: F401  (first: nbformat without rfc3987-syntax's slow parsers)
from notebook_probe import run_solution

# Files that take minutes (measured with `pytest --durations`), started first; the rest follow in
# the order they were collected.
# Each worker takes two files at the start, alternately (03 and the browser, 05 and the module grading).
LONGEST_FIRST = ["test_nb_03_backprop.py", "test_nb_05_cnn.py", "test_browser.py", "test_autograder_modules.py",
                 "test_nb_04_autograd.py", "test_exchange.py", "test_autograder_batch.py", "test_report.py",
                 "test_autograder_e2e.py", "test_grader_boundary.py", "test_nb_01_perceptron.py"]


@pytest.fixture(scope="session")
def solution_run(tmp_path_factory):
    """solution_run(module) -> SolutionRun: solutions/<module> executed once for the whole session."""
    runs = {}

    def run(module: str):
        if module not in runs:
            runs[module] = run_solution(module, tmp_path_factory.mktemp(module))
        return runs[module]
    return run


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))    # stable: collection order otherwise
