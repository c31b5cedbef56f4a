"""Where the course lives on GitHub, and the "Open in Colab" links built from it.

The repository URL is written here and nowhere else in the library. The set-up cell at the top of
every notebook repeats it (that cell runs before the package is installed, so it cannot import
it); `autograder.release` refuses to release a notebook whose badge or set-up cell disagrees with
this module, and the tests check the same.
"""
from __future__ import annotations

from pathlib import PurePosixPath

REPO_URL = "https://github.com/course-authors/how-networks-learn"
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"

# What pip installs in Colab: the package straight from the repository.
PIP_REQUIREMENT = f"course @ git+{REPO_URL}.git"


def _repo_path(notebook_path) -> str:
    path = PurePosixPath(str(notebook_path).replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or path.suffix != ".ipynb":
        raise ValueError(
            f"notebook_path must be a relative path to an .ipynb inside the repository, "
            f"such as 'assignments/01_perceptron/01_perceptron.ipynb'; got {str(notebook_path)!r}"
        )
    return str(path)


def colab_url(notebook_path) -> str:
    """URL that opens a notebook of the repository in Google Colab.

    Inputs:
    - notebook_path: path of the .ipynb relative to the repository root (str or Path),
      e.g. "assignments/01_perceptron/01_perceptron.ipynb".

    Returns:
    - str, https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/<notebook_path>
    """
    owner_repo = REPO_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/{_repo_path(notebook_path)}"


def badge_markdown(notebook_path) -> str:
    """The markdown line of the "Open in Colab" badge for a notebook (see `colab_url`)."""
    return f"[![Open in Colab]({BADGE_IMAGE})]({colab_url(notebook_path)})"
