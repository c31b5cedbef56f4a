"""Resuming a killed batch, pluggable executors, the command line, and a batch that never stops."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import fixture_course
from autograder.batch import grade_class
from autograder.course_dir import Course
from autograder.sandbox import Limits

LIMITS = Limits(timeout=5, memory_mb=1024, grace=3)


@pytest.fixture
def course(tmp_path):
    return Course.at(fixture_course.make_course(tmp_path / "course"))


def _nb_bytes(replacements=None):
    return nbformat.writes(fixture_course.notebook_with(fixture_course.correct_code() if replacements is None else replacements)).encode()


def _slow_class(course, n):
    slow = "import time\ntime.sleep(1.0)"
    for i in range(n):
        code = fixture_course.correct_code() if i % 2 == 0 else dict(fixture_course.correct_code(), relu="def relu(x):\n    return x\n")
        fixture_course.write_notebook(course.root, f"s{i}", fixture_course.notebook_with(code, extra_cells=[("imports", slow)]))
    return {f"s{i}": 6.0 if i % 2 == 0 else 3.0 for i in range(n)}


def test_killed_batch_resumes_without_lost_or_doubled_grades(course):
    expected = _slow_class(course, 5)
    script = ("import sys\nfrom autograder.batch import grade_class\nfrom autograder.course_dir import Course\n"
              "from autograder.sandbox import Limits\n"
              "if __name__ == '__main__':\n"
              f"    grade_class(Course.at({str(course.root)!r}), 'ps1', jobs=1, limits=Limits(timeout=5),"
              " progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results_dir = course.root / "autograded"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(list(results_dir.glob("*/ps1/*.result.json"))) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = {p: p.stat().st_mtime for p in results_dir.glob("*/ps1/*.result.json")}
    assert 2 <= len(finished_before) < 5, "the batch should have been killed half-way"

    results = grade_class(course, "ps1", jobs=2, limits=LIMITS, progress=False)
    assert {r["student"]: r["score"] for r in results} == expected
    for path, mtime in finished_before.items():
        assert path.stat().st_mtime == mtime, f"{path} was graded again"
    db = sqlite3.connect(course.root / "gradebook.db")
    assert db.execute("select count(*) from submitted_assignment").fetchone()[0] == 5
    assert db.execute("select count(*) from grade").fetchone()[0] == 15
    first = db.execute("select id, auto_score from grade order by id").fetchall()
    db.close()

    grade_class(course, "ps1", jobs=2, limits=LIMITS, progress=False, force=True)
    db = sqlite3.connect(course.root / "gradebook.db")
    assert db.execute("select id, auto_score from grade order by id").fetchall() == first


def test_thread_pool_executor_is_pluggable(course):
    from concurrent.futures import ThreadPoolExecutor

    fixture_course.write_notebook(course.root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    fixture_course.write_notebook(course.root, "bob", fixture_course.notebook_with({}))
    with ThreadPoolExecutor(2) as pool:
        results = grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False)
    assert {r["student"]: r["score"] for r in results} == {"alice": 6.0, "bob": 0.0}


def test_dask_local_cluster(course):
    distributed = pytest.importorskip("distributed")
    fixture_course.write_notebook(course.root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    fixture_course.write_notebook(course.root, "bob", fixture_course.notebook_with(dict(fixture_course.correct_code(), double="")))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        results = grade_class(course, "ps1", executor=client, limits=LIMITS, progress=False)
    assert {r["student"]: r["score"] for r in results} == {"alice": 6.0, "bob": 4.0}


def test_command_line_collect_grade_feedback_export(course, tmp_path, capsys):
    from course.cli import main

    source = tmp_path / "downloads"
    source.mkdir()
    (source / "alice.ipynb").write_bytes(_nb_bytes())
    (source / "bob.ipynb").write_bytes(b"{not json")
    root = str(course.root)
    assert main(["collect", "ps1", str(source), "--course", root]) == 0
    assert main(["grade", "ps1", "--jobs", "2", "--timeout", "5", "--memory", "1024", "--course", root]) == 0
    table = capsys.readouterr().out
    assert "alice" in table and "6/6" in table and "unreadable" in table
    assert main(["feedback", "ps1", "--course", root]) == 0
    assert (course.root / "feedback" / "bob" / "ps1" / "ps1.html").exists()
    assert main(["export", "ps1", "--course", root, "--output", str(tmp_path / "g.csv")]) == 0
    assert "alice,ps1,6,6" in (tmp_path / "g.csv").read_text()
    assert main(["export", "ps1", "--format", "gradescope", "--course", root]) == 0
    assert (course.root / "autograded" / "alice" / "ps1" / "results.json").exists()


def test_check_runs_the_visible_tests_of_a_release_notebook(course, tmp_path, capsys):
    from autograder.cli import check_notebook

    mine = tmp_path / "ps1.ipynb"
    nbformat.write(fixture_course.notebook_with(dict(fixture_course.correct_code(), relu="def relu(x):\n    return x\n")), mine)
    result = check_notebook(mine, timeout=5)
    out = capsys.readouterr().out
    assert result["score"] == 3 and "FAIL  test_relu" in out and "PASS  test_double" in out


def test_grading_without_isolation_still_scores_and_flags(course, monkeypatch):
    """AUTOGRADER_ISOLATION=none (the explicit unsafe mode): the limits and in-process guards still
    hold, and the result says it was not isolated."""
    from autograder import sandbox
    from autograder.grade import grade_submission
    from autograder.model import load_source

    monkeypatch.setenv("AUTOGRADER_ISOLATION", "none")
    sandbox.isolation.cache_clear()
    try:
        assert sandbox.isolation()["kind"] == "none"
        code = dict(fixture_course.correct_code(), double=(
            "np.allclose = lambda *a, **k: True\n"
            "def double(x):\n    import socket\n    socket.socket()\n    return x\n"))
        path = fixture_course.write_notebook(course.root, "eve", fixture_course.notebook_with(code))
        result = grade_submission(path, load_source(course.root / "solutions" / "ps1" / "ps1.ipynb"), LIMITS)
    finally:
        sandbox.isolation.cache_clear()
    assert result["score"] == 4 and result["isolation"] == "none" and sandbox.unverified(result)
    flags = " ".join(result["flags"])
    assert "numpy.allclose was replaced" in flags and "blocked socket" in flags


# ---------------------------------------------------------------------------------------------
# a batch that never stops: time budget, capped texts, killed workers, a locked gradebook, upgrades


def test_time_budget_ends_a_submission_whose_cells_each_stay_under_the_timeout(course):
    from autograder.grade import OUT_OF_TIME, grade_submission
    from autograder.model import load_source

    slow = "import time\ntime.sleep(3)"
    path = fixture_course.write_notebook(course.root, "sloth", fixture_course.notebook_with(
        fixture_course.correct_code(), extra_cells=[("test_double", slow)] * 4))
    limits = Limits(timeout=5, submission_seconds=10, memory_mb=1024, grace=3)
    result = grade_submission(path, load_source(course.root / "solutions" / "ps1" / "ps1.ipynb"), limits)
    by_id = {t["cell_id"]: t for t in result["tests"]}
    assert by_id["test_double"]["status"] == "passed" and result["score"] == 2
    assert by_id["test_relu"]["error"] == OUT_OF_TIME and by_id["test_mean_square"]["error"] == OUT_OF_TIME
    assert any("time budget of 10 s" in flag for flag in result["flags"])


def test_error_texts_and_outputs_are_capped_before_results_and_feedback(course):
    from concurrent.futures import ThreadPoolExecutor

    from autograder.batch import CAP
    from autograder.feedback import write_feedback

    code = dict(fixture_course.correct_code(), relu="def relu(x):\n    raise ValueError('why ' * 50000)\n")
    fixture_course.write_notebook(course.root, "loud", fixture_course.notebook_with(
        code, extra_cells=[("imports", "print('x' * 300000)\nraise RuntimeError('no ' * 80000)")]))
    with ThreadPoolExecutor(1) as pool:
        grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False)
    stored = json.loads(course.result_path("loud", "ps1", "ps1").read_text())
    texts = [t["error"] for t in stored["tests"]] + [c[k] for c in stored["cells"] for k in ("error", "output")]
    assert max(len(text) for text in texts) <= CAP + 50
    assert sum("more characters not shown" in text for text in texts) >= 2
    write_feedback(course, "ps1")
    assert (course.root / "feedback" / "loud" / "ps1" / "ps1.html").stat().st_size < 40 * CAP


def _kill_whenever_graded(course, student, stop):
    """The out-of-memory killer, as seen by the batch: SIGKILL the worker that grades `student`."""
    killed = set()
    while not stop.is_set():
        for marker in (course.root / "autograded").glob(f".running-*/{student}--ps1"):
            try:
                pid = int(marker.read_text())
            except (OSError, ValueError):
                continue
            if pid not in killed:
                killed.add(pid)
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return killed


def test_a_worker_killed_by_the_system_does_not_fail_the_other_jobs(course):
    import threading

    expected = _slow_class(course, 2)
    fixture_course.write_notebook(course.root, "mallory", fixture_course.notebook_with(
        fixture_course.correct_code(), extra_cells=[("imports", "import time\ntime.sleep(1.0)")]))
    stop = threading.Event()
    killer = threading.Thread(target=_kill_whenever_graded, args=(course, "mallory", stop))
    killer.start()
    try:
        results = grade_class(course, "ps1", jobs=2, limits=LIMITS, progress=False)
    finally:
        stop.set()
        killer.join()
    by_student = {r["student"]: r for r in results}
    assert {s: by_student[s]["score"] for s in expected} == expected
    assert all(by_student[s]["status"] == "graded" for s in expected)
    assert by_student["mallory"]["status"] == "error" and by_student["mallory"]["score"] == 0
    assert "killed again when graded alone" in by_student["mallory"]["error"]
    assert not list((course.root / "autograded").glob(".running-*"))


def _result_for(score):
    return {"tests": [{"cell_id": "test_double", "score": score}, {"cell_id": "test_relu", "score": 0.0},
                      {"cell_id": "test_mean_square", "score": 0.0}], "flags": []}


def _hold_write_lock(path):
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE student SET first_name = first_name")
    return holder


def test_gradebook_writes_wait_while_another_program_holds_the_lock(course):
    import threading

    from autograder import gradebook
    from autograder.model import load_source

    db_url = course.db_url + "?timeout=0.1"        # SQLite's own wait, short: the retries must do it
    source = load_source(course.root / "solutions" / "ps1" / "ps1.ipynb")
    with gradebook.GradebookWriter(db_url, "ps1", [source]) as writer:
        holder = _hold_write_lock(course.gradebook_path)
        released = threading.Event()

        def release():
            holder.rollback()
            released.set()
        threading.Timer(1.5, release).start()
        assert writer.record("alice", "ps1", _result_for(2.0))
        assert released.is_set() and not writer.problem     # it waited for the lock, then wrote
    holder.close()
    db = sqlite3.connect(course.gradebook_path)
    assert db.execute("select sum(auto_score) from grade").fetchone()[0] == 2.0
    db.close()


def test_a_gradebook_that_stays_locked_never_aborts_the_batch(course, monkeypatch, capsys):
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from autograder import gradebook

    monkeypatch.setattr(gradebook, "LOCK_ATTEMPTS", 2)
    monkeypatch.setattr(gradebook, "LOCK_FIRST_WAIT", 0.05)
    course = replace(course, db_url=course.db_url + "?timeout=0.1")
    fixture_course.write_notebook(course.root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    fixture_course.write_notebook(course.root, "bob", fixture_course.notebook_with({}))
    with ThreadPoolExecutor(1) as pool:
        grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False, students=["bob"])
    holder = _hold_write_lock(course.gradebook_path)
    try:
        with ThreadPoolExecutor(2) as pool:
            results = grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False, force=True)
    finally:
        holder.rollback()
        holder.close()
    assert {r["student"]: r["score"] for r in results} == {"alice": 6.0, "bob": 0.0}
    assert course.result_path("alice", "ps1", "ps1").exists()
    assert "could not be written to the gradebook (InvalidEntry" in capsys.readouterr().err
    grade_class(course, "ps1", limits=LIMITS, progress=False)          # later: recorded from the results
    db = sqlite3.connect(course.gradebook_path)
    assert db.execute("select count(*) from submitted_assignment").fetchone()[0] == 2
    assert db.execute("select sum(auto_score) from grade").fetchone()[0] == 6.0
    db.close()


def test_a_new_grader_version_regrades(course, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from autograder import batch

    fixture_course.write_notebook(course.root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    result_path = course.result_path("alice", "ps1", "ps1")
    with ThreadPoolExecutor(1) as pool:
        grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False)
        assert json.loads(result_path.read_text())["grader_version"] == batch.grader_version()
        first = result_path.stat().st_mtime_ns
        grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False)
        assert result_path.stat().st_mtime_ns == first                     # same grader: reused
        monkeypatch.setattr(batch, "grader_version", lambda: "upgraded")
        grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False)
    assert result_path.stat().st_mtime_ns != first
    assert json.loads(result_path.read_text())["grader_version"] == "upgraded"
