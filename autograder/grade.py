"""Grade one submission: run its plan in a sandboxed kernel and score the test cells.

`grade_submission(path, source, ...)` returns a plain dict (JSON-ready), the record of everything
that happened:

    {"status": "graded" | "unreadable", "error": why unreadable, "score", "max_score",
     "tests": [{"cell_id", "points", "score", "status", "error", "output", "failed_part", "hints"}],
     "cells": [{"label", "error", "output"}],        # the student's cells, for feedback
     "deaths": [{"where", "line", "cause"}],         # where the kernel died, and why
     "flags": [...],                                  # tampering and suspicious values
     "notes": [...], "sha256", "source_sha256", "seconds"}

A test scores its points when its visible and hidden parts both pass and nothing tampered with
the protected modules while it ran. Output on stderr and warnings never matter. A kernel that
dies (os._exit, a crash, a limit) is restarted, the cells that had run are replayed, the
statement that killed it is skipped, and grading goes on: the death costs only what did not run.
"""
from __future__ import annotations

import ast
import hashlib
import shutil
import time
from pathlib import Path

from . import delegation
from .model import Source, hint_regions, load_source
from .kernel import skip_magics
from .recover import plan_for_file
from .sandbox import Kernel, KernelDied, Limits, scratch_folder

STATUS_PASSED, STATUS_FAILED, STATUS_NOT_RUN = "passed", "failed", "not run"
STATUS_DIED, STATUS_TAMPERED = "kernel died", "tampered"
MAX_RESTARTS = 6


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
            tree = ast.parse(skip_magics(cell.code))
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
                    files: list[Path] = ()) -> list[str]:
    """The modules the instructor's own notebook loads when it runs (lazy imports included).

    The source runs once in the sandbox without the audit hook (it is the instructor's code); the
    student kernels then import these modules before any student code, because some libraries
    (matplotlib, scikit-learn) look at frames while being imported, which graded code may not.
    """
    source = load_source(source_path)
    plan = plan_for_file(source_path, source)
    scratch = scratch_folder()
    kernel = Kernel(scratch, limits, hide=list(hide), files=list(files),
                    preload=imported_modules(source), profile=True)
    try:
        kernel.start()
        for step in plan.steps:
            if step.kind != "test":
                kernel.run_cell(step.kind, step.code, step.label)
            else:
                cell = source.by_id(step.cell_id)
                kernel.run_test(cell.code, step.label)
        modules = kernel.modules()
    except (KernelDied, RuntimeError):
        modules = []
    finally:
        kernel.close()
        shutil.rmtree(scratch, ignore_errors=True)
    skip = ("autograder", "__main__", "_", "encodings")
    return list(dict.fromkeys(imported_modules(source) + [
        m for m in modules if not m.startswith(skip) and ("._" not in m)]))


def grade_submission(path: str | Path, source: Source, limits: Limits = Limits(),
                     hide: list[Path] = (), files: list[Path] = (), scratch_base: Path | None = None,
                     preload: list[str] | None = None) -> dict:
    """Grade the notebook at path against source. Never raises for a bad submission."""
    started = time.monotonic()
    path = Path(path)
    result = {"status": "graded", "error": "", "score": 0.0, "max_score": source.max_score,
              "tests": [], "cells": [], "deaths": [], "flags": [], "notes": [],
              "sha256": file_sha256(path), "source_sha256": source_sha256(source)}
    tests_by_id = {c.cell_id: c for c in source.tests}
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

    def add_flags(step_label, answer):
        for change in answer.get("tamper", []):
            flags.append(f"tampering in {step_label}: {change} (undone)")
        for blocked in dict.fromkeys(answer.get("blocked", [])):
            flags.append(f"{step_label}: {blocked}")
        for note in dict.fromkeys(answer.get("notes", [])):
            flags.append(f"{step_label}: {note}")

    scratch = scratch_folder(scratch_base)
    kernel = Kernel(scratch, limits, hide=list(hide), files=[path] + list(files),
                    preload=imported_modules(source) if preload is None else preload)
    done: list[tuple[int, tuple]] = []   # cells that ran: (step index, skipped statements)
    restarts = 0

    def restart_and_replay() -> bool:
        nonlocal restarts
        restarts += 1
        if restarts > MAX_RESTARTS:
            return False
        kernel.restart()
        for index, skip in done:
            step = plan.steps[index]
            try:
                kernel.run_cell(step.kind, step.code, step.label, skip)
            except KernelDied as death:
                result["deaths"].append({"where": f"{step.label} (replayed)", "line": death.line,
                                         "cause": death.cause})
                return False
        return True

    alive = True
    try:
        kernel.start()
        result["notes"] += kernel.notes
        for index, step in enumerate(plan.steps):
            if not alive:
                if step.kind == "test":
                    result["tests"].append(_test_record(tests_by_id[step.cell_id], STATUS_NOT_RUN,
                                                        "not run: the kernel could not be restarted"))
                continue
            if step.kind == "test":
                cell = tests_by_id[step.cell_id]
                try:
                    answer = kernel.run_test(hint_regions(cell.code), step.label)
                except KernelDied as death:
                    result["deaths"].append({"where": step.label, "line": death.line, "cause": death.cause})
                    result["tests"].append(_test_record(cell, STATUS_DIED, f"the kernel {death.cause}"))
                    alive = restart_and_replay()
                    continue
                add_flags(step.label, answer)
                if answer.get("tamper"):
                    record = _test_record(cell, STATUS_TAMPERED, "protected modules were changed during "
                                          "the test: " + "; ".join(answer["tamper"]), answer.get("output", ""))
                elif answer.get("passed"):
                    record = _test_record(cell, STATUS_PASSED, output=answer.get("output", ""))
                else:
                    record = _test_record(cell, STATUS_FAILED, answer.get("error", ""),
                                          answer.get("output", ""), answer.get("failed_part"))
                result["tests"].append(record)
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
                add_flags(step.label, answer)
                break
            if step.kind == "student" or answer.get("error"):
                result["cells"].append({"label": step.label, "error": answer.get("error", ""),
                                        "output": answer.get("output", "")})
    except RuntimeError as error:  # the kernel could not start at all
        result["status"] = "error"
        result["error"] = str(error)
        graded = {t["cell_id"] for t in result["tests"]}
        result["tests"] += [_test_record(c, STATUS_NOT_RUN, str(error)) for c in source.tests
                            if c.cell_id not in graded]
    finally:
        kernel.close()
        shutil.rmtree(scratch, ignore_errors=True)
    for stray in kernel.stray:
        flags.append(f"unexpected data on the grader's channel: {stray[:80]!r}")
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
                                  files=[Path(p) for p in job["files"]], preload=job.get("preload"))
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
