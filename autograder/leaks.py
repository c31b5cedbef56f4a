"""The leak scan: does a folder meant for students hold any answer or hidden test of the course?

What counts as secret is read from the instructor notebooks (solutions/<assignment>/*.ipynb):
every line between `### BEGIN SOLUTION` and `### END SOLUTION`, and between
`### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`, compared with runs of whitespace collapsed.
A line that the student release itself shows (such as `return out, cache`, or a visible test
repeated in a hidden one) is not a secret and is ignored, as are lines without a letter or digit
(`)`, `]`) and the few statements in `GENERIC_LINES`.

`scan(folder, secrets)` reports, with file and line:
- a secret line in any text file (in a notebook: in any cell, named by cell and line);
- a solution or hidden-test marker (`BEGIN SOLUTION`, `BEGIN HIDDEN TESTS`, their END twins);
- what only an instructor's notebook carries: the jupytext pairing of a source notebook, or a
  percent-format source with nbgrader cell headers (`# %% nbgrader={...}`).
Binary files are skipped; a wheel is scanned by `scan_wheel` (its files are unpacked first).
"""
from __future__ import annotations

import json
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ._nbformat import nbformat


SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MARKERS = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)")
SOURCE_CELL_HEADER = re.compile(r"^# %%.*\bnbgrader=")
SKIPPED_FOLDERS = {".git", "__pycache__", ".ipynb_checkpoints"}

# Statements so common that finding them says nothing about an answer; each one occurs in a
# solution or hidden test and in the library for reasons of its own. Keep this list short: a line
# that shows how an exercise is solved is rewritten in the library, never listed here.
GENERIC_LINES = frozenset({
    "continue",
    "@property",
    "out = []",
    "while stack:",          # any iterative depth-first search (the library's graph traversal)
    "return a @ b",          # a matrix product's forward
    "manual_seed(seed)",     # seeding the library's random generator
    # PyTorch's Function API, as every op that keeps its inputs or its output for backward uses it:
    "ctx.save_for_backward(a, b)",
    "a, b = ctx.saved_tensors",
    "ctx.save_for_backward(out)",
    "(out,) = ctx.saved_tensors",
})


def normalise(line: str) -> str:
    """A line with its leading/trailing whitespace removed and inner runs collapsed to one space."""
    return " ".join(line.split())


def _worth_scanning(line: str) -> bool:
    return any(ch.isalnum() for ch in line)


@dataclass(frozen=True)
class Secret:
    """One secret line and where it comes from (for the report)."""

    text: str          # normalised
    origin: str        # e.g. "solutions/04_autograd/04_autograd.ipynb, cell 'numerical_jacobian'"


@dataclass(frozen=True)
class Leak:
    """A finding of the scan: where, and what was found."""

    path: str
    line: str          # "line 12" or "cell 7, line 3"
    what: str

    def __str__(self) -> str:
        return f"{self.path}, {self.line}: {self.what}"


def blocks(source: str, begin: str, end: str) -> list[str]:
    """The lines strictly between each begin/end marker pair of a cell's source."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _notebook_lines(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [line for cell in nb.cells for line in cell.source.splitlines()]


def course_secrets(root: Path, source_dir: str = "solutions", release_dir: str = "assignments") -> dict[str, Secret]:
    """Every secret line of every module of the course at root, keyed by its normalised text.

    Lines that appear anywhere in the student release (root/<release_dir>) are left out.
    """
    root = Path(root)
    ignored = GENERIC_LINES | {normalise(line) for nb in sorted((root / release_dir).glob("*/*.ipynb"))
                               for line in _notebook_lines(nb)}
    secrets: dict[str, Secret] = {}
    for path in sorted((root / source_dir).glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
            for kind, (begin, end) in (("solution", SOLUTION), ("hidden test", HIDDEN_TESTS)):
                for line in blocks(cell.source, begin, end):
                    text = normalise(line)
                    if _worth_scanning(text) and text not in ignored and text not in secrets:
                        origin = f"{kind} line of {path.relative_to(root)}, cell {grade_id!r}"
                        secrets[text] = Secret(text, origin)
    return secrets


def _scan_lines(lines, secrets, path: str, where) -> list[Leak]:
    leaks = []
    for number, line in enumerate(lines, start=1):
        marker = MARKERS.search(line)
        if marker:
            leaks.append(Leak(path, where(number), f"nbgrader marker {marker.group(0)!r}"))
        secret = secrets.get(normalise(line))
        if secret is not None:
            leaks.append(Leak(path, where(number), f"{secret.origin}: {secret.text!r}"))
        if SOURCE_CELL_HEADER.match(line):
            leaks.append(Leak(path, where(number), "a solution notebook's source (jupytext cell with nbgrader metadata)"))
    return leaks


def _scan_notebook(path: Path, rel: str, secrets) -> list[Leak]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return [Leak(rel, "line 1", "not a readable notebook (cannot be checked for leaks)")]
    leaks = []
    if "jupytext" in nb.get("metadata", {}):
        leaks.append(Leak(rel, "notebook metadata", "a solution notebook's jupytext pairing"))
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        lines = ("".join(source) if isinstance(source, list) else source).splitlines()
        leaks += _scan_lines(lines, secrets, rel, lambda n, i=index: f"cell {i}, line {n}")
    return leaks


def scan(folder: Path, secrets: dict[str, Secret], label: str | None = None) -> list[Leak]:
    """All leaks in the files under folder (see the module docstring), in path order.

    label: how the folder is named in the report (default: the folder's path).
    """
    folder = Path(folder)
    label = label or str(folder)
    leaks = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or SKIPPED_FOLDERS.intersection(relative.parts):
            continue
        rel = f"{label}/{relative.as_posix()}"
        if path.suffix == ".ipynb":
            leaks += _scan_notebook(path, rel, secrets)
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue    # binary: images, compiled files
        leaks += _scan_lines(text.splitlines(), secrets, rel, lambda n: f"line {n}")
    return leaks


def scan_wheel(wheel: Path, secrets: dict[str, Secret]) -> list[Leak]:
    """Scan every file a wheel would install, named as <wheel file>/<path inside it>."""
    wheel = Path(wheel)
    with tempfile.TemporaryDirectory(prefix="leak-scan-") as unpacked:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
        return scan(Path(unpacked), secrets, label=wheel.name)
