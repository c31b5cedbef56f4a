"""Run a solution notebook with one extra cell at the end that reports values it computed.

Used by the module tests to check the lecture's numbers: the notebook must compute them (the
test recomputes them from their definitions), so a number typed into the notebook is not enough
once its inputs change, and a cell that stops computing it fails the test.
"""
import json

import nbformat

from nbgrader_harness import cell_problems, execute_notebook

MARKER = "<<probe>>"


def run_with_probe(notebook, expressions, folder, env=None):
    """Execute `notebook` (a copy, in `folder`) and evaluate `expressions` in its namespace.

    Inputs:
    - notebook: path of the solution .ipynb.
    - expressions: {name: Python expression evaluated after the last cell}.
    - folder: a temporary folder for the copy.
    - env: extra environment variables for the kernel.

    Returns {name: value} with numpy values turned into floats or lists. Raises AssertionError
    listing the problems if a cell failed or wrote to stderr.
    """
    nb = nbformat.read(notebook, as_version=4)
    probe = (
        "import json as _json, numpy as _np\n"
        f"_expressions = {json.dumps(expressions)}\n"
        f"print({MARKER!r} + _json.dumps({{k: _np.asarray(eval(e), dtype=float).tolist() "
        "for k, e in _expressions.items()}))\n"
    )
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    copy = folder / notebook.name
    nbformat.write(nb, copy)
    executed, seconds = execute_notebook(copy, env=env)
    problems = cell_problems(executed)
    assert not problems, "\n".join(problems)
    text = "".join(o.get("text", "") for o in executed.cells[-1].outputs if o.output_type == "stream")
    values = json.loads(text.split(MARKER, 1)[1])
    values["_seconds"] = seconds
    return values
