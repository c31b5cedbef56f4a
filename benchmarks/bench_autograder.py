"""Benchmark: grading N submissions of a module with `course grade --jobs J` vs `nbgrader autograde`.

Both graders work on identical copies of a temporary course built from solutions/<module>: the
nbgrader release, and N submissions (three in four complete solutions, one in four blank
releases). Prints submissions per minute for each and their ratio, both measured in this run.

    .venv/bin/python benchmarks/bench_autograder.py --n 100 --jobs 2          # the acceptance figure
    .venv/bin/python benchmarks/bench_autograder.py --n 8                     # a quick look

Our figure includes everything `course grade` does (the one profile run of the instructor's
notebook, sandboxed kernels, the gradebook); nbgrader's is the plain `nbgrader autograde` command.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.batch import grade_class  # noqa: E402
from autograder.course_dir import Course  # noqa: E402
from autograder.gradebook import open_gradebook, scores  # noqa: E402
from autograder.sandbox import Limits  # noqa: E402

CONFIG = '''c = get_config()  # noqa: F821
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.Execute.timeout = 60
c.ExecutePreprocessor.timeout = 60
'''


def nbgrader(root: Path, *args: str) -> None:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *args], cwd=root, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build_course(base: Path, module: str, n: int) -> Path:
    root = base / "course"
    source_nb = ROOT / "solutions" / module / f"{module}.ipynb"
    (root / "solutions" / module).mkdir(parents=True)
    shutil.copy(source_nb, root / "solutions" / module / source_nb.name)
    (root / "nbgrader_config.py").write_text(CONFIG)
    nbgrader(root, "generate_assignment", module, "--force")
    release = nbformat.read(root / "assignments" / module / source_nb.name, as_version=4)
    source = nbformat.read(source_nb, as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for i in range(n):
        nb = nbformat.from_dict(release)
        if i % 4 != 3:
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("solution") and meta.get("grade_id") in solutions:
                    cell.source = solutions[meta["grade_id"]]
        target = root / "submitted" / f"student{i:03d}" / module / source_nb.name
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    return root


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="03_backprop")
    parser.add_argument("--n", type=int, default=100, help="number of submissions")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-nbgrader", action="store_true")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        ours_root = build_course(Path(tmp), options.module, options.n)
        theirs_root = Path(tmp) / "course-nbgrader"
        shutil.copytree(ours_root, theirs_root)

        started = time.perf_counter()
        results = grade_class(Course.at(ours_root), options.module, jobs=options.jobs,
                              limits=Limits(timeout=60), progress=False)
        ours = time.perf_counter() - started
        seen = sorted({r["score"] for r in results})
        print(f"course grade --jobs {options.jobs}: {options.n} submissions in {ours:.1f} s "
              f"= {options.n / ours * 60:.1f} per minute (scores seen: {seen})")

        if not options.skip_nbgrader:
            started = time.perf_counter()
            nbgrader(theirs_root, "autograde", options.module, "--force")
            theirs = time.perf_counter() - started
            print(f"nbgrader autograde:    {options.n} submissions in {theirs:.1f} s "
                  f"= {options.n / theirs * 60:.1f} per minute")
            print(f"ratio (course grade / nbgrader autograde): {theirs / ours:.2f}x")
            with open_gradebook(Course.at(theirs_root).db_url) as gb:
                nbgrader_scores = {row["student"]: row["score"] for row in scores(gb, options.module)}
            ours_scores = {r["student"]: r["score"] for r in results}
            same = sum(nbgrader_scores.get(s) == v for s, v in ours_scores.items())
            print(f"same total score from both graders: {same}/{options.n} submissions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
