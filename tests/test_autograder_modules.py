"""The autograder on the course's real module notebooks (solutions/NN_*/NN_*.ipynb).

For each module: the completed release scores full marks, so does the same notebook with its
nbgrader metadata stripped and cells reversed, and so does every correct answer written another
way (tests/alternatives/<module>/*.py, at least two per solution cell); the unsolved release
scores 0. Only the alternatives that hand an exercise to the library are flagged, naming exactly
those cells. All of a module's submissions are graded in one batch. Slow (each module's notebook
runs several times), so marked `slow`.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.batch import grade_class
from autograder.course_dir import Course
from autograder.model import load_source, split_hidden, strip_solution
from autograder.sandbox import Limits
from nbgrader_harness import alternatives, with_cells

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb")
                 if p.stem == p.parent.name)
STUB = '# YOUR CODE HERE\nraise NotImplementedError("Replace this line with your code.")'


def release_of(source_nb):
    nb = nbformat.from_dict(source_nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            if strip_solution(cell.source).strip() != cell.source.strip():
                cell.source = _insert_stub(cell.source)
        elif meta.get("grade") and not meta.get("solution"):
            cell.source = split_hidden(cell.source)[0]
    return nb


def _insert_stub(code):
    out, inside = [], False
    for line in code.splitlines():
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + stub_line for stub_line in STUB.splitlines()]
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def completed(release, source_nb):
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_nb.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_real_module_grades_as_expected(module, tmp_path):
    source_path = ROOT / "solutions" / module / f"{module}.ipynb"
    source_nb = nbformat.read(source_path, as_version=4)
    root = tmp_path / "course"
    (root / "solutions" / module).mkdir(parents=True)
    nbformat.write(source_nb, root / "solutions" / module / source_path.name)
    release = release_of(source_nb)

    def submit(student, nb):
        target = root / "submitted" / student / module / source_path.name
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)

    submit("solved", completed(release, source_nb))
    stripped = completed(release, source_nb)
    for cell in stripped.cells:
        cell.metadata = {}
    stripped.cells = stripped.cells[:1] + stripped.cells[1:][::-1]
    submit("stripped_reversed", stripped)
    submit("blank", release)
    others = alternatives(module)
    for alternative in others:
        submit(f"alternative_{alternative.name}", with_cells(completed(release, source_nb), alternative.cells))

    max_score = load_source(source_path).max_score
    results = {r["student"]: r for r in grade_class(Course.at(root), module, jobs=2,
                                                     limits=Limits(timeout=120), progress=False)}
    expected_flags = {"solved": (), "stripped_reversed": ()}
    expected_flags.update({f"alternative_{a.name}": a.flags for a in others})
    for student, flagged_cells in expected_flags.items():
        failed = [(t["cell_id"], t["failed_part"], t["error"][:300]) for t in results[student]["tests"]
                  if t["status"] != "passed"]
        flags = results[student]["flags"]
        assert results[student]["score"] == max_score, (student, failed, flags)
        assert not any("tampering" in f or "blocked" in f for f in flags), (student, flags)
        delegated = {f.split(": ")[1].split(" (")[0] for f in flags if f.startswith("delegated to the library")}
        assert delegated == set(flagged_cells), (student, flags)
    assert results["blank"]["score"] == 0, [(t["cell_id"], t["status"]) for t in results["blank"]["tests"]]


@pytest.mark.parametrize("module", MODULES)
def test_every_solution_cell_has_two_alternative_answers(module):
    source = load_source(ROOT / "solutions" / module / f"{module}.ipynb")
    answered = [cell for a in alternatives(module) if not a.flags for cell in a.cells]
    thin = {c.cell_id: answered.count(c.cell_id) for c in source.solutions if answered.count(c.cell_id) < 2}
    assert not thin, f"{module}: solution cells with fewer than two alternative answers: {thin}"
