"""Release: turn the instructor notebooks in solutions/ into the student notebooks in assignments/.

Three steps for each assignment (a folder solutions/<NN_name>/):

1. sync: every jupytext source `solutions/<a>/<nb>.py` (percent format, the file instructors edit)
   is written to its paired `<nb>.ipynb` with no outputs, fixed cell ids and no volatile metadata,
   so that releasing twice gives the same bytes;
2. check: the badge, the Colab set-up cell and the nbgrader metadata are what the course expects
   (see `check_notebook`); any problem stops the release with a list of what to fix;
3. generate: the badge and the set-up cell are written from the course's URL (`repo-url` in
   pyproject.toml's [tool.course], see autograder.settings) into a staged copy of the sources,
   from which `nbgrader generate_assignment` writes `assignments/<a>/` (solutions replaced by
   stubs, hidden tests removed); the jupytext pairing is dropped from the released copies.

Command line: `course release [ASSIGNMENT]`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext

from course.colab import ANY_BADGE, ANY_PIP_REQUIREMENT, badge_markdown, pip_requirement

from ._nbformat import nbformat
from .settings import CourseSettings, read_settings

SOURCE_DIR = "solutions"
RELEASE_DIR = "assignments"
PAIRING = "ipynb,py:percent"
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class ReleaseError(RuntimeError):
    """A notebook cannot be released as it is; the message lists what to fix."""


def default_root() -> Path:
    """The course root: the current directory if it holds nbgrader_config.py, else this checkout."""
    cwd = Path.cwd()
    if (cwd / "nbgrader_config.py").is_file():
        return cwd
    return Path(__file__).resolve().parents[1]


def find_assignments(root: Path) -> list[str]:
    """Names of the assignments in root/solutions (folders holding at least one notebook source)."""
    source = Path(root) / SOURCE_DIR
    if not source.is_dir():
        return []
    return sorted(
        d.name for d in source.iterdir()
        if d.is_dir() and not d.name.startswith(".")
        and (any(d.glob("*.py")) or any(d.glob("*.ipynb")))
    )


def notebook_sources(root: Path, assignment: str) -> list[Path]:
    """The jupytext sources (.py) of one assignment, sorted by name."""
    return sorted(p for p in (Path(root) / SOURCE_DIR / assignment).glob("*.py") if p.is_file())


def release_path(assignment: str, notebook_name: str) -> str:
    """Repository-relative path of a released notebook, e.g. assignments/01_x/01_x.ipynb."""
    return f"{RELEASE_DIR}/{assignment}/{notebook_name}.ipynb"


# ---------------------------------------------------------------------------------------------
# 1. sync


def normalize(nb: nbformat.NotebookNode, *, keep_pairing: bool = True) -> nbformat.NotebookNode:
    """Make a notebook deterministic: no outputs, cell ids from grade_ids or positions,
    notebook metadata reduced to kernelspec (+ the jupytext pairing when keep_pairing)."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    metadata = {}
    if "kernelspec" in nb.metadata:
        metadata["kernelspec"] = nb.metadata["kernelspec"]
    if "language_info" in nb.metadata:
        metadata["language_info"] = {"name": nb.metadata["language_info"].get("name", "python")}
    if keep_pairing:
        metadata["jupytext"] = {"formats": PAIRING}
    nb.metadata = nbformat.from_dict(metadata)
    used = set()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        # A repeated grade_id is reported by check_notebook; the ids stay unique regardless.
        cell["id"] = grade_id if grade_id and grade_id not in used else f"cell-{index}"
        used.add(cell["id"])
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nb


def read_source(py_path: Path) -> nbformat.NotebookNode:
    """Read a jupytext percent-format source as a normalized notebook."""
    return normalize(jupytext.read(str(py_path), fmt="py:percent"))


def sync_notebook(py_path: Path) -> bool:
    """Write `<nb>.ipynb` from `<nb>.py`. Returns True when the .ipynb changed."""
    py_path = Path(py_path)
    text = nbformat.writes(read_source(py_path))
    ipynb = py_path.with_suffix(".ipynb")
    if ipynb.is_file() and ipynb.read_text(encoding="utf-8") == text:
        return False
    ipynb.write_text(text, encoding="utf-8")
    return True


def pairs_out_of_sync(root: Path, assignment: str) -> list[str]:
    """Notebooks of an assignment whose committed .ipynb is not what sync would write."""
    stale = []
    for py_path in notebook_sources(root, assignment):
        ipynb = py_path.with_suffix(".ipynb")
        expected = nbformat.writes(read_source(py_path))
        if not ipynb.is_file() or ipynb.read_text(encoding="utf-8") != expected:
            stale.append(str(ipynb))
    return stale


# ---------------------------------------------------------------------------------------------
# 2. check


def check_notebook(nb: nbformat.NotebookNode, released_as: str) -> list[str]:
    """What stops a source notebook from being released; an empty list when it is fine.

    Inputs:
    - nb: the source notebook (with solutions and hidden tests).
    - released_as: its release path relative to the repository, e.g.
      "assignments/01_perceptron/01_perceptron.ipynb" (the Colab badge must point there).
    """
    problems = []
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown" or not ANY_BADGE.search(cells[0].source):
        problems.append("the first cell must be markdown starting the notebook with an \"Open in "
                        f"Colab\" badge such as {badge_markdown(released_as, 'https://github.com/OWNER/REPO')} "
                        "(the release writes the course's URL into it)")
    code_cells = [c for c in cells if c.cell_type == "code"]
    if not code_cells or not ANY_PIP_REQUIREMENT.search(code_cells[0].source) \
            or '"google.colab" in sys.modules' not in code_cells[0].source:
        problems.append(
            "the first code cell must be the Colab set-up cell: install "
            f"{pip_requirement('https://github.com/OWNER/REPO')!r} only when "
            "'\"google.colab\" in sys.modules' (the release writes the course's URL into it)"
        )
    seen = {}
    for index, cell in enumerate(cells):
        where = f"cell {index} ({cell.cell_type})"
        meta = cell.metadata.get("nbgrader")
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"{where} has outputs; notebooks are committed without outputs")
        if meta is None:
            if cell.cell_type == "code":
                problems.append(f"{where} has no nbgrader metadata; every code cell needs it")
            if SOLUTION_BEGIN in cell.source or HIDDEN_BEGIN in cell.source:
                problems.append(f"{where} has solution/hidden-test markers but no nbgrader metadata")
            continue
        grade_id = meta.get("grade_id")
        where = f"cell {index} ({grade_id!r})"
        if meta.get("schema_version") != 3:
            problems.append(f"{where}: nbgrader metadata needs schema_version 3")
        if not grade_id:
            problems.append(f"cell {index}: nbgrader metadata without a grade_id")
        elif grade_id in seen:
            problems.append(f"{where}: grade_id already used by cell {seen[grade_id]}; grade_ids must be unique")
        else:
            seen[grade_id] = index
        is_solution, is_grade = bool(meta.get("solution")), bool(meta.get("grade"))
        if is_solution and cell.cell_type == "code" and (
                SOLUTION_BEGIN not in cell.source or SOLUTION_END not in cell.source):
            problems.append(f"{where}: a solution cell must mark its answer with "
                            f"{SOLUTION_BEGIN} / {SOLUTION_END} (otherwise the whole cell is cleared)")
        if not is_solution and SOLUTION_BEGIN in cell.source:
            problems.append(f"{where}: {SOLUTION_BEGIN} in a cell not marked solution")
        if is_grade and not (meta.get("points", 0) > 0):
            problems.append(f"{where}: a graded cell needs points > 0")
        if is_grade and not meta.get("locked"):
            problems.append(f"{where}: a graded test cell must be locked")
        if (HIDDEN_BEGIN in cell.source) != (HIDDEN_END in cell.source):
            problems.append(f"{where}: unbalanced {HIDDEN_BEGIN} / {HIDDEN_END}")
        if HIDDEN_BEGIN in cell.source and not is_grade:
            problems.append(f"{where}: hidden tests belong in graded test cells")
    return problems


# ---------------------------------------------------------------------------------------------
# 3. generate


def _run_nbgrader(root: Path, *args: str) -> None:
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    # nbgrader runs the `alembic` executable installed next to this Python: put it on PATH
    # (it is not when the venv is used without being activated, e.g. `.venv/bin/course`).
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise ReleaseError(
            f"nbgrader failed (exit {result.returncode}): {' '.join(command)}\n"
            f"{result.stdout}{result.stderr}"
        )


def apply_repo_url(nb: nbformat.NotebookNode, released_as: str, settings: CourseSettings) -> nbformat.NotebookNode:
    """Point the notebook's badge and set-up cell at the course's repository (in place; returns nb).

    released_as: the notebook's path in the student repository, which the badge opens.
    """
    badge = badge_markdown(released_as, settings.repo_url, settings.branch)
    first = nb.cells[0]
    first.source = ANY_BADGE.sub(lambda _: badge, first.source, count=1)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.source = ANY_PIP_REQUIREMENT.sub(lambda _: pip_requirement(settings.repo_url), setup.source, count=1)
    return nb


def stage_sources(root: Path, names: list[str], stage: Path, settings: CourseSettings) -> None:
    """Copy the source folders of the assignments into stage, badges and set-up cells from settings."""
    for name in names:
        shutil.copytree(root / SOURCE_DIR / name, stage / name)
        for py_path in notebook_sources(root, name):
            staged = stage / name / f"{py_path.stem}.ipynb"
            nb = nbformat.read(staged, as_version=4)
            nbformat.write(apply_repo_url(nb, release_path(name, py_path.stem), settings), staged)


def finish_released(notebook: Path) -> None:
    """Drop the jupytext pairing from a released notebook (students get a plain .ipynb)."""
    nb = nbformat.read(notebook, as_version=4)
    notebook.write_text(nbformat.writes(normalize(nb, keep_pairing=False)), encoding="utf-8")


def release(assignment: str | None = None, root: Path | str | None = None, *,
            release_dir: Path | str | None = None, use_db: bool = True,
            repo_url: str | None = None, log=print) -> list[Path]:
    """Sync, check and generate one assignment (or all of them).

    Inputs:
    - assignment: folder name under solutions/ such as "01_perceptron"; None releases all.
    - root: the course root (default: see `default_root`).
    - release_dir: where releases go (default root/assignments); used by tests to regenerate
      into a temporary folder.
    - use_db: record the assignment in root/gradebook.db (autograding needs it); False passes
      --no-db to nbgrader.
    - repo_url: the repository the badges and set-up cells point at (default: the course's
      setting, see autograder.settings).
    - log: called with one line of progress at a time.

    Returns:
    - list of Paths of the released notebooks.
    """
    root = Path(root).resolve() if root is not None else default_root()
    available = find_assignments(root)
    if assignment is None:
        names = available
    elif assignment in available:
        names = [assignment]
    else:
        raise ReleaseError(f"no assignment {assignment!r} in {root / SOURCE_DIR}; "
                           f"choose one of {', '.join(available) or '(none found)'}")
    if not names:
        raise ReleaseError(f"no assignments found in {root / SOURCE_DIR}")
    release_dir = Path(release_dir).resolve() if release_dir is not None else root / RELEASE_DIR
    try:
        settings = read_settings(root, repo_url)
    except ValueError as error:
        raise ReleaseError(str(error)) from None

    problems = []
    for name in names:
        for py_path in notebook_sources(root, name):
            if sync_notebook(py_path):
                log(f"synced {py_path.relative_to(root)} -> {py_path.with_suffix('.ipynb').name}")
            nb = nbformat.read(py_path.with_suffix(".ipynb"), as_version=4)
            rel = release_path(name, py_path.stem)
            problems += [f"{py_path.relative_to(root)}: {p}" for p in check_notebook(nb, rel)]
    if problems:
        raise ReleaseError("cannot release:\n  " + "\n  ".join(problems))

    released = []
    with tempfile.TemporaryDirectory(prefix="course-release-") as stage:
        stage_sources(root, names, Path(stage), settings)
        for name in names:
            args = ["generate_assignment", name, "--force", "--log-level=WARN",
                    f"--CourseDirectory.source_directory={stage}",
                    f"--CourseDirectory.release_directory={release_dir}"]
            if not use_db:
                args.append("--no-db")
            _run_nbgrader(root, *args)
            for py_path in notebook_sources(root, name):
                notebook = release_dir / name / f"{py_path.stem}.ipynb"
                if not notebook.is_file():
                    raise ReleaseError(f"nbgrader did not write {notebook}")
                finish_released(notebook)
                released.append(notebook)
                log(f"released {notebook}")
    return released
