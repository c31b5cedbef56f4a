"""IPython syntax in graded cells runs as nbgrader (IPython) runs it; nothing is skipped without a note."""
from __future__ import annotations

import contextlib
import io
import os

import traceback

import pytest

from autograder import fixture_course
from autograder.magics import translate


def run(code: str) -> tuple[dict, str, list[str]]:
    """Translate a cell, run it; returns (namespace, printed output, notes)."""
    python, notes = translate(code)
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(python, "<cell>", "exec"), namespace)
    return namespace, out.getvalue(), notes


@pytest.mark.parametrize("magic", ["%%time", "%%timeit", "%%prun -s cumulative", "%%debug"])
def test_timing_cell_magics_run_the_cell_once(magic):
    namespace, out, notes = run(f"{magic}\ncalls = []\ncalls.append(1)\nprint('ran')")
    assert namespace["calls"] == [1] and out == "ran\n" and notes == []


def test_timeit_cell_runs_its_setup_statement_first():
    namespace, _, notes = run("%%timeit -n 10 -r 3 base = 5\ntotal = base + 1")
    assert namespace["total"] == 6 and notes == []


@pytest.mark.parametrize("line, expected", [
    ("%time y = f(3)", 9), ("%timeit y = f(3)", 9), ("%timeit -n 100 -r3 y = f(3)", 9),
    ("%timeit -n100 -q y = f(3)", 9), ("y = %time f(3)", 9), ("%prun -s time -q y = f(3)", 9)])
def test_timing_line_magics_run_their_statement(line, expected):
    namespace, _, notes = run(f"def f(x):\n    return x * x\n{line}")
    assert namespace["y"] == expected and notes == []


def test_capture_runs_silently_and_keeps_names():
    namespace, out, notes = run("%%capture\nprint('noise')\nfor i in range(3):\n    print(i)\n"
                                "text = '''two\nlines'''\nkept = i")
    assert out == "" and namespace["kept"] == 2 and namespace["text"] == "two\nlines" and notes == []


def test_setup_magics_and_installs_do_nothing_quietly():
    code = ("%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n!pip install --quiet numpy\n"
            "%pip install torch\nif False:\n    !pip install course\nnp = 1\nhelp_me?\n")
    namespace, _, notes = run(code)
    assert namespace["np"] == 1 and notes == []


def test_shell_commands_and_unknown_line_magics_are_noted_not_run():
    namespace, _, notes = run("!ls -la /\nfiles = !ls\n%cd /tmp\nx = 1")
    assert namespace["files"] == [] and namespace["x"] == 1
    assert notes == ["line 1: the shell command `!ls -la /` was not run while grading",
                     "line 2: the shell command `!ls` was not run while grading",
                     "line 3: `%cd /tmp` was not run while grading (IPython's)"]


def test_env_magic_sets_the_variable(monkeypatch):
    monkeypatch.delenv("AG_MAGIC_TEST", raising=False)
    run("%env AG_MAGIC_TEST=on")
    assert os.environ["AG_MAGIC_TEST"] == "on"


def test_unknown_cell_magic_runs_python_with_a_note():
    namespace, _, notes = run("%%memit\nvalue = 41 + 1")
    assert namespace["value"] == 42
    assert notes == ["%%memit is not available while grading: its cell ran as plain Python"]


@pytest.mark.parametrize("code, note", [
    ("%%bash\necho hi > file.txt", "the %%bash cell was not run while grading"),
    ("%%sql\nSELECT * FROM grades WHERE 1", "the %%sql cell was not run while grading: %%sql is IPython's, "
                                            "and the cell is not Python")])
def test_cells_that_are_not_python_are_noted(code, note):
    python, notes = translate(code)
    assert python == "" and notes == [note]


def test_writefile_writes_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("%%writefile helper.py\ndef seven():\n    return 7")
    run("%%writefile -a helper.py\nEIGHT = 8")
    namespace, _, _ = run((tmp_path / "helper.py").read_text() + "value = seven() + EIGHT")
    assert namespace["value"] == 15


def test_percent_and_bang_inside_strings_and_brackets_stay_python():
    code = ('doc = """\n%matplotlib inline\n!rm -rf /\n"""\n'
            'ratio = (10\n%3)\nflag = (not\n!= 1) if False else 0\n' "line = 'a' \\\n    '%b'")
    python, notes = translate(code)
    assert python == code and notes == []


def test_line_numbers_are_kept():
    python, _ = translate("\n%%time\nx = 1\n%time y = 2\nraise ValueError('here')")
    with pytest.raises(ValueError) as info:
        exec(compile(python, "<cell>", "exec"), {})
    assert traceback.extract_tb(info.value.__traceback__)[-1].lineno == 5


def test_graded_submission_runs_magic_cells_and_notes_the_rest(tmp_path):
    """Through the real grader: a solution cell under %%time counts, a shell line is noted."""
    from autograder.grade import grade_submission
    from autograder.model import load_source
    from autograder.sandbox import Limits

    root = fixture_course.make_course(tmp_path / "course")
    code = dict(fixture_course.correct_code())
    code["double"] = "%%time\n" + code["double"]
    code["relu"] = "%%capture\nprint('hidden noise')\n" + code["relu"]
    code["mean_square"] = "!ls /\n%matplotlib inline\n" + code["mean_square"]
    path = fixture_course.write_notebook(root, "alice", fixture_course.notebook_with(
        code, extra_cells=[("imports", "%%bash\necho hi")]))
    source = load_source(root / "solutions" / "ps1" / "ps1.ipynb")
    result = grade_submission(path, source, Limits(timeout=10, memory_mb=1024, grace=3))
    assert result["score"] == 6.0, result["tests"]
    notes = " | ".join(result["notes"])
    assert "the %%bash cell was not run while grading" in notes
    assert "line 1: the shell command `!ls /` was not run while grading" in notes
    assert not any("hidden noise" in cell["output"] for cell in result["cells"])


def test_a_magic_cell_without_metadata_is_still_matched_to_its_solution(tmp_path):
    import nbformat

    from autograder.model import load_source
    from autograder.recover import make_plan

    root = fixture_course.make_course(tmp_path / "course")
    code = dict(fixture_course.correct_code(), double="%%time\n" + fixture_course.correct_code()["double"])
    data = nbformat.writes(fixture_course.notebook_with(code, strip_metadata=True)).encode()
    plan = make_plan(data, load_source(root / "solutions" / "ps1" / "ps1.ipynb"))
    double = [step for step in plan.steps if step.cell_id == "double"]
    assert len(double) == 1 and double[0].code.startswith("%%time")
