"""A test fixture: a tiny course to test the grading pipeline on (and to try it): one assignment
`ps1` with three graded functions, its release, and submissions of every kind a class produces.

    from autograder.fixture_course import make_course, write_submission
    root = make_course(tmp_path)                  # solutions/ps1, assignments/ps1, nbgrader_config.py
    write_submission(root, "alice", "correct")    # submitted/alice/ps1/ps1.ipynb

The source uses the same nbgrader metadata as the course's real notebooks (schema_version 3).
"""
from __future__ import annotations

from pathlib import Path

from ._nbformat import nbformat
from .model import strip_solution, split_hidden

ASSIGNMENT = "ps1"
STUB = '# YOUR CODE HERE\nraise NotImplementedError("Replace this line with your code.")'

SETUP = "import numpy as np"
SOLUTIONS = {
    "double": ("def double(x):\n    \"\"\"Return 2 * x as a float array.\"\"\"\n    ### BEGIN SOLUTION\n"
               "    return 2.0 * np.asarray(x, dtype=float)\n    ### END SOLUTION\n"),
    "relu": ("def relu(x):\n    \"\"\"ReLU of an array: max(x, 0) elementwise.\"\"\"\n    ### BEGIN SOLUTION\n"
             "    return np.maximum(x, 0.0)\n    ### END SOLUTION\n"),
    "mean_square": ("def mean_square(x):\n    \"\"\"Mean of the squares of x, as a Python float.\"\"\"\n"
                    "    ### BEGIN SOLUTION\n    return float(np.mean(np.square(np.asarray(x, dtype=float))))\n"
                    "    ### END SOLUTION\n"),
}
TESTS = {
    "test_double": (2, "assert np.allclose(double([1, 2]), [2, 4])\nprint('double: visible test passed')\n"
                       "### BEGIN HIDDEN TESTS\n# hint: double must work for arrays of any length\n"
                       "x = np.arange(7.0)\nassert np.allclose(double(x), x + x)\n"
                       "assert double(np.zeros((2, 3))).shape == (2, 3)\n### END HIDDEN TESTS"),
    "test_relu": (3, "np.testing.assert_allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0])\n"
                     "### BEGIN HIDDEN TESTS\n# hint: what is relu(0)? and of negative numbers?\n"
                     "x = np.linspace(-2, 2, 9)\nassert np.allclose(relu(x), np.where(x > 0, x, 0.0))\n"
                     "assert relu(np.array([0.0]))[0] == 0\n### END HIDDEN TESTS"),
    "test_mean_square": (1, "assert abs(mean_square([1.0, 3.0]) - 5.0) < 1e-9\n"
                            "### BEGIN HIDDEN TESTS\nassert mean_square(np.zeros(3)) == 0.0\n"
                            "assert abs(mean_square([-2.0]) - 4.0) < 1e-12\n### END HIDDEN TESTS"),
}
ORDER = [("setup", "imports", SETUP), ("solution", "double", None), ("test", "test_double", None),
         ("solution", "relu", None), ("test", "test_relu", None),
         ("solution", "mean_square", None), ("test", "test_mean_square", None)]


def _cell(kind, grade_id, code, points=0):
    meta = {"grade": kind == "test", "solution": kind == "solution", "locked": kind != "solution",
            "grade_id": grade_id, "schema_version": 3}
    if kind == "test":
        meta["points"] = points
    cell = nbformat.v4.new_code_cell(code, metadata={"nbgrader": meta})
    cell.id = grade_id.replace("_", "-")
    return cell


def source_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Problem set 1"))
    for kind, grade_id, code in ORDER:
        if kind == "setup":
            nb.cells.append(_cell(kind, grade_id, code))
        elif kind == "solution":
            nb.cells.append(_cell(kind, grade_id, SOLUTIONS[grade_id]))
        else:
            points, test = TESTS[grade_id]
            nb.cells.append(_cell(kind, grade_id, test, points))
    return nb


def release_notebook() -> nbformat.NotebookNode:
    """What students get: solutions replaced by a stub, hidden tests removed."""
    nb = source_notebook()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            kept = strip_solution(cell.source).rstrip()
            cell.source = kept + "\n    " + STUB.replace("\n", "\n    ")
        elif meta.get("grade"):
            cell.source = split_hidden(cell.source)[0]
    return nb


def make_course(root: str | Path) -> Path:
    root = Path(root)
    (root / "solutions" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (root / "assignments" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        'c = get_config()  # noqa: F821\nc.CourseDirectory.source_directory = "solutions"\n'
        'c.CourseDirectory.release_directory = "assignments"\n')
    nbformat.write(source_notebook(), root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    nbformat.write(release_notebook(), root / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    return root


def notebook_with(replacements: dict[str, str], *, extra_cells=(), strip_metadata=False,
                  drop=(), edit=None) -> nbformat.NotebookNode:
    """The release with some solution cells filled in.

    replacements: grade_id -> code of that cell. extra_cells: (after grade_id, code) pairs of
    cells the student added. drop: grade_ids of cells deleted. edit: grade_id -> new code for a
    test cell. strip_metadata: remove all nbgrader metadata (as some editors do).
    """
    nb = release_notebook()
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in drop:
            continue
        if grade_id in replacements:
            cell.source = replacements[grade_id]
        if edit and grade_id in edit:
            cell.source = edit[grade_id]
        cells.append(cell)
        for after, code in extra_cells:
            if after == grade_id:
                cells.append(nbformat.v4.new_code_cell(code))
    if strip_metadata:
        for cell in cells:
            cell.metadata = {}
    nb.cells = cells
    return nb


def correct_code() -> dict[str, str]:
    """grade_id -> a student's correct cell: the source cell without the solution markers."""
    return {gid: "\n".join(line for line in code.splitlines()
                           if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")) + "\n"
            for gid, code in SOLUTIONS.items()}


def write_notebook(root: str | Path, student: str, nb: nbformat.NotebookNode) -> Path:
    path = Path(root) / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
