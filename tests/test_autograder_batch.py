"""Resuming a killed batch, pluggable executors, and the command line."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import demo
from autograder.batch import grade_class
from autograder.course_dir import Course
from autograder.sandbox import Limits

LIMITS = Limits(timeout=5, memory_mb=1024, grace=3)


@pytest.fixture
def course(tmp_path):
    return Course.at(demo.make_course(tmp_path / "course"))


def _nb_bytes(replacements=None):
    return nbformat.writes(demo.notebook_with(demo.correct_code() if replacements is None else replacements)).encode()


def _slow_class(course, n):
    slow = "import time\ntime.sleep(1.0)"
    for i in range(n):
        code = demo.correct_code() if i % 2 == 0 else dict(demo.correct_code(), relu="def relu(x):\n    return x\n")
        demo.write_notebook(course.root, f"s{i}", demo.notebook_with(code, extra_cells=[("imports", slow)]))
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

    demo.write_notebook(course.root, "alice", demo.notebook_with(demo.correct_code()))
    demo.write_notebook(course.root, "bob", demo.notebook_with({}))
    with ThreadPoolExecutor(2) as pool:
        results = grade_class(course, "ps1", executor=pool, limits=LIMITS, progress=False)
    assert {r["student"]: r["score"] for r in results} == {"alice": 6.0, "bob": 0.0}


def test_dask_local_cluster(course):
    distributed = pytest.importorskip("distributed")
    demo.write_notebook(course.root, "alice", demo.notebook_with(demo.correct_code()))
    demo.write_notebook(course.root, "bob", demo.notebook_with(dict(demo.correct_code(), double="")))
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
    nbformat.write(demo.notebook_with(dict(demo.correct_code(), relu="def relu(x):\n    return x\n")), mine)
    result = check_notebook(mine, timeout=5)
    out = capsys.readouterr().out
    assert result["score"] == 3 and "FAIL  test_relu" in out and "PASS  test_double" in out


def test_grading_without_namespaces_still_scores_and_flags(course, monkeypatch):
    """Where unshare is unavailable (not root, macOS) the limits and in-process guards still hold."""
    from autograder import sandbox
    from autograder.grade import grade_submission
    from autograder.model import load_source

    monkeypatch.setenv("AUTOGRADER_ISOLATION", "none")
    sandbox.isolation.cache_clear()
    try:
        assert sandbox.isolation()["prefix"] == []
        code = dict(demo.correct_code(), double=(
            "np.allclose = lambda *a, **k: True\n"
            "def double(x):\n    import socket\n    socket.socket()\n    return x\n"))
        path = demo.write_notebook(course.root, "eve", demo.notebook_with(code))
        result = grade_submission(path, load_source(course.root / "solutions" / "ps1" / "ps1.ipynb"), LIMITS)
    finally:
        sandbox.isolation.cache_clear()
    assert result["score"] == 4
    flags = " ".join(result["flags"])
    assert "numpy.allclose was replaced" in flags and "blocked socket" in flags
