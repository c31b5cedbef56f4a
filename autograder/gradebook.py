"""Scores into nbgrader's gradebook (SQLite), through nbgrader's own API.

We compute the scores ourselves (see grade.py) and write them as the grade cells' `auto_score`,
so nbgrader's formgrader, `nbgrader export` and our export all read the same numbers. Writing is
idempotent: recording a result twice leaves the gradebook as recording it once.
"""
from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager

from nbgrader.api import Gradebook, MissingEntry

from .model import Source


@contextmanager
def open_gradebook(db_url: str):
    # nbgrader runs the `alembic` command next to the interpreter; make it findable when the
    # virtual environment is not activated (e.g. `.venv/bin/course grade`).
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    gb = Gradebook(db_url)
    try:
        yield gb
    finally:
        gb.close()


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
    """Write one notebook's result (from grade_submission) as auto scores."""
    with warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they are harmless here.
        warnings.simplefilter("ignore")
        _record(gb, assignment, student, notebook, result, timestamp)


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
