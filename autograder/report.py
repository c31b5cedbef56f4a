"""The class report of one assignment: what to re-teach on Monday, and whom to talk to.

`build_report(course, assignment)` reads the graded results
(autograded/<student>/<assignment>/<notebook>.result.json) and the submissions, and returns the
report as plain data, the content of report.json:

    {"assignment", "students": how many have a result, "max_score",
     "scores": {"mean", "median", "max_score", "by_student": {student: score}},
     "exercises": [{"grade_id", "notebook", "points", "passed", "failed_visible",
                    "failed_hidden_only", "not_run", "mistakes": {key: students},
                    "mistake_students": {key: [student, ...]}}],
     "mistake_names": {key: short name}, "similar_pairs": [...] (autograder.similarity),
     "flagged": [{"student", "reasons": [...]}], "feedback": {student: [relative link, ...]}}

`mistakes[key]` counts students, not checks: a student whose test ran three failing gradient checks
that all found a transposed dW counts once under "transposed" for that test.

`write_report(course, assignment)` writes reports/<assignment>/report.json and index.html: one
self-contained page (its pictures are PNGs embedded as base64; nothing is fetched to view it).
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import statistics
from pathlib import Path

from .course_dir import Course
from .model import load_source, nbgrader_meta, strip_solution
from .recover import plan_for_file
from .similarity import fingerprints, similar_pairs

SOLUTION = "solution"          # the instructor's solution, as a member of similar pairs
ADDED_CELLS = "(cells you added)"
FLAG_KINDS = [("tampering", ("tamper", "edited", "deleted", "in place", "protected")),
              ("delegated answer", ("delegat", "library")),
              ("time or memory limit", ("time", "memory", "kernel died")),
              ("unverified isolation", ("unverified", "isolation", "sandbox"))]


def report_dir(course: Course, assignment: str) -> Path:
    return course.root / "reports" / assignment


def load_results(course: Course, assignment: str) -> list[dict]:
    """Every stored result of the assignment, each with its student and notebook set."""
    results = []
    for path in sorted((course.root / course.autograded_dir).glob(f"*/{assignment}/*.result.json")):
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        result.setdefault("student", path.parent.parent.name)
        result.setdefault("notebook", path.name[: -len(".result.json")])
        results.append(result)
    return results


def _exercise_order(course: Course, assignment: str, results: list[dict]) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) of every test: the source's order, then any others seen."""
    order = []
    try:
        for path in course.source_notebooks(assignment):
            order += [(path.stem, t.cell_id, t.points) for t in load_source(path).tests]
    except (FileNotFoundError, ValueError):
        pass
    known = {(nb, cid) for nb, cid, _ in order}
    for result in results:
        for test in result.get("tests", []):
            if (result["notebook"], test["cell_id"]) not in known:
                known.add((result["notebook"], test["cell_id"]))
                order.append((result["notebook"], test["cell_id"], float(test.get("points", 0))))
    return order


def exercise_rows(course: Course, assignment: str, results: list[dict]) -> list[dict]:
    rows = {(nb, cid): {"grade_id": cid, "notebook": nb, "points": points, "passed": 0, "failed_visible": 0,
                        "failed_hidden_only": 0, "not_run": 0, "mistakes": {}, "mistake_students": {}}
            for nb, cid, points in _exercise_order(course, assignment, results)}
    for result in results:
        for test in result.get("tests", []):
            row = rows[result["notebook"], test["cell_id"]]
            if test["status"] == "passed":
                row["passed"] += 1
            elif test["status"] == "failed" and test.get("failed_part") == "hidden":
                row["failed_hidden_only"] += 1
            elif test["status"] == "failed":
                row["failed_visible"] += 1
            else:
                row["not_run"] += 1
            for key in dict.fromkeys(m["key"] for m in test.get("mistakes", [])):
                row["mistake_students"].setdefault(key, []).append(result["student"])
    for row in rows.values():
        students = row["mistake_students"]
        for key in students:
            students[key] = sorted(set(students[key]))
        row["mistake_students"] = dict(sorted(students.items(), key=lambda kv: (-len(kv[1]), kv[0])))
        row["mistakes"] = {key: len(names) for key, names in row["mistake_students"].items()}
    return list(rows.values())


def _templates(course: Course, assignment: str, notebook: str, source) -> dict[str, str]:
    """cell_id -> the code the student was given in that solution cell."""
    release = course.root / course.release_dir / assignment / f"{notebook}.ipynb"
    given = {}
    if release.is_file():
        import nbformat

        for cell in nbformat.read(release, as_version=4).cells:
            meta = nbgrader_meta(cell)
            if cell.cell_type == "code" and meta.get("solution"):
                given[str(meta.get("grade_id"))] = cell.source
    return {c.cell_id: given.get(c.cell_id, strip_solution(c.code)) for c in source.solutions}


def submitted_code(path: Path, source) -> dict[str, str]:
    """cell_id -> the code the student wrote in that solution cell (cells they added: ADDED_CELLS).

    A notebook whose code cells all kept their nbgrader metadata is read directly; any other is
    lined up with the source the way the grader does it (autograder.recover).
    """
    wanted = {c.cell_id for c in source.solutions}
    try:
        cells = json.loads(Path(path).read_bytes()).get("cells", [])
        code = [(nbgrader_meta(cell).get("grade_id"), cell.get("source", "")) for cell in cells
                if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    except (OSError, ValueError, AttributeError):
        code = [(None, "")]
    if all(grade_id for grade_id, _ in code):
        found = {}
        for grade_id, text in code:
            if grade_id in wanted:
                text = "".join(text) if isinstance(text, list) else str(text)
                found[grade_id] = found[grade_id] + "\n\n" + text if grade_id in found else text
        return found
    found = {}
    for step in plan_for_file(path, source).steps:
        if step.kind == "student":
            name = step.cell_id or ADDED_CELLS
            found[name] = (found[name] + "\n\n" + step.code) if name in found else step.code
    return found


def similarity_documents(course: Course, assignment: str, students: list[str]) -> dict[str, dict]:
    """Fingerprints of every student's own code, and of the instructor's solution (SOLUTION)."""
    try:
        paths = course.source_notebooks(assignment)
    except FileNotFoundError:
        return {}
    documents: dict[str, dict] = {}
    for source_path in paths:
        source = load_source(source_path)
        notebook = source_path.stem
        templates = _templates(course, assignment, notebook, source)

        def cell_name(cell_id):
            return cell_id if len(paths) == 1 else f"{notebook}/{cell_id}"

        instructor = {cell_name(c.cell_id): c.code for c in source.solutions}
        documents.setdefault(SOLUTION, {}).update(
            fingerprints(instructor, {cell_name(k): v for k, v in templates.items()}))
        for student in students:
            path = course.submission(student, assignment, notebook)
            if not path.exists():
                from .batch import find_submission_file     # renamed files (imports nbgrader: slow)

                path = find_submission_file(course, student, assignment, notebook, len(paths) == 1)
                if path is None:
                    continue
            code = {cell_name(k): v for k, v in submitted_code(path, source).items()}
            documents.setdefault(student, {}).update(
                fingerprints(code, {cell_name(k): v for k, v in templates.items()}))
    return documents


def flag_kind(reason: str) -> str:
    lowered = reason.lower()
    return next((kind for kind, words in FLAG_KINDS if any(w in lowered for w in words)), "other")


def build_report(course: Course, assignment: str) -> dict:
    results = load_results(course, assignment)
    if not results:
        raise FileNotFoundError(
            f"no graded results for {assignment!r} in {course.root / course.autograded_dir}: "
            f"run `course grade {assignment}` first.")
    students = sorted({r["student"] for r in results})
    by_student = {s: 0.0 for s in students}
    max_by_notebook = {}
    reasons: dict[str, list[str]] = {}
    feedback: dict[str, list[str]] = {}
    here = report_dir(course, assignment)
    for result in results:
        by_student[result["student"]] += float(result.get("score", 0))
        max_by_notebook[result["notebook"]] = float(result.get("max_score", 0))
        for flag in result.get("flags", []):
            reasons.setdefault(result["student"], [])
            if flag not in reasons[result["student"]]:
                reasons[result["student"]].append(flag)
        target = course.feedback_path(result["student"], assignment, result["notebook"])
        feedback.setdefault(result["student"], []).append(Path(os.path.relpath(target, here)).as_posix())
    scores = list(by_student.values())
    max_score = sum(max_by_notebook.values())
    exercises = exercise_rows(course, assignment, results)
    pairs = similar_pairs(similarity_documents(course, assignment, students))
    from course.gradcheck import DIAGNOSIS_NAMES

    seen_keys = {key for row in exercises for key in row["mistakes"]}
    return {
        "assignment": assignment, "students": len(students), "max_score": max_score,
        "scores": {"mean": round(statistics.fmean(scores), 2), "median": statistics.median(scores),
                   "max_score": max_score, "by_student": by_student},
        "exercises": exercises,
        "mistake_names": {key: DIAGNOSIS_NAMES.get(key, key.replace("_", " ")) for key in sorted(seen_keys)},
        "similar_pairs": pairs,
        "flagged": [{"student": s, "reasons": reasons[s], "kinds": sorted({flag_kind(r) for r in reasons[s]})}
                    for s in students if reasons.get(s)],
        "feedback": feedback,
    }


# ---- pictures ------------------------------------------------------------------------------

def _png(figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def score_histogram(report: dict) -> str:
    from matplotlib.figure import Figure

    scores = list(report["scores"]["by_student"].values())
    top = report["max_score"] or max(scores + [1.0])
    figure = Figure(figsize=(6.4, 2.8))
    ax = figure.add_subplot()
    step = 1.0 if top <= 40 else top / 40           # one bar per point, at most 40 bars
    edges = [step * (i - 0.5) for i in range(int(top / step) + 2)]
    ax.hist(scores, bins=edges, color="#4c72b0", edgecolor="white")
    ax.axvline(report["scores"]["mean"], color="#c44e52", label=f"mean {report['scores']['mean']:g}")
    ax.axvline(report["scores"]["median"], color="#55a868", linestyle="--",
               label=f"median {report['scores']['median']:g}")
    ax.set_xlabel(f"score (of {top:g})")
    ax.set_ylabel("students")
    ax.legend(frameon=False)
    return _png(figure)


def exercise_chart(report: dict) -> str:
    from matplotlib.figure import Figure

    rows = report["exercises"]
    figure = Figure(figsize=(6.4, 0.45 * len(rows) + 1.0))
    ax = figure.add_subplot()
    labels = [r["grade_id"] for r in rows][::-1]
    left = [0] * len(rows)
    for field, label, color in [("passed", "passed", "#55a868"), ("failed_visible", "failed the visible part", "#c44e52"),
                                ("failed_hidden_only", "failed only the hidden part", "#dd8452"),
                                ("not_run", "did not run", "#8c8c8c")]:
        values = [r[field] for r in rows][::-1]
        ax.barh(labels, values, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("students")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    return _png(figure)


def mistake_chart(rows: list[dict], names: dict) -> str:
    """One bar chart per exercise with mistakes, stacked in one picture."""
    from matplotlib.figure import Figure

    heights = [0.4 * len(row["mistakes"]) + 0.7 for row in rows]
    figure = Figure(figsize=(6.4, sum(heights)))
    for ax, row in zip(figure.subplots(len(rows), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0], rows):
        keys = list(row["mistakes"])[::-1]
        ax.barh([names.get(k, k) for k in keys], [row["mistakes"][k] for k in keys], color="#8172b3")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(row["grade_id"], loc="left", fontsize=10)
    figure.axes[-1].set_xlabel("students")
    figure.tight_layout()
    return _png(figure)


# ---- the page ------------------------------------------------------------------------------

STYLE = ("body{font-family:sans-serif;max-width:62em;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;"
         "text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right}"
         "code{background:#f4f4f4;padding:0 .2em}.muted{color:#777}")


def _image(data: str, alt: str) -> str:
    return f"<img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>"


def render_html(report: dict) -> str:
    esc = html.escape
    names = report["mistake_names"]
    scores = report["scores"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Class report: {esc(report['assignment'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Class report: {esc(report['assignment'])}</h1>",
        f"<p>{report['students']} students graded; mean <b>{scores['mean']:g}</b>, median "
        f"<b>{scores['median']:g}</b> of {report['max_score']:g} points.</p>",
        "<h2>Scores</h2>", _image(score_histogram(report), "score distribution"),
        "<h2>Exercises</h2>", _image(exercise_chart(report), "results per exercise"),
        "<table><tr><th>test</th><th>points</th><th>passed</th><th>failed the visible part</th>"
        "<th>failed only the hidden part</th><th>did not run</th></tr>",
    ]
    for row in report["exercises"]:
        parts.append(f"<tr><td>{esc(row['grade_id'])}</td><td class='n'>{row['points']:g}</td>"
                     f"<td class='n'>{row['passed']}</td><td class='n'>{row['failed_visible']}</td>"
                     f"<td class='n'>{row['failed_hidden_only']}</td><td class='n'>{row['not_run']}</td></tr>")
    parts.append("</table><h2>Gradient mistakes</h2>")
    with_mistakes = [row for row in report["exercises"] if row["mistakes"]]
    if not with_mistakes:
        parts.append("<p class='muted'>No failed gradient check was diagnosed.</p>")
    parts.append("<p class='muted'>Students whose submission made the mistake in that test (a student "
                 "counts once per mistake and test, however many checks found it).</p>")
    if with_mistakes:
        parts.append(_image(mistake_chart(with_mistakes, names), "gradient mistakes per exercise"))
    for row in with_mistakes:
        table = "".join(f"<tr><td>{esc(names.get(k, k))} <code>{esc(k)}</code></td><td class='n'>{count}</td>"
                        f"<td>{esc(', '.join(row['mistake_students'][k]))}</td></tr>"
                        for k, count in row["mistakes"].items())
        parts.append(f"<h3>{esc(row['grade_id'])}</h3>"
                     f"<table><tr><th>mistake</th><th>students</th><th>who</th></tr>{table}</table>")
    parts.append("<h2>Similar submissions</h2>")
    if report["similar_pairs"]:
        parts.append("<p class='muted'>Only code the students wrote (the release's template removed), "
                     "compared after renaming, reformatting and reordering are undone; "
                     "<i>solution</i> is the instructor's.</p>"
                     "<table><tr><th>pair</th><th>similarity</th><th>shared cells</th></tr>")
        for pair in report["similar_pairs"]:
            parts.append(f"<tr><td>{esc(' and '.join(pair['students']))}</td><td class='n'>{pair['similarity']:.2f}</td>"
                         f"<td>{esc(', '.join(pair['cells']))}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p class='muted'>No pair of submissions shares enough of its own code.</p>")
    parts.append("<h2>Flagged submissions</h2>")
    if report["flagged"]:
        parts.append("<table><tr><th>student</th><th>kind</th><th>reasons</th></tr>")
        for item in report["flagged"]:
            reasons = "".join(f"<li>{esc(r)}</li>" for r in item["reasons"])
            parts.append(f"<tr><td>{esc(item['student'])}</td><td>{esc(', '.join(item['kinds']))}</td>"
                         f"<td><ul>{reasons}</ul></td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p class='muted'>None.</p>")
    parts.append("<h2>Students</h2><table><tr><th>student</th><th>score</th><th>feedback</th></tr>")
    for student, score in scores["by_student"].items():
        links = " ".join(f"<a href='{esc(link)}'>{esc(Path(link).stem)}</a>" for link in report["feedback"][student])
        parts.append(f"<tr><td>{esc(student)}</td><td class='n'>{score:g}</td><td>{links}</td></tr>")
    parts.append("</table><p class='muted'>Feedback pages are written by <code>course feedback "
                 f"{esc(report['assignment'])}</code>.</p></body></html>")
    return "\n".join(parts)


def write_report(course: Course, assignment: str) -> tuple[Path, dict]:
    """Write reports/<assignment>/index.html and report.json. Returns (the page, the report)."""
    report = build_report(course, assignment)
    folder = report_dir(course, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    page = folder / "index.html"
    page.write_text(render_html(report))
    return page, report


def summary(report: dict, page: Path) -> str:
    """What `course report` prints."""
    lines = [f"{report['assignment']}: {report['students']} students, mean {report['scores']['mean']:g}, "
             f"median {report['scores']['median']:g} of {report['max_score']:g}"]
    for row in report["exercises"]:
        mistakes = ", ".join(f"{k} {n}" for k, n in row["mistakes"].items())
        lines.append(f"  {row['grade_id']:<20} passed {row['passed']:>3}  failed visible {row['failed_visible']:>3}  "
                     f"hidden only {row['failed_hidden_only']:>3}" + (f"  mistakes: {mistakes}" if mistakes else ""))
    for pair in report["similar_pairs"]:
        lines.append(f"  similar: {' and '.join(pair['students'])} ({pair['similarity']:.2f}; {', '.join(pair['cells'])})")
    for item in report["flagged"]:
        lines.append(f"  flagged: {item['student']} ({', '.join(item['kinds'])})")
    lines.append(f"wrote {page} and {page.with_name('report.json')}")
    return "\n".join(lines)
