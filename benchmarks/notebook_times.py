"""How long each solution notebook takes, as a student runs it and as the grader runs it, against
the course's budgets. The tests check that the notebooks run clean; the time is measured here.

Budgets (this 2-core machine, quiet): a module's notebook runs in under 60 s (05, which trains a
CNN, under 120 s); with NBGRADER_EXECUTION set (the grader's run, shortened training) every module
runs in under 20 s. The peer is the budget itself: the ratio printed is time / budget.

    .venv/bin/python benchmarks/notebook_times.py            # every module
    .venv/bin/python benchmarks/notebook_times.py 05_cnn     # one
Exits 1 if a notebook fails or goes over its budget.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET = {"student": 60.0, "grader": 20.0}
LONGER = {("05_cnn", "student"): 120.0}


def seconds_to_run(path: Path, grader: bool) -> float:
    nb = nbformat.read(path, as_version=4)
    os.environ.pop("NBGRADER_EXECUTION", None)     # the kernel inherits this process's environment
    if grader:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(modules: list[str]) -> int:
    paths = sorted(ROOT.glob("solutions/*/*.ipynb"))
    paths = [p for p in paths if p.stem == p.parent.name and (not modules or p.stem in modules)]
    over = 0
    print(f"{'module':<28} {'run':<8} {'seconds':>8} {'budget':>7} {'ratio':>6}")
    for path in paths:
        for mode in ("student", "grader"):
            budget = LONGER.get((path.stem, mode), BUDGET[mode])
            seconds = seconds_to_run(path, grader=mode == "grader")
            over += seconds > budget
            print(f"{path.stem:<28} {mode:<8} {seconds:8.1f} {budget:7.0f} {seconds / budget:6.2f}"
                  + ("  OVER" if seconds > budget else ""))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
