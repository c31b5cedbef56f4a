"""The `course` command line, one parser for every command:

    course release [ASSIGNMENT]          solutions/ -> assignments/ (all assignments by default)
    course publish DEST                  the student repository, without answers
    course collect ASSIGNMENT SOURCE     a folder or an LMS zip of submissions -> submitted/
    course grade ASSIGNMENT [options]    autograde the collected submissions, safely, in parallel
    course feedback ASSIGNMENT           feedback pages for the students, without hidden tests
    course export ASSIGNMENT [options]   grades as CSV or Gradescope results.json
    course check [NOTEBOOK]              a student's own run of the visible tests
    course report ASSIGNMENT             the class report: mistakes per exercise, similarity, flags
    course demo [NAME]                   a playground alone on a page, served by Voila

`course COMMAND --help` explains each command and its options. The instructor's commands run code
of the `autograder` package, imported only when one of them runs (the student edition of the
course has no autograder; those commands then say so). Nothing heavy (jupytext, nbgrader, Voila)
is imported to build the parser.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

from course.playgrounds import PLAYGROUNDS

# The commands that need the instructor's `autograder` package: command -> the module whose
# function of the command's name runs it (it takes the parsed options, returns the exit status).
INSTRUCTOR_COMMANDS = {name: "autograder.cli" for name in
                       ("release", "publish", "collect", "grade", "feedback", "export", "check", "report")}

_DESCRIPTIONS = {
    "release": "Sync the jupytext sources of solutions/, check them, and generate the student "
               "notebooks in assignments/ with nbgrader (without solutions and hidden tests).",
    "publish": "Write the repository students use into DEST, as a git repository with one commit: "
               "assignments/ (every module's release), the course library, a student README, "
               "pyproject.toml, environment.yml and LICENSE. Nothing else: no solutions/, hidden tests, "
               "grader or tests. Every file written, and a wheel built from DEST, is scanned for the "
               "lines of solutions and hidden tests first; a leak stops the publication and names the "
               "file and line.",
    "collect": "Gather students' notebooks into submitted/STUDENT/ASSIGNMENT/: from a folder (one "
               "notebook or folder per student) or from an LMS download (a zip). Notebooks whose cell "
               "metadata was lost are recovered from the release.",
    "grade": "Autograde every collected submission of an assignment: each in its own isolated "
             "process (bubblewrap), several at once, resumable (up-to-date results are reused), "
             "never stopped by one bad submission. Scores go to the gradebook and to "
             "autograded/STUDENT/ASSIGNMENT/.",
    "feedback": "Write feedback/STUDENT/ASSIGNMENT/NOTEBOOK.html for every graded submission: the "
                "student's code, each test's result and hint, no hidden test code.",
    "export": "Export the grades of an assignment: one CSV for the class, or one Gradescope-style "
              "results.json per student.",
    "check": "Run a notebook and its visible tests the way the grader does, and print what passed "
             "and what to fix (hidden tests are graded later). In Colab, the open notebook.",
    "report": "Write the class report of a graded assignment: scores, results per exercise, the "
              "gradient mistakes the class made, flagged submissions and pairs of submissions whose "
              "own code is suspiciously similar. Reads autograded/ and submitted/; writes "
              "reports/ASSIGNMENT/index.html (one self-contained page) and reports/ASSIGNMENT/report.json.",
    "demo": "Serve a playground alone on a page with Voila, code hidden, for projecting in a lecture.",
}

_SUMMARIES = {
    "release": "generate assignments/ from solutions/ with nbgrader",
    "publish": "write the student repository (no solutions, no hidden tests) into a folder",
    "collect": "gather submissions (a folder or an LMS zip) into submitted/",
    "grade": "autograde the collected submissions",
    "feedback": "write feedback for students (without hidden tests)",
    "export": "export grades (CSV, results.json)",
    "check": "run a notebook's visible tests before handing it in",
    "report": "write the class report: mistakes per exercise, similar submissions, flags",
    "demo": "serve a playground as a standalone page (Voila, code hidden) for a lecture",
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, wrapped at spaces only: names like conv-explorer stay whole."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _command(commands, name, **kwargs) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=_SUMMARIES[name], description=_DESCRIPTIONS[name],
                               formatter_class=_HelpFormatter, **kwargs)


def _course_option(parser):
    parser.add_argument("--course", metavar="DIR", default=None,
                        help="the course root (default: the current directory)")


def _assignment(parser, example="01_perceptron"):
    parser.add_argument("assignment", metavar="ASSIGNMENT", help=f"the assignment's folder name, e.g. {example}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course", description="The course's command line: release assignments, publish them, grade "
                                   "submissions, and show the playgrounds in lectures.",
        epilog="`course COMMAND --help` explains a command and its options.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    release = _command(commands, "release")
    release.add_argument("assignment", metavar="ASSIGNMENT", nargs="?",
                         help="the assignment's folder under solutions/, e.g. 01_perceptron (default: all)")

    publish = _command(commands, "publish", epilog=(
        "The repository's URL is set once, as repo-url in the [tool.course] table of pyproject.toml; "
        "the Colab badges, set-up cells and README are written from it. Then push: "
        "git -C DEST push --force origin main"))
    publish.add_argument("dest", metavar="DEST",
                         help="folder to write (created if missing; must be empty or written by an "
                              "earlier `course publish`)")
    publish.add_argument("--repo-url", metavar="URL",
                         help="https://github.com/OWNER/REPO of the student repository for this "
                              "publication (default: repo-url in pyproject.toml's [tool.course])")
    publish.add_argument("--force", action="store_true",
                         help="replace everything in a non-empty DEST that `course publish` did not write")
    publish.add_argument("--no-wheel-check", dest="check_wheel", action="store_false",
                         help="skip building a wheel from DEST and scanning it (it needs pip and, "
                              "the first time, the network for setuptools)")

    collect = _command(commands, "collect")
    _assignment(collect)
    collect.add_argument("source", metavar="SOURCE",
                         help="a folder of submissions or a zip downloaded from the learning platform")
    _course_option(collect)

    grade = _command(commands, "grade")
    _assignment(grade)
    grade.add_argument("--jobs", type=int, default=2, metavar="N",
                       help="submissions graded at once (default: 2)")
    grade.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="time limit of each cell, in seconds (default: 30)")
    grade.add_argument("--submission-timeout", type=float, default=600.0, metavar="SECONDS",
                       help="time limit of a whole submission; tests left then are not run (default: 600)")
    grade.add_argument("--memory", type=int, default=2048, metavar="MB",
                       help="memory limit of each submission, in MB (default: 2048)")
    grade.add_argument("--force", action="store_true",
                       help="grade again even submissions whose stored result is up to date")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="grade only this student (repeat the option for several)")
    grade.add_argument("--dask", metavar="ADDRESS",
                       help="grade on a dask.distributed scheduler instead of local processes "
                            "(tls://HOST:PORT with the three --dask-tls-* files; see the README)")
    grade.add_argument("--dask-tls-ca", metavar="FILE",
                       help="certificate of the authority that signed the cluster's certificates")
    grade.add_argument("--dask-tls-cert", metavar="FILE", help="this client's certificate")
    grade.add_argument("--dask-tls-key", metavar="FILE", help="this client's private key")
    grade.add_argument("--unsafe-no-isolation", action="store_true",
                       help="grade even without OS isolation (no bubblewrap here); the scores are "
                            "marked unverified")
    _course_option(grade)

    feedback = _command(commands, "feedback")
    _assignment(feedback)
    _course_option(feedback)

    export = _command(commands, "export")
    _assignment(export)
    export.add_argument("--format", choices=["csv", "gradescope"], default="csv",
                        help="csv: one file for the class; gradescope: autograded/STUDENT/ASSIGNMENT/"
                             "results.json for each student (default: csv)")
    export.add_argument("--output", metavar="FILE", default=None,
                        help="the CSV file to write (default: grades-ASSIGNMENT.csv in the course root)")
    _course_option(export)

    check = _command(commands, "check")
    check.add_argument("notebook", metavar="NOTEBOOK", nargs="?",
                       help="the notebook to check (default in Colab: the open one, saved first)")
    check.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                       help="time limit of each cell (default: 60)")

    report = _command(commands, "report")
    _assignment(report, "03_backprop")
    _course_option(report)

    names = [p.demo for p in PLAYGROUNDS]
    demo = _command(commands, "demo")
    demo.add_argument("name", nargs="?", choices=names, metavar="NAME",
                      help=f"one of {', '.join(names)} (default: a page listing them all)")
    demo.add_argument("--port", type=int, help="port to listen on (default: Voila's, 8866)")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--theme", choices=["light", "dark"], help="page theme (default: Voila's)")
    return parser


def _instructor_command(name: str):
    """The function that runs an instructor's command, or None (with a message) without the autograder."""
    module_name = INSTRUCTOR_COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise
        print(f"course {name}: this is the student edition of the course, without the grading tools; "
              f"{name} is an instructor's command and runs in the instructor's repository (the visible "
              "tests are the test cells of each notebook).", file=sys.stderr)
        return None
    return getattr(module, name)


def _demo(options: argparse.Namespace) -> int:
    from course.demos import serve

    try:
        return serve(options.name, port=options.port, open_browser=not options.no_browser, theme=options.theme)
    except (ValueError, RuntimeError) as error:
        print(f"course demo: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `course` console script.

    Inputs:
    - argv: arguments without the program name (default: sys.argv[1:]).

    Returns the exit status: 0 on success, 1 when the command failed (the reason is on stderr),
    2 for a usage error or an instructor's command in the student edition.
    """
    options = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    if options.command == "demo":
        return _demo(options)
    run = _instructor_command(options.command)
    if run is None:
        return 2
    return int(run(options) or 0)


if __name__ == "__main__":
    sys.exit(main())
