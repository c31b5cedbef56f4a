"""The class report (`course report`, autograder.report and autograder.similarity).

A generated class of module 03 (tests/planted_class.py): independent students who write each cell
in different styles, planted gradient mistakes (several students per mistake, in different
exercises), planted copies (renamed, reformatted, functions reordered) of classmates and of the
instructor's solution. The result files are written as the grader writes them, so these tests do
not run the grader; the last test does, on three submissions.
"""
from __future__ import annotations

import base64
import json
import random
import re

import pytest

import planted_class as planted
from autograder.course_dir import Course
from autograder.model import load_source
from autograder.report import SOLUTION, write_report
from autograder.similarity import fingerprints, similar_pairs
from nbgrader_harness import ROOT

SOURCE = load_source(ROOT / "solutions" / planted.MODULE / f"{planted.MODULE}.ipynb")
INDEPENDENT = [f"s{i:02d}" for i in range(1, 13)]

# Planted mistakes: test -> key -> the students whose result carries it (inputs as the checker names them).
MISTAKES = {
    "test_linear": {"transposed": ["s04", "s05", "s06"], "mean_instead_of_sum": ["s07", "s08"]},
    "test_mlp_backward": {"transposed": ["s04", "s09"], "not_summed_over_batch": ["s10", "s11"]},
    "test_softmax_ce": {"sign_flipped": ["s12", "s01"]},
    "test_mse": {"ignored_upstream": ["s05", "s02"]},
    "test_tanh": {"factor_2": ["s06", "s03"], "not_divided_by_batch": ["s06", "s03"]},
}
HIDDEN_ONLY = {"test_relu": ["s07", "s09"]}          # failed a hidden part, no gradient diagnosed
DIED = {"test_train_mlp": ["s08"]}
FLAGS = {"s09": ["tampering in solution cell linear: course.gradcheck.check_backward replaced (undone)"],
         "s10": ["kernel died in solution cell train_mlp: time limit (30 s) exceeded"]}
# Copies: copier -> original ("solution" is the instructor's).
COPIES = {"c1": "s01", "c2": "s02", "c3": "s03", "c4": "s03", "c5": SOLUTION}
PLANTED_PAIRS = {frozenset(p) for p in [("c1", "s01"), ("c2", "s02"), ("c3", "s03"), ("c4", "s03"),
                                         ("c3", "c4"), ("c5", SOLUTION)]}


def outcome_of(student: str) -> dict:
    outcome = {}
    for test, by_key in MISTAKES.items():
        found = [{"key": key, "input": "W"} for key, names in by_key.items() if student in names]
        if found:   # the same key from two checks of one test counts once
            part = "hidden" if student in ("s05", "s10") else "visible"
            outcome[test] = ("failed", part, found + found[:1])
    for test, names in HIDDEN_ONLY.items():
        if student in names:
            outcome[test] = ("failed", "hidden", [])
    for test, names in DIED.items():
        if student in names:
            outcome[test] = ("kernel died", None, [])
    return outcome


@pytest.fixture(scope="module")
def planted_class(tmp_path_factory):
    course = planted.write_course(tmp_path_factory.mktemp("report"))
    release = planted.release_notebook()
    styles = planted.styles()
    choices = planted.spread_choices(len(INDEPENDENT), random.Random(3))
    cells = {s: planted.student_cells(release, styles, c) for s, c in zip(INDEPENDENT, choices)}
    cells[SOLUTION] = planted.student_cells(release, styles, {c: 0 for c in planted.CELLS})
    for seed, (copier, original) in enumerate(COPIES.items()):
        cells[copier] = {k: planted.disguise(v, seed) for k, v in cells[original].items()}
    for student in INDEPENDENT + list(COPIES):
        result = planted.result_file(student, SOURCE.tests, outcome_of(student))
        result["flags"] = FLAGS.get(student, [])
        planted.hand_in(course, student, planted.submission(release, cells[student]), result)
    page, report = write_report(Course.at(course), planted.MODULE)
    return course, page, report, cells


def test_mistake_counts_equal_the_planted_ones(planted_class):
    _, _, report, _ = planted_class
    rows = {row["grade_id"]: row for row in report["exercises"]}
    assert [row["grade_id"] for row in report["exercises"]] == [t.cell_id for t in SOURCE.tests]
    for test in rows:
        planted_keys = MISTAKES.get(test, {})
        assert rows[test]["mistakes"] == {key: len(names) for key, names in planted_keys.items()}
        assert rows[test]["mistake_students"] == {key: sorted(names) for key, names in planted_keys.items()}


def test_results_per_exercise_and_scores(planted_class):
    _, _, report, _ = planted_class
    students = INDEPENDENT + list(COPIES)
    assert report["students"] == len(students)
    for row in report["exercises"]:
        test = row["grade_id"]
        failing = {s for names in MISTAKES.get(test, {}).values() for s in names}
        hidden = {s for s in failing if s in ("s05", "s10")} | set(HIDDEN_ONLY.get(test, []))
        died = set(DIED.get(test, []))
        assert row["failed_hidden_only"] == len(hidden)
        assert row["failed_visible"] == len(failing - hidden)
        assert row["not_run"] == len(died)
        assert row["passed"] == len(students) - len(failing | hidden | died)
        assert row["points"] == next(t.points for t in SOURCE.tests if t.cell_id == test)
    points = {t.cell_id: t.points for t in SOURCE.tests}
    lost = {s: sum(points[t] for t in outcome_of(s)) for s in students}
    expected = {s: SOURCE.max_score - lost[s] for s in students}
    assert report["scores"]["by_student"] == expected
    assert report["scores"]["max_score"] == SOURCE.max_score
    assert report["scores"]["mean"] == pytest.approx(sum(expected.values()) / len(students), abs=0.01)
    assert report["scores"]["median"] == sorted(expected.values())[len(students) // 2]


def test_every_planted_copy_is_found_and_no_independent_pair(planted_class):
    _, _, report, _ = planted_class
    found = {frozenset(pair["students"]) for pair in report["similar_pairs"]}
    assert found == PLANTED_PAIRS
    for pair in report["similar_pairs"]:
        assert pair["similarity"] >= 0.9 and set(pair["cells"]) == set(planted.CELLS)


def test_flagged_submissions_with_their_reasons(planted_class):
    _, _, report, _ = planted_class
    assert report["flagged"] == [
        {"student": "s09", "reasons": FLAGS["s09"], "kinds": ["tampering"]},
        {"student": "s10", "reasons": FLAGS["s10"], "kinds": ["time or memory limit"]}]


def test_report_json_and_a_self_contained_page(planted_class):
    course, page, report, _ = planted_class
    assert page == course / "reports" / planted.MODULE / "index.html"
    assert json.loads(page.with_name("report.json").read_text()) == json.loads(json.dumps(report))
    text = page.read_text()
    assert not re.search(r"(src|href)=['\"]https?:", text)          # nothing fetched from the network
    images = re.findall(r"src='data:image/png;base64,([^']+)'", text)
    assert len(images) == 3                        # scores, exercises, mistakes
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")
    assert "transposed" in text and "s04, s05, s06" in text
    for student in INDEPENDENT:
        assert f"href='../../feedback/{student}/{planted.MODULE}/{planted.MODULE}.html'" in text


def test_course_report_command(planted_class, capsys):
    from course.cli import main

    course, _, _, _ = planted_class
    assert main(["report", planted.MODULE, "--course", str(course)]) == 0
    out = capsys.readouterr().out
    assert "transposed 3" in out and "similar: c1 and s01" in out and "wrote " in out
    assert main(["report", "01_perceptron", "--course", str(course)]) == 1
    assert "run `course grade 01_perceptron` first" in capsys.readouterr().err


# ---- similarity on its own -----------------------------------------------------------------

RELU_TEMPLATE = ('def relu_backward(dout, cache):\n    """Backward of ReLU."""\n'
                 "    # YOUR CODE HERE\n    raise NotImplementedError()\n    return ds\n")


def test_the_same_one_liner_is_not_a_pair():
    one_liner = "def relu_backward(dout, cache):\n    \"\"\"Backward of ReLU.\"\"\"\n    ds = dout * (cache > 0)\n    return ds\n"
    documents = {name: fingerprints({"relu": one_liner}, {"relu": RELU_TEMPLATE}) for name in ("ann", "bo", "cy")}
    assert similar_pairs(documents) == []


def test_template_lines_are_not_the_students_code():
    assert fingerprints({"relu": RELU_TEMPLATE}, {"relu": RELU_TEMPLATE}) == {}
    answer = RELU_TEMPLATE.replace("raise NotImplementedError()", "ds = dout * (cache >= 0) + 0.0 * dout")
    own = fingerprints({"relu": answer}, {"relu": RELU_TEMPLATE})["relu"]
    everything = fingerprints({"relu": answer}, {})["relu"]
    assert own and own < everything


def test_renaming_reformatting_and_reordering_do_not_change_the_fingerprints():
    cells = planted.student_cells(planted.release_notebook(), planted.styles(), {c: 2 for c in planted.CELLS})
    for cell, code in cells.items():
        disguised = planted.disguise(code, 7)
        assert disguised != code
        assert fingerprints({cell: disguised}, {}) == fingerprints({cell: code}, {}), cell


@pytest.mark.slow
def test_real_grader_diagnoses_land_in_the_report(tmp_path):
    """Three submissions graded by the real grader: the instructor's solution, and two with dW
    transposed in linear_backward (the visible test's W is not square: a wrong shape; the hidden
    one's is: wrong values). Both are diagnosed `transposed` and counted in the report."""
    from autograder.batch import grade_class

    course = planted.write_course(tmp_path)
    release = planted.release_notebook()
    styles = planted.styles()
    right = planted.student_cells(release, styles, {c: 0 for c in planted.CELLS})
    body = styles["linear"][0]
    transposed = [body[0], body[1].replace("dW = dout.T @ x", "dW = x.T @ dout")]
    assert transposed[1] != body[1]
    planted.hand_in(course, "ann", planted.submission(release, right))
    for student in ("bo", "cy"):
        cells = planted.student_cells(release, styles, {c: 0 for c in planted.CELLS}, {"linear": transposed})
        planted.hand_in(course, student, planted.submission(release, cells))
    results = grade_class(Course.at(course), planted.MODULE, jobs=1, progress=False)
    assert {r["student"]: r["status"] for r in results} == {"ann": "graded", "bo": "graded", "cy": "graded"}
    _, report = write_report(Course.at(course), planted.MODULE)
    linear = next(row for row in report["exercises"] if row["grade_id"] == "test_linear")
    assert linear["mistakes"] == {"transposed": 2}
    assert linear["mistake_students"] == {"transposed": ["bo", "cy"]}
    assert linear["passed"] == 1 and linear["failed_visible"] == 2
    others = [row for row in report["exercises"] if row["grade_id"] != "test_linear"]
    assert all(row["passed"] == 3 and not row["mistakes"] for row in others)


@pytest.mark.parametrize("module", sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()))
def test_report_of_every_module(module, tmp_path):
    """ann hands in the instructor's notebook and passes, bo the blank release and fails: a report
    for every module, and ann (not bo, who wrote nothing) is a pair with the solution."""
    import shutil

    course = tmp_path / "course"
    for folder in ("solutions", "assignments"):
        (course / folder / module).mkdir(parents=True)
        shutil.copy(ROOT / folder / module / f"{module}.ipynb", course / folder / module)
    source = load_source(course / "solutions" / module / f"{module}.ipynb")
    for student, folder, outcome in [("ann", "solutions", {}),
                                     ("bo", "assignments", {t.cell_id: ("failed", "visible", []) for t in source.tests})]:
        result = planted.result_file(student, source.tests, outcome)
        result.update(assignment=module, notebook=module)
        target = course / "autograded" / student / module / f"{module}.result.json"
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(result))
        (course / "submitted" / student / module).mkdir(parents=True)
        shutil.copy(course / folder / module / f"{module}.ipynb", course / "submitted" / student / module)
    page, report = write_report(Course.at(course), module)
    assert page.is_file() and report["students"] == 2
    assert report["scores"]["by_student"] == {"ann": source.max_score, "bo": 0.0}
    assert [row["grade_id"] for row in report["exercises"]] == [t.cell_id for t in source.tests]
    assert all(row["passed"] == 1 and row["failed_visible"] == 1 for row in report["exercises"])
    assert [pair["students"] for pair in report["similar_pairs"]] == [["ann", SOLUTION]]
