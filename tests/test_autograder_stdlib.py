"""Honest code that the standard library serves by looking at its caller's frame is graded clean.

typing, collections.namedtuple, dataclasses.make_dataclass and the Enum call API ask which module
called them (sys._getframe on Python 3.10 and 3.11, sys._getframemodulename from 3.12). The
grading kernel's audit hook must neither refuse nor flag that, on every supported Python: these
tests run on each version of the matrix (noxfile.py).
"""
from __future__ import annotations

import textwrap

import pytest

from autograder import fixture_course as demo
from autograder.course_dir import Course
from autograder.grade import grade_submission
from autograder.model import load_source
from autograder.sandbox import Limits

LIMITS = Limits(timeout=5, memory_mb=1024, grace=3)

# Written the ways students write them: at the top of a cell and inside the graded functions
# (which the test cells call while the guard watches).
STDLIB_AT_TOP = textwrap.dedent("""
    import dataclasses
    import enum
    from collections import namedtuple
    from dataclasses import dataclass, field
    from typing import Generic, NamedTuple, Protocol, TypedDict, TypeVar, runtime_checkable

    T = TypeVar("T")
    Point = namedtuple("Point", "x y")

    class Pair(NamedTuple):
        first: float
        second: float

    class Config(TypedDict):
        scale: float

    @dataclass
    class Scale:
        factor: float = 2.0
        history: list = field(default_factory=list)

    Record = dataclasses.make_dataclass("Record", ["value"])
    Mode = enum.Enum("Mode", "DOUBLE HALVE")

    class Box(Generic[T]):
        def __init__(self, item: T):
            self.item = item

    @runtime_checkable
    class Scaler(Protocol):
        def scale(self, x) -> float: ...

    def double(x):
        step = namedtuple("Step", "name factor")("double", Scale().factor)
        assert Mode.DOUBLE.name == "DOUBLE" and not isinstance(Box(x), Scaler)
        return step.factor * np.asarray(Box(x).item, dtype=float)
    """)

INSIDE_A_FUNCTION = textwrap.dedent("""
    def relu(x):
        Sign = enum.Enum("Sign", "NEGATIVE POSITIVE")
        kept = dataclasses.make_dataclass("Kept", ["values"])(np.maximum(x, 0))
        config: Config = {"scale": 1.0}
        return Pair(config["scale"] * kept.values, Sign.POSITIVE.value).first
    """)


@pytest.fixture
def course(tmp_path):
    return Course.at(demo.make_course(tmp_path / "course"))


def test_typing_namedtuple_dataclasses_and_enum_get_full_marks_and_no_flag(course):
    code = dict(demo.correct_code(), double=STDLIB_AT_TOP, relu=INSIDE_A_FUNCTION)
    path = demo.write_notebook(course.root, "honest", demo.notebook_with(code))
    result = grade_submission(path, load_source(course.root / "solutions" / "ps1" / "ps1.ipynb"), LIMITS)
    failed = [(t["cell_id"], t["error"][:300]) for t in result["tests"] if t["status"] != "passed"]
    assert result["score"] == 6, failed
    assert result["flags"] == []


def test_frames_are_still_refused_and_flagged(course):
    """The same submission, plus one line that takes its caller's frame: blocked and flagged."""
    attack = STDLIB_AT_TOP.replace('    step = namedtuple', '    caller = sys._getframe(1)\n    step = namedtuple')
    code = dict(demo.correct_code(), double="import sys\n" + attack, relu=INSIDE_A_FUNCTION)
    path = demo.write_notebook(course.root, "sneaky", demo.notebook_with(code))
    result = grade_submission(path, load_source(course.root / "solutions" / "ps1" / "ps1.ipynb"), LIMITS)
    assert result["score"] == 4
    assert any("blocked sys._getframe (from <student" in flag for flag in result["flags"]), result["flags"]
