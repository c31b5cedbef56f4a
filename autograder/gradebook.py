"""Scores into nbgrader's gradebook (SQLite), through nbgrader's own API.

We compute the scores ourselves (see grade.py) and write them as the grade cells' `auto_score`,
so nbgrader's formgrader, `nbgrader export` and our export all read the same numbers. Writing is
idempotent: recording a result twice leaves the gradebook as recording it once.

SQLite lets one program write at a time; while another one writes (the formgrader, an nbgrader
command), writes fail with "database is locked". Every write here is retried with a growing wait;
a batch writes through `GradebookWriter`, which never raises: a write that still fails is counted,
and the batch goes on (its results stay in their JSON files; a rerun records them).
"""
from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from contextlib import contextmanager

from . import _nbformat  # noqa: F401  (before nbgrader, which imports nbformat its own way)
from nbgrader.api import Gradebook, MissingEntry

from .model import Source


def connect(db_url: str) -> Gradebook:
    # nbgrader runs the `alembic` command next to the interpreter; make it findable when the
    # virtual environment is not activated (e.g. `.venv/bin/course grade`).
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return Gradebook(db_url)


@contextmanager
def open_gradebook(db_url: str):
    gb = connect(db_url)
    try:
        yield gb
    finally:
        gb.close()


LOCK_ATTEMPTS = 8          # tries of a write that SQLite refuses as locked (each also waits SQLite's own timeout)
LOCK_FIRST_WAIT = 0.5      # seconds before the second try; doubles up to LOCK_LONGEST_WAIT
LOCK_LONGEST_WAIT = 8.0


def is_locked(error: BaseException) -> bool:
    return "database is locked" in str(error) or "database table is locked" in str(error)


def retry_when_locked(action, *args, gb: Gradebook | None = None):
    """action(*args), tried again with a growing wait while the database is locked."""
    wait = LOCK_FIRST_WAIT
    nbgrader_log = logging.getLogger("tornado.application")   # nbgrader logs every rollback there
    level = nbgrader_log.level
    nbgrader_log.setLevel(logging.CRITICAL)
    try:
        for attempt in range(1, LOCK_ATTEMPTS + 1):
            try:
                return action(*args)
            except Exception as error:
                if not is_locked(error) or attempt == LOCK_ATTEMPTS:
                    raise
                if gb is not None:
                    gb.db.rollback()
            time.sleep(wait)
            wait = min(2 * wait, LOCK_LONGEST_WAIT)
    finally:
        nbgrader_log.setLevel(level)


class GradebookWriter:
    """Writes a batch's results. Never raises: once a write failed for good (say the database stayed
    locked), later ones are only counted, so that a locked gradebook does not stall the batch.

        with GradebookWriter(course.db_url, assignment, sources) as writer:
            writer.record(student, notebook, result, timestamp)
        writer.unrecorded, writer.problem     # what was not written, and why
    """

    def __init__(self, db_url: str, assignment: str, sources: list[Source]):
        self.db_url, self.assignment, self.sources = db_url, assignment, sources
        self.gb: Gradebook | None = None
        self.problem = ""
        self.unrecorded: set[tuple[str, str]] = set()

    def __enter__(self):
        self._connect()
        return self

    def __exit__(self, *exc):
        if self.gb is not None:
            self.gb.close()

    def _connect(self) -> None:
        try:
            self.gb = retry_when_locked(connect, self.db_url)
            retry_when_locked(sync_assignment, self.gb, self.assignment, self.sources, gb=self.gb)
        except Exception as error:
            self._give_up(error)

    def _give_up(self, error: Exception) -> None:
        self.problem = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"
        if self.gb is not None:
            self.gb.db.rollback()

    def record(self, student: str, notebook: str, result: dict, timestamp: str | None = None) -> bool:
        if not self.problem:
            try:
                record(self.gb, self.assignment, student, notebook, result, timestamp)
                self.unrecorded.discard((student, notebook))
                return True
            except Exception as error:
                self._give_up(error)
        self.unrecorded.add((student, notebook))
        return False


def sync_assignment(gb: Gradebook, assignment: str, sources: list[Source]) -> None:
    """Make the gradebook know the assignment, its notebooks and their graded cells."""
    gb.update_or_create_assignment(assignment)
    for source in sources:
        gb.update_or_create_notebook(source.notebook, assignment)
        for cell in source.cells:
            if cell.kind == "test":
                gb.update_or_create_grade_cell(cell.cell_id, source.notebook, assignment,
                                               max_score=cell.points, cell_type="code")
            elif cell.kind == "solution":
                gb.update_or_create_solution_cell(cell.cell_id, source.notebook, assignment)


def record(gb: Gradebook, assignment: str, student: str, notebook: str, result: dict,
           timestamp: str | None = None) -> None:
    """Write one notebook's result (from grade_submission) as auto scores (retried while locked)."""
    with warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they are harmless here.
        warnings.simplefilter("ignore")
        retry_when_locked(_record, gb, assignment, student, notebook, result, timestamp, gb=gb)


def _record(gb, assignment, student, notebook, result, timestamp):
    gb.update_or_create_student(student)
    kwargs = {"timestamp": timestamp} if timestamp else {}
    submission = gb.update_or_create_submission(assignment, student, **kwargs)
    scores = {t["cell_id"]: float(t["score"]) for t in result["tests"]}
    try:
        grades = {cell_id: gb.find_grade(cell_id, notebook, assignment, student) for cell_id in scores}
    except MissingEntry:
        # The assignment gained cells after this submission was first recorded: rebuild it.
        gb.remove_submission(assignment, student)
        submission = gb.add_submission(assignment, student, **kwargs)
        grades = {cell_id: gb.find_grade(cell_id, notebook, assignment, student) for cell_id in scores}
    for cell_id, grade in grades.items():
        grade.auto_score = scores[cell_id]
    for notebook_record in submission.notebooks:
        if notebook_record.name == notebook:
            flagged = bool(result.get("flags"))
            notebook_record.flagged = flagged
    gb.db.commit()


def scores(gb: Gradebook, assignment: str) -> list[dict]:
    """One row per student with a submission: student, score, max_score."""
    rows = []
    for submission in gb.assignment_submissions(assignment):
        rows.append({"student": submission.student_id, "score": float(submission.score),
                     "max_score": float(submission.max_score),
                     "timestamp": str(submission.timestamp or "")})
    return sorted(rows, key=lambda row: row["student"])
