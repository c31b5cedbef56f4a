"""Feedback that teaches: a hint per hidden check, the student's own code, no instructor notes."""
from __future__ import annotations

import ast
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder.course_dir import Course
from autograder.feedback import exercise_code, feedback_items, render_html
from autograder.model import hint_regions, load_source, split_hidden

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in (ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)

TEST_CODE = """\
assert double(1) == 2
### BEGIN HIDDEN TESTS
_x = 3
# hint: negative numbers
assert double(-1) == -2
# hint: arrays
assert double(_x) == 7
### END HIDDEN TESTS
"""


def failing_region(code, namespace):
    """Run test code as the kernel does (markers become region calls); the region it failed in."""
    region = ["visible"]
    lines = []
    for line in hint_regions(code).splitlines():
        marker = line.strip()
        if marker == "### BEGIN HIDDEN TESTS":
            line = "__ag_region__('hidden')"
        elif marker == "### END HIDDEN TESTS":
            line = "__ag_region__('visible')"
        lines.append(line)
    namespace["__ag_region__"] = lambda name: region.__setitem__(0, name)
    try:
        exec("\n".join(lines), namespace)
    except AssertionError:
        return region[0]
    return None


def test_a_hidden_check_fails_in_the_region_of_its_own_hint():
    assert failing_region(TEST_CODE, {"double": lambda v: 2 * v}) == "hidden:1"
    assert failing_region(TEST_CODE, {"double": lambda v: 2 * abs(v)}) == "hidden:0"
    assert failing_region(TEST_CODE, {"double": lambda v: 3 * v}) == "visible"


def test_code_whose_hints_cannot_take_a_marker_is_left_alone():
    odd = "### BEGIN HIDDEN TESTS\nx = [1,\n# hint: in the middle of a list\n     2]\n### END HIDDEN TESTS\n"
    assert hint_regions(odd) == odd


def test_the_failed_checks_hint_alone_is_shown_and_nothing_of_the_hidden_test():
    result = {"tests": [{"cell_id": "test_linear", "points": 2, "score": 0, "status": "failed",
                         "failed_part": "hidden:1", "error": "CheckError: db = [12, 15, 18, 21]",
                         "output": "secret", "hints": ["a square W", "db for a batch of several examples"]}]}
    item = feedback_items(result)[0]
    assert "db for a batch of several examples" in item["message"] and "a square W" not in item["message"]
    assert "12" not in item["message"] and item["output"] == ""


def test_the_page_shows_the_students_code_beside_its_result_and_no_instructor_notes():
    result = {"assignment": "01_perceptron", "notebook": "01_perceptron", "score": 0, "max_score": 2,
              "tests": [{"cell_id": "test_predict", "points": 2, "score": 0, "status": "failed",
                         "failed_part": "hidden:0", "error": "CheckError: hidden values", "output": "",
                         "hints": ["w = 0, where the bias alone decides"]}],
              "notes": ["isolation: none (unverified)", "/tmp is shared with the grader"],
              "flags": ["delegated to the library: predict"]}
    page = render_html(result, {"test_predict": "def predict(X, w, b):\n    return (X @ w + b >= 0) * 1.0"})
    assert "return (X @ w + b &gt;= 0) * 1.0" in page
    assert "w = 0, where the bias alone decides" in page
    for hidden in ("isolation", "/tmp is shared", "delegated", "hidden values"):
        assert hidden not in page


def test_exercise_code_is_read_from_the_submitted_notebook(tmp_path):
    module = "01_perceptron"
    source_path = ROOT / "solutions" / module / f"{module}.ipynb"
    root = tmp_path / "course"
    (root / "solutions" / module).mkdir(parents=True)
    shutil.copy(source_path, root / "solutions" / module)
    nb = nbformat.read(source_path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "predict":
            cell.source = "def predict(X, w, b):\n    return np.where(X @ w + b > 0, 1.0, 0.0)"
            cell.metadata = {}          # lost metadata: found again by the name it defines
    target = root / "submitted" / "alice" / module / f"{module}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)

    code = exercise_code(Course.at(root), "alice", module, module)
    assert code["test_predict"] == "def predict(X, w, b):\n    return np.where(X @ w + b > 0, 1.0, 0.0)"
    assert "def make_xor_mlp" in code["test_xor_mlp"] and "def train_xor_mlp" in code["test_xor_mlp"]
    assert exercise_code(Course.at(root), "bob", module, module) == {}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_every_hidden_check_of_the_modules_has_a_hint_before_it(path):
    """Each hidden part starts its checks under a `# hint:` line, and the hints can be marked."""
    for cell in load_source(path).tests:
        if not cell.hidden.strip():
            continue
        assert cell.hints, f"{path.stem} {cell.cell_id}: a hidden test without a hint"
        assert hint_regions(cell.code) != cell.code, f"{path.stem} {cell.cell_id}: hints cannot be marked"
        hidden = textwrap.dedent(split_hidden(cell.code)[1])
        first_hint = next(i for i, line in enumerate(hidden.splitlines()) if line.strip().startswith("# hint:"))
        checks = [node.lineno - 1 for node in ast.walk(ast.parse(hidden))
                  if isinstance(node, ast.Assert) or (isinstance(node, ast.Call) and getattr(node.func, "id", "")
                                                       in ("assert_close", "check_backward", "gradcheck"))]
        assert not checks or min(checks) > first_hint, f"{path.stem} {cell.cell_id}: a check before the first hint"
