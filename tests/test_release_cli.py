"""The `course` command line, the Colab links and the release script's building blocks."""
import argparse
import shutil
import re
import sys
import types

import nbformat
import pytest

import autograder.release as release_module
from autograder.release import ReleaseError, normalize, release, sync_notebook
from course import cli
from course.colab import badge_markdown, check_repo_url, colab_url, pip_requirement
from nbgrader_harness import ROOT


# ---------------------------------------------------------------------------------------------
# course.colab


def test_colab_url_points_at_the_notebook_in_the_repository():
    url = colab_url("assignments/01_perceptron/01_perceptron.ipynb", "https://github.com/someone/a-course")
    assert url == ("https://colab.research.google.com/github/someone/a-course"
                   "/blob/main/assignments/01_perceptron/01_perceptron.ipynb")
    assert colab_url("a/b.ipynb", "https://github.com/x/y.git/", branch="term-2").endswith("/x/y/blob/term-2/a/b.ipynb")
    badge = badge_markdown("a/b.ipynb", "https://github.com/x/y")
    assert badge.startswith("[![Open in Colab](")
    assert badge.endswith(f"({colab_url('a/b.ipynb', 'https://github.com/x/y')})")
    assert pip_requirement("https://github.com/x/y/") == "course @ git+https://github.com/x/y.git"


@pytest.mark.parametrize("bad", ["github.com/x/y", "http://github.com/x/y", "https://gitlab.com/x/y",
                                 "https://github.com/x", "https://github.com/x/y/tree/main"])
def test_a_repository_url_that_colab_cannot_open_is_refused(bad):
    with pytest.raises(ValueError, match="https://github.com/OWNER/REPO"):
        check_repo_url(bad)


@pytest.mark.parametrize("bad", ["/abs/path.ipynb", "../outside.ipynb", "notes.py"])
def test_colab_url_rejects_paths_outside_the_repository_or_not_notebooks(bad):
    with pytest.raises(ValueError, match="relative path to an .ipynb"):
        colab_url(bad, "https://github.com/x/y")


# ---------------------------------------------------------------------------------------------
# course.cli


def test_console_script_is_declared():
    # (a regular expression rather than tomllib, which Python 3.10 lacks)
    pyproject = (ROOT / "pyproject.toml").read_text()
    scripts = re.search(r"^\[project\.scripts\]\n(.*?)(?:^\[|\Z)", pyproject, re.M | re.S).group(1)
    assert re.search(r'^course\s*=\s*"course\.cli:main"', scripts, re.M)


def test_release_subcommand_calls_the_release_script(monkeypatch):
    calls = []
    monkeypatch.setattr(release_module, "release", lambda assignment: calls.append(assignment))
    assert cli.main(["release", "01_perceptron"]) == 0
    assert cli.main(["release"]) == 0
    assert calls == ["01_perceptron", None]


def test_release_subcommand_reports_a_release_error(monkeypatch, capsys):
    def fail(assignment):
        raise ReleaseError("no assignment 'nope'")
    monkeypatch.setattr(release_module, "release", fail)
    assert cli.main(["release", "nope"]) == 1
    assert "no assignment 'nope'" in capsys.readouterr().err


def test_instructor_commands_get_their_parsed_options(monkeypatch):
    received = []
    fake = types.ModuleType("autograder.cli")
    for name in cli.INSTRUCTOR_COMMANDS:
        setattr(fake, name, lambda options: received.append(options) or 0)
    monkeypatch.setitem(sys.modules, "autograder.cli", fake)
    assert cli.main(["grade", "01_perceptron", "--timeout", "30", "--student", "a", "--student", "b"]) == 0
    assert cli.main(["export", "02_universal_approximation", "--format=gradescope"]) == 0
    grade, export = received
    assert (grade.command, grade.assignment, grade.timeout, grade.student, grade.jobs) == \
        ("grade", "01_perceptron", 30.0, ["a", "b"], 2)
    assert (export.command, export.assignment, export.format, export.course) == \
        ("export", "02_universal_approximation", "gradescope", None)


def test_instructor_commands_say_clearly_when_the_autograder_is_missing(monkeypatch, capsys):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    monkeypatch.setattr(cli.importlib, "import_module", missing)
    # The student repository ships the library without the autograder.
    for argv in (["collect", "01_perceptron", "submissions.zip"], ["publish", "somewhere"], ["release"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "student edition of the course, without the grading tools" in err
        assert f"{argv[0]} is an instructor's command" in err


def test_a_missing_dependency_of_the_autograder_is_not_taken_for_the_student_edition(monkeypatch):
    def missing(name):
        raise ModuleNotFoundError("No module named 'nbgrader'", name="nbgrader")
    monkeypatch.setattr(cli.importlib, "import_module", missing)
    with pytest.raises(ModuleNotFoundError, match="nbgrader"):
        cli.main(["feedback", "01_perceptron"])


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in [*cli.INSTRUCTOR_COMMANDS, "demo"]:
        assert name in out


def _options_of(parser):
    """Every optional and positional argument of a parser, with its help text."""
    return [(action.dest, action.help) for action in parser._actions
            if not isinstance(action, argparse._SubParsersAction) and action.dest != "help"]


def test_every_command_and_option_has_help():
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == {*cli.INSTRUCTOR_COMMANDS, "demo"}
    for name, command in commands.choices.items():
        assert command.description, f"course {name} has no description"
        for dest, text in _options_of(command):
            assert text and text != argparse.SUPPRESS, f"course {name}: {dest} has no help"


def test_grading_options_are_shown_by_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    out = capsys.readouterr().out
    for option in ("--jobs", "--timeout", "--submission-timeout", "--memory", "--force", "--student",
                   "--dask", "--unsafe-no-isolation", "--course"):
        assert option in out


def test_unknown_subcommand_is_an_error():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["publish"])
    assert exit_info.value.code == 2


# ---------------------------------------------------------------------------------------------
# autograder.release


@pytest.fixture
def course_copy(tmp_path):
    """A course root with nbgrader_config.py, pyproject.toml and the 01 sources (py + ipynb)."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "solutions" / "01_perceptron", tmp_path / "solutions" / "01_perceptron")
    return tmp_path


def test_sync_writes_a_clean_notebook_and_is_idempotent(course_copy):
    py_path = course_copy / "solutions" / "01_perceptron" / "01_perceptron.py"
    ipynb = py_path.with_suffix(".ipynb")
    nb = nbformat.read(ipynb, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="left over\n")]
    code.execution_count = 3
    nbformat.write(nb, ipynb)
    assert sync_notebook(py_path) is True
    synced = nbformat.read(ipynb, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in synced.cells if c.cell_type == "code")
    assert [c.id for c in synced.cells][:3] == ["intro", "setup", "imports"]
    assert synced.metadata["jupytext"] == {"formats": "ipynb,py:percent"}
    assert sync_notebook(py_path) is False


def test_normalize_for_students_drops_the_jupytext_pairing():
    nb = nbformat.v4.new_notebook(metadata={"jupytext": {"formats": "ipynb,py:percent"},
                                            "kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1", execution_count=4))
    out = normalize(nb, keep_pairing=False)
    assert "jupytext" not in out.metadata and out.metadata["kernelspec"]["name"] == "python3"
    assert out.cells[0].execution_count is None and out.cells[0].id == "cell-0"


def test_release_names_the_available_assignments_when_asked_for_an_unknown_one(course_copy):
    with pytest.raises(ReleaseError, match="choose one of 01_perceptron"):
        release("99_nothing", root=course_copy)


def test_release_refuses_a_notebook_that_fails_the_checks(course_copy):
    py_path = course_copy / "solutions" / "01_perceptron" / "01_perceptron.py"
    py_path.write_text(py_path.read_text().replace('"grade_id": "test_xor_weights"', '"grade_id": "test_predict"'))
    with pytest.raises(ReleaseError, match="grade_id already used"):
        release("01_perceptron", root=course_copy, use_db=False, log=lambda line: None)
    assert not (course_copy / "assignments").exists()


def test_release_writes_student_notebooks_without_solutions_or_hidden_tests(course_copy):
    lines = []
    released = release("01_perceptron", root=course_copy, use_db=False, log=lines.append)
    assert released == [course_copy / "assignments" / "01_perceptron" / "01_perceptron.ipynb"]
    assert sorted(p.name for p in released[0].parent.iterdir()) == ["01_perceptron.ipynb"]  # no .py
    text = released[0].read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "raise NotImplementedError" in text
    assert "jupytext" not in nbformat.read(released[0], as_version=4).metadata
    assert any(line.startswith("released") for line in lines)


def test_release_without_the_course_url_says_where_to_set_it(course_copy):
    (course_copy / "pyproject.toml").write_text('[project]\nname = "course"\n')
    with pytest.raises(ReleaseError, match=r"set repo-url in the \[tool.course\] table of .*pyproject.toml"):
        release("01_perceptron", root=course_copy, use_db=False, log=lambda line: None)


def test_release_writes_the_badge_and_set_up_cell_from_the_setting(course_copy):
    text = (course_copy / "pyproject.toml").read_text()
    (course_copy / "pyproject.toml").write_text(
        re.sub(r'(?m)^repo-url = ".*"$', 'repo-url = "https://github.com/someone/nets-2027"', text))
    (released,) = release("01_perceptron", root=course_copy, use_db=False, log=lambda line: None)
    nb = nbformat.read(released, as_version=4)
    assert nb.cells[0].source.startswith(
        "[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com"
        "/github/someone/nets-2027/blob/main/assignments/01_perceptron/01_perceptron.ipynb)")
    setup = next(c for c in nb.cells if c.cell_type == "code").source
    assert '"course @ git+https://github.com/someone/nets-2027.git"' in setup
    # The instructor's sources are left as they are.
    assert "someone" not in (course_copy / "solutions" / "01_perceptron" / "01_perceptron.py").read_text()
