"""Read a submission whatever state it is in, and line its cells up with the source notebook.

Students delete, duplicate and reorder cells, lose the nbgrader metadata (copying cells into a
fresh notebook, some editors and LMSs strip it), rename the file, or save in an old format. A
submission is read as nbformat 4 (older versions are converted), then every code cell is matched
to a source cell:

1. by its nbgrader grade_id, when the metadata survived;
2. else, when its text is an instructor cell's (a setup cell, or a test as released), it is that cell;
3. else, by the names it defines: a cell defining `perceptron_step` is the solution cell whose
   source defines `perceptron_step`;
4. else, when it looks like a released test cell (mostly the same text), it is that test, edited;
5. anything left is the student's own cell and runs where the student put it.

The resulting `Plan` runs in the source's order: setup cells and tests come from the source (so an
edited or deleted test is restored, hidden tests included), solution cells from the student.
"""
from __future__ import annotations

import ast
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ._nbformat import nbformat
from .magics import translate
from .model import Source, defined_names, nbgrader_meta


@dataclass
class Step:
    """One thing the kernel runs. kind: "setup" | "student" | "test"."""

    kind: str
    cell_id: str
    code: str
    label: str                    # for reports: "cell 3 (solution `xor_features`)"


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    error: str = ""                # set when the file is not a gradable notebook
    notes: list[str] = field(default_factory=list)    # what recovery did (shown to instructor)
    flags: list[str] = field(default_factory=list)    # what looks like tampering


def read_notebook(data: bytes) -> tuple[nbformat.NotebookNode | None, str]:
    """Parse submission bytes. Returns (notebook, "") or (None, a reason it cannot be graded)."""
    if not data.strip():
        return None, "empty file"
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"not valid JSON ({error.__class__.__name__}: {error})"
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        return None, "not a Jupyter notebook (no cells)"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as error:  # nbformat raises many kinds for odd files
        return None, f"not a readable notebook ({error.__class__.__name__}: {error})"
    cells = []
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or "cell_type" not in cell:
            continue
        source = cell.get("source", "")
        cell["source"] = "".join(source) if isinstance(source, list) else str(source)
        cells.append(cell)
    nb["cells"] = cells
    return nb, ""


def _normal(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _normal(a), _normal(b)).ratio()


def match_cells(nb, source: Source) -> tuple[list[tuple[str | None, str]], list[str], list[str]]:
    """Match a submission's code cells to source cells.

    Returns:
    - matches: one (source cell_id or None, code) per student code cell, in the student's order;
      None marks the student's own cells.
    - notes, flags: lists of human-readable strings.
    """
    notes, flags = [], []
    by_id = {c.cell_id: c for c in source.cells}
    released_test = {c.cell_id: c.visible for c in source.tests}
    instructor_text = {c.cell_id: _normal(c.code) for c in source.cells if c.kind == "setup"}
    instructor_text.update({cid: _normal(text) for cid, text in released_test.items()})
    full_test = {c.cell_id: _normal(c.code) for c in source.tests}
    matches: list[tuple[str | None, str]] = []
    recovered = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        code = cell["source"]
        grade_id = str(nbgrader_meta(cell).get("grade_id") or "")
        if grade_id in by_id:
            matches.append((grade_id, code))
            continue
        normal = _normal(code)
        same_text = next((cid for table in (instructor_text, full_test) for cid, text in table.items()
                          if text == normal and text), None)
        if same_text:
            matches.append((same_text, code))
            recovered += 1
            continue
        names = set(defined_names(translate(code)[0]))
        best, best_overlap = None, 0
        for solution in source.solutions:
            wanted = set(solution.defines)
            overlap = 2 * len(names & wanted & _function_names(solution.code)) + len(names & wanted)
            if overlap > best_overlap:
                best, best_overlap = solution.cell_id, overlap
        if best:
            matches.append((best, code))
            recovered += 1
            continue
        test_like = max(source.tests, key=lambda t: _similar(code, t.visible), default=None)
        if test_like is not None and normal and _similar(code, test_like.visible) > 0.6:
            matches.append((test_like.cell_id, code))
            recovered += 1
            continue
        matches.append((None, code))
    if recovered:
        notes.append(f"{recovered} cell(s) without nbgrader metadata were matched back to the source")
    seen_order = [by_id[cid].index for cid, _ in matches if cid is not None]
    if seen_order != sorted(seen_order):
        notes.append("cells were reordered; they run in the source's order")
    for test in source.tests:
        theirs = [code for cid, code in matches if cid == test.cell_id]
        if not theirs:
            flags.append(f"test cell {test.cell_id} deleted (restored from the source)")
        elif any(_normal(code) not in (_normal(test.visible), _normal(test.code)) for code in theirs):
            flags.append(f"test cell {test.cell_id} edited (restored from the source)")
    for solution in source.solutions:
        count = sum(1 for cid, _ in matches if cid == solution.cell_id)
        if count == 0:
            notes.append(f"solution cell {solution.cell_id} is missing")
        elif count > 1:
            notes.append(f"solution cell {solution.cell_id} appears {count} times; all run, in order")
    return matches, notes, flags


def _function_names(code: str) -> set[str]:
    try:
        return {n.name for n in ast.parse(code).body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    except SyntaxError:
        return set()


def make_plan(data: bytes, source: Source) -> Plan:
    """Build the run plan of one submission (bytes of its file) against the source notebook."""
    nb, error = read_notebook(data)
    if nb is None:
        return Plan(error=error)
    matches, notes, flags = match_cells(nb, source)
    plan = Plan(notes=notes, flags=flags)
    # The student's own cells run after the source cell they followed in the student's notebook;
    # those before any matched cell run just before the first solution cell.
    first_solution = next((c.index for c in source.cells if c.kind == "solution"), -1)
    extras: dict[int, list[str]] = {}
    anchor = first_solution - 0.5 if first_solution >= 0 else -1
    solution_code: dict[str, list[str]] = {}
    by_id = {c.cell_id: c for c in source.cells}
    for cid, code in matches:
        if cid is None:
            extras.setdefault(anchor, []).append(code)
        else:
            anchor = by_id[cid].index
            if by_id[cid].kind == "solution":
                solution_code.setdefault(cid, []).append(code)

    def add_extras(position):
        for code in extras.get(position, []):
            plan.steps.append(Step("student", "", code, "a cell you added"))

    add_extras(-1)
    for cell in source.cells:
        add_extras(cell.index - 0.5)
        if cell.kind == "setup":
            plan.steps.append(Step("setup", cell.cell_id, cell.code, f"setup cell {cell.cell_id}"))
        elif cell.kind == "solution":
            for code in solution_code.get(cell.cell_id, []):
                plan.steps.append(Step("student", cell.cell_id, code, f"solution cell {cell.cell_id}"))
        else:
            plan.steps.append(Step("test", cell.cell_id, cell.code, f"test cell {cell.cell_id}"))
        add_extras(cell.index)
    plan.notes += [f"{step.label}: {note}" for step in plan.steps if step.kind == "student"
                   for note in translate(step.code)[1]]
    return plan


def plan_for_file(path: str | Path, source: Source) -> Plan:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return Plan(error=f"cannot read the file ({error})")
    return make_plan(data, source)
