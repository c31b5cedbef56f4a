"""`course publish DEST`: the student repository, generated from the instructor's, without answers.

The instructor's repository stays private (solutions, hidden tests, the grader and its test
corpus). Students get a second repository that holds only what they need:

    assignments/       every module's release (badges and set-up cells point at the course's URL)
    course/            the library (no grader: `autograder` stays with the instructor)
    README.md          for students: open each module in Colab or JupyterLab, set up, hand in
    pyproject.toml     installs `course` alone (what the Colab set-up cell pip-installs)
    environment.yml    the conda environment without the instructor's tools
    LICENSE

DEST becomes a git repository with one commit (remote `origin` set to the course's URL), ready to
be pushed. Before committing, the leak scan (autograder.leaks) reads every file written, then a
wheel built from DEST; any solution or hidden-test line, marker, or solution notebook metadata
stops the publication with the file and line where it was found.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course.colab import badge_markdown, pip_requirement

from ._nbformat import nbformat
from .leaks import Leak, course_secrets, scan, scan_wheel
from .release import RELEASE_DIR, apply_repo_url, default_root, find_assignments, release, release_path
from .settings import CourseSettings, read_settings

LIBRARY = "course"
COPIED_FILES = ("LICENSE",)
# The instructor's conda packages that students do not need (grading, authoring, testing).
INSTRUCTOR_ONLY_CONDA = {"nbgrader", "jupytext", "nbclient", "pytest", "hypothesis", "tomli"}
# pyproject.toml tables the student repository does without.
INSTRUCTOR_ONLY_TABLES = {"project.optional-dependencies", "tool.pytest.ini_options", "tool.importlinter",
                          "tool.importlinter.contracts"}
MARK = "course-publish"          # a file inside DEST/.git: this folder was written by course publish


class PublishError(RuntimeError):
    """The student repository cannot be published; the message says why and what to do."""


def _prepare(dest: Path, force: bool) -> None:
    """Make dest an empty folder, refusing to empty one that course publish did not create."""
    if dest.exists() and not dest.is_dir():
        raise PublishError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()):
        if not (dest / ".git" / MARK).is_file() and not force:
            raise PublishError(
                f"{dest} is not empty and was not written by `course publish`; choose a new or "
                "empty folder, or pass --force to replace everything in it")
        for entry in dest.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    dest.mkdir(parents=True, exist_ok=True)


def _release_is_current(root: Path, settings: CourseSettings) -> bool:
    """Do the committed release's badges and set-up cells already point at settings' URL?"""
    for name in find_assignments(root):
        for notebook in sorted((root / RELEASE_DIR / name).glob("*.ipynb")):
            nb = nbformat.read(notebook, as_version=4)
            expected = apply_repo_url(nbformat.from_dict(nb), release_path(name, notebook.stem), settings)
            if nbformat.writes(expected) != nbformat.writes(nb):
                return False
    return True


def _copy_release(root: Path, dest: Path, settings: CourseSettings, log) -> None:
    if _release_is_current(root, settings):
        shutil.copytree(root / RELEASE_DIR, dest / RELEASE_DIR,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        log(f"copied {RELEASE_DIR}/ (the committed release)")
    else:
        log(f"releasing every module for {settings.repo_url} into {dest / RELEASE_DIR}")
        release(None, root, release_dir=dest / RELEASE_DIR, use_db=False,
                repo_url=settings.repo_url, log=log)


def _tables(text: str) -> list[tuple[str, str]]:
    """A TOML file as (table name, text) pairs in order; the lines before any header have name ''."""
    pieces = re.split(r"(?m)^(?=\[)", text)
    tables = []
    for piece in pieces:
        header = re.match(r"\[\[?([^\]]+)\]", piece)
        tables.append((header.group(1).strip() if header else "", piece))
    return tables


def student_pyproject(text: str, settings: CourseSettings) -> str:
    """The instructor's pyproject.toml made the student's: the library alone, the course's URL."""
    out = []
    for name, piece in _tables(text):
        if name in INSTRUCTOR_ONLY_TABLES:
            continue
        if name == "tool.setuptools.packages.find":
            piece = f'[{name}]\ninclude = ["{LIBRARY}*"]\n\n'
        elif name == "tool.course":
            piece = (f"# Where this repository lives (Colab badges and the set-up cell point here).\n"
                     f'[{name}]\nrepo-url = "{settings.repo_url}"\nbranch = "{settings.branch}"\n\n')
        # A comment written just above the next table belongs to it: drop comments that end a
        # piece, and keep the comments of the pieces we keep.
        lines = piece.rstrip("\n").split("\n")
        while lines and lines[-1].startswith("#"):
            lines.pop()
        out.append("\n".join(lines).rstrip("\n") + "\n\n")
    return "".join(out).strip("\n") + "\n"


def student_environment(text: str) -> str:
    """environment.yml without the instructor's packages (grading and testing tools)."""
    kept = []
    for line in text.splitlines():
        package = re.match(r"\s*-\s*([A-Za-z0-9_.-]+)", line)
        if package and package.group(1).lower() in INSTRUCTOR_ONLY_CONDA:
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def _title(notebook: Path) -> str:
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = re.search(r"(?m)^# (.+)$", cell.source)
            if heading:
                return heading.group(1).strip()
    return notebook.stem


def student_readme(dest: Path, settings: CourseSettings) -> str:
    """The student README: a table of the modules with their Colab badges, set-up, hand-in."""
    rows = []
    for notebook in sorted((dest / RELEASE_DIR).glob("*/*.ipynb")):
        path = notebook.relative_to(dest).as_posix()
        rows.append(f"| [{_title(notebook)}]({path}) | {badge_markdown(path, settings.repo_url, settings.branch)} |")
    table = "\n".join(rows)
    name = settings.repo_url.rsplit("/", 1)[-1]
    return f"""# How neural networks learn: the student repository

Notebooks that go from the perceptron to a trained CNN, and the `course` library they use:
a small NumPy autograd engine with PyTorch's semantics, plots and interactive playgrounds.
Each notebook has exercises: fill in the cells marked `YOUR CODE HERE` and run the test cell
under each exercise. Those tests are the visible part of the grading; your instructor's grader
also runs hidden tests on other inputs.

| module | open in Colab |
|---|---|
{table}

## In Google Colab (nothing to install)

Click a badge, then run the cells from the top. The first cell installs the course library
(`pip install "{pip_requirement(settings.repo_url)}"`) when it runs in Colab and does nothing
elsewhere. Colab forgets it when the runtime is deleted or disconnected: in a new session, run
that cell again. Save your work with File > Save a copy in Drive.

## On your own machine

With Python 3.10 to 3.13:

```bash
git clone {settings.repo_url}.git
cd {name}
python -m venv .venv
.venv/bin/python -m pip install -e . jupyterlab     # Windows: .venv\\Scripts\\python
.venv/bin/jupyter lab assignments/
```

or with conda: `conda env create -f environment.yml && conda activate course && jupyter lab assignments/`.
Drawing computational graphs needs the graphviz `dot` program (conda installs it; otherwise
`apt-get install graphviz` or `brew install graphviz`); without it the graph's text is shown.

## Handing in

Hand in the notebook file itself (`.ipynb`; in Colab: File > Download > Download .ipynb) where
your instructor asks: GitHub Classroom, your course's learning platform, or JupyterHub's
Assignments tab (`nbgrader submit`). Keep the notebook's name and do not delete or copy cells:
the grader finds your answers by the cells' ids. Run the whole notebook once before handing in
(Kernel > Restart and run all) so that you know it runs from the top.
"""


def _git(dest: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=course publish", "-c", "user.email=course-publish@localhost",
               "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args]
    result = subprocess.run(command, cwd=dest, capture_output=True, text=True)
    if result.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed in {dest}:\n{result.stdout}{result.stderr}")
    return result.stdout


def build_wheel(folder: Path, out: Path) -> Path:
    """Build the wheel pip would install from folder (with pip, in an isolated build environment).

    The build runs in a copy: setuptools leaves build/ and *.egg-info/ behind where it builds.
    """
    with tempfile.TemporaryDirectory(prefix="course-build-") as scratch:
        copy = Path(scratch) / Path(folder).name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(".git"))
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(copy)]
        result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(Path(out).glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise PublishError(f"building a wheel from {folder} failed:\n{result.stdout}{result.stderr}")
    return wheels[0]


def _leak_report(leaks: list[Leak], dest: Path) -> str:
    shown = "\n  ".join(str(leak) for leak in leaks[:50])
    more = f"\n  ... and {len(leaks) - 50} more" if len(leaks) > 50 else ""
    return (f"the student repository would give away {len(leaks)} line(s) of answers or hidden tests; "
            f"nothing was committed in {dest}. Rewrite what is named here (in the instructor's "
            f"repository) and publish again:\n  {shown}{more}")


def publish(dest: Path | str, root: Path | str | None = None, *, repo_url: str | None = None,
            force: bool = False, check_wheel: bool = True, wheel_dir: Path | str | None = None,
            log=print) -> Path:
    """Write the student repository into dest and commit it; returns dest.

    Inputs:
    - dest: the folder to write (created if missing; see `_prepare` for a non-empty one).
    - root: the instructor's course root (default: see autograder.release.default_root).
    - repo_url: the public repository's URL for this publication (default: the course's setting).
    - force: replace the contents of a non-empty dest that course publish did not write.
    - check_wheel: also build a wheel from dest and scan what it installs.
    - wheel_dir: keep that wheel in this folder (default: it is thrown away).

    Raises PublishError (a leak, a refused dest, a failed build) with what to do.
    """
    root = Path(root).resolve() if root is not None else default_root()
    dest = Path(dest).resolve()
    if dest == root or root in dest.parents:
        raise PublishError(f"{dest} is inside the instructor's repository {root}; publish outside it")
    try:
        settings = read_settings(root, repo_url)
    except ValueError as error:
        raise PublishError(str(error)) from None
    _prepare(dest, force)

    _copy_release(root, dest, settings, log)
    shutil.copytree(root / LIBRARY, dest / LIBRARY, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in COPIED_FILES:
        shutil.copy2(root / name, dest / name)
    (dest / "pyproject.toml").write_text(
        student_pyproject((root / "pyproject.toml").read_text(encoding="utf-8"), settings), encoding="utf-8")
    (dest / "environment.yml").write_text(
        student_environment((root / "environment.yml").read_text(encoding="utf-8")), encoding="utf-8")
    (dest / "README.md").write_text(student_readme(dest, settings), encoding="utf-8")

    secrets = course_secrets(root)
    leaks = scan(dest, secrets, label=dest.name)
    if leaks:
        raise PublishError(_leak_report(leaks, dest))
    log(f"scanned {dest}: none of the {len(secrets)} lines of solutions and hidden tests, no marker")
    if check_wheel:
        with tempfile.TemporaryDirectory(prefix="course-wheel-") as out:
            wheel = build_wheel(dest, Path(wheel_dir or out))
            leaks = scan_wheel(wheel, secrets)
            if leaks:
                raise PublishError(_leak_report(leaks, dest))
            log(f"scanned {wheel.name} built from it: the same")

    _git(dest, "init", "--quiet")
    _git(dest, "symbolic-ref", "HEAD", f"refs/heads/{settings.branch}")
    _git(dest, "add", "--all")
    _git(dest, "commit", "--quiet", "-m", "The course for students: assignments and the course library")
    _git(dest, "remote", "add", "origin", f"{settings.repo_url}.git")
    (dest / ".git" / MARK).write_text(f"written by course publish from {root}\n", encoding="utf-8")
    log(f"published {dest} (one commit on {settings.branch}; push it with "
        f"`git -C {dest} push --force origin {settings.branch}`)")
    return dest
