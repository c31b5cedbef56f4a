"""Benchmark: `course report` on N generated submissions of module 03, against a naive similarity.

The class is generated (tests/planted_class.py, random_class): every student picks one of four styles per function
(the instructor's or three others) and sometimes adds a line of their own; one in twenty hands in a disguised copy of a classmate
(renamed, reformatted, functions reordered), and the grader's result files are written directly
with random test outcomes and gradient mistakes. We time the whole report: reading the results, the
similarity of the students' own code, the pictures and the page.

The peer is the obvious similarity check, measured in the same run: difflib's ratio of the whole
notebooks' code for every pair of submissions, timed on a subset of M submissions and scaled to
the N * (N - 1) / 2 pairs of the class.

    .venv/bin/python benchmarks/bench_report.py               # 500 submissions (the acceptance figure)
    .venv/bin/python benchmarks/bench_report.py --n 100 --m 30
"""
from __future__ import annotations

import argparse
import difflib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import planted_class as planted  # noqa: E402
from autograder.course_dir import Course  # noqa: E402
from autograder.report import write_report  # noqa: E402


def naive_seconds_per_pair(course: Path, m: int) -> float:
    texts = []
    for path in sorted((course / "submitted").glob(f"*/{planted.MODULE}/*.ipynb"))[:m]:
        cells = json.loads(path.read_text())["cells"]
        texts.append("\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"))
    started = time.perf_counter()
    pairs = 0
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            difflib.SequenceMatcher(None, texts[i], texts[j]).ratio()
            pairs += 1
    return (time.perf_counter() - started) / pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="submissions (default 500)")
    parser.add_argument("--m", type=int, default=12, help="submissions the naive peer is timed on (default 12)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        course = planted.write_course(Path(tmp))
        copies = planted.random_class(course, options.n)
        started = time.perf_counter()
        _, report = write_report(Course.at(course), planted.MODULE)
        ours = time.perf_counter() - started
        found = {frozenset(p["students"]) for p in report["similar_pairs"]}
        planted_pairs = {frozenset(c.split(":")) for c in copies}
        group = {}                      # copies of copies: one group of identical code
        for copier, original in (c.split(":") for c in copies):
            group[copier] = group.setdefault(original, original)
        same_group = {p for p in found if len({group.get(s, s) for s in p}) == 1}
        with_solution = {p for p in found if "solution" in p}
        per_pair = naive_seconds_per_pair(course, options.m)
    naive = per_pair * options.n * (options.n - 1) / 2
    print(f"course report, {options.n} submissions of {planted.MODULE}: {ours:.1f} s")
    print(f"  similar pairs reported: {len(found)}; planted copies found: "
          f"{len(planted_pairs & found)} of {len(planted_pairs)}; other pairs within a group of copies: "
          f"{len(same_group - planted_pairs)}; with the solution: {len(with_solution)}; "
          f"others: {len(found - same_group - with_solution)}")
    print(f"naive all-pairs difflib of whole notebooks: {per_pair * 1e3:.1f} ms per pair (timed on "
          f"{options.m} submissions), {naive:.0f} s for {options.n * (options.n - 1) // 2} pairs")
    print(f"ratio naive / course report: {naive / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
