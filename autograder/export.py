"""Export grades: the gradebook as CSV, and a Gradescope-format results.json per submission.

CSV (`export_csv`): one row per student with a submission: student, assignment, score, max_score,
timestamp, flagged, unverified (graded without OS isolation: --unsafe-no-isolation), read from
nbgrader's gradebook (so manual grades entered in formgrader count).

Gradescope (`export_gradescope`): autograded/<student>/<assignment>/results.json in the
Gradescope autograder format: {"score", "tests": [{"name", "score", "max_score", "status",
"output", "visibility"}], "output"}. Test output follows the feedback rules (no hidden tests).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from . import gradebook
from .course_dir import Course
from .feedback import feedback_items
from .sandbox import unverified


def export_csv(course: Course, assignment: str, target: str | Path) -> Path:
    target = Path(target)
    flagged, not_verified = {}, set()
    for result_file in (course.root / course.autograded_dir).glob(f"*/{assignment}/*.result.json"):
        result = json.loads(result_file.read_text())
        student = result_file.parent.parent.name
        flagged[student] = flagged.get(student, False) or bool(result.get("flags"))
        if unverified(result):
            not_verified.add(student)
    with gradebook.open_gradebook(course.db_url) as gb:
        rows = gradebook.scores(gb, assignment)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "score", "max_score", "timestamp", "flagged", "unverified"])
        for row in rows:
            writer.writerow([row["student"], assignment, f"{row['score']:g}", f"{row['max_score']:g}",
                             row["timestamp"], "yes" if flagged.get(row["student"]) else "",
                             "yes" if row["student"] in not_verified else ""])
    return target


def gradescope_results(results: list[dict]) -> dict:
    """Gradescope results.json for one student's notebooks of one assignment."""
    tests, total, messages = [], 0.0, []
    for result in results:
        total += float(result.get("score", 0))
        if result.get("status") == "unreadable":
            messages.append(f"{result.get('notebook')}: could not be graded ({result.get('error')})")
        for item in feedback_items(result):
            output = "\n".join(part for part in (item["message"], item["output"]) if part)
            tests.append({"name": f"{result.get('notebook')}: {item['cell_id']}", "score": item["score"],
                          "max_score": item["points"],
                          "status": "passed" if item["score"] == item["points"] else "failed",
                          "output": output, "visibility": "visible"})
    return {"score": total, "tests": tests, "output": "\n".join(messages), "visibility": "visible"}


def export_gradescope(course: Course, assignment: str) -> list[Path]:
    written = []
    base = course.root / course.autograded_dir
    for folder in sorted(base.glob(f"*/{assignment}")):
        results = [json.loads(p.read_text()) for p in sorted(folder.glob("*.result.json"))]
        if not results:
            continue
        target = folder / "results.json"
        target.write_text(json.dumps(gradescope_results(results), indent=1))
        written.append(target)
    return written
