"""End to end: a class of correct, blank, wrong and hostile submissions, graded in one batch.

The course is built in a temporary folder by `autograder.fixture_course` (one assignment, ps1: `double`
2 points, `relu` 3 points, `mean_square` 1 point), so these tests do not depend on the module
notebooks. Every submission must end with exactly the expected score, and the expected flag.
"""
from __future__ import annotations

import json
import sqlite3
import textwrap
from concurrent.futures import Executor

import nbformat
import pytest

from autograder import fixture_course as demo
from autograder.batch import grade_class, summary_table
from autograder.course_dir import Course
from autograder.sandbox import Limits

LIMITS = Limits(timeout=3, memory_mb=1024, grace=3)
C = demo.correct_code()
WRONG_RELU = "def relu(x):\n    return np.abs(x)\n"


def code(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def submissions(root):
    """student -> (notebook or raw bytes, expected score, expected flag substring or None)."""
    solutions = root / "solutions" / "ps1" / "ps1.ipynb"
    gradebook = root / "gradebook.db"
    return {
        "correct": (demo.notebook_with(C), 6, None),
        "blank": (demo.notebook_with({}), 0, None),
        "partly_wrong": (demo.notebook_with(dict(C, relu=WRONG_RELU)), 3, None),
        "hidden_only_failure": (demo.notebook_with(dict(C, double=code("""
            def double(x):
                print("computing double")
                return np.array([2.0, 4.0])
            """))), 4, None),
        "patch_allclose_top": (demo.notebook_with(dict(C, double=code("""
            np.allclose = lambda *a, **k: True
            np.testing.assert_allclose = lambda *a, **k: None
            def double(x):
                return x
            """))), 4, "numpy.allclose was replaced"),
        "patch_allclose_in_call": (demo.notebook_with(dict(C, double=code("""
            def double(x):
                import numpy
                numpy.allclose = lambda *a, **k: True
                numpy.core.numeric.isclose = lambda *a, **k: True
                return x
            """))), 4, "tampering in test cell test_double"),
        "rebind_numpy_name": (demo.notebook_with(dict(C, double=code("""
            class AlwaysTrue:
                def __getattr__(self, name):
                    return lambda *args, **kwargs: True
            np = AlwaysTrue()
            def double(x):
                return x
            """))), 0, None),   # the student's own functions use the fake np; the tests do not
        "patch_builtins": (demo.notebook_with(dict(C, mean_square=code("""
            import builtins
            builtins.abs = lambda x: 0.0
            def mean_square(x):
                return 0.0
            """))), 5, "builtins.abs was replaced"),
        "patch_json": (demo.notebook_with(C, extra_cells=[("imports", code("""
            import json, json.encoder
            json.encoder.JSONEncoder.encode = lambda self, o: '{"passed": true, "done": true}'
            json.dumps = lambda *a, **k: '{"passed": true, "done": true}'
            """))]), 6, "json.encoder.JSONEncoder.encode was replaced"),
        "patch_checker_module": (demo.notebook_with(C, extra_cells=[("imports", code("""
            import course.gradcheck as checks
            checks.assert_close = lambda *a, **k: None
            """))]), 6, "course.gradcheck.assert_close was replaced"),
        "lying_eq": (demo.notebook_with(dict(C, double=code("""
            class Anything:
                def __eq__(self, other): return True
                def __sub__(self, other): return 0.0
                __rsub__ = __sub__
                def __abs__(self): return 0.0
                def __array__(self, dtype=None, copy=None): return np.zeros(0)
            def double(x):
                return Anything()
            """), mean_square=code("""
            def mean_square(x):
                return Anything()
            """))), 3, None),                     # the comparison runs in the grader, not on Anything
        "reach_the_grader": (demo.notebook_with(dict(C, double=code("""
            import builtins, sys
            class Anything:
                def __eq__(self, other): return True
            def double(x):
                routes = [lambda: sys.modules["autograder.guard"].Screen,
                          lambda: sys.stdout.write.__globals__["guard"].Screen,
                          lambda: get_ipython.__globals__["guard"].Screen,
                          lambda: sys.modules["__main__"].guard.Screen]
                for route in routes:
                    try:
                        route().reason = lambda *args, **kwargs: None
                    except Exception:
                        pass
                real_set = builtins.set
                def empty_set(*args):
                    builtins.set = real_set          # restores itself after one call
                    return real_set()
                builtins.set = empty_set
                return [Anything(), Anything()]
            """))), 4, "builtins.set was replaced"),
        "ndarray_subclass": (demo.notebook_with(dict(C, double=code("""
            class Agreeable(np.ndarray):
                def __eq__(self, other): return np.ones(np.shape(other), bool)
                def __array_function__(self, func, types, args, kwargs): return True
                def __array_ufunc__(self, *args, **kwargs): return np.ones(1, bool)
            def double(x):
                return np.zeros(np.shape(x)).view(Agreeable)
            """))), 4, None),                     # it reaches the grader as a plain array of zeros
        "read_frames": (demo.notebook_with(dict(C, double=code("""
            import sys
            def double(x):
                caller = sys._getframe(1)
                return 2.0 * np.asarray(x, dtype=float)
            """))), 4, "blocked sys._getframe"),
        "os_exit_top": (demo.notebook_with(C, extra_cells=[("test_double", "import os\nos._exit(1)")]),
                        6, "kernel died in a cell you added at line 2: exited with code 1"),
        "os_exit_in_test": (demo.notebook_with(dict(C, relu=code("""
            def relu(x):
                import os
                os._exit(0)
            """))), 3, "kernel died in test cell test_relu"),
        "infinite_loop": (demo.notebook_with(dict(C, double=code("""
            def double(x):
                while True:
                    pass
            """)), extra_cells=[("relu", "while True:\n    pass")]), 4, None),
        "swallowed_timeout": (demo.notebook_with(dict(C, relu=code("""
            def relu(x):
                while True:
                    try:
                        while True:
                            pass
                    except BaseException:
                        pass
            """))), 3, "did not finish"),
        "memory_bomb": (demo.notebook_with(dict(C, relu=code("""
            def relu(x):
                hog = np.ones((200_000, 100_000))
                return np.maximum(x, 0)
            """)), extra_cells=[("imports", "hog = bytearray(50 * 1024**3)")]), 3, None),
        "fork_bomb": (demo.notebook_with(C, extra_cells=[("imports", code("""
            import os
            while True:
                os.fork()
            """)), ("double", code("""
            import subprocess
            subprocess.Popen(["sh", "-c", ":(){ :|:& };:"])
            """))]), 6, "blocked os.fork"),
        "huge_print": (demo.notebook_with(C, extra_cells=[("imports", "print('x' * 100_000_000)"),
                                                         ("relu", "import os\nos.write(1, b'y' * 100_000_000)")]),
                       6, None),
        "warning_stderr": (demo.notebook_with(dict(C, double=code("""
            import sys, warnings
            def double(x):
                warnings.warn("this is only a warning")
                print("noise on stderr", file=sys.stderr)
                return 2.0 * np.asarray(x, dtype=float)
            """))), 6, None),
        "steal_files": (demo.notebook_with(C, extra_cells=[("imports", code(f"""
            for target in [{str(solutions)!r}, {str(gradebook)!r}]:
                try:
                    print("READ", open(target).read()[:2000])
                except Exception as error:
                    print("no read:", type(error).__name__)
                try:
                    open(target, "w").write("overwritten")
                    print("WROTE", target)
                except Exception as error:
                    print("no write:", type(error).__name__)
            """))]), 6, None),
        "edited_tests": (demo.notebook_with(C, drop=["test_double"], edit={"test_relu": "pass"}),
                         6, "test cell test_relu edited"),
        "stripped_reordered": (_reordered(demo.notebook_with(C, strip_metadata=True)), 6, None),
        "duplicated_cells": (_duplicated(demo.notebook_with(C)), 6, None),
        "old_nbformat": (_as_v3(C), 6, None),
        "sys_exit": (demo.notebook_with(dict(C, relu=code("""
            def relu(x):
                raise SystemExit(0)
            """)), extra_cells=[("imports", "import sys\nsys.exit(0)")]), 3, None),
        "fake_grader_messages": (demo.notebook_with(C, extra_cells=[("test_relu", code("""
            import os
            for fd in range(3, 12):
                try:
                    os.write(fd, b'{"passed": true, "done": true, "tamper": []}\\n')
                except OSError:
                    pass
            """))]), 6, "unexpected data on the grader's channel"),
        "close_grader_channel": (demo.notebook_with(C, extra_cells=[("double", code("""
            import os
            for fd in range(3, 64):
                try:
                    os.close(fd)
                except OSError:
                    pass
            """))]), 6, "kernel died in a cell you added"),
        "fill_disk_and_memory_file": (demo.notebook_with(C, extra_cells=[("imports", code("""
            for i in range(20):
                open(f"junk{i}", "wb").write(b"x" * 50_000_000)
            """)), ("relu", "open('/proc/self/mem', 'r+b')")]), 6, "blocked opening /proc/self/mem"),
        "not_a_notebook": (b"print('hello')\n", 0, None),
        "invalid_json": (b'{"cells": [', 0, None),
        "empty": (b"", 0, None),
    }


def _reordered(nb):
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = [code_cells[0]] + code_cells[5:7] + code_cells[1:5]   # mean_square moved first
    return nb


def _duplicated(nb):
    cells = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "relu":
            wrong = nbformat.from_dict(json.loads(json.dumps(cell)))
            wrong.source = WRONG_RELU
            wrong.id = "relu-first-try"
            cells.append(wrong)
        cells.append(cell)
    nb.cells = cells
    return nb


def _as_v3(solutions):
    v3 = nbformat.v3
    cells = [v3.new_code_cell(input="import numpy as np")]
    cells += [v3.new_code_cell(input=text) for text in solutions.values()]
    return v3.new_notebook(worksheets=[v3.new_worksheet(cells=cells)])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = demo.make_course(tmp_path_factory.mktemp("course"))
    cases = submissions(root)
    solutions_before = (root / "solutions" / "ps1" / "ps1.ipynb").read_bytes()
    for student, (content, _, _) in cases.items():
        if isinstance(content, bytes):
            path = root / "submitted" / student / "ps1" / "ps1.ipynb"
            path.parent.mkdir(parents=True)
            path.write_bytes(content)
        elif student == "old_nbformat":
            path = root / "submitted" / student / "ps1" / "homework_final.ipynb"  # renamed too
            path.parent.mkdir(parents=True)
            path.write_text(nbformat.v3.writes_json(content))
        else:
            demo.write_notebook(root, student, content)
    course = Course.at(root)
    results = grade_class(course, "ps1", jobs=2, limits=LIMITS, progress=False)
    print(summary_table(results))
    return {"root": root, "course": course, "cases": cases, "solutions_before": solutions_before,
            "results": {r["student"]: r for r in results}}


CASES = list(submissions(__import__("pathlib").Path("/nonexistent")))


@pytest.mark.parametrize("student", CASES)
def test_score_and_flag(graded, student):
    _, expected_score, expected_flag = graded["cases"][student]
    result = graded["results"][student]
    assert result["score"] == expected_score, json.dumps(result, indent=1)[:4000]
    flags = " | ".join(result["flags"])
    if expected_flag is None:
        assert not any("tampering" in f for f in result["flags"]), flags
    else:
        assert expected_flag in flags, flags


def test_unreadable_files_are_reported(graded):
    for student, reason in [("not_a_notebook", "not valid JSON"), ("invalid_json", "not valid JSON"),
                            ("empty", "empty file")]:
        result = graded["results"][student]
        assert result["status"] == "unreadable" and reason in result["error"], result


def test_private_files_were_neither_read_nor_written(graded):
    root = graded["root"]
    assert (root / "solutions" / "ps1" / "ps1.ipynb").read_bytes() == graded["solutions_before"]
    result = graded["results"]["steal_files"]
    output = " ".join(cell["output"] for cell in result["cells"])
    assert "BEGIN HIDDEN TESTS" not in output and "WROTE" not in output, output
    assert output.count("no read:") == 2 and output.count("no write:") == 2, output
    rows = sqlite3.connect(root / "gradebook.db").execute("select count(*) from grade").fetchone()
    assert rows[0] == 3 * len(graded["cases"])


def test_recovery_is_noted(graded):
    notes = " ".join(graded["results"]["stripped_reordered"]["notes"])
    assert "matched back" in notes and "reordered" in notes


def test_kernel_death_is_located(graded):
    deaths = graded["results"]["os_exit_in_test"]["deaths"]
    assert deaths and deaths[0]["where"] == "test cell test_relu"
    tests = {t["cell_id"]: t["status"] for t in graded["results"]["os_exit_in_test"]["tests"]}
    assert tests == {"test_double": "passed", "test_relu": "kernel died", "test_mean_square": "passed"}


def test_gradebook_holds_the_scores(graded):
    from autograder.gradebook import open_gradebook, scores

    with open_gradebook(graded["course"].db_url) as gb:
        rows = {row["student"]: row["score"] for row in scores(gb, "ps1")}
    assert rows == {student: float(case[1]) for student, case in graded["cases"].items()}


def test_feedback_never_shows_hidden_tests(graded):
    from autograder.feedback import write_feedback

    written = write_feedback(graded["course"], "ps1")
    assert len(written) == len(graded["cases"])
    page = (graded["root"] / "feedback" / "partly_wrong" / "ps1" / "ps1.html").read_text()
    assert "1 / 6" not in page and "3 / 6" in page
    blank = (graded["root"] / "feedback" / "blank" / "ps1" / "ps1.html").read_text()
    assert "NotImplementedError" in blank
    for path in written:
        text = path.read_text()
        for hidden_line in ["np.linspace(-2, 2, 9)", "x = np.arange(7.0)", "mean_square(np.zeros(3))",
                            "HIDDEN"]:
            assert hidden_line not in text, (path, hidden_line)


def test_hidden_failure_gets_only_a_hint(graded, tmp_path):
    from autograder.feedback import feedback_items

    result = {"tests": [{"cell_id": "test_relu", "points": 3, "score": 0, "status": "failed",
                         "failed_part": "hidden", "error": "AssertionError: x = np.linspace(-2, 2, 9)",
                         "output": "secret", "hints": ["what is relu(0)?"]}]}
    item = feedback_items(result)[0]
    assert "linspace" not in item["message"] and "secret" not in item["output"]
    assert "what is relu(0)?" in item["message"]


def test_exports(graded):
    from autograder.export import export_csv, export_gradescope

    target = export_csv(graded["course"], "ps1", graded["root"] / "grades.csv")
    rows = {line.split(",")[0]: line.split(",") for line in target.read_text().splitlines()[1:]}
    assert rows["correct"][2] == "6" and rows["partly_wrong"][2] == "3"
    assert rows["patch_builtins"][5] == "yes" and rows["correct"][5] == ""
    written = export_gradescope(graded["course"], "ps1")
    assert len(written) == len(graded["cases"])
    data = json.loads((graded["root"] / "autograded" / "partly_wrong" / "ps1" / "results.json").read_text())
    assert data["score"] == 3 and {t["max_score"] for t in data["tests"]} == {1, 2, 3}
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "passed"]


class NothingToGrade(Executor):
    """An executor for a batch whose results are all up to date: any job sent to it fails the test."""

    def submit(self, fn, *args, **kwargs):
        raise AssertionError(f"a submission was graded again: {args}")


def test_grading_again_reuses_results_and_keeps_the_gradebook(graded):
    db = graded["root"] / "gradebook.db"
    before = sqlite3.connect(db).execute(
        "select id, auto_score from grade order by id").fetchall()
    results = grade_class(graded["course"], "ps1", executor=NothingToGrade(), limits=LIMITS, progress=False)
    after = sqlite3.connect(db).execute("select id, auto_score from grade order by id").fetchall()
    assert before == after
    assert {r["student"]: r["score"] for r in results} == {s: c[1] for s, c in graded["cases"].items()}


def test_hidden_failure_is_told_apart_from_visible(graded):
    tests = {t["cell_id"]: t for t in graded["results"]["hidden_only_failure"]["tests"]}
    assert tests["test_double"]["failed_part"] == "hidden:0"      # the region of the hidden part's first hint
    assert tests["test_double"]["output"] == "computing double\ndouble: visible test passed\n"
    tests = {t["cell_id"]: t for t in graded["results"]["partly_wrong"]["tests"]}
    assert tests["test_relu"]["failed_part"] == "visible"
    from autograder.feedback import write_feedback

    write_feedback(graded["course"], "ps1")
    page = (graded["root"] / "feedback" / "hidden_only_failure" / "ps1" / "ps1.html").read_text()
    assert "failed a hidden test" in page and "double must work for arrays of any length" in page
