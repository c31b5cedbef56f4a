"""What the source notebook says is graded, and how.

`load_source(path)` reads an instructor notebook (solutions/<a>/<nb>.ipynb) into a `Source`:
its code cells in order, each one of
- "solution": the student writes it (nbgrader `solution: true`); we keep the names it defines,
  to find the cell again when a student's copy lost its metadata;
- "test": an autograded test (nbgrader `grade: true`, `solution: false`) worth `points`; its
  code is split into the visible part (what the student sees) and the hidden part;
- "setup": instructor code the student should not need to change (imports, data, helpers).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from ._nbformat import nbformat


SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HINT = re.compile(r"^\s*#\s*hint:\s*(.+)$", re.IGNORECASE)


@dataclass
class SourceCell:
    """One code cell of the source notebook.

    kind: "solution" | "test" | "setup"; cell_id: the nbgrader grade_id (or "cell-<index>").
    code: the instructor's full code (for tests: visible + hidden).
    visible: for tests, the code the student sees; hidden: the hidden part ("" if none).
    hints: for tests, the `# hint: ...` lines of the hidden part (shown in feedback); each names
    the property the hidden checks after it test, until the next hint.
    defines: names the cell defines at top level (functions, classes, assigned names).
    """

    index: int
    kind: str
    cell_id: str
    code: str
    points: float = 0.0
    visible: str = ""
    hidden: str = ""
    hints: list[str] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)


@dataclass
class Source:
    notebook: str                 # notebook name without .ipynb
    cells: list[SourceCell]

    @property
    def tests(self) -> list[SourceCell]:
        return [c for c in self.cells if c.kind == "test"]

    @property
    def solutions(self) -> list[SourceCell]:
        return [c for c in self.cells if c.kind == "solution"]

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.tests))

    def by_id(self, cell_id: str) -> SourceCell | None:
        return next((c for c in self.cells if c.cell_id == cell_id), None)


def split_hidden(code: str) -> tuple[str, str]:
    """Split test code into (visible, hidden); hidden keeps its lines in order, without markers."""
    visible, hidden, inside = [], [], False
    for line in code.splitlines():
        marker = line.strip()
        if marker == HIDDEN_BEGIN:
            inside = True
        elif marker == HIDDEN_END:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible).strip("\n"), "\n".join(hidden).strip("\n")


def hint_regions(code: str) -> str:
    """Test code in which every `# hint:` line of the hidden part opens a region of its own.

    The kernel reports the region a test failed in as its `failed_part`; after this, a hidden
    check that follows the k-th hint fails as "hidden:k" (k from 0), so that feedback can show the
    hint of the check that failed. Code that would not parse with the markers is left as it is.
    """
    lines, inside, k = [], False, 0
    for line in code.splitlines():
        marker = line.strip()
        inside = (inside or marker == HIDDEN_BEGIN) and marker != HIDDEN_END
        lines.append(line)
        if inside and HINT.match(line):
            lines.append(line[: len(line) - len(line.lstrip())] + f"__ag_region__('hidden:{k}')")
            k += 1
    marked = "\n".join(lines)
    try:
        ast.parse(marked)
    except SyntaxError:
        return code
    return marked


def hint_of(test: dict) -> list[str]:
    """The hints a failed hidden test may show: the failed check's own, else all of them."""
    part, hints = test.get("failed_part") or "", list(test.get("hints") or [])
    index = part.partition(":")[2]
    if index.isdigit() and int(index) < len(hints):
        return [hints[int(index)]]
    return hints


def strip_solution(code: str) -> str:
    """The code with solution regions removed (markers included), as a student first sees it."""
    keep, inside = [], False
    for line in code.splitlines():
        marker = line.strip()
        if marker == SOLUTION_BEGIN:
            inside = True
        elif marker == SOLUTION_END:
            inside = False
        elif not inside:
            keep.append(line)
    return "\n".join(keep)


def defined_names(code: str) -> list[str]:
    """Top-level names a cell defines: functions and classes first, then assignments."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    defs, assigned = [], []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        assigned.append(name.id)
    return defs + [n for n in assigned if n not in defs]


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def load_source(path: str | Path) -> Source:
    """Read an instructor notebook. Raises ValueError naming the cell when metadata is inconsistent."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        cell_id = str(meta.get("grade_id") or f"cell-{index}")
        code = cell.source
        if meta.get("grade") and not meta.get("solution"):
            visible, hidden = split_hidden(code)
            hints = [m.group(1).strip() for line in hidden.splitlines() if (m := HINT.match(line))]
            points = float(meta.get("points", 0) or 0)
            cells.append(SourceCell(index, "test", cell_id, code, points, visible, hidden, hints))
        elif meta.get("solution"):
            cells.append(SourceCell(index, "solution", cell_id, code, defines=defined_names(code)))
        else:
            cells.append(SourceCell(index, "setup", cell_id, code, defines=defined_names(code)))
    ids = [c.cell_id for c in cells]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path}: grade_id used by more than one cell: {duplicates}; "
                         "give every graded cell its own grade_id.")
    return Source(notebook=path.stem, cells=cells)
