"""Feedback for students: what passed, what failed and why, without ever showing hidden tests.

For each test: its points and status. When the visible part failed, its error message and
output (the student has that code anyway). When a hidden part failed, only that it failed, plus
the instructor's `# hint: ...` lines from the hidden test; never its code, values or message.
The student's own cells that raised or timed out are listed, and where the kernel died.
"""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

from .course_dir import Course

STATUS_TEXT = {"passed": "passed", "failed": "failed", "not run": "not run",
               "kernel died": "the kernel died while running it", "tampered": "failed (protected code was changed)"}


def feedback_items(result: dict) -> list[dict]:
    """What the student may see about each test: cell_id, points, score, status, message, output."""
    items = []
    for test in result.get("tests", []):
        item = {"cell_id": test["cell_id"], "points": test["points"], "score": test["score"],
                "status": STATUS_TEXT.get(test["status"], test["status"]), "message": "", "output": ""}
        if test["status"] == "failed" and test.get("failed_part") == "hidden":
            item["message"] = "Your code passed the visible test but failed a hidden test."
            if test.get("hints"):
                item["message"] += " Hint: " + " ".join(test["hints"])
        elif test["status"] == "failed":
            item["message"] = test.get("error", "")
            item["output"] = test.get("output", "")
        elif test["status"] == "passed":
            item["output"] = test.get("output", "")
        elif test["status"] in ("kernel died", "not run"):
            item["message"] = test.get("error", "")
        items.append(item)
    return items


def render_html(result: dict) -> str:
    esc = html.escape
    rows = []
    for item in feedback_items(result):
        detail = ""
        if item["message"]:
            detail += f"<pre class='msg'>{esc(item['message'])}</pre>"
        if item["output"]:
            detail += f"<details><summary>output</summary><pre>{esc(item['output'])}</pre></details>"
        rows.append(f"<tr><td>{esc(item['cell_id'])}</td><td>{item['score']:g} / {item['points']:g}</td>"
                    f"<td>{esc(item['status'])}</td><td>{detail}</td></tr>")
    problems = [f"<li>{esc(c['label'])}: {esc(c['error'])}</li>" for c in result.get("cells", []) if c.get("error")]
    deaths = [f"<li>{esc(d['where'])}{' line ' + str(d['line']) if d.get('line') else ''}: {esc(d['cause'])}</li>"
              for d in result.get("deaths", [])]
    notes = [f"<li>{esc(n)}</li>" for n in result.get("notes", [])]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Feedback: {esc(result.get('assignment', ''))} {esc(result.get('notebook', ''))}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td{vertical-align:top;"
        "padding:.3em .6em;border-bottom:1px solid #ddd}pre{white-space:pre-wrap;margin:0}</style></head><body>",
        f"<h1>{esc(result.get('assignment', ''))}: {esc(result.get('notebook', ''))}</h1>",
        f"<p>Score: <b>{result.get('score', 0):g} / {result.get('max_score', 0):g}</b></p>",
    ]
    if result.get("status") == "unreadable":
        parts.append(f"<p>Your file could not be graded: {esc(result.get('error', ''))}</p>")
    parts.append("<table><tr><th>test</th><th>score</th><th>result</th><th>details</th></tr>"
                 + "".join(rows) + "</table>")
    if problems:
        parts.append("<h2>Cells that stopped with an error</h2><ul>" + "".join(problems) + "</ul>")
    if deaths:
        parts.append("<h2>Where the kernel stopped</h2><ul>" + "".join(deaths) + "</ul>")
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_feedback(course: Course, assignment: str) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html from the stored results (with the
    submission's timestamp.txt and submission_secret.txt beside it, for nbgrader's exchange)."""
    written = []
    base = course.root / course.autograded_dir
    for result_file in sorted(base.glob(f"*/{assignment}/*.result.json")):
        result = json.loads(result_file.read_text())
        student = result_file.parent.parent.name
        notebook = result_file.name[: -len(".result.json")]
        target = course.feedback_path(student, assignment, notebook)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_html(result))
        written.append(target)
        # What `nbgrader release_feedback` needs beside the page (nbgrader collect wrote them).
        for name in ("timestamp.txt", "submission_secret.txt"):
            kept = course.submission(student, assignment, notebook).with_name(name)
            if kept.is_file():
                shutil.copyfile(kept, target.with_name(name))
    return written
