"""The `course` command line: release assignments, publish them to students, grade submissions.

    course release [ASSIGNMENT]     solutions/ -> assignments/ (all assignments by default)
    course publish DEST             the student repository, without answers (autograder.publish)
    course collect|grade|feedback|export|check|report ...   the grading pipeline (package `autograder`)
    course demo [NAME]              a playground alone on a page, served by Voila (course.demos)

Everything heavy (jupytext, nbgrader) is imported only when its subcommand runs.
"""
from __future__ import annotations

import argparse
import importlib
import sys

GRADING_COMMANDS = {
    "collect": "gather submissions (a folder or an LMS zip) into submitted/",
    "grade": "autograde the collected submissions",
    "feedback": "write feedback for students (without hidden tests)",
    "export": "export grades (CSV, results.json)",
    "check": "check a notebook or submission before grading",
    "report": "write the class report: mistakes per exercise, similar submissions, flags",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course", description="The course command line: release assignments and grade submissions.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    release = commands.add_parser(
        "release", help="generate assignments/ from solutions/ with nbgrader",
        description="Sync the jupytext sources, check them, and generate the student release.")
    release.add_argument("assignment", nargs="?", help="e.g. 01_perceptron (default: all)")

    publish = commands.add_parser(
        "publish", help="write the student repository (no solutions, no hidden tests) into a folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Write the repository students use into DEST, as a git repository with one commit:\n"
            "assignments/ (every module's release), the course library, a student README,\n"
            "pyproject.toml, environment.yml and LICENSE. Nothing else: no solutions/, hidden\n"
            "tests, grader or tests. Every file written, and a wheel built from DEST, is scanned\n"
            "for the lines of solutions and hidden tests first; a leak stops the publication\n"
            "and names the file and line."),
        epilog=(
            "The repository's URL is set once, as repo-url in the [tool.course] table of\n"
            "pyproject.toml; the Colab badges, set-up cells and README are written from it.\n"
            "Then push: git -C DEST push --force origin main"))
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

    from course.demos import demo_names

    demo = commands.add_parser(
        "demo", help="serve a playground as a standalone page (Voila, code hidden) for a lecture",
        description="Serve a playground alone on a page with Voila, code hidden, for projecting.")
    demo.add_argument("name", nargs="?", choices=demo_names(), metavar="NAME",
                      help=f"one of {', '.join(demo_names())} (default: a page listing them all)")
    demo.add_argument("--port", type=int, help="port to listen on (default: 8866)")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--theme", choices=["light", "dark"], help="page theme")

    for name, summary in GRADING_COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary, add_help=False)
        # Listed here for `course --help`; main() hands their arguments to autograder.cli as they are.
        sub.add_argument("argv", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _instructor_tool(command: str):
    """The autograder module behind an instructor command, or None (with a message) without it."""
    try:
        return importlib.import_module(f"autograder.{command}")
    except ModuleNotFoundError as error:
        if error.name not in ("autograder", f"autograder.{command}"):
            raise
        print(f"course {command}: this is the student edition of the course; {command} is an "
              "instructor's command and runs in the instructor's repository.", file=sys.stderr)
        return None


def _publish(args: argparse.Namespace) -> int:
    module = _instructor_tool("publish")
    if module is None:
        return 2
    try:
        module.publish(args.dest, repo_url=args.repo_url, force=args.force, check_wheel=args.check_wheel)
    except module.PublishError as error:
        print(f"course publish: {error}", file=sys.stderr)
        return 1
    return 0


def _release(args: argparse.Namespace) -> int:
    if _instructor_tool("release") is None:
        return 2
    from autograder.release import ReleaseError, release

    try:
        release(args.assignment)
    except ReleaseError as error:
        print(f"course release: {error}", file=sys.stderr)
        return 1
    return 0


def _grading(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module("autograder.cli")
    except ModuleNotFoundError as error:
        if error.name not in ("autograder", "autograder.cli"):
            raise
        print(f"course {args.command}: this is the student edition of the course, without the "
              "grading tools; the visible tests are the test cells of each notebook.", file=sys.stderr)
        return 2
    command = getattr(module, args.command, None)
    if command is None:
        print(f"course {args.command}: autograder.cli has no function {args.command!r} yet.",
              file=sys.stderr)
        return 2
    result = command(args)
    return int(result or 0)


def _demo(args: argparse.Namespace) -> int:
    from course.demos import serve

    try:
        return serve(args.name, port=args.port, open_browser=not args.no_browser, theme=args.theme)
    except (ValueError, RuntimeError) as error:
        print(f"course demo: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `course` console script.

    Inputs:
    - argv: arguments without the program name (default: sys.argv[1:]).

    Returns:
    - int exit status. Grading subcommands call `autograder.cli.<command>(args)` with the parsed
      namespace: `args.command` is the subcommand, `args.argv` the list of its remaining arguments.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in GRADING_COMMANDS:
        # Passed through untouched, options included: autograder.cli parses them.
        return _grading(argparse.Namespace(command=argv[0], argv=argv[1:]))
    args = build_parser().parse_args(argv)
    if args.command == "release":
        return _release(args)
    if args.command == "publish":
        return _publish(args)
    if args.command == "demo":
        return _demo(args)
    return _grading(args)


if __name__ == "__main__":
    sys.exit(main())
