"""Feedback for students: per exercise, their own code beside what passed, what failed and why.

For each test: its points and status. When the visible part failed, its error message and
output (the student has that code anyway). When a hidden part failed, only that it failed, plus
the instructor's `# hint: ...` line of the hidden check that failed (all of the test's hints when
the failing check is not known); never its code, values or message. The student's own code for
each exercise is read from the submitted notebook (the result does not carry it). The student's
cells that raised or timed out are listed, and where the kernel died. Notes meant for the
instructor (how the submission was recovered, the isolation mode) stay out of the page.
"""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

from .course_dir import Course
from .model import hint_of, load_source
from .recover import plan_for_file

STATUS_TEXT = {"passed": "passed", "failed": "failed", "not run": "not run",
               "kernel died": "the kernel died while running it", "tampered": "failed (protected code was changed)"}


def feedback_items(result: dict) -> list[dict]:
    """What the student may see about each test: cell_id, points, score, status, message, output."""
    items = []
    for test in result.get("tests", []):
        item = {"cell_id": test["cell_id"], "points": test["points"], "score": test["score"],
                "status": STATUS_TEXT.get(test["status"], test["status"]), "message": "", "output": ""}
        if test["status"] == "failed" and (test.get("failed_part") or "").startswith("hidden"):
            item["message"] = "Your code passed the visible test but failed a hidden test."
            hints = hint_of(test)
            if len(hints) == 1:
                item["message"] += f" The failed check: {hints[0]}."
            elif hints:
                item["message"] += " The hidden checks: " + "; ".join(hints) + "."
        elif test["status"] == "failed":
            item["message"] = test.get("error", "")
            item["output"] = test.get("output", "")
        elif test["status"] == "passed":
            item["output"] = test.get("output", "")
        elif test["status"] in ("kernel died", "not run"):
            item["message"] = test.get("error", "")
        items.append(item)
    return items


def exercise_code(course: Course, student: str, assignment: str, notebook: str) -> dict[str, str]:
    """{test cell_id: the student's code for the exercise that test grades}, from the submission.

    An exercise's code is the student's version of the solution cells between the previous test
    and this one (a test right after another grades the same cells). Empty when the source or
    the submission cannot be read.
    """
    source_path = course.root / course.source_dir / assignment / f"{notebook}.ipynb"
    submission = course.submission(student, assignment, notebook)
    if not (source_path.is_file() and submission.is_file()):
        return {}
    try:
        source = load_source(source_path)
        plan = plan_for_file(submission, source)
    except (OSError, ValueError):
        return {}
    theirs = {step.cell_id: step.code for step in plan.steps if step.kind == "student" and step.cell_id}
    code, pending, last = {}, [], ""
    for cell in source.cells:
        if cell.kind == "solution":
            pending.append(cell.cell_id)
        elif cell.kind == "test":
            if pending:
                last = "\n\n".join(theirs[c].strip("\n") for c in pending if c in theirs)
                pending = []
            if last:
                code[cell.cell_id] = last
    return code


STYLE = ("body{font-family:sans-serif;max-width:75em;margin:2em auto}"
         "section{border-top:1px solid #ccc;padding:.5em 0}"
         ".pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1em}"
         "pre{white-space:pre-wrap;margin:0}pre.code{background:#f6f6f6;padding:.5em;font-size:90%}"
         ".passed{color:#1a7f37}.failed,.died{color:#b42318}")


def render_html(result: dict, code: dict[str, str] | None = None) -> str:
    """The feedback page; `code` maps test cell_ids to the student's code for that exercise."""
    esc = html.escape
    code = code or {}
    sections = []
    for item in feedback_items(result):
        detail = ""
        if item["message"]:
            detail += f"<pre class='msg'>{esc(item['message'])}</pre>"
        if item["output"]:
            detail += f"<details><summary>output</summary><pre>{esc(item['output'])}</pre></details>"
        mine = code.get(item["cell_id"], "")
        left = (f"<pre class='code'>{esc(mine)}</pre>" if mine
                else "<p><i>(your code for this exercise was not found in the submission)</i></p>")
        css = "passed" if item["status"] == "passed" else "died" if "kernel" in item["status"] else "failed"
        sections.append(f"<section><h2>{esc(item['cell_id'])}: {item['score']:g} / {item['points']:g} "
                        f"<span class='{css}'>{esc(item['status'])}</span></h2>"
                        f"<div class='pair'><div>{left}</div><div>{detail}</div></div></section>")
    problems = [f"<li>{esc(c['label'])}: {esc(c['error'])}</li>" for c in result.get("cells", []) if c.get("error")]
    deaths = [f"<li>{esc(d['where'])}{' line ' + str(d['line']) if d.get('line') else ''}: {esc(d['cause'])}</li>"
              for d in result.get("deaths", [])]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Feedback: {esc(result.get('assignment', ''))} {esc(result.get('notebook', ''))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{esc(result.get('assignment', ''))}: {esc(result.get('notebook', ''))}</h1>",
        f"<p>Score: <b>{result.get('score', 0):g} / {result.get('max_score', 0):g}</b></p>",
    ]
    if result.get("status") == "unreadable":
        parts.append(f"<p>Your file could not be graded: {esc(result.get('error', ''))}</p>")
    parts += sections
    if problems:
        parts.append("<h2>Cells that stopped with an error</h2><ul>" + "".join(problems) + "</ul>")
    if deaths:
        parts.append("<h2>Where the kernel stopped</h2><ul>" + "".join(deaths) + "</ul>")
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
        target.write_text(render_html(result, exercise_code(course, student, assignment, notebook)))
        written.append(target)
        # What `nbgrader release_feedback` needs beside the page (nbgrader collect wrote them).
        for name in ("timestamp.txt", "submission_secret.txt"):
            kept = course.submission(student, assignment, notebook).with_name(name)
            if kept.is_file():
                shutil.copyfile(kept, target.with_name(name))
    return written
