"""Run each solution notebook once per test session, with a probe cell that reports values it computed.

Used by the module tests to check the lecture's numbers: the notebook must compute them (the
test recomputes them from their definitions), so a number typed into the notebook is not enough
once its inputs change, and a cell that stops computing it fails the test.

A solution notebook takes from seconds to a minute and a half to run, and several test files look
at the same run (tests/test_notebooks.py: it runs clean; tests/test_nb_<module>.py: its numbers).
So the run is shared: a test file says what it wants to read with `probe(module, expressions)` when
it is imported, and the session fixture `solution_run` (tests/conftest.py) runs each notebook once,
with every registered expression, the first time a test asks for it. Every test that reads a
module's run lives in tests/test_nb_<module>.py, which pytest-xdist gives to one worker whole.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
import pytest

from nbgrader_harness import ROOT, cell_problems, execute_notebook

MARKER = "<<probe>>"
# Every warning shown once (on stderr), so that none can hide in a run the tests call clean.
BASE_ENV = {"PYTHONWARNINGS": "default"}

_EXPRESSIONS: dict[str, dict[str, str]] = {}
_ENVIRONMENTS: dict[str, Callable[[Path], dict]] = {}


def probe(module: str, expressions: dict[str, str] | None = None,
          environment: Callable[[Path], dict] | None = None) -> None:
    """Ask the shared run of solutions/<module> for values, or give it extra environment variables.

    - expressions: {name: Python expression evaluated after the notebook's last cell}.
    - environment: called with a scratch folder, returns extra environment variables for the kernel
      (module 05 points COURSE_DATA at a small MNIST made there).
    """
    clash = set(expressions or {}) & set(_EXPRESSIONS.get(module, {}))
    assert not any(_EXPRESSIONS[module][k] != expressions[k] for k in clash), f"probe names clash: {clash}"
    _EXPRESSIONS.setdefault(module, {}).update(expressions or {})
    if environment is not None:
        _ENVIRONMENTS[module] = environment


@dataclass
class SolutionRun:
    """One run of a solution notebook: the executed notebook, its seconds, the probed values.

    `problems` lists the notebook's cells that failed or wrote to stderr; `probe_problems` what
    went wrong in the probe cell (an expression naming something the notebook no longer defines).
    """
    notebook: nbformat.NotebookNode
    seconds: float
    problems: list[str]
    probe_problems: list[str]
    values: dict | None

    def checked_values(self) -> dict:
        """The probed values, for tests that need the notebook to have run clean."""
        problems = self.problems + self.probe_problems
        assert not problems, "\n".join(problems)
        return self.values


def run_solution(module: str, folder: Path) -> SolutionRun:
    """Execute a copy of solutions/<module>/<module>.ipynb in `folder`, with the probe cell last."""
    path = ROOT / "solutions" / module / f"{module}.ipynb"
    nb = nbformat.read(path, as_version=4)
    expressions = _EXPRESSIONS.get(module, {})
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json as _json, numpy as _np\n"
        f"_expressions = {json.dumps(expressions)}\n"
        f"print({MARKER!r} + _json.dumps({{k: _np.asarray(eval(e), dtype=float).tolist() "
        "for k, e in _expressions.items()}))\n"))
    copy = folder / path.name
    nbformat.write(nb, copy)
    env = dict(BASE_ENV)
    if module in _ENVIRONMENTS:
        env.update(_ENVIRONMENTS[module](folder))
    executed, seconds = execute_notebook(copy, env=env)
    probe_cell = executed.cells.pop()       # the probe is not the notebook's
    text = "".join(o.get("text", "") for o in probe_cell.outputs if o.output_type == "stream")
    values = json.loads(text.split(MARKER, 1)[1]) if MARKER in text else None
    probe_problems = [f"probe: {problem}" for problem in cell_problems(nbformat.v4.new_notebook(cells=[probe_cell]))]
    return SolutionRun(executed, seconds, cell_problems(executed), probe_problems, values)


def runs_clean_test(module: str):
    """The test each tests/test_nb_<module>.py binds: the shared run of the module's solution
    notebook has no error and nothing on stderr (every warning shown once, so none can hide).
    Its time is printed for the report, not asserted (`benchmarks/bench_budgets.py --notebooks`)."""
    @pytest.mark.slow
    def test_solution_notebook_runs_clean(solution_run):
        run = solution_run(module)
        assert not run.problems, "\n".join(run.problems)
        print(f"{module}: {run.seconds:.1f} s")
    return test_solution_notebook_runs_clean
