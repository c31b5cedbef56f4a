"""A term through nbgrader's exchange, with real Unix accounts (the recipe of README's JupyterHub section).

The instructor (root, in a course folder only root can enter) generates and releases the tiny
course of `autograder.fixture_course` with `nbgrader release_assignment`; three students, each a Unix account
of their own, fetch it, work on it and submit it with nbgrader's commands: one correct, one
partial, one hostile (her answer looks for the others' submissions and the solutions while it is
graded, and she pokes at the exchange herself). The instructor collects, runs `course grade`,
`course feedback` and `nbgrader release_feedback`; each student fetches their own feedback.

nbgrader's exchange keeps submissions apart by permissions and names: the inbound and feedback
folders can be written or entered but not listed by students, and every submission and feedback
file has an unguessable name. The test checks what a student can actually do from their account:
list nothing of the others', find no other submission or feedback, read no other home folder,
enter no instructor folder.

Needs root (to create and remove the accounts) and a Python that the new accounts can run;
otherwise it skips and says why. On a hub the students' servers have their own environment; here
they use this one's packages, through this interpreter if they may run it, else through the
system's Python of the same version (pyenv's interpreters live in root's home, closed to others).
"""
import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import pytest

from autograder import fixture_course

COURSE_ID = "exchange-test"
TAG = secrets.token_hex(2)
STUDENTS = {"correct": f"cx{TAG}alice", "partial": f"cx{TAG}bob", "hostile": f"cx{TAG}mallory"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="creates Unix accounts for the students: run the suite as root (CI does)"),
    pytest.mark.skipif(not (shutil.which("useradd") and shutil.which("userdel")),
                       reason="needs useradd/userdel to create the students' accounts"),
    pytest.mark.skipif(not shutil.which("bwrap"),
                       reason="course grade isolates each submission with bubblewrap (apt-get install bubblewrap)"),
]

# What each student writes (grade_id -> cell); placeholders are filled with the term's paths.
PARTIAL = {**fixture_course.correct_code(), "relu": "def relu(x):\n    return np.abs(x)\n"}
HOSTILE_DOUBLE = textwrap.dedent('''\
    import glob

    def double(x):
        """Earns its points only if the grader lets it read what it should not."""
        stolen = []
        for pattern in ("{instructor}/submitted/*/ps1/*.ipynb", "{instructor}/source/ps1/*.ipynb",
                        "{instructor}/solutions/ps1/*.ipynb", "{exchange}/{course}/inbound/*/*.ipynb",
                        "{exchange}/{course}/feedback/*.html", "/home/*/ps1/*.ipynb"):
            for path in glob.glob(pattern):
                try:
                    with open(path) as handle:
                        stolen.append(handle.read())
                except OSError:
                    pass
        if any("BEGIN SOLUTION" in text or "2.0 * np.asarray" in text for text in stolen):
            return 2.0 * np.asarray(x, dtype=float)
        return np.asarray(x, dtype=float)
    ''')
EXPECTED_SCORES = {"correct": 6, "partial": 3, "hostile": 4}    # test_double is worth 2 of 6

# Run by each student, as themselves, in their home folder: nbgrader's commands (one Python process
# per visit to keep the test quick: `nbgrader X` is NbGraderApp.launch_instance(["X"])), then a
# look at what the others left in the exchange, in their homes and in the instructor's folder.
STUDENT = textwrap.dedent('''\
    import glob, json, os, sys
    import nbformat
    from nbgrader.apps.nbgraderapp import NbGraderApp

    def nbgrader(*argv):
        NbGraderApp.clear_instance()
        NbGraderApp.launch_instance(argv=[*argv, "--log-level=WARN"])

    def attempt(action, *args):
        try:
            return repr(action(*args))
        except PermissionError:
            return "denied"
        except FileNotFoundError:
            return "missing"

    step, exchange, instructor, answers, *others = sys.argv[1:]
    if step == "work":
        nbgrader("fetch_assignment", "ps1")
        answers = json.load(open(answers))
        nb = nbformat.read("ps1/ps1.ipynb", as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        nbformat.write(nb, "ps1/ps1.ipynb")
        nbgrader("submit", "ps1")
    else:
        nbgrader("fetch_feedback", "ps1")
    course = os.path.join(exchange, "%(course)s")
    print(json.dumps({
        "list inbound": attempt(os.listdir, f"{course}/inbound"),
        "list feedback": attempt(os.listdir, f"{course}/feedback"),
        "glob inbound": glob.glob(f"{course}/inbound/*"),
        "glob feedback": glob.glob(f"{course}/feedback/*"),
        "list instructor": attempt(os.listdir, instructor),
        "others' homes": [attempt(os.listdir, f"/home/{name}") for name in others],
        "others' notebooks": [attempt(lambda p: open(p).read()[:20], f"/home/{name}/ps1/ps1.ipynb") for name in others],
        "write outbound": attempt(lambda p: open(p, "w").write("x"), f"{course}/outbound/ps1/ps1.ipynb"),
    }))
    ''' % {"course": COURSE_ID})


def _run(command, *, user=None, cwd, env, timeout=120):
    """Run a command as root or as a student (by name), failing with its output."""
    options = {}
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        options = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        env = dict(env, HOME=entry.pw_dir, USER=user, LOGNAME=user)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **options)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} as {user or 'root'} failed "
                             f"({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _nbgrader(*args, python=sys.executable):
    return [python, "-m", "nbgrader", *args, "--log-level=WARN"]


def _student_python(user, env):
    """(python, env) with which user can run nbgrader from this environment, or (None, why not)."""
    packages = os.pathsep.join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [(sys.executable, env)] + [(str(Path(folder) / version), dict(env, PYTHONPATH=packages))
                                           for folder in ("/usr/bin", "/usr/local/bin")]
    failures = []
    for python, python_env in candidates:
        try:
            probe = subprocess.run([python, "-c", "import nbgrader, nbformat"], capture_output=True, text=True,
                                   user=user, group=user, extra_groups=[], cwd="/", env=python_env)
        except OSError as error:
            failures.append(f"{python}: {error.strerror}")
            continue
        if probe.returncode == 0:
            return python, python_env
        failures.append(f"{python}: {probe.stderr.strip().splitlines()[-1:]}")
    return None, "; ".join(failures)


@pytest.fixture(scope="module")
def term():
    base = Path(tempfile.mkdtemp(prefix="course-exchange-test-"))
    base.chmod(0o755)
    created = []
    try:
        instructor, exchange, config = base / "instructor", base / "exchange", base / "config"
        instructor.mkdir(mode=0o700)
        config.mkdir()
        # What a hub's system-wide /etc/jupyter/nbgrader_config.py says (README, JupyterHub section).
        (config / "nbgrader_config.py").write_text(
            f"c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(exchange)!r}\n")
        fixture_course.make_course(instructor)
        env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
               "JUPYTER_CONFIG_PATH": str(config), "LANG": "C.UTF-8"}
        for name in STUDENTS.values():
            subprocess.run(["useradd", "--create-home", "-K", "HOME_MODE=0700", "--shell", "/bin/sh", name],
                           check=True, capture_output=True)
            created.append(name)
        python, student_env = _student_python(created[0], env)
        if python is None:
            pytest.skip(f"the students' accounts cannot run nbgrader from this environment ({student_env})")

        # The instructor releases (fixture_course.make_course wrote assignments/ps1 as `course release` would).
        _run(_nbgrader("release_assignment", "ps1"), cwd=instructor, env=env)

        # The students fetch, work and submit, each as themselves.
        answers = {"correct": fixture_course.correct_code(), "partial": PARTIAL,
                   "hostile": {**fixture_course.correct_code(), "double": HOSTILE_DOUBLE.format(
                       instructor=instructor, exchange=exchange, course=COURSE_ID)}}
        (base / "student.py").write_text(STUDENT)

        def visit(step, name):
            """A student's session: `step` is "work" (fetch, answer, submit) or "feedback"."""
            others = [other for other in STUDENTS.values() if other != name]
            command = [python, str(base / "student.py"), step, str(exchange), str(instructor),
                       str(base / f"{name}.json"), *others]
            return json.loads(_run(command, user=name, cwd=f"/home/{name}", env=student_env).splitlines()[-1])

        snooped = {}
        for kind, name in STUDENTS.items():
            (base / f"{name}.json").write_text(json.dumps(answers[kind]))
            snooped[f"{kind} after submitting"] = visit("work", name)

        # The instructor collects, grades, writes and releases the feedback.
        _run(_nbgrader("collect", "ps1"), cwd=instructor, env=env)
        course = [sys.executable, "-m", "course.cli"]
        grading = _run([*course, "grade", "ps1", "--course", str(instructor)], cwd=instructor, env=env, timeout=300)
        _run([*course, "feedback", "ps1", "--course", str(instructor)], cwd=instructor, env=env)
        _run(_nbgrader("release_feedback", "ps1"), cwd=instructor, env=env)

        # Each student fetches their feedback.
        for kind, name in STUDENTS.items():
            snooped[f"{kind} after the feedback"] = visit("feedback", name)
        scores = {path.parent.parent.name: json.loads(path.read_text())["score"]
                  for path in (instructor / "autograded").glob("*/ps1/ps1.result.json")}
        yield {"base": base, "instructor": instructor, "exchange": exchange, "grading": grading,
               "scores": scores, "snooped": snooped}
    finally:
        for name in created:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _feedback_pages(name):
    return sorted(Path(f"/home/{name}/ps1/feedback").glob("*/*.html"))


def test_the_submissions_arrive_through_the_exchange_under_each_students_name(term):
    submitted = term["instructor"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS.values())
    for name in STUDENTS.values():
        assert (submitted / name / "ps1" / "timestamp.txt").is_file()   # written by nbgrader collect
        inbound = [p for p in (term["exchange"] / COURSE_ID / "inbound").iterdir() if p.name.startswith(f"{name}+ps1+")]
        assert len(inbound) == 1 and inbound[0].stat().st_uid == __import__("pwd").getpwnam(name).pw_uid


def test_course_grade_scores_each_student(term):
    assert term["scores"] == {STUDENTS[kind]: score for kind, score in EXPECTED_SCORES.items()}, term["grading"]


def test_each_student_fetches_their_own_feedback_without_hidden_tests(term):
    for kind, name in STUDENTS.items():
        pages = _feedback_pages(name)
        assert len(pages) == 1, f"{name} fetched {pages}"
        page = pages[0].read_text()
        assert pages[0].stat().st_uid == __import__("pwd").getpwnam(name).pw_uid
        assert "BEGIN HIDDEN TESTS" not in page and "np.linspace(-2, 2, 9)" not in page
        assert page == (term["instructor"] / "feedback" / name / "ps1" / "ps1.html").read_text()
        assert f"Score: <b>{EXPECTED_SCORES[kind]:g} / 6</b>" in page


def test_a_student_can_neither_list_nor_find_the_others_work(term):
    for who, report in term["snooped"].items():
        print(who, report)     # shown when an assertion below fails
        assert report["list inbound"] == "denied" and report["glob inbound"] == []
        # The feedback folder exists once the instructor released feedback.
        assert report["list feedback"] == ("denied" if who.endswith("feedback") else "missing")
        assert report["glob feedback"] == []
        assert report["list instructor"] == "denied"
        assert report["others' homes"] == ["denied", "denied"]
        assert report["others' notebooks"] == ["denied", "denied"]
        assert report["write outbound"] == "denied"


def test_the_exchange_folders_have_nbgraders_permissions(term):
    course = term["exchange"] / COURSE_ID
    assert (course / "inbound").stat().st_mode & 0o777 == 0o733      # write and enter, never list
    assert (course / "feedback").stat().st_mode & 0o777 == 0o711     # enter only: files by hash
    assert (course / "outbound" / "ps1").stat().st_mode & 0o777 == 0o755
