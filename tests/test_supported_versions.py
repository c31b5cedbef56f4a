"""The Python versions promised (README, pyproject's classifiers) are the ones the matrix tests."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def matrix_pythons() -> list[str]:
    """PYTHONS of noxfile.py (read, not imported: nox need not be installed)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    assignment = next(node for node in tree.body if isinstance(node, ast.Assign)
                      and any(getattr(t, "id", None) == "PYTHONS" for t in node.targets))
    return ast.literal_eval(assignment.value)


def test_the_classifiers_name_exactly_the_tested_pythons():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: "
    classified = [c[len(prefix):] for c in project["classifiers"] if re.fullmatch(r"3\.\d+", c[len(prefix):])]
    assert classified == matrix_pythons()
    assert project["requires-python"] == f">={matrix_pythons()[0]}"


def test_the_readme_promises_the_tested_pythons():
    readme = (ROOT / "README.md").read_text()
    first, last = matrix_pythons()[0], matrix_pythons()[-1]
    assert f"Python {first} to {last}" in readme
    assert not set(re.findall(r"Python (3\.\d+) to (3\.\d+)", readme)) - {(first, last)}
