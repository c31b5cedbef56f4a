"""Gather downloaded submissions into submitted/<student>/<assignment>/<notebook>.ipynb.

SOURCE is a folder or a zip, as LMSs export them. The student id comes from the name:
- Canvas: `name_12345_67890_anything.ipynb` (also `name_LATE_12345_67890_...`): the login-like
  name before the numbers;
- a folder per student: `SOURCE/<student>/.../anything.ipynb`;
- plain: `SOURCE/<student>.ipynb`.
Several submissions of one student: the newest wins (file time, then Canvas submission number,
then resubmission suffix `-1`, `-2`). Anything that cannot be matched is listed, never dropped
silently. Zips are read in memory (names are matched relative to the zip, never as absolute
paths, and `..` cannot escape).
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from .course_dir import Course

CANVAS = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9]*?)(?:_late)?_(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)$",
                    re.IGNORECASE)
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
RESUBMISSION = re.compile(r"-(\d+)$")
IGNORED = ("__MACOSX/", ".ipynb_checkpoints/", ".DS_Store")


@dataclass
class Candidate:
    student: str
    name: str            # where it came from (relative path inside SOURCE)
    mtime: float
    order: tuple         # tie-breakers: (mtime, submission number, resubmission suffix)
    read: callable


@dataclass
class CollectReport:
    collected: dict[str, str] = field(default_factory=dict)      # student -> source name
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (student, older name)
    kept_existing: list[str] = field(default_factory=list)       # students whose stored copy is newer
    unmatched: list[tuple[str, str]] = field(default_factory=list)   # (name, why)

    def text(self) -> str:
        lines = [f"collected {len(self.collected)} submission(s)"]
        lines += [f"  {student:<24} <- {name}" for student, name in sorted(self.collected.items())]
        if self.superseded:
            lines.append(f"older submissions replaced by newer ones ({len(self.superseded)}):")
            lines += [f"  {student:<24} {name}" for student, name in self.superseded]
        if self.kept_existing:
            lines.append("already collected and newer, kept: " + ", ".join(self.kept_existing))
        if self.unmatched:
            lines.append(f"NOT collected ({len(self.unmatched)}):")
            lines += [f"  {name}: {why}" for name, why in self.unmatched]
        return "\n".join(lines)


def student_from_name(relative: PurePosixPath) -> tuple[str | None, tuple, str]:
    """(student id or None, tie-breaker, reason when None) for a path relative to SOURCE."""
    stem = relative.stem
    match = CANVAS.match(relative.name)
    if match:
        resub = RESUBMISSION.search(Path(match["file"]).stem)
        return match["name"].lower(), (int(match["sub"]), int(resub.group(1)) if resub else 0), ""
    if len(relative.parts) >= 2:
        folder = relative.parts[0]
        if STUDENT_ID.match(folder):
            return folder, (0, 0), ""
        return None, (), f"folder name {folder!r} is not a usable student id"
    if STUDENT_ID.match(stem):
        return stem, (0, 0), ""
    return None, (), f"file name {relative.name!r} does not contain a usable student id"


def _candidates(source: Path, report: CollectReport) -> list[Candidate]:
    found = []
    if source.is_file() and zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        for info in archive.infolist():
            if info.is_dir():
                continue
            relative = PurePosixPath(info.filename)
            if any(part == ".." for part in relative.parts) or relative.is_absolute():
                report.unmatched.append((info.filename, "unsafe path in the zip"))
                continue
            found.append((relative, datetime(*info.date_time).timestamp(),
                          lambda info=info: archive.read(info)))
    elif source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                found.append((PurePosixPath(path.relative_to(source).as_posix()), path.stat().st_mtime,
                              path.read_bytes))
    else:
        raise FileNotFoundError(f"{source} is neither a folder nor a zip file")
    candidates = []
    for relative, mtime, read in found:
        text = relative.as_posix()
        if any(marker in text or text.endswith(marker) for marker in IGNORED) or relative.name.startswith("."):
            continue
        if relative.suffix.lower() == ".zip":
            report.unmatched.append((text, "a zip inside the zip: unpack it and collect the folder"))
            continue
        if relative.suffix.lower() != ".ipynb":
            report.unmatched.append((text, "not a notebook (.ipynb)"))
            continue
        student, order, why = student_from_name(relative)
        if student is None:
            report.unmatched.append((text, why))
            continue
        candidates.append(Candidate(student, text, mtime, (mtime,) + order, read))
    return candidates


def collect(course: Course, assignment: str, source: str | Path) -> CollectReport:
    """Copy the newest submission of each student into the course. Returns what happened."""
    notebooks = course.source_notebooks(assignment)
    if len(notebooks) != 1:
        raise ValueError(f"assignment {assignment!r} has {len(notebooks)} notebooks; collect handles "
                         "assignments with exactly one notebook")
    notebook = notebooks[0].stem
    report = CollectReport()
    newest: dict[str, Candidate] = {}
    for candidate in _candidates(Path(source), report):
        current = newest.get(candidate.student)
        if current is None or candidate.order > current.order:
            if current is not None:
                report.superseded.append((candidate.student, current.name))
            newest[candidate.student] = candidate
        else:
            report.superseded.append((candidate.student, candidate.name))
    for student, candidate in sorted(newest.items()):
        target = course.submission(student, assignment, notebook)
        stamp_file = target.parent / "timestamp.txt"
        stamp = datetime.fromtimestamp(candidate.mtime, timezone.utc)
        if target.exists() and stamp_file.exists():
            try:
                existing = datetime.fromisoformat(stamp_file.read_text().strip())
            except ValueError:
                existing = None
            if existing is not None and existing > stamp:
                report.kept_existing.append(student)
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(candidate.read())
        stamp_file.write_text(stamp.isoformat())
        report.collected[student] = candidate.name
    return report
