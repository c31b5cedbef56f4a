"""Which playgrounds the notebooks show, and how the browser test drives each one.

Shared by tests/test_browser.py (JupyterLab and Voila in Chromium) and tests/test_colab.py
(the notebooks in Colab's versions): both find a notebook's playgrounds in its source, so a new
module is covered as soon as its notebook is in solutions/, and a new playground needs one line
in PLAYGROUNDS.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Playground:
    """How the browser test drives one course.widgets playground.

    - function: the course.widgets function that shows it.
    - action: "drag" to drag its first slider (or, without a slider, press its first enabled
      button), or the label of the button to press.
    """
    function: str
    action: str


PLAYGROUNDS = {p.function: p for p in [
    Playground("perceptron_playground", "drag"),
    Playground("decision_boundary_playground", "Step"),
    Playground("relu_sum_playground", "drag"),
    Playground("backward_stepper", "Next"),
    Playground("conv_explorer", "drag"),
    Playground("conv_gradient_explorer", "drag"),
]}

# The playgrounds a module's notebook must show, by module number (a module not there yet is not
# checked; a notebook may show more).
REQUIRED = {
    "01": {"perceptron_playground", "decision_boundary_playground"},
    "02": {"relu_sum_playground"},
    "04": {"backward_stepper"},
    "05": {"conv_explorer", "conv_gradient_explorer"},
}


def playground_calls(source: str) -> list[str]:
    """The PLAYGROUNDS functions a cell calls (with show left on), in the order of the source."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        hidden = any(k.arg == "show" and isinstance(k.value, ast.Constant) and k.value.value is False
                     for k in node.keywords)
        if name in PLAYGROUNDS and not hidden:
            calls.append((node.lineno, node.col_offset, name))
    return [name for _, _, name in sorted(calls)]
