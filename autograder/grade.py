"""Grade one submission: run its plan in a sandboxed kernel and score the test cells.

`grade_submission(path, source, ...)` returns a plain dict (JSON-ready), the record of everything
that happened:

    {"status": "graded" | "unreadable", "error": why unreadable, "score", "max_score",
     "tests": [{"cell_id", "points", "score", "status", "error", "output", "failed_part", "hints"}],
     "cells": [{"label", "error", "output"}],        # the student's cells, for feedback
     "deaths": [{"where", "line", "cause"}],         # where the kernel died, and why
     "flags": [...],                                  # tampering and suspicious values
     "notes": [...], "sha256", "source_sha256", "seconds",
     "isolation": what the kernel ran under, e.g. "bubblewrap (uid 200123)", or "none"}

A test scores its points when its visible and hidden parts both pass and nothing tampered with
the protected modules while it ran. Output on stderr and warnings never matter. A kernel that
dies (os._exit, a crash, a limit) is restarted, the cells that had run are replayed, the
statement that killed it is skipped, and grading goes on: the death costs only what did not run.
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

from . import delegation
from .model import Source, hint_regions, load_source
from .magics import translate
from .recover import plan_for_file
from .sandbox import NO_ISOLATION, Kernel, KernelDied, Limits, scratch_folder
from .trusted import KernelGone, TrustedNotebook, kernel_flags

STATUS_PASSED, STATUS_FAILED, STATUS_NOT_RUN = "passed", "failed", "not run"
STATUS_DIED, STATUS_TAMPERED = "kernel died", "tampered"
OUT_OF_TIME = "not run: the submission's time budget ran out"
MAX_RESTARTS = 6
UNVERIFIED_FLAG = "UNVERIFIED: graded without OS isolation (student code could reach the grader)"


_ENVIRONMENT = {"NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg"}
_environment_lock = threading.Lock()
_environment_users = [0, {}]      # graders inside, and the values they replaced


@contextlib.contextmanager
def grading_environment():
    """The variables the instructor's code sees while grading, as in the kernel (NBGRADER_EXECUTION
    shortens training; plots draw off screen). Graders may share a process (threads): the first
    in sets them, the last out puts back what was there."""
    with _environment_lock:
        if _environment_users[0] == 0:
            _environment_users[1] = {name: os.environ.get(name) for name in _ENVIRONMENT}
            os.environ.update(_ENVIRONMENT)
        _environment_users[0] += 1
    try:
        yield
    finally:
        with _environment_lock:
            _environment_users[0] -= 1
            if _environment_users[0] == 0:
                for name, value in _environment_users[1].items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def source_sha256(source: Source) -> str:
    digest = hashlib.sha256()
    for cell in source.cells:
        digest.update(f"{cell.kind}\0{cell.cell_id}\0{cell.points}\0{cell.code}\0".encode())
    return digest.hexdigest()


def imported_modules(source: Source) -> list[str]:
    """Modules the instructor's cells import (absolute imports only): the kernel loads them first."""
    names = []
    for cell in source.cells:
        try:
            tree = ast.parse(translate(cell.code)[0])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
    return list(dict.fromkeys(names))


def _test_record(cell, status, error="", output="", failed_part=None):
    return {"cell_id": cell.cell_id, "points": cell.points,
            "score": cell.points if status == STATUS_PASSED else 0.0, "status": status,
            "error": error, "output": output, "failed_part": failed_part,
            "hints": list(cell.hints), "has_hidden": bool(cell.hidden.strip())}


def profile_imports(source_path: str | Path, limits: Limits = Limits(), hide: list[Path] = (),
                    files: list[Path] = (), unsafe_no_isolation: bool = False) -> list[str]:
    """The modules the instructor's own notebook loads when it runs (lazy imports included).

    The source runs once in the sandbox without the audit hook (it is the instructor's code); the
    student kernels then import these modules before any student code, because some libraries
    (matplotlib, scikit-learn) look at frames while being imported, which graded code may not.
    """
    source = load_source(source_path)
    plan = plan_for_file(source_path, source)
    scratch = scratch_folder()
    kernel = Kernel(scratch, limits, hide=list(hide), files=list(files),
                    preload=imported_modules(source), profile=True, unsafe=unsafe_no_isolation)
    scratch_result = {"flags": [], "notes": [], "cells": [], "deaths": []}
    try:
        with grading_environment():
            run_plan(plan, source, kernel, TrustedNotebook(source, kernel, limits.timeout), scratch_result)
        modules = kernel.modules() if kernel.proc is not None else []
    except (KernelDied, RuntimeError):
        modules = []
    finally:
        kernel.close()
        shutil.rmtree(scratch, ignore_errors=True)
    skip = ("autograder", "__main__", "_", "encodings")
    return list(dict.fromkeys(imported_modules(source) + [
        m for m in modules if not m.startswith(skip) and ("._" not in m)]))


def run_plan(plan, source: Source, kernel: Kernel, notebook: TrustedNotebook, result: dict,
             deadline: float = float("inf")) -> list[dict]:
    """Run the plan's steps: cells in the kernel, tests here. Fills result's cells, deaths, flags and
    notes; returns the test records. A kernel that dies is restarted and the cells that had run
    are replayed (without the statement that killed it). Steps left at `deadline` (time.monotonic)
    are not run."""
    tests_by_id = {c.cell_id: c for c in source.tests}
    flags, records = result["flags"], []
    done: list[tuple[int, tuple]] = []   # cells that ran: (step index, skipped statements)
    restarts = 0

    def restart_and_replay() -> bool:
        nonlocal restarts
        restarts += 1
        if restarts > MAX_RESTARTS or time.monotonic() > deadline:
            return False
        kernel.restart()
        for index, skip in done:
            step = plan.steps[index]
            try:
                answer = kernel.run_cell(step.kind, step.code, step.label, skip)
            except KernelDied as death:
                result["deaths"].append({"where": f"{step.label} (replayed)", "line": death.line,
                                         "cause": death.cause})
                return False
            if step.kind == "student":
                notebook.bind(answer)
        return True

    alive = True
    try:
        kernel.start()
        result["isolation"] = kernel.isolation
        if kernel.isolation == NO_ISOLATION and UNVERIFIED_FLAG not in flags:
            flags.insert(0, UNVERIFIED_FLAG)
        result["notes"] += kernel.notes
        for index, step in enumerate(plan.steps):
            out_of_time = time.monotonic() > deadline
            if not alive or out_of_time:
                if step.kind == "test":
                    records.append(_test_record(tests_by_id[step.cell_id], STATUS_NOT_RUN,
                                                OUT_OF_TIME if out_of_time else
                                                "not run: the kernel could not be restarted"))
                continue
            if step.kind == "test":
                cell = tests_by_id[step.cell_id]
                try:
                    answer = notebook.run_test(hint_regions(cell.code), step.label)
                except KernelGone as gone:
                    death = gone.death
                    result["deaths"].append({"where": step.label, "line": death.line, "cause": death.cause})
                    records.append(_test_record(cell, STATUS_DIED, f"the kernel {death.cause}"))
                    alive = restart_and_replay()
                    continue
                if answer["passed"]:
                    record = _test_record(cell, STATUS_PASSED, output=answer["output"])
                else:
                    record = _test_record(cell, STATUS_FAILED, answer["error"], answer["output"],
                                          answer["failed_part"])
                record["tainted"] = answer["tainted"]
                record["mistakes"] = answer["mistakes"]
                records.append(record)
                continue
            skip: set[int] = set()
            while True:
                try:
                    answer = kernel.run_cell(step.kind, step.code, step.label, skip)
                except KernelDied as death:
                    result["deaths"].append({"where": step.label, "line": death.line, "cause": death.cause})
                    if death.last_statement is not None:
                        skip.add(death.last_statement)
                    alive = restart_and_replay()
                    if alive and death.last_statement is not None:
                        continue
                    answer = {"error": f"the kernel {death.cause}", "output": ""}
                    break
                done.append((index, tuple(sorted(skip))))
                flags += kernel_flags(step.label, answer)
                break
            if step.kind == "student":
                notebook.bind(answer)
            elif step.kind == "setup" and alive:
                try:
                    notebook.run_setup(step.cell_id, step.code)
                except KernelGone as gone:
                    result["deaths"].append({"where": step.label, "line": gone.death.line,
                                             "cause": gone.death.cause})
                    alive = restart_and_replay()
            if step.kind == "student" or answer.get("error"):
                result["cells"].append({"label": step.label, "error": answer.get("error", ""),
                                        "output": answer.get("output", ""),
                                        "tainted": notebook.connection.tainted})
    except RuntimeError as error:  # the kernel could not start at all
        result["status"] = "error"
        result["error"] = str(error)
        graded = {t["cell_id"] for t in records}
        records += [_test_record(c, STATUS_NOT_RUN, str(error)) for c in source.tests if c.cell_id not in graded]
    return records


def _shows_tainted_text(result: dict) -> bool:
    """Would feedback show a message the kernel produced after it had seen a hidden test's
    arguments (a failed visible part, a student cell's error)? A passed test's output is simply
    not shown then (see grade_submission)."""
    return any(t.get("tainted") and t["status"] == STATUS_FAILED
               and not str(t.get("failed_part")).startswith("hidden") for t in result["tests"]) or \
        any(c.get("tainted") and c["error"] for c in result["cells"])


def _use_text_of_visible_pass(result, path, source, plan, limits, hide, files, scratch_base, preload,
                              kernel_unsafe):
    """Feedback text comes from a kernel that never saw a hidden test: the notebook is run again
    with the visible parts of the tests only, and its messages replace those of the scoring run
    from the point where hidden arguments entered the kernel (the scores stay those of the full run)."""
    scratch = scratch_folder(scratch_base)
    kernel = Kernel(scratch, limits, hide=list(hide), files=[path] + list(files),
                    preload=imported_modules(source) if preload is None else preload, unsafe=kernel_unsafe)
    clean = {"flags": [], "notes": [], "cells": [], "deaths": []}
    try:
        with grading_environment():
            records = run_plan(plan, source, kernel, TrustedNotebook(source, kernel, limits.timeout,
                                                                     visible_only=True), clean,
                               deadline=time.monotonic() + limits.submission_seconds)
    finally:
        kernel.close()
        shutil.rmtree(scratch, ignore_errors=True)
    clean_tests = {r["cell_id"]: r for r in records}
    for test in result["tests"]:
        if not test.get("tainted") or str(test.get("failed_part")).startswith("hidden"):
            continue
        other = clean_tests.get(test["cell_id"], {})
        test["output"] = other.get("output", "")
        if test["status"] == STATUS_FAILED:
            test["error"] = other.get("error") or "failed (the details of this run cannot be shown)"
    clean_cells = {c["label"]: c for c in clean["cells"]}
    for cell in result["cells"]:
        if cell.get("tainted"):
            other = clean_cells.get(cell["label"], {})
            cell["output"] = other.get("output", "")
            cell["error"] = other.get("error", "") if cell["error"] and other.get("error") else \
                ("an error (its message cannot be shown)" if cell["error"] else "")
    result["notes"].append("messages shown to the student come from a run without the hidden tests")


def grade_submission(path: str | Path, source: Source, limits: Limits = Limits(),
                     hide: list[Path] = (), files: list[Path] = (), scratch_base: Path | None = None,
                     preload: list[str] | None = None, unsafe_no_isolation: bool = False) -> dict:
    """Grade the notebook at path against source. Never raises for a bad submission.

    unsafe_no_isolation: grade even where bubblewrap is unavailable (the result then records
    "isolation": "none" and is flagged as unverified); otherwise such a result is an error."""
    started = time.monotonic()
    path = Path(path)
    result = {"status": "graded", "error": "", "score": 0.0, "max_score": source.max_score,
              "tests": [], "cells": [], "deaths": [], "flags": [], "notes": [], "isolation": NO_ISOLATION,
              "sha256": file_sha256(path), "source_sha256": source_sha256(source)}
    plan = plan_for_file(path, source)
    if plan.error:
        result.update(status="unreadable", error=plan.error,
                      tests=[_test_record(c, STATUS_NOT_RUN, plan.error) for c in source.tests])
        result["seconds"] = round(time.monotonic() - started, 3)
        return result
    result["notes"] += plan.notes
    result["flags"] += plan.flags
    result["flags"] += delegation.flags(source.notebook, plan.steps)   # for review; the score stays
    flags = result["flags"]
    scratch = scratch_folder(scratch_base)
    kernel = Kernel(scratch, limits, hide=list(hide), files=[path] + list(files),
                    preload=imported_modules(source) if preload is None else preload,
                    unsafe=unsafe_no_isolation)
    notebook = TrustedNotebook(source, kernel, limits.timeout)
    try:
        with grading_environment():
            result["tests"] = run_plan(plan, source, kernel, notebook, result,
                                       deadline=started + limits.submission_seconds)
    finally:
        kernel.close()
        shutil.rmtree(scratch, ignore_errors=True)
    flags += notebook.connection.flags
    result["notes"] += notebook.notes
    if _shows_tainted_text(result):
        _use_text_of_visible_pass(result, path, source, plan, limits, hide, files, scratch_base, preload,
                                  unsafe_no_isolation)
    for record in result["tests"] + result["cells"]:
        if record.pop("tainted", None) and record.get("status") == STATUS_PASSED:
            record["output"] = ""

    for stray in kernel.stray:
        flags.append(f"unexpected data on the grader's channel: {stray[:80]!r}")
    if any(t["error"] == OUT_OF_TIME for t in result["tests"]):
        flags.append(f"the submission ran past its time budget of {limits.submission_seconds:g} s")
    for death in result["deaths"]:
        flags.append(f"kernel died in {death['where']}" + (f" at line {death['line']}" if death["line"] else "")
                     + f": {death['cause']}")
    result["flags"] = list(dict.fromkeys(flags))
    result["score"] = float(sum(t["score"] for t in result["tests"]))
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def grade_job(job: dict) -> dict:
    """Grade one submission (runs in a worker process; plain data in and out)."""
    source = load_source(job["source_path"])
    limits = Limits(**job["limits"])
    try:
        result = grade_submission(job["path"], source, limits, hide=[Path(p) for p in job["hide"]],
                                  files=[Path(p) for p in job["files"]], preload=job.get("preload"),
                                  unsafe_no_isolation=job.get("unsafe_no_isolation", False))
    except Exception as error:  # a bug of ours must not stop the batch: report it as this one's error
        result = {"status": "error", "error": f"{type(error).__name__}: {error}", "score": 0.0,
                  "max_score": source.max_score, "tests": [
                      {"cell_id": c.cell_id, "points": c.points, "score": 0.0, "status": "not run",
                       "error": "grader error", "output": "", "failed_part": None, "hints": [],
                       "has_hidden": bool(c.hidden)} for c in source.tests],
                  "cells": [], "deaths": [], "flags": [], "notes": [], "sha256": file_sha256(Path(job["path"])),
                  "source_sha256": source_sha256(source)}
    result.update(student=job["student"], assignment=job["assignment"], notebook=job["notebook"])
    return result
