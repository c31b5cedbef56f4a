"""`course publish`: the student repository holds the release and the library, and no answer.

The leak scan itself is tested on a small hand-made course; the real course is published once
(module fixture) and its result checked from the outside: git's file list, the notebooks, the
badges, a wheel installed in a clean virtual environment. A publish with a planted leak must fail
and name the file and line.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.leaks import course_secrets, scan, scan_wheel
from autograder.publish import PublishError, publish, student_environment, student_pyproject
from autograder.settings import read_settings
from course import cli
from course.colab import ANY_BADGE, ANY_PIP_REQUIREMENT, badge_markdown, pip_requirement
from nbgrader_harness import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SETTINGS = read_settings(ROOT)
STUDENT_FILES = {"assignments", "course", "README.md", "pyproject.toml", "environment.yml", "LICENSE"}


def _git(folder, *args):
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout


# ---------------------------------------------------------------------------------------------
# the scan, on a course of one cell


def _code(source, **nbgrader):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade_id": "answer", **nbgrader}
    return cell


@pytest.fixture
def tiny_course(tmp_path):
    """solutions/ and assignments/ of a one-cell course: `total = sum(values)` is the answer."""
    root = tmp_path / "tiny"
    source = nbformat.v4.new_notebook(cells=[_code(
        "def total(values):\n    ### BEGIN SOLUTION\n    total = sum(values)\n    return total\n"
        "    ### END SOLUTION\n", solution=True),
        _code("assert total([1]) == 1\n### BEGIN HIDDEN TESTS\nassert total([2, 3]) == 5\n### END HIDDEN TESTS\n",
              grade=True, points=1)])
    released = nbformat.v4.new_notebook(cells=[_code(
        "def total(values):\n    # YOUR CODE HERE\n    return total\n", solution=True),
        _code("assert total([1]) == 1\n", grade=True, points=1)])
    for folder, nb in (("solutions", source), ("assignments", released)):
        (root / folder / "01_x").mkdir(parents=True)
        nbformat.write(nb, root / folder / "01_x" / "01_x.ipynb")
    return root


def test_secrets_are_the_solution_and_hidden_lines_that_the_release_does_not_show(tiny_course):
    secrets = course_secrets(tiny_course)
    # `return total` is in the release, the markers are not lines of a block.
    assert set(secrets) == {"total = sum(values)", "assert total([2, 3]) == 5"}
    assert "cell 'answer'" in secrets["total = sum(values)"].origin


def test_scan_names_file_and_line_of_every_kind_of_leak(tiny_course, tmp_path):
    secrets = course_secrets(tiny_course)
    out = tmp_path / "out"
    (out / "pkg").mkdir(parents=True)
    (out / "pkg" / "ok.py").write_text("def total(values):\n    return sum(values)\n")
    (out / "pkg" / "leaky.py").write_text("x = 1\n\n        total   =  sum(values)   \n")
    (out / "notes.md").write_text("text\n### BEGIN HIDDEN TESTS\n")
    (out / "source.py").write_text("# %% nbgrader={\"grade\": false}\nx = 1\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi"),
                                         nbformat.v4.new_code_cell("y = 2\nassert total([2, 3]) == 5")])
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    nbformat.write(nb, out / "book.ipynb")
    (out / ".git").mkdir()
    (out / ".git" / "old").write_text("total = sum(values)\n")    # git's own files are not published files

    found = [str(leak) for leak in scan(out, secrets, label="out")]
    assert len(found) == 5, found
    assert found[0].startswith("out/book.ipynb, notebook metadata: a solution notebook's jupytext pairing")
    assert found[1].startswith("out/book.ipynb, cell 1, line 2: hidden test line of solutions/01_x/01_x.ipynb")
    assert found[2] == "out/notes.md, line 2: nbgrader marker 'BEGIN HIDDEN TESTS'"
    assert found[3].startswith("out/pkg/leaky.py, line 3: solution line of solutions/01_x/01_x.ipynb, cell 'answer'")
    assert found[4].startswith("out/source.py, line 1: a solution notebook's source")


def test_scan_of_a_wheel_names_the_file_inside_it(tiny_course, tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
        archive.writestr("pkg/mod.py", "a = 1\nb = 2\ntotal = sum(values)\n")
    found = [str(leak) for leak in scan_wheel(wheel, course_secrets(tiny_course))]
    assert found == [f"{wheel.name}/pkg/mod.py, line 3: solution line of solutions/01_x/01_x.ipynb, "
                     "cell 'answer': 'total = sum(values)'"]


# ---------------------------------------------------------------------------------------------
# what the student files are made of


def test_student_pyproject_installs_the_library_alone_from_the_published_url():
    instructor = (ROOT / "pyproject.toml").read_text()
    settings = read_settings(ROOT, "https://github.com/someone/nets-2027")
    student = tomllib.loads(student_pyproject(instructor, settings))
    mine = tomllib.loads(instructor)
    assert student["tool"]["setuptools"]["packages"]["find"]["include"] == ["course*"]
    assert student["tool"]["course"] == {"repo-url": "https://github.com/someone/nets-2027", "branch": "main"}
    assert student["project"]["dependencies"] == mine["project"]["dependencies"]
    assert student["project"]["scripts"] == mine["project"]["scripts"]
    assert "optional-dependencies" not in student["project"] and "pytest" not in student["tool"]
    assert "importlinter" not in student["tool"]      # its contracts name the autograder, not published


def test_student_environment_leaves_out_the_instructors_tools():
    text = student_environment((ROOT / "environment.yml").read_text())
    assert "nbgrader" not in text and "pytest" not in text and "jupytext" not in text and "tomli" not in text
    assert "numpy>=1.24" in text and "jupyterlab" in text and "- -e ." in text


# ---------------------------------------------------------------------------------------------
# the real course, published once


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    dest = tmp_path_factory.mktemp("publish") / "student-repo"
    publish(dest, ROOT, wheel_dir=dest.parent / "dist", log=lambda line: None)
    return dest


@pytest.mark.slow
def test_published_repository_is_one_commit_of_the_student_files_only(published):
    assert _git(published, "rev-list", "--count", "HEAD").strip() == "1"
    files = _git(published, "ls-files").split()
    assert {f.split("/")[0] for f in files} == STUDENT_FILES
    assert _git(published, "status", "--porcelain") == ""
    modules = sorted(p.parent.name for p in ROOT.glob("solutions/*/*.py"))
    assert sorted({f.split("/")[1] for f in files if f.startswith("assignments/")}) == modules
    assert not [f for f in files if f.endswith(".py") and not f.startswith("course/")]
    assert _git(published, "remote", "get-url", "origin").strip() == SETTINGS.repo_url + ".git"


@pytest.mark.slow
def test_published_notebooks_open_and_point_at_the_configured_url(published):
    readme = (published / "README.md").read_text()
    notebooks = sorted(published.glob("assignments/*/*.ipynb"))
    assert len(notebooks) == len(list(ROOT.glob("solutions/*/*.py")))
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        rel = path.relative_to(published).as_posix()
        badge = badge_markdown(rel, SETTINGS.repo_url, SETTINGS.branch)
        assert [m.group(0) for m in ANY_BADGE.finditer(nb.cells[0].source)] == [badge]
        setup = next(c for c in nb.cells if c.cell_type == "code").source
        assert [m.group(0) for m in ANY_PIP_REQUIREMENT.finditer(setup)] == [pip_requirement(SETTINGS.repo_url)]
        assert badge in readme
        assert "jupytext" not in nb.metadata


@pytest.mark.slow
def test_no_marker_or_hidden_test_text_anywhere_in_the_published_files(published):
    # Independent of the scanner: the literal markers and a hidden-test-only helper name.
    text = "\n".join(p.read_text(errors="replace") for p in published.rglob("*")
                     if p.is_file() and ".git" not in p.relative_to(published).parts)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "nbgrader={"):
        assert marker not in text
    assert scan(published, course_secrets(ROOT)) == []


@pytest.mark.slow
def test_a_wheel_built_from_the_student_repository_installs_and_imports_in_a_clean_venv(published, tmp_path):
    (wheel,) = (published.parent / "dist").glob("*.whl")     # the wheel publish built and scanned
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"course"}
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(archive.read(n).decode() for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    requires = {line.split(": ", 1)[1].replace(" ", "") for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")}
    assert requires == {d.replace(" ", "") for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # With every dependency (what Colab's set-up cell does) the install downloads scipy, matplotlib
    # and scikit-learn: minutes. By default the clean venv gets numpy, all `import course` needs.
    if os.environ.get("COURSE_TEST_FULL_INSTALL"):
        commands = [[str(wheel)]]
    else:
        commands = [["--no-deps", str(wheel)], ["numpy>=1.24"]]
    for args in commands:
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *args],
                                 capture_output=True, text=True)
        assert install.returncode == 0, install.stdout + install.stderr
    probe = ("import importlib.util, course, course.nn, course.gradcheck, course.widgets\n"
             "print(course.__file__)\n"
             "print(importlib.util.find_spec('autograder'))\n"
             "print(hasattr(course.gradcheck, 'numerical_jacobian'), hasattr(course.widgets, 'relu_sum'))\n")
    # From a folder with no course files in it, and with no PYTHONPATH pointing back here.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    where, autograder_spec, answers = result.stdout.splitlines()
    assert Path(where).is_relative_to(venv) and autograder_spec == "None" and answers == "False False"
    command = subprocess.run([str(venv / "bin" / "course"), "grade", "01_perceptron"],
                             capture_output=True, text=True, cwd=tmp_path, env=env)
    assert command.returncode == 2 and "student edition" in command.stderr


# ---------------------------------------------------------------------------------------------
# refusals


def _course_copy(tmp_path):
    """A copy of the instructor repository's published inputs, to plant things in."""
    root = tmp_path / "instructor"
    root.mkdir()
    for name in ("pyproject.toml", "LICENSE", "environment.yml", "nbgrader_config.py"):
        shutil.copy2(ROOT / name, root / name)
    for name in ("solutions", "assignments", "course"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _solution_line(root, grade_id):
    """A line of the solution of cell grade_id that the scan knows as secret."""
    secrets = course_secrets(root)
    return next(text for text, secret in secrets.items()
                if secret.origin.endswith(f"cell {grade_id!r}") and secret.origin.startswith("solution"))


def test_a_planted_solution_line_stops_the_publication_and_is_named(tmp_path):
    root = _course_copy(tmp_path)
    line = _solution_line(root, "numerical_jacobian")
    target = root / "course" / "perceptron.py"
    lines = target.read_text().splitlines()
    target.write_text("\n".join(lines + ["", "", "def _planted(f, x, eps):", f"    {line}", ""]))
    hidden = root / "assignments" / "01_perceptron" / "01_perceptron.ipynb"
    nb = nbformat.read(hidden, as_version=4)
    nb.cells[-1].source += "\n### BEGIN HIDDEN TESTS"
    nbformat.write(nb, hidden)

    dest = tmp_path / "student"
    with pytest.raises(PublishError) as failure:
        publish(dest, root, check_wheel=False, log=lambda line: None)
    message = str(failure.value)
    assert f"student/course/perceptron.py, line {len(lines) + 4}: solution line of " \
           f"solutions/04_autograd/04_autograd.ipynb, cell 'numerical_jacobian': {line!r}" in message
    assert f"student/assignments/01_perceptron/01_perceptron.ipynb, cell {len(nb.cells) - 1}, line " in message
    assert "nothing was committed" in message and not (dest / ".git").exists()


def test_publish_refuses_a_folder_it_did_not_write_unless_forced(tmp_path, capsys):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("important")
    assert cli.main(["publish", str(dest), "--no-wheel-check"]) == 1
    assert "not empty and was not written by `course publish`" in capsys.readouterr().err
    assert (dest / "thesis.tex").read_text() == "important"

    publish(dest, ROOT, force=True, check_wheel=False, log=lambda line: None)
    assert not (dest / "thesis.tex").exists()
    (dest / "stray.txt").write_text("left over")
    publish(dest, ROOT, check_wheel=False, log=lambda line: None)   # written by publish: no --force needed
    assert not (dest / "stray.txt").exists() and _git(dest, "rev-list", "--count", "HEAD").strip() == "1"


def test_publish_refuses_a_url_colab_cannot_open_and_a_folder_inside_the_course(tmp_path, capsys):
    assert cli.main(["publish", str(tmp_path / "x"), "--repo-url", "https://gitlab.com/a/b"]) == 1
    assert "--repo-url" in capsys.readouterr().err and not (tmp_path / "x").exists()
    with pytest.raises(PublishError, match="inside the instructor's repository"):
        publish(ROOT / "student-copy", ROOT)


@pytest.mark.slow
def test_repo_url_override_regenerates_the_release_for_that_repository(tmp_path):
    root = _course_copy(tmp_path)
    for extra in sorted((root / "solutions").iterdir())[1:]:    # one module to release keeps this quick
        shutil.rmtree(extra)
    dest = tmp_path / "student"
    publish(dest, root, repo_url="https://github.com/someone/nets-2027", check_wheel=False, log=lambda line: None)
    (notebook,) = dest.glob("assignments/*/*.ipynb")
    text = json.dumps(nbformat.read(notebook, as_version=4).cells[:3])
    assert "someone/nets-2027" in text and SETTINGS.repo_url.removeprefix("https://github.com/") not in text
    assert "https://github.com/someone/nets-2027" in (dest / "README.md").read_text()
    pyproject = tomllib.loads((dest / "pyproject.toml").read_text())
    assert pyproject["tool"]["course"]["repo-url"] == "https://github.com/someone/nets-2027"
