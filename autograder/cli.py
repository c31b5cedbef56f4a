"""What the instructor's `course` commands do, one function per command (release, publish, collect,
grade, feedback, export, check, report).

course/cli.py parses the command line (`course COMMAND --help` lists every option) and calls the
function of the command's name with the parsed options; each returns the exit status.
"""
from __future__ import annotations

import sys
from pathlib import Path


def _course(options):
    from .course_dir import Course

    return Course.at(options.course)


def release(options) -> int:
    from .release import ReleaseError, release as run

    try:
        run(options.assignment)
    except ReleaseError as error:
        print(f"course release: {error}", file=sys.stderr)
        return 1
    return 0


def publish(options) -> int:
    from .publish import PublishError, publish as run

    try:
        run(options.dest, repo_url=options.repo_url, force=options.force, check_wheel=options.check_wheel)
    except PublishError as error:
        print(f"course publish: {error}", file=sys.stderr)
        return 1
    return 0


def collect(options) -> int:
    from .collect import collect as run

    try:
        report = run(_course(options), options.assignment, options.source)
    except (FileNotFoundError, ValueError) as error:
        print(f"course collect: {error}", file=sys.stderr)
        return 1
    print(report.text())
    return 0


def grade(options) -> int:
    from .batch import grade_class, summary_table
    from .sandbox import IsolationUnavailable, Limits, require_isolation

    try:
        require_isolation(options.unsafe_no_isolation)
    except IsolationUnavailable as error:
        print(f"course grade: {error}", file=sys.stderr)
        return 2

    executor = None
    if options.dask:
        from distributed import Client

        try:
            security = dask_security(options.dask, options.dask_tls_ca, options.dask_tls_cert,
                                     options.dask_tls_key)
        except ValueError as error:
            print(f"course grade: {error}", file=sys.stderr)
            return 1
        executor = Client(options.dask, security=security)
    limits = Limits(timeout=options.timeout, memory_mb=options.memory,
                    submission_seconds=options.submission_timeout)
    try:
        results = grade_class(_course(options), options.assignment, jobs=options.jobs, executor=executor,
                              limits=limits, force=options.force, students=options.student,
                              unsafe_no_isolation=options.unsafe_no_isolation)
    except (FileNotFoundError, IsolationUnavailable) as error:
        print(f"course grade: {error}", file=sys.stderr)
        return 1
    finally:
        if executor is not None:
            executor.close()
    print(summary_table(results))
    return 0


def dask_security(address: str, ca: str | None = None, cert: str | None = None, key: str | None = None):
    """The dask `Security` for talking to the scheduler at address.

    With the three files: mutual TLS, encryption required (the address must be tls://). Without:
    dask's own configuration (its `distributed.comm.tls.*` and `require-encryption` settings, e.g.
    in ~/.config/dask/distributed.yaml); when that requires no encryption either, anyone who can
    reach the scheduler can run code on the workers, so a warning says so.
    """
    from distributed.security import Security

    files = {"--dask-tls-ca": ca, "--dask-tls-cert": cert, "--dask-tls-key": key}
    given = [name for name, path in files.items() if path]
    if not given:
        security = Security()
        if not security.require_encryption and not address.startswith("tls://"):
            print(f"course grade: the scheduler at {address} takes work from anyone who reaches it; keep "
                  "it on a private network or use TLS (--dask-tls-ca/--dask-tls-cert/--dask-tls-key)",
                  file=sys.stderr)
        return security
    if len(given) < len(files):
        missing = ", ".join(name for name in files if name not in given)
        raise ValueError(f"TLS needs all three files: add {missing}")
    for name, path in files.items():
        if not Path(path).is_file():
            raise ValueError(f"{name} {path}: no such file")
    if not address.startswith("tls://"):
        raise ValueError(f"--dask {address}: with TLS certificates the address starts with tls://")
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


def feedback(options) -> int:
    from .feedback import write_feedback

    written = write_feedback(_course(options), options.assignment)
    print(f"wrote {len(written)} feedback file(s)")
    return 0


def export(options) -> int:
    from .export import export_csv, export_gradescope

    course = _course(options)
    if options.format == "csv":
        target = export_csv(course, options.assignment,
                            options.output or course.root / f"grades-{options.assignment}.csv")
        print(f"wrote {target}")
    else:
        written = export_gradescope(course, options.assignment)
        print(f"wrote {len(written)} results.json file(s)")
    return 0


def report(options) -> int:
    from .report import summary, write_report

    try:
        page, data = write_report(_course(options), options.assignment)
    except FileNotFoundError as error:
        print(f"course report: {error}", file=sys.stderr)
        return 1
    print(summary(data, page))
    return 0


def check(options) -> int:
    path = Path(options.notebook) if options.notebook else _colab_notebook()
    if path is None or not path.is_file():
        print("course check: give the notebook to check, e.g. `course check 01_perceptron.ipynb`",
              file=sys.stderr)
        return 1
    result = check_notebook(path, timeout=options.timeout)
    return 0 if result["score"] == result["max_score"] else 1


def check_notebook(path=None, timeout: float = 60.0) -> dict:
    """Run a student's notebook and its visible tests in the sandbox; print what passed and what to fix.

    path: the notebook; by default the one this code runs in (Colab: fetched from the front end,
    which must have been saved; JupyterLab: the session's notebook file).
    """
    import os

    from .grade import grade_submission

    if path is None:
        path = _colab_notebook() or (Path(os.environ["JPY_SESSION_NAME"])
                                     if os.environ.get("JPY_SESSION_NAME", "").endswith(".ipynb") else None)
        if path is None:
            raise FileNotFoundError("cannot tell which notebook this is: pass its path, "
                                    "e.g. check_notebook('01_perceptron.ipynb')")
    from .model import load_source
    from .sandbox import Limits

    source = load_source(path)   # a released notebook: its tests are the visible ones
    # The student's own code on the student's own machine: no isolation needed (Colab has none).
    result = grade_submission(path, source, Limits(timeout=timeout), unsafe_no_isolation=True)
    for test in result["tests"]:
        mark = "PASS" if test["status"] == "passed" else "FAIL"
        print(f"{mark}  {test['cell_id']} ({test['score']:g}/{test['points']:g})")
        if test["status"] != "passed" and test["error"]:
            print("      " + test["error"].replace("\n", "\n      "))
    for cell in result["cells"]:
        if cell["error"]:
            print(f"note  {cell['label']}: {cell['error']}")
    print(f"visible tests: {result['score']:g}/{result['max_score']:g} points "
          "(hidden tests are graded later)")
    return result


def _colab_notebook() -> Path | None:
    """In Colab the notebook is not on disk: ask the front end for it and save a copy."""
    try:
        from google.colab import _message  # type: ignore
    except ImportError:
        return None
    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=30)
    if not reply or "ipynb" not in reply:
        return None
    import json
    import tempfile

    path = Path(tempfile.mkdtemp()) / "notebook.ipynb"
    path.write_text(json.dumps(reply["ipynb"]))
    return path
