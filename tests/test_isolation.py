"""The OS boundary around a grading kernel (bubblewrap), tried from inside by student code.

The probes run in a kernel started in profile mode, i.e. without the in-process audit hook, so
that what they meet is the operating system's isolation and not the guard's. The course root of
these tests lives next to the `course` and `autograder` packages, in a 0700 folder (as a fresh
clone in `mktemp -d` does), with the files an instructor leaves lying around planted in it.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder import fixture_course, sandbox
from autograder.sandbox import Kernel, Limits

REPO = Path(sandbox.__file__).resolve().parents[1]
NPROC = 16
ISOLATED = sandbox.isolation()["kind"] == "bubblewrap"
needs_bwrap = pytest.mark.skipif(not ISOLATED, reason="bubblewrap unavailable here: "
                                 + sandbox.isolation().get("reason", ""))

PROBE = r'''
import json, os, socket, sys, time
paths = json.loads(PATHS)
report = {"uid": os.getuid(), "pid": os.getpid()}
report["exists"] = {p: os.path.exists(p) for p in paths["secret"]}

def readable(path):
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        return True
    except OSError:
        return False

report["readable"] = {p: readable(p) for p in paths["secret"] if os.path.isfile(p)}

def writable(folder):
    target = os.path.join(folder, "planted-by-student.txt")
    try:
        with open(target, "w") as handle:
            handle.write("x")
        os.unlink(target)
        return True
    except OSError:
        return False

report["writable"] = {p: writable(p) for p in paths["write"] + [os.getcwd(), "/tmp"]}
report["package_parent"] = sorted(os.listdir(paths["package_parent"]))
probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
probe.settimeout(2)
try:
    probe.connect(("127.0.0.1", paths["port"]))
    report["network"] = "connected"
except OSError as error:
    report["network"] = type(error).__name__
report["pids"] = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
try:
    os.kill(paths["host_pid"], 0)
    report["host_pid"] = "reachable"
except OSError as error:
    report["host_pid"] = type(error).__name__
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
report["caps"] = status["CapEff"].strip() + " " + status["CapBnd"].strip()
report["no_new_privs"] = status["NoNewPrivs"].strip()
children, refused = [], ""
for _ in range(200):
    try:
        pid = os.fork()
    except OSError as error:
        refused = type(error).__name__
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
report["forks"], report["fork_refused"] = len(children), refused
print(json.dumps(report))
'''

DRIVER = r'''
import json, sys
from autograder.sandbox import Kernel, Limits, scratch_folder
kernel = Kernel(scratch_folder(), Limits(timeout=30, nproc=NPROC), profile=True).start()
answer = kernel.run_cell("student", sys.stdin.read(), "probe")
print(json.dumps({"isolation": kernel.isolation, "answer": answer}))
kernel.close()
'''


def plant_course(root: Path) -> dict[str, list[str]]:
    """A course with the files the grader must never show: what the kernel must not see or write."""
    fixture_course.make_course(root)
    (root / "submissions.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (root / "grades-ps1.csv").write_text("student,score\nalice,6\n")
    (root / "gradebook.db").write_bytes(b"SQLite format 3\x00")
    fixture_course.write_notebook(root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    secret = [str(root / name) for name in ("submissions.zip", "grades-ps1.csv", "gradebook.db",
                                            "nbgrader_config.py", "solutions/ps1/ps1.ipynb",
                                            "submitted/alice/ps1/ps1.ipynb")]
    secret += [str(REPO / name) for name in ("solutions", "nbgrader_config.py", "tests", "pyproject.toml")]
    write = [str(root), sys.prefix, str(REPO / "course"), os.path.dirname(os.__file__)]
    return {"secret": secret, "write": write}


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def course_root():
    """A 0700 folder next to the packages (inside the repository), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=".isolation-test-", dir=REPO))
    yield folder / "course"
    shutil.rmtree(folder, ignore_errors=True)


def probe_code(paths: dict, port: int) -> str:
    paths = dict(paths, port=port, host_pid=os.getpid(), package_parent=str(REPO))
    return f"PATHS = {json.dumps(json.dumps(paths))}\n" + PROBE


def environment_in_repository() -> set:
    """The repository's top folder that holds this Python environment (.venv for `make test`,
    .nox for the version matrix), which the kernel must see; nothing if it lives elsewhere."""
    environment = Path(os.path.realpath(sys.prefix))
    try:
        return {environment.relative_to(REPO.resolve()).parts[0]}
    except (ValueError, IndexError):
        return set()


def check_report(report: dict, paths: dict) -> None:
    assert not any(report["exists"].values()), [p for p, seen in report["exists"].items() if seen]
    assert not any(report["readable"].values())
    writable = report["writable"]
    assert [p for p in paths["write"] if writable[p]] == []
    assert writable["/scratch"] and writable["/tmp"]          # its own scratch folder and /tmp
    assert set(report["package_parent"]) <= {"course", "autograder", *environment_in_repository()}
    assert "course" in report["package_parent"] and "autograder" in report["package_parent"]
    assert report["network"] in ("OSError", "ConnectionRefusedError", "TimeoutError")
    assert report["network"] != "connected"
    assert report["host_pid"] == "ProcessLookupError" and max(report["pids"]) < 20
    assert report["caps"] == "0000000000000000 0000000000000000" and report["no_new_privs"] == "1"
    assert report["fork_refused"] == "BlockingIOError" and report["forks"] < NPROC


@needs_bwrap
def test_kernel_sees_writes_and_reaches_only_its_allow_list(course_root, listener):
    paths = plant_course(course_root)
    kernel = Kernel(sandbox.scratch_folder(), Limits(timeout=30, nproc=NPROC), profile=True)
    with kernel:
        answer = kernel.run_cell("student", probe_code(paths, listener), "probe")
    assert answer["error"] == "", answer
    report = json.loads(answer["output"])
    check_report(report, paths)
    assert kernel.isolation.startswith("bubblewrap")
    if os.geteuid() == 0:   # a user id of its own, which the process limit counts alone
        assert report["uid"] == kernel.uid and kernel.isolation == f"bubblewrap (uid {kernel.uid})"


def _throwaway_user_prefix(uid: int) -> list[str]:
    """Run as an unprivileged user that has never existed, who can read this repository and its
    Python as an instructor can read their own. Where those live under folders others cannot
    enter (Python under /root, a clone in a 0700 `mktemp -d`), an outer bubblewrap, as root,
    covers the closed folder with an empty one and shows just those paths in it, read-only."""
    prefix = [shutil.which("bwrap"), "--bind", "/", "/", "--dev-bind", "/dev", "/dev"]
    needed = sandbox.python_paths() + [str(REPO)]
    needed = [p for p in needed if not any(q != p and p.startswith(q + os.sep) for q in needed)]
    closed: dict[str, list[str]] = {}
    for path in needed:
        parts = path.split(os.sep)
        for depth in range(2, len(parts)):
            folder = os.sep.join(parts[:depth])
            if not os.stat(folder).st_mode & 0o001:
                closed.setdefault(folder, []).append(path)
                break
    if any(not os.stat(path).st_mode & 0o001 and not any(path in paths for paths in closed.values())
           for path in needed):
        pytest.skip("the repository (or Python) is itself a folder others cannot enter, e.g. a clone "
                    "straight into a 0700 `mktemp -d`: covering it would hide what it holds")
    for folder, paths in sorted(closed.items()):
        prefix += ["--perms", "0755", "--tmpfs", folder]
        for path in paths:
            parent = os.path.dirname(path)
            parents = []
            while parent != folder:
                parents.append(parent)
                parent = os.path.dirname(parent)
            for parent in reversed(parents):
                prefix += ["--perms", "0755", "--dir", parent]
            prefix += ["--ro-bind", path, path]
    return prefix + ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]


@needs_bwrap
def test_non_root_instructor_gets_the_same_isolation(listener):
    if os.geteuid() != 0:
        pytest.skip("needs root to create the throwaway non-root instructor (this run is already non-root: "
                    "test_kernel_sees_writes_and_reaches_only_its_allow_list covers it)")
    uid = 46123
    folder = Path(tempfile.mkdtemp(prefix="isolation-nonroot-"))
    try:
        paths = plant_course(folder / "course")
        for root, dirs, files in os.walk(folder):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(name, uid, uid)
        driver = folder / "driver.py"
        driver.write_text(DRIVER.replace("NPROC", str(NPROC)))
        own_file = folder / "course" / "grades-ps1.csv"
        assert own_file.stat().st_uid == uid
        run = subprocess.run(_throwaway_user_prefix(uid) + [sys.executable, str(driver)],
                             input=probe_code(paths, listener), capture_output=True, text=True,
                             timeout=120, env=dict(os.environ, HOME=str(folder), PYTHONPATH=str(REPO)),
                             cwd=folder)
        if run.returncode != 0 and "Operation not permitted" in run.stderr and "bwrap" in run.stderr:
            pytest.skip(f"unprivileged user namespaces are not allowed here: {run.stderr.strip()[-200:]}")
        assert run.returncode == 0, run.stderr[-3000:]
        outcome = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert outcome["isolation"] == f"bubblewrap (user namespace of uid {uid})"
    assert outcome["answer"]["error"] == "", outcome["answer"]
    report = json.loads(outcome["answer"]["output"])
    check_report(report, paths)
    # The instructor's own course folder (theirs, writable to them) is not writable from inside.
    assert report["writable"][str(folder / "course")] is False


def _grade(root: Path, *extra: str):
    from course.cli import main

    return main(["grade", "ps1", "--course", str(root), "--jobs", "1", "--timeout", "20", *extra])


def _machine_without_bubblewrap(monkeypatch):
    """PATH without bwrap (the worker processes inherit it), and the cached answer forgotten."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    monkeypatch.delenv("AUTOGRADER_ISOLATION", raising=False)
    sandbox.isolation.cache_clear()


def test_without_isolation_grading_refuses_unless_told_and_marks_scores(tmp_path, monkeypatch, capsys):
    root = fixture_course.make_course(tmp_path / "course")
    fixture_course.write_notebook(root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    _machine_without_bubblewrap(monkeypatch)
    try:
        assert sandbox.isolation() == {"kind": "none", "reason": "bubblewrap (bwrap) is not installed",
                                       "chosen": False}
        assert _grade(root) == 2
        refused = capsys.readouterr().err
        assert "--unsafe-no-isolation" in refused and "bubblewrap" in refused
        assert not (root / "autograded").exists()

        assert _grade(root, "--unsafe-no-isolation") == 0
        table = capsys.readouterr().out
    finally:
        sandbox.isolation.cache_clear()
    alice = [line for line in table.splitlines() if line.startswith("alice")]
    assert alice and "6/6" in alice[0] and "unverified" in alice[0]
    assert "1 score(s) UNVERIFIED" in table
    result = json.loads((root / "autograded" / "alice" / "ps1" / "ps1.result.json").read_text())
    assert result["isolation"] == "none" and len(result["flags"]) == 1
    assert result["flags"][0].startswith("UNVERIFIED")
    from course.cli import main

    assert main(["export", "ps1", "--course", str(root), "--output", str(tmp_path / "g.csv")]) == 0
    rows = (tmp_path / "g.csv").read_text().splitlines()
    assert rows[0].endswith("flagged,unverified") and rows[1].startswith("alice,ps1,6,6") and \
        rows[1].endswith(",yes,yes")
    from autograder.gradebook import open_gradebook

    with open_gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook("ps1", "ps1", "alice")
        assert notebook.flagged


@needs_bwrap
def test_isolated_results_say_so_and_are_not_unverified(tmp_path, capsys):
    root = fixture_course.make_course(tmp_path / "course")
    fixture_course.write_notebook(root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    assert _grade(root) == 0
    table = capsys.readouterr().out
    result = json.loads((root / "autograded" / "alice" / "ps1" / "ps1.result.json").read_text())
    assert result["isolation"].startswith("bubblewrap (") and not sandbox.unverified(result)
    assert "UNVERIFIED" not in table and result["score"] == 6


def test_isolation_none_in_the_environment_is_the_explicit_unsafe_mode(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_ISOLATION", "none")
    sandbox.isolation.cache_clear()
    try:
        sandbox.require_isolation()          # chosen: no refusal
        assert sandbox.isolation()["chosen"]
    finally:
        sandbox.isolation.cache_clear()
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    monkeypatch.delenv("AUTOGRADER_ISOLATION")
    try:
        with pytest.raises(sandbox.IsolationUnavailable, match="--unsafe-no-isolation"):
            sandbox.require_isolation()
        sandbox.require_isolation(unsafe_no_isolation=True)
    finally:
        sandbox.isolation.cache_clear()
