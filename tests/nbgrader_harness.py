"""Shared helpers for the notebook tests: run a notebook, and grade it with nbgrader.

Every module's tests use the same pieces:

- `solution_notebooks()` lists solutions/<assignment>/<notebook>.ipynb (with its .py source);
- `execute_notebook(path)` runs one top to bottom with nbclient, as a student would;
- `RoundTrip(tmp, assignment)` is a throw-away copy of the course (nbgrader_config.py and that
  assignment's sources) in which nbgrader generates the release, takes submissions from several
  students at once and autogrades them in one run; `scores()` reads the gradebook back;
- `Variant` describes a known-wrong implementation: one exact edit inside one solution cell and
  the graded cells it must fail (or, with no cells to fail, an edit that must keep every point).
  `check_round_trip` puts it all together.
- `alternatives(assignment)` reads tests/alternatives/<assignment>/*.py: correct answers written
  other ways, whole solution cells by grade_id, which must get full marks ("must pass");
  `with_cells(nb, cells)` puts such cells into a notebook.

nbgrader runs in a subprocess (`python -m nbgrader ...`) with the temporary course as working
directory, so the repository's own gradebook and assignments/ are never touched.
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "solutions"
RELEASE_DIR = ROOT / "assignments"


def solution_notebooks(root: Path = ROOT) -> list[Path]:
    """Every solutions/<assignment>/<notebook>.ipynb that has a jupytext .py source."""
    return sorted(p.with_suffix(".ipynb") for p in (root / "solutions").glob("*/*.py"))


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def graded_points(nb) -> dict[str, float]:
    """{grade_id: points} of the graded (test) cells of a notebook."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
            for c in nb.cells if nbgrader_meta(c).get("grade")}


# ---------------------------------------------------------------------------------------------
# running a notebook


def execute_notebook(path: Path, timeout: int = 120, env: dict | None = None):
    """Run a notebook top to bottom in a fresh python3 kernel, in the notebook's folder.

    Returns (executed notebook, seconds). Cell errors do not raise: look at the outputs
    (`cell_problems`), so that one test can report every failing cell at once.
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old_env = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(Path(path).parent)}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb, seconds


def cell_problems(nb) -> list[str]:
    """Errors and anything written to stderr by an executed notebook's cells."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {index} ({nbgrader_meta(cell).get('grade_id', 'no grade_id')})"
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"{where} raised {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"{where} wrote to stderr: {output.text.strip()[:500]}")
    return problems


# ---------------------------------------------------------------------------------------------
# nbgrader round trip


@dataclass(frozen=True)
class Variant:
    """A known-wrong implementation: replace `old` by `new` inside solution cell `cell`.

    `old` must occur exactly once in that cell, so the variant breaks loudly when the solution
    is rewritten. `fails` names the graded cells that must then score 0; every other graded
    cell must keep its full points. With `fails=()` the edit is a correct answer written another
    way, and must keep every point.
    """
    name: str
    cell: str
    old: str
    new: str
    fails: tuple[str, ...]


def apply_variant(nb, variant: Variant):
    """A copy of a (solution) notebook with the variant's edit made."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == variant.cell]
    assert len(cells) == 1, f"{variant.name}: no single cell with grade_id {variant.cell!r}"
    cell = cells[0]
    assert nbgrader_meta(cell).get("solution"), f"{variant.name}: {variant.cell!r} is not a solution cell"
    count = cell.source.count(variant.old)
    assert count == 1, f"{variant.name}: {variant.old!r} occurs {count} times in {variant.cell!r}"
    cell.source = cell.source.replace(variant.old, variant.new)
    return nb


# `python -m nbgrader`, with nbformat imported first the way the autograder does it (without
# rfc3987-syntax's parsers: 3 s less of CPU in every command; see autograder/_nbformat.py).
NBGRADER = [sys.executable, "-c", "import autograder._nbformat, runpy; runpy.run_module('nbgrader', run_name='__main__')"]


def _python_nbgrader(course: Path, *args: str, timeout: float = 900) -> str:
    command = [*NBGRADER, *args, f"--CourseDirectory.root={course}"]
    env = dict(os.environ)  # nbgrader calls the `alembic` executable of this environment
    # Scores do not depend on pictures: the kernels draw nothing (a third of a grading run's time).
    env["MPLBACKEND"] = "agg"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    result = subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout + result.stderr


class RoundTrip:
    """A temporary nbgrader course holding one assignment of this repository."""

    def __init__(self, tmp: Path, assignment: str):
        self.course = Path(tmp) / "course"
        self.assignment = assignment
        source = SOURCE_DIR / assignment
        assert source.is_dir(), f"no assignment {assignment!r} in {SOURCE_DIR}"
        (self.course / "solutions").mkdir(parents=True)
        shutil.copy(ROOT / "nbgrader_config.py", self.course / "nbgrader_config.py")
        shutil.copytree(source, self.course / "solutions" / assignment)
        self.notebooks = sorted(p.stem for p in source.glob("*.py"))
        assert self.notebooks, f"no jupytext sources in {source}"

    def source(self, notebook: str):
        return nbformat.read(self.course / "solutions" / self.assignment / f"{notebook}.ipynb", as_version=4)

    def generate(self) -> None:
        """nbgrader generate_assignment (with the gradebook, as autograding needs)."""
        _python_nbgrader(self.course, "generate_assignment", self.assignment, "--force", "--log-level=WARN")

    def release(self, notebook: str):
        return nbformat.read(self.course / "assignments" / self.assignment / f"{notebook}.ipynb", as_version=4)

    def submit(self, student: str, notebook: str, nb) -> None:
        folder = self.course / "submitted" / student / self.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{notebook}.ipynb")

    def autograde(self) -> float:
        """Autograde every submission in one nbgrader run; returns the seconds it took."""
        start = time.perf_counter()
        _python_nbgrader(self.course, "autograde", self.assignment, "--force", "--log-level=WARN")
        return time.perf_counter() - start

    def scores(self, notebook: str) -> dict[str, dict[str, float]]:
        """{student: {grade_id: score}} from the gradebook."""
        from nbgrader.api import Gradebook

        students = sorted(p.name for p in (self.course / "submitted").iterdir())
        result = {}
        with Gradebook(f"sqlite:///{self.course / 'gradebook.db'}", "how-networks-learn") as gb:
            for student in students:
                submission = gb.find_submission_notebook(notebook, self.assignment, student)
                result[student] = {grade.name: float(grade.score) for grade in submission.grades}
        return result


def check_round_trip(tmp: Path, assignment: str, variants: list[Variant]) -> dict:
    """Release, submit (solution, untouched release, one wrong variant each), autograde, check.

    - "solution" must get every point, "release" (the untouched student notebook) none;
    - each variant must lose exactly the points of its `fails` cells and keep all others;
    - every solution cell of the notebook must be covered by at least one variant.
    Returns timings for the report.
    """
    trip = RoundTrip(tmp, assignment)
    assert len(trip.notebooks) == 1, "check_round_trip handles one notebook per assignment"
    notebook = trip.notebooks[0]
    start = time.perf_counter()
    trip.generate()
    source, release = trip.source(notebook), trip.release(notebook)
    points = graded_points(source)
    assert points, f"{assignment} has no graded cells"
    solution_cells = {nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("solution")}
    uncovered = solution_cells - {v.cell for v in variants if v.fails}
    assert not uncovered, f"solution cells without a known-wrong variant: {sorted(uncovered)}"
    for variant in variants:
        unknown = set(variant.fails) - set(points)
        assert not unknown, f"{variant.name}: unknown graded cells {unknown}"

    trip.submit("solution", notebook, source)
    trip.submit("release", notebook, release)
    for variant in variants:
        trip.submit(variant.name, notebook, apply_variant(source, variant))
    autograde_seconds = trip.autograde()
    scores = trip.scores(notebook)

    failures = []
    for student, expected in [("solution", points), ("release", {g: 0.0 for g in points})] + [
            (v.name, {g: (0.0 if g in v.fails else p) for g, p in points.items()}) for v in variants]:
        if scores[student] != expected:
            wrong = {g: (scores[student].get(g), want) for g, want in expected.items()
                     if scores[student].get(g) != want}
            failures.append(f"{student}: (score, expected) per cell {wrong}")
    assert not failures, "autograded scores differ from what the variants should get:\n  " + "\n  ".join(failures)
    return {"students": len(scores), "autograde_seconds": autograde_seconds,
            "round_trip_seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------
# correct answers written other ways

ALTERNATIVES_DIR = ROOT / "tests" / "alternatives"
CELL_LINE = re.compile(r"^# %% (\S+)\s*$")
FLAGS_LINE = re.compile(r"^# expect-flags:(.*)$")


@dataclass(frozen=True)
class Alternative:
    """A correct answer written another way ("must pass"): whole solution cells by grade_id.

    It must get every point. `flags` names the cells whose answer hands the exercise to the
    library: the grader must flag exactly those for review (and still give the points).
    """
    name: str
    cells: dict
    flags: tuple[str, ...] = ()


def read_alternative(path: Path) -> Alternative:
    """Parse one tests/alternatives/<assignment>/<name>.py (see the README there)."""
    cells, flags, current = {}, (), None
    for line in path.read_text().splitlines():
        if (mark := CELL_LINE.match(line)):
            current = mark.group(1)
            assert current not in cells, f"{path}: cell {current} appears twice"
            cells[current] = []
        elif current is not None:
            cells[current].append(line)
        elif (mark := FLAGS_LINE.match(line)):
            flags = tuple(name.strip() for name in mark.group(1).split(",") if name.strip())
    assert cells, f"{path}: no `# %% <grade_id>` cells"
    return Alternative(path.stem, {cell: "\n".join(lines).strip("\n") for cell, lines in cells.items()}, flags)


def alternatives(assignment: str) -> list[Alternative]:
    return [read_alternative(p) for p in sorted((ALTERNATIVES_DIR / assignment).glob("*.py"))]


def with_cells(nb, cells: dict):
    """A copy of a notebook whose solution cells named in `cells` hold the given code."""
    nb = copy.deepcopy(nb)
    solution_ids = {nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c).get("solution")}
    unknown = set(cells) - solution_ids
    assert not unknown, f"no solution cells {sorted(unknown)} in the notebook"
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in cells and nbgrader_meta(cell).get("solution"):
            cell.source = cells[grade_id]
    return nb


# ---------------------------------------------------------------------------------------------
# is assignments/ up to date?

# Fields that may differ between two releases of the same sources without meaning anything.
VOLATILE_CELL_FIELDS = ("execution_count", "outputs")
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "trusted")


def regenerate_release(tmp: Path, assignment: str) -> Path:
    """Release one assignment from this repository's sources into a temporary copy of the course.

    Returns the folder holding the freshly generated notebooks (tmp/course/fresh/<assignment>).
    """
    from autograder.release import release

    course = Path(tmp) / "course"
    (course / "solutions").mkdir(parents=True, exist_ok=True)
    for config in ("nbgrader_config.py", "pyproject.toml"):     # pyproject.toml: the course's URL
        shutil.copy(ROOT / config, course / config)
    shutil.copytree(SOURCE_DIR / assignment, course / "solutions" / assignment)
    release(assignment, root=course, release_dir=course / "fresh", use_db=False, log=lambda line: None)
    return course / "fresh" / assignment


def _comparable(cell) -> dict:
    cell = copy.deepcopy(dict(cell))
    for field in VOLATILE_CELL_FIELDS:
        cell.pop(field, None)
    cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k not in VOLATILE_CELL_METADATA}
    return cell


def release_differences(expected: Path, committed: Path) -> list[str]:
    """How the committed release folder differs from a freshly generated one (empty if not at all).

    Compares the set of files, and for notebooks the cells (type, id, source, metadata) and the
    notebook metadata; outputs and execution counts are ignored here (another test forbids them).
    """
    if not committed.is_dir():
        return [f"{committed} is missing: run `make release`"]
    problems = []
    names = lambda folder: {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for name in sorted(names(expected) ^ names(committed)):
        where = "only in a fresh release" if (expected / name).exists() else "only in the committed release"
        problems.append(f"{name}: {where}")
    for fresh in sorted(expected.glob("*.ipynb")):
        old = committed / fresh.name
        if not old.is_file():
            continue
        new_nb, old_nb = nbformat.read(fresh, as_version=4), nbformat.read(old, as_version=4)
        if dict(new_nb.metadata) != dict(old_nb.metadata):
            problems.append(f"{fresh.name}: notebook metadata differs")
        if len(new_nb.cells) != len(old_nb.cells):
            problems.append(f"{fresh.name}: {len(old_nb.cells)} cells committed, {len(new_nb.cells)} in a fresh release")
        for index, (a, b) in enumerate(zip(new_nb.cells, old_nb.cells)):
            if _comparable(a) != _comparable(b):
                problems.append(f"{fresh.name}: cell {index} "
                                f"({nbgrader_meta(a).get('grade_id', a.get('id'))}) differs")
                break
    return problems
