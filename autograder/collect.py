"""Gather downloaded submissions into submitted/<student>/<assignment>/<notebook>.ipynb.

SOURCE is a folder or a zip, as LMSs export them. The student id comes from the name:
- Canvas: `name_12345_67890_anything.ipynb` (also `name_LATE_12345_67890_...`): the student is
  the LMS user id 12345, named `name_12345` (two students with one name stay two students);
- Moodle: a folder `Full Name_12345_assignsubmission_file_/anything.ipynb`: `fullname_12345`;
- a folder per student: `SOURCE/<student>/.../anything.ipynb`;
- plain: `SOURCE/<student>.ipynb`.
Several submissions of one student: the newest wins (file time, then Canvas submission number,
then resubmission suffix `-1`, `-2`); one that cannot be read gives way to the next newest.
Anything that cannot be matched or read (no student id, an invalid date, a damaged zip entry, a
symbolic link) is listed, never dropped silently, and the rest is collected. Zips are read in
memory (names are matched relative to the zip, never as absolute paths, and `..` cannot escape).
"""
from __future__ import annotations

import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from .course_dir import Course

CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?:_late)?_(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)$", re.IGNORECASE)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_\w*$")
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
        return (f"{_plain_name(match['name'])}_{match['user']}",
                (int(match["sub"]), int(resub.group(1)) if resub else 0), "")
    if len(relative.parts) >= 2:
        folder = relative.parts[0]
        moodle = MOODLE.match(folder)
        if moodle:
            return f"{_plain_name(moodle['name'])}_{moodle['user']}", (0, 0), ""
        if STUDENT_ID.match(folder):
            return folder, (0, 0), ""
        return None, (), f"folder name {folder!r} is not a usable student id"
    if STUDENT_ID.match(stem):
        return stem, (0, 0), ""
    return None, (), f"file name {relative.name!r} does not contain a usable student id"


def _plain_name(name: str) -> str:
    """A display name as an id: `Zoë O'Neil` -> `zoeoneil`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_name.lower()) or "student"


def _zip_entries(source: Path, report: CollectReport) -> list[tuple]:
    archive = zipfile.ZipFile(source)
    found = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        if info.is_dir():
            continue
        relative = PurePosixPath(name)
        if any(part == ".." for part in relative.parts) or relative.is_absolute():
            report.unmatched.append((info.filename, "unsafe path in the zip"))
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            report.unmatched.append((name, "a symbolic link: refused (submit the notebook itself)"))
            continue
        try:
            mtime = datetime(*info.date_time).timestamp()
        except (ValueError, OverflowError, OSError):
            report.unmatched.append((name, f"invalid date {info.date_time} in the zip entry: extract the "
                                           "file, give it a date, and collect the folder"))
            continue
        found.append((relative, mtime, lambda info=info: archive.read(info)))
    return found


def _folder_entries(source: Path, report: CollectReport) -> list[tuple]:
    found = []
    for folder, dirs, files in os.walk(source):
        here = Path(folder)
        for name in sorted(dirs + files):
            path = here / name
            relative = PurePosixPath(path.relative_to(source).as_posix())
            if path.is_symlink():
                report.unmatched.append((relative.as_posix(), "a symbolic link: refused (copy the file "
                                                              "itself into the folder)"))
            elif name in files and path.is_file():
                found.append((relative, path.stat().st_mtime, lambda path=path: _read_regular_file(path)))
        dirs.sort()
    return found


def _read_regular_file(path: Path) -> bytes:
    """The file's bytes; refused if it became a symbolic link since the folder was listed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _candidates(source: Path, report: CollectReport) -> list[Candidate]:
    if source.is_file() and zipfile.is_zipfile(source):
        found = _zip_entries(source, report)
    elif source.is_dir():
        found = _folder_entries(source, report)
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
    by_student: dict[str, list[Candidate]] = {}
    for candidate in _candidates(Path(source), report):
        by_student.setdefault(candidate.student, []).append(candidate)
    for student, candidates in sorted(by_student.items()):
        candidates.sort(key=lambda c: c.order, reverse=True)
        for rank, candidate in enumerate(candidates):
            try:
                data = candidate.read()
            except Exception as error:   # a damaged or encrypted zip entry: the next newest one counts
                report.unmatched.append((candidate.name, f"cannot be read ({type(error).__name__}: {error})"))
                continue
            report.superseded += [(student, older.name) for older in candidates[rank + 1:]]
            _store(course, student, assignment, notebook, candidate, data, report)
            break
    return report


def _store(course: Course, student: str, assignment: str, notebook: str, candidate: Candidate,
           data: bytes, report: CollectReport) -> None:
    target = course.submission(student, assignment, notebook)
    stamp_file = target.parent / "timestamp.txt"
    stamp = datetime.fromtimestamp(candidate.mtime, timezone.utc)
    if target.exists() and stamp_file.exists():
        existing = read_timestamp(stamp_file.read_text())
        if existing is not None and existing > stamp:
            report.kept_existing.append(student)
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    stamp_file.write_text(stamp.isoformat())
    report.collected[student] = candidate.name


def read_timestamp(text: str) -> datetime | None:
    """A timestamp.txt as an aware datetime in UTC (nbgrader's convention: without a zone it is UTC);
    None when it is not a date."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text.strip()).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, TypeError, AttributeError):
        return None
