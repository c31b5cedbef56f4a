"""Shared fixtures, and how the suite is split between pytest-xdist's workers (`make test`: -n 2).

Workers get whole groups: a test file is a group (its module-scoped fixtures, a graded course or
a running JupyterLab, are then built once), except that everything reading a solution notebook's
shared run (tests/notebook_probe.py) is one group per module, so that run happens once. Groups go
out longest first, so no worker is left with a long one at the end.
"""
from __future__ import annotations

import pytest

import autograder._nbformat  # noqa: F401  (first: nbformat without rfc3987-syntax's slow parsers)
from notebook_probe import run_solution

# Groups that take minutes (measured with `pytest --durations`), started first; the rest follow in
# the order they were collected.
LONGEST_FIRST = ["notebook-05_cnn", "test_browser.py", "notebook-03_backprop", "test_autograder_modules.py",
                 "notebook-04_autograd", "notebook-02_universal_approximation", "notebook-01_perceptron"]


@pytest.fixture(scope="session")
def solution_run(tmp_path_factory):
    """solution_run(module) -> SolutionRun: solutions/<module> executed once for the whole session."""
    runs = {}

    def run(module: str):
        if module not in runs:
            runs[module] = run_solution(module, tmp_path_factory.mktemp(module))
        return runs[module]
    return run


def group_of(item) -> str:
    module = item.callspec.params.get("module") if hasattr(item, "callspec") else None
    if "solution_run" in getattr(item, "fixturenames", ()) and module:
        return f"notebook-{module}"
    name = item.path.name
    if name.startswith("test_nb_"):
        return f"notebook-{name[len('test_nb_'):-len('.py')]}"
    return name


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group_of(item), len(rank)))    # stable: collection order otherwise
