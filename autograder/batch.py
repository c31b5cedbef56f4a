"""Grade a whole class: in parallel, resumably, never stopped by one bad submission.

`grade_class(course, assignment, jobs=2)` grades every collected submission
(submitted/<student>/<assignment>/<notebook>.ipynb) through a `concurrent.futures` executor:
a process pool by default, or any Executor you pass, e.g. a dask.distributed client's
(`client.get_executor()`; passing the Client itself works too).

Resuming: each result is written, atomically, to autograded/<student>/<assignment>/<notebook>.result.json
with the hashes of the submission and of the source. A rerun reuses every result whose hashes still
match (so killing the grader mid-batch loses at most the submissions being graded at that moment),
and every result is written to the gradebook with upserts (so nothing is ever counted twice).
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from . import gradebook
from .course_dir import Course
from .grade import file_sha256, grade_job, profile_imports, source_sha256
from .model import load_source
from .sandbox import NO_ISOLATION, Limits, isolation, require_isolation, unverified


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def find_submission_file(course: Course, student: str, assignment: str, notebook: str,
                         single_notebook: bool) -> Path | None:
    path = course.submission(student, assignment, notebook)
    if path.exists():
        return path
    if single_notebook:  # a renamed file: the only notebook of the folder is the one
        others = sorted((course.root / course.submitted_dir / student / assignment).glob("*.ipynb"))
        if len(others) == 1:
            return others[0]
    return None


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, enabled: bool = True, width: int = 30):
        self.total, self.done, self.enabled, self.width = total, 0, enabled, width
        self.started = time.monotonic()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = int(self.width * self.done / max(self.total, 1))
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                         f"{rate:5.1f}/min  {label[:40]:<40}")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def grade_class(course: Course, assignment: str, *, jobs: int = 2, executor: Executor | None = None,
                limits: Limits = Limits(), force: bool = False, students: list[str] | None = None,
                progress: bool = True, unsafe_no_isolation: bool = False) -> list[dict]:
    """Grade every submission of an assignment. Returns the results (one per student and notebook).

    executor: any concurrent.futures Executor, or a dask.distributed Client; default: a process
    pool with `jobs` workers. force: regrade even when a stored result is up to date.
    unsafe_no_isolation: grade even where bubblewrap is unavailable (else IsolationUnavailable).
    """
    require_isolation(unsafe_no_isolation)
    source_paths = course.source_notebooks(assignment)
    if not source_paths:
        raise FileNotFoundError(f"{course.root / course.source_dir / assignment} has no notebooks")
    sources = {p.stem: load_source(p) for p in source_paths}
    release = course.root / course.release_dir / assignment
    files = [str(p) for p in sorted(release.glob("*")) if p.is_file() and p.suffix != ".ipynb"
             and not p.name.startswith(".")] if release.is_dir() else []
    hide = [str(p) for p in course.hidden_paths()]
    with gradebook.open_gradebook(course.db_url) as gb:
        gradebook.sync_assignment(gb, assignment, list(sources.values()))

    jobs_todo, results = [], []
    for student in students or course.students_with_submissions(assignment):
        for notebook, source_path in zip(sources, source_paths):
            path = find_submission_file(course, student, assignment, notebook, len(sources) == 1)
            result_path = course.result_path(student, assignment, notebook)
            if path is None:
                results.append(_missing(student, assignment, notebook, sources[notebook]))
                continue
            if not force and result_path.exists():
                try:
                    stored = json.loads(result_path.read_text())
                except ValueError:
                    stored = {}
                if (stored.get("sha256") == file_sha256(path)
                        and stored.get("source_sha256") == source_sha256(sources[notebook])
                        and not (unverified(stored) and isolation()["kind"] != NO_ISOLATION)):
                    results.append(stored)
                    continue
            jobs_todo.append({"student": student, "assignment": assignment, "notebook": notebook,
                              "path": str(path), "source_path": str(source_path), "limits": asdict(limits),
                              "hide": hide, "files": files, "result_path": str(result_path),
                              "unsafe_no_isolation": unsafe_no_isolation})

    preload = {}
    for notebook in {job["notebook"] for job in jobs_todo}:
        preload[notebook] = _preload(course, assignment, notebook, sources[notebook],
                                     dict(zip(sources, source_paths))[notebook], limits, hide, files,
                                     unsafe_no_isolation)
    for job in jobs_todo:
        job["preload"] = preload[job["notebook"]]
    bar = Progress(len(jobs_todo), enabled=progress)
    if jobs_todo:
        own_executor = executor is None
        if own_executor:
            import multiprocessing

            executor = ProcessPoolExecutor(max_workers=max(1, jobs),
                                           mp_context=multiprocessing.get_context("spawn"))
        elif hasattr(executor, "get_executor") and not hasattr(executor, "map"):
            executor = executor.get_executor()
        elif type(executor).__name__ == "Client" and hasattr(executor, "get_executor"):
            executor = executor.get_executor()
        try:
            futures = {executor.submit(grade_job, job): job for job in jobs_todo}
            with gradebook.open_gradebook(course.db_url) as gb:
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        result = future.result()
                    except Exception as error:  # a worker died: report, keep going
                        result = _missing(job["student"], assignment, job["notebook"],
                                          sources[job["notebook"]], f"worker failed: {error!r}")
                    _write_json(Path(job["result_path"]), result)
                    gradebook.record(gb, assignment, job["student"], job["notebook"], result,
                                     _timestamp(course, job["student"], assignment))
                    results.append(result)
                    bar.step(f"{job['student']} {result['score']:g}/{result['max_score']:g}")
        finally:
            if own_executor:
                executor.shutdown(wait=True, cancel_futures=True)
    with gradebook.open_gradebook(course.db_url) as gb:
        for result in results:
            if result.get("status") != "missing":
                gradebook.record(gb, assignment, result["student"], result["notebook"], result,
                                 _timestamp(course, result["student"], assignment))
    return sorted(results, key=lambda r: (r["student"], r["notebook"]))


def _preload(course, assignment, notebook, source, source_path, limits, hide, files,
             unsafe_no_isolation) -> list[str]:
    """The modules to load in every kernel before student code: found by running the instructor's
    notebook once (see grade.profile_imports), remembered per version of the source."""
    cache = course.root / course.autograded_dir / f".preload-{assignment}-{notebook}-{source_sha256(source)[:16]}.json"
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    modules = profile_imports(source_path, limits, [Path(p) for p in hide], [Path(p) for p in files],
                              unsafe_no_isolation)
    _write_json_list(cache, modules)
    return modules


def _write_json_list(path: Path, data: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _timestamp(course: Course, student: str, assignment: str) -> str | None:
    stamp = course.root / course.submitted_dir / student / assignment / "timestamp.txt"
    try:
        return stamp.read_text().strip() or None
    except OSError:
        return None


def _missing(student, assignment, notebook, source, error="no submission") -> dict:
    return {"student": student, "assignment": assignment, "notebook": notebook, "status": "missing",
            "error": error, "score": 0.0, "max_score": source.max_score, "tests": [], "cells": [],
            "deaths": [], "flags": [], "notes": []}


def summary_table(results: list[dict]) -> str:
    """A plain-text table: one line per student and notebook, then the totals."""
    header = f"{'student':<20} {'notebook':<18} {'score':>11}  {'status':<10} flags"
    lines = [header, "-" * len(header)]
    for r in results:
        flags = r.get("flags", [])
        first = flags[0][:60] if flags else ""
        more = f" (+{len(flags) - 1})" if len(flags) > 1 else ""
        status = "unverified" if unverified(r) else r.get("status", "")
        lines.append(f"{r['student'][:20]:<20} {r['notebook'][:18]:<18} "
                     f"{r['score']:>5g}/{r['max_score']:<5g}  {status:<10} {first}{more}")
    graded = [r for r in results if r.get("status") == "graded"]
    if results:
        mean = sum(r["score"] for r in results) / len(results)
        lines.append("-" * len(header))
        lines.append(f"{len(results)} submissions, {len(graded)} graded, "
                     f"{sum(1 for r in results if r.get('flags'))} flagged, mean score {mean:.2f}")
        if any(unverified(r) for r in results):
            lines.append(f"{sum(1 for r in results if unverified(r))} score(s) UNVERIFIED: graded without "
                         "OS isolation (--unsafe-no-isolation); regrade with bubblewrap installed")
    return "\n".join(lines)
