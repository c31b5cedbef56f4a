"""Every course notebook: it runs, it is committed clean, and assignments/ matches solutions/.

These tests discover the assignments in solutions/, so a new module is covered as soon as its
jupytext source exists. Each module's nbgrader round trip lives in tests/test_nb_<module>.py.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.release import (check_notebook, find_assignments, notebook_sources, pairs_out_of_sync,
                                read_source, release_path)
from autograder.settings import read_settings
from course.colab import ANY_PIP_REQUIREMENT, badge_markdown, pip_requirement
from nbgrader_harness import (RELEASE_DIR, ROOT, nbgrader_meta,
                              regenerate_release, release_differences, solution_notebooks)

# The modules this repository must have; more may exist.
REQUIRED = ["01_perceptron", "02_universal_approximation"]
ASSIGNMENTS = find_assignments(ROOT)
SETTINGS = read_settings(ROOT)      # the course's URL, from pyproject.toml's [tool.course]


def test_required_assignments_are_found():
    # Guards against the notebook tests below silently running on nothing.
    assert set(REQUIRED) <= set(ASSIGNMENTS), f"found {ASSIGNMENTS}"
    for name in REQUIRED:
        assert (ROOT / "solutions" / name / f"{name}.py").is_file()
    assert len(solution_notebooks()) >= len(REQUIRED)


# ---------------------------------------------------------------------------------------------
# the sources


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_ipynb_matches_its_jupytext_source(assignment):
    stale = pairs_out_of_sync(ROOT, assignment)
    assert not stale, f"out of sync with their .py source (run `make release`): {stale}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_sources_pass_the_release_checks(assignment):
    for py_path in notebook_sources(ROOT, assignment):
        problems = check_notebook(read_source(py_path), release_path(assignment, py_path.stem))
        assert not problems, f"{py_path}:\n" + "\n".join(problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graded_exercises_have_visible_and_hidden_tests(assignment):
    for py_path in notebook_sources(ROOT, assignment):
        nb = read_source(py_path)
        graded = [c for c in nb.cells if nbgrader_meta(c).get("grade") and c.cell_type == "code"]
        assert graded, f"{py_path} has no graded test cells"
        for cell in graded:
            visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            name = nbgrader_meta(cell)["grade_id"]
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{name}: no hidden tests"
            # A visible test is any code before the hidden part (an assert or a checker call).
            code = [line for line in visible.splitlines() if line.strip() and not line.strip().startswith("#")]
            assert code, f"{name}: no visible test"


@pytest.mark.parametrize("path", sorted(ROOT.glob("solutions/*/*.ipynb")) + sorted(ROOT.glob("assignments/*/*.ipynb")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_committed_notebook_has_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path}: cells {dirty} carry outputs or execution counts"


def test_released_badge_and_setup_cell_use_the_configured_repository_url():
    for assignment in REQUIRED:
        nb = nbformat.read(ROOT / RELEASE_DIR / assignment / f"{assignment}.ipynb", as_version=4)
        badge = badge_markdown(release_path(assignment, assignment), SETTINGS.repo_url, SETTINGS.branch)
        assert nb.cells[0].source.startswith(badge)
        setup = next(c for c in nb.cells if c.cell_type == "code")
        assert [m.group(0) for m in ANY_PIP_REQUIREMENT.finditer(setup.source)] == [pip_requirement(SETTINGS.repo_url)]
        assert "import course" not in setup.source and "from course" not in setup.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_setup_cell_runs_before_the_package_is_installed_and_installs_only_in_colab(assignment, tmp_path):
    nb = nbformat.read(ROOT / RELEASE_DIR / assignment / f"{assignment}.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code").source
    (tmp_path / "setup_cell.py").write_text(setup)
    # Locally: -S leaves out site-packages, so `course` (and numpy) cannot be imported; the cell
    # must still run, and do nothing.
    local = subprocess.run([sys.executable, "-S", str(tmp_path / "setup_cell.py")],
                           capture_output=True, text=True, cwd=tmp_path)
    assert local.returncode == 0 and not local.stdout and not local.stderr, local.stderr
    # In Colab: the cell asks pip for the package from the repository (pip is faked here).
    fake_colab = (
        "import sys, types, subprocess\n"
        "sys.modules['google'] = types.ModuleType('google')\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        "subprocess.run = lambda command, check=False: print(command)\n"
        f"exec(open({str(tmp_path / 'setup_cell.py')!r}).read())\n"
    )
    colab = subprocess.run([sys.executable, "-S", "-c", fake_colab], capture_output=True, text=True)
    assert colab.returncode == 0, colab.stderr
    assert "'pip', 'install'" in colab.stdout and repr(pip_requirement(SETTINGS.repo_url)) in colab.stdout


# ---------------------------------------------------------------------------------------------
# the checks themselves catch what they should


def _solution_notebook():
    return read_source(ROOT / "solutions" / REQUIRED[0] / f"{REQUIRED[0]}.py")


def _graded(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("grade")]


def test_release_check_rejects_two_graded_cells_sharing_a_grade_id():
    nb = _solution_notebook()
    first, second = _graded(nb)[:2]
    second.metadata["nbgrader"]["grade_id"] = first.metadata["nbgrader"]["grade_id"]
    problems = check_notebook(nb, release_path(REQUIRED[0], REQUIRED[0]))
    assert any("grade_id already used" in p for p in problems), problems


def test_release_check_rejects_outputs_missing_markers_and_wrong_urls():
    path = release_path(REQUIRED[0], REQUIRED[0])
    assert check_notebook(_solution_notebook(), path) == []

    nb = _solution_notebook()
    _graded(nb)[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    assert any("has outputs" in p for p in check_notebook(nb, path))

    nb = _solution_notebook()
    solution = next(c for c in nb.cells if nbgrader_meta(c).get("solution"))
    solution.source = solution.source.replace("### BEGIN SOLUTION", "")
    assert any("BEGIN SOLUTION" in p for p in check_notebook(nb, path))

    nb = _solution_notebook()
    nb.cells[0].source = nb.cells[0].source.replace("Open in Colab", "Open")
    assert any("badge" in p for p in check_notebook(nb, path))

    nb = _solution_notebook()
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.source = setup.source.replace("course @ git+", "course-")
    assert any("set-up cell" in p for p in check_notebook(nb, path))

    nb = _solution_notebook()
    del _graded(nb)[0].metadata["nbgrader"]["schema_version"]
    assert any("schema_version 3" in p for p in check_notebook(nb, path))


def test_outputs_check_fails_on_a_notebook_with_outputs(tmp_path):
    nb = _solution_notebook()
    _graded(nb)[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    path = tmp_path / "dirty.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="carry outputs"):
        test_committed_notebook_has_no_outputs(path)


# ---------------------------------------------------------------------------------------------
# assignments/ is what `make release` would generate now


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignments_are_up_to_date(assignment, tmp_path):
    fresh = regenerate_release(tmp_path, assignment)
    problems = release_differences(fresh, RELEASE_DIR / assignment)
    assert not problems, f"assignments/{assignment} is stale (run `make release`):\n  " + "\n  ".join(problems)


def test_staleness_check_notices_an_edited_release(tmp_path):
    assignment = REQUIRED[0]
    committed = RELEASE_DIR / assignment
    assert committed.is_dir(), "assignments/ must be committed (run `make release`)"
    copy = tmp_path / "copy"
    copy.mkdir()
    for notebook in committed.glob("*.ipynb"):
        nb = nbformat.read(notebook, as_version=4)
        assert release_differences(committed, committed) == []
        cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade"))
        cell.source += "\nassert True"
        nbformat.write(nb, copy / notebook.name)
    problems = release_differences(committed, copy)
    assert problems and "differs" in problems[0]
    (copy / "extra.txt").write_text("x")
    assert any("extra.txt" in p for p in release_differences(committed, copy))


# ---------------------------------------------------------------------------------------------
# the notebooks run


@pytest.mark.parametrize("module", [p.parent.name for p in solution_notebooks()])
def test_every_solution_notebook_is_run_by_its_module_tests(module):
    # tests/test_nb_<module>.py runs the notebook (once, shared by its tests: tests/notebook_probe.py)
    # and checks that it runs clean; a new module needs that file.
    tests = ROOT / "tests" / f"test_nb_{module}.py"
    assert tests.is_file(), f"{module} has no {tests.name}"
    assert f'test_solution_notebook_runs_clean = runs_clean_test("{module}")' in tests.read_text(), (
        f"{tests.name} must bind test_solution_notebook_runs_clean = runs_clean_test({module!r})")
