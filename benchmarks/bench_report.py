"""Benchmark: `course report` on N generated submissions of module 03, against a naive similarity.

The class is generated (tests/planted_class.py): every student picks one of four styles per solution
cell (the instructor's or three others), one in twenty hands in a disguised copy of a classmate
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
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import planted_class as planted  # noqa: E402
from autograder.course_dir import Course  # noqa: E402
from autograder.model import load_source  # noqa: E402
from autograder.report import write_report  # noqa: E402

MISTAKES = {"test_linear": ["transposed", "mean_instead_of_sum", "not_summed_over_batch"],
            "test_relu": ["never_computed"], "test_sigmoid": ["sign_flipped", "factor_half"],
            "test_tanh": ["factor_2"], "test_mse": ["ignored_upstream", "not_divided_by_batch"],
            "test_softmax_ce": ["sign_flipped", "not_divided_by_batch"],
            "test_mlp_backward": ["transposed", "not_summed_over_batch", "accumulated_twice"]}


def generate_class(course: Path, n: int, seed: int = 0) -> list[str]:
    """n submissions with results; returns the planted copies as 'copier:original'."""
    rng = random.Random(seed)
    release = planted.release_notebook()
    styles = planted.styles()
    tests = load_source(ROOT / "solutions" / planted.MODULE / f"{planted.MODULE}.ipynb").tests
    written, copies = {}, []
    for i in range(n):
        student = f"student{i:03d}"
        if written and rng.random() < 0.05:
            original = rng.choice(sorted(written))
            cells = {k: planted.disguise(v, i) for k, v in written[original].items()}
            copies.append(f"{student}:{original}")
        else:
            cells = planted.student_cells(release, styles, {c: rng.randrange(4) for c in planted.CELLS})
        outcome = {}
        for test in tests:
            if rng.random() < 0.2:
                keys = MISTAKES.get(test.cell_id, [])
                mistakes = [{"key": rng.choice(keys), "input": "x"}] if keys and rng.random() < 0.7 else []
                outcome[test.cell_id] = ("failed", rng.choice(["visible", "hidden"]), mistakes)
        planted.hand_in(course, student, planted.submission(release, cells),
                        planted.result_file(student, tests, outcome))
        written[student] = cells
    return copies


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
    parser.add_argument("--m", type=int, default=40, help="submissions the naive peer is timed on (default 40)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        course = planted.write_course(Path(tmp))
        copies = generate_class(course, options.n)
        started = time.perf_counter()
        _, report = write_report(Course.at(course), planted.MODULE)
        ours = time.perf_counter() - started
        found = {frozenset(p["students"]) for p in report["similar_pairs"]}
        planted_pairs = {frozenset(c.split(":")) for c in copies}
        per_pair = naive_seconds_per_pair(course, options.m)
    naive = per_pair * options.n * (options.n - 1) / 2
    print(f"course report, {options.n} submissions of {planted.MODULE}: {ours:.1f} s")
    print(f"  similar pairs reported: {len(found)}; planted copies found: "
          f"{len(planted_pairs & found)} of {len(planted_pairs)}")
    print(f"naive all-pairs difflib of whole notebooks: {per_pair * 1e3:.1f} ms per pair (timed on "
          f"{options.m} submissions), {naive:.0f} s for {options.n * (options.n - 1) // 2} pairs")
    print(f"ratio naive / course report: {naive / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
