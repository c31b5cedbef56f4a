"""The version matrix: every supported CPython, and the lowest and newest numpy.

    make test-matrix          the whole suite on 3.10-3.13, then both numpy legs
    nox -l                    every session; run one with `nox -s parts-3.12`
    nox -s parts-3.12 -- -k gradcheck   arguments after -- are added to pytest's
    MATRIX=quick nox -s parts-3.12      a shorter list of parts (what CI runs, see QUICK_PARTS)

Sessions:
    tests-3.X      the whole suite (`make test` runs it on the current interpreter)
    parts-3.X      only what can differ by version: the library (autograd, gradcheck, nn, optim,
                   data), the notebooks run top to bottom, the grader (end to end, module grading)
    numpy_lowest   the same parts with numpy 1.24, the lowest the course supports, on Python 3.10
                   (numpy 1.24 has no wheels past Python 3.11)
    numpy_newest   the same parts with the newest numpy, on the newest Python

The interpreters come from pyenv ($PYENV_ROOT/versions/*/bin) or the PATH; a version that is
missing is skipped, and nox says so. Nothing is downloaded. PyTorch, the optional gradient oracle,
is not installed here, so its comparisons skip (`make test` has them where torch is installed).
"""
from __future__ import annotations

import glob
import os

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
LOWEST_NUMPY = "numpy==1.24.*"

PYENV_ROOT = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
# pyenv's interpreters are found as python3.X without `pyenv global` listing them.
os.environ["PATH"] = os.pathsep.join(sorted(glob.glob(os.path.join(PYENV_ROOT, "versions", "3.*", "bin")))
                                     + [os.environ.get("PATH", "")])

nox.options.sessions = ["tests", "numpy_lowest", "numpy_newest"]
nox.options.error_on_missing_interpreters = False
nox.options.download_python = "never"
nox.options.reuse_venv = "yes"

# What can differ by Python or numpy version: the library, every notebook run top to bottom, and the
# grader (its guard meets each version's standard library). Left to the default Python: the
# per-module nbgrader round trips (tests/test_nb_*.py: the same notebooks, graded many times over),
# widgets, drawing, demos, the browser and the release command.
VERSION_PARTS = [
    "tests/test_autograd_ops.py", "tests/test_autograd_semantics.py", "tests/test_gradcheck.py",
    "tests/test_nn_optim.py", "tests/test_data.py", "tests/test_notebooks.py",
    *sorted(glob.glob("tests/test_autograder_*.py")), "tests/test_supported_versions.py",
]


# CI's share of the matrix (MATRIX=quick, as .ci/run sets it), to stay within CI's time: the library,
# the grader's guard against each version's standard library, the grader end to end on the small
# demo course, the attacks on its boundary, and every module's honest submissions graded (full
# marks, no flag). The full parts list runs with `make test-matrix`.
QUICK_PARTS = [
    "tests/test_autograd_ops.py", "tests/test_autograd_semantics.py", "tests/test_gradcheck.py",
    "tests/test_nn_optim.py", "tests/test_autograder_stdlib.py", "tests/test_autograder_e2e.py",
    "tests/test_grader_boundary.py", "tests/test_autograder_modules.py", "tests/test_supported_versions.py",
]
PARTS = QUICK_PARTS if os.environ.get("MATRIX") == "quick" else VERSION_PARTS


def pytest(session: nox.Session, *paths: str) -> None:
    session.run("python", "-c", "import sys, numpy; print('Python', sys.version.split()[0], '| numpy', numpy.__version__)")
    # On pytest-xdist's workers as `make test` (WORKERS=0: one process).
    workers = os.environ.get("WORKERS", "2")
    xdist = [] if workers == "0" else ["-n", workers, "--dist", "loadfile", "--no-loadscope-reorder"]
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=5", *xdist, *paths,
                *session.posargs)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite."""
    session.install("-e", ".[dev]")
    pytest(session)


@nox.session(python=PYTHONS)
def parts(session: nox.Session) -> None:
    """The tests whose outcome can depend on the Python version."""
    session.install("-e", ".[dev]")
    pytest(session, *PARTS)


@nox.session(python=PYTHONS[0])
def numpy_lowest(session: nox.Session) -> None:
    """The library, notebooks and grader with numpy 1.24."""
    session.install("-e", ".[dev]", LOWEST_NUMPY)
    pytest(session, *PARTS)


@nox.session(python=PYTHONS[-1])
def numpy_newest(session: nox.Session) -> None:
    """The library, notebooks and grader with the newest numpy."""
    session.install("-e", ".[dev]")
    session.install("--upgrade", "numpy")
    pytest(session, *PARTS)
