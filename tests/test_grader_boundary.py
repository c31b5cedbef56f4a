"""Verdicts are decided outside the student's process: attacks on the harness find nothing to hit.

A small course of its own (one setup array, two graded functions with hidden tests), graded in one
batch through the real grader. Every attacking submission answers the exercises with stubs (or
only part of them honestly), so it must score exactly what its honest part earns; and no hidden
test's source or values may reach what the student sees.
"""
from __future__ import annotations

import json
import textwrap

import nbformat
import pytest

from autograder import fixture_course as demo
from autograder.batch import grade_class
from autograder.course_dir import Course
from autograder.feedback import write_feedback
from autograder.sandbox import Limits

SETUP = "import numpy as np\nX_DATA = np.array([1.0, 2.0, 3.0])"
SCALE = "def scale(x):\n    \"\"\"3 x, elementwise.\"\"\"\n    ### BEGIN SOLUTION\n    return 3.0 * np.asarray(x)\n    ### END SOLUTION\n"
SHIFT = "def shift(x):\n    \"\"\"x + 1, elementwise.\"\"\"\n    ### BEGIN SOLUTION\n    return np.asarray(x) + 1.0\n    ### END SOLUTION\n"
SECRET_LINE = "SECRET_INPUT = np.array([7.25, -8.5])"
TEST_SCALE = ("assert np.allclose(scale(X_DATA), [3.0, 6.0, 9.0])\n### BEGIN HIDDEN TESTS\n"
              f"{SECRET_LINE}\nassert np.allclose(scale(SECRET_INPUT), [21.75, -25.5])\n"
              "assert np.allclose(scale(X_DATA), [3.0, 6.0, 9.0]), 'X_DATA must be unchanged'\n"
              "### END HIDDEN TESTS")
TEST_SHIFT = ("assert np.allclose(shift(np.array([1.0])), [2.0])\n### BEGIN HIDDEN TESTS\n"
              "assert np.allclose(shift(np.array([41.5, 0.0])), [42.5, 1.0])\n### END HIDDEN TESTS")
CELLS = [("setup", "imports", SETUP, 0), ("solution", "scale", SCALE, 0), ("test", "test_scale", TEST_SCALE, 2),
         ("solution", "shift", SHIFT, 0), ("test", "test_shift", TEST_SHIFT, 1)]
HIDDEN_TEXT = ["SECRET_INPUT", "7.25", "-8.5", "41.5", "42.5", "25.5", "X_DATA must be unchanged"]

STUB_SCALE = "def scale(x):\n    return np.zeros(np.shape(x))\n"
STUB_SHIFT = "def shift(x):\n    return np.zeros(np.shape(x))\n"
CORRECT_SHIFT = "def shift(x):\n    return np.asarray(x) + 1.0\n"


def code(text):
    return textwrap.dedent(text).strip("\n") + "\n"


# student -> (scale cell, shift cell, expected score, flag substring expected or None)
ATTACKS = {
    "honest": (SCALE, SHIFT, 3, None),
    "stubs": (STUB_SCALE, STUB_SHIFT, 0, None),
    # An audit hook collects the frames of everything that looks at one, and walks up from them.
    "audit_hook_frames": (code("""
        import sys
        found = []
        def spy(event, args):
            for arg in args:
                if type(arg).__name__ == "frame":
                    found.append(arg)
                    frame = arg
                    while frame is not None:
                        for cell in getattr(frame.f_locals.get("check"), "__closure__", None) or ():
                            cell.cell_contents = lambda *a, **k: True
                        frame = frame.f_back
        sys.addaudithook(spy)
        """) + STUB_SCALE, STUB_SHIFT, 0, None),
    # The capture writer's class is swapped: the student's code runs whenever output is read.
    "stdout_class_swap": (code("""
        import sys
        class Hooked:
            def write(self, text):
                return len(text)
            def flush(self):
                pass
            def take(self):
                import numpy
                numpy.allclose = lambda *a, **k: True
                return ""
        try:
            sys.stdout.__class__ = Hooked
        except TypeError:
            pass
        """) + STUB_SCALE, STUB_SHIFT, 0, None),
    # A fresh _thread module brings threads back; one reads everything that comes down the pipes.
    "fresh_thread_reader": (code("""
        import importlib.util, os
        spec = importlib.util.find_spec("_thread")
        fresh = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fresh)
        stolen = []
        def read_all():
            for fd in range(3, 20):
                try:
                    stolen.append(os.read(fd, 1 << 16))
                except OSError:
                    pass
        try:
            fresh.start_new_thread(read_all, ())
        except Exception:
            pass
        """) + STUB_SCALE, STUB_SHIFT, 0, None),
    # numpy's Python-level classes patched, and restored after one use.
    "patch_numpy_classes": (code("""
        import numpy as np
        real_enter = np.errstate.__enter__
        def enter(self):
            np.allclose = lambda *a, **k: True
            return real_enter(self)
        np.errstate.__enter__ = enter
        np.ndindex.__next__ = lambda self: (_ for _ in ()).throw(StopIteration)
        """) + STUB_SCALE, STUB_SHIFT, 0, None),
    # Tracebacks lead to frames: the caller's locals would hold the test's expected values.
    "traceback_frames": (code("""
        import sys
        def scale(x):
            try:
                raise RuntimeError
            except RuntimeError as error:
                frame = error.__traceback__.tb_frame
                while frame is not None:
                    frame.f_locals.get("expected", [None])[:] = np.zeros(np.shape(x))
                    frame = frame.f_back
            return np.zeros(np.shape(x))
        """), STUB_SHIFT, 0, None),
    # A signal handler would run between the harness's steps.
    "signal_handler": (code("""
        import signal
        def undo(*args):
            np.allclose = lambda *a, **k: True
        try:
            signal.signal(signal.SIGALRM, undo)
            signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
        except Exception:
            pass
        """) + STUB_SCALE, STUB_SHIFT, 0, None),
    # Search the whole process for the test's namespace.
    "search_memory": (code("""
        import gc
        def scale(x):
            try:
                for obj in gc.get_objects():
                    if isinstance(obj, dict) and "SECRET" + "_INPUT" in obj:
                        obj["np"] = None
            except Exception:
                pass
            return np.zeros(np.shape(x))
        """), STUB_SHIFT, 0, None),
    # A lying class that claims to be numpy's.
    "borrowed_module": (code("""
        class Agreeable:
            __module__ = "numpy"
            def __eq__(self, other): return True
            def __array__(self, dtype=None, copy=None): return np.array([3.0, 6.0, 9.0])
        def scale(x):
            return Agreeable()
        """), STUB_SHIFT, 0, None),
    # Correct values, but the notebook's data is zeroed in place: the test keeps the original.
    "mutate_setup_data": (code("""
        def scale(x):
            out = 3.0 * np.asarray(x)
            x[...] = 0
            return out
        """), CORRECT_SHIFT, 3, "changed the notebook's data"),
    # Every input is kept; the next function's error message prints them all.
    "exfiltrate_hidden_inputs": (code("""
        seen = []
        def scale(x):
            seen.append(np.asarray(x).tolist())
            return 3.0 * np.asarray(x)
        """), code("""
        def shift(x):
            raise ValueError(f"inputs seen so far: {seen}")
        """), 2, None),
    "huge_error": (code("""
        def scale(x):
            raise ValueError("x" * 10_000_000)
        """), STUB_SHIFT, 0, None),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = demo.make_course(tmp_path_factory.mktemp("boundary"))
    source = nbformat.v4.new_notebook()
    source.cells = [demo._cell(kind, grade_id, text, points) for kind, grade_id, text, points in CELLS]
    nbformat.write(source, root / "solutions" / "ps1" / "ps1.ipynb")
    for student, (scale, shift, _, _) in ATTACKS.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [demo._cell(kind, grade_id, {"scale": scale, "shift": shift}.get(grade_id, text), points)
                    for kind, grade_id, text, points in CELLS]
        for cell in nb.cells:
            if cell.metadata["nbgrader"]["grade"]:
                cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        demo.write_notebook(root, student, nb)
    course = Course.at(root)
    results = {r["student"]: r for r in grade_class(course, "ps1", jobs=2, progress=False,
                                                     limits=Limits(timeout=10, memory_mb=1024, grace=3))}
    write_feedback(course, "ps1")
    feedback = {student: (root / "feedback" / student / "ps1" / "ps1.html").read_text() for student in ATTACKS}
    return results, feedback


@pytest.mark.parametrize("student", list(ATTACKS))
def test_attack_scores_only_its_honest_work(graded, student):
    results, _ = graded
    expected, flag = ATTACKS[student][2], ATTACKS[student][3]
    result = results[student]
    assert result["score"] == expected, json.dumps(result["tests"], indent=1)[:3000]
    if flag is not None:
        assert any(flag in f for f in result["flags"]), result["flags"]


@pytest.mark.parametrize("student", list(ATTACKS))
def test_no_hidden_test_text_or_value_reaches_the_student(graded, student):
    results, feedback = graded
    seen = [json.dumps(t) for t in results[student]["tests"]] + [json.dumps(c) for c in results[student]["cells"]]
    for text in HIDDEN_TEXT:
        assert text not in feedback[student], f"{text!r} in the feedback of {student}"
        assert not any(text in s for s in seen), f"{text!r} in the results of {student}"


def test_exfiltration_attempt_sees_only_visible_inputs(graded):
    results, feedback = graded
    shift = next(t for t in results["exfiltrate_hidden_inputs"]["tests"] if t["cell_id"] == "test_shift")
    assert "inputs seen so far: [[1.0, 2.0, 3.0]]" in shift["error"], shift["error"]


def test_errors_are_capped(graded):
    results, _ = graded
    assert all(len(t["error"]) < 5000 for t in results["huge_error"]["tests"])
