"""The "Open in Colab" links and the pip requirement of the Colab set-up cell, for a repository URL.

The URL itself is a setting of the instructor's repository (`repo-url` in pyproject.toml's
[tool.course] table, read by `autograder.settings`); `course release` and `course publish` write
the badge and the set-up cell of every released notebook from it with these functions.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
GITHUB = "https://github.com/"


def _repo_path(notebook_path) -> str:
    path = PurePosixPath(str(notebook_path).replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or path.suffix != ".ipynb":
        raise ValueError(
            f"notebook_path must be a relative path to an .ipynb inside the repository, "
            f"such as 'assignments/01_perceptron/01_perceptron.ipynb'; got {str(notebook_path)!r}"
        )
    return str(path)


def check_repo_url(repo_url: str) -> str:
    """The URL without a trailing slash or .git; ValueError unless it is https://github.com/OWNER/REPO."""
    url = str(repo_url).strip().removesuffix("/").removesuffix(".git")
    if not re.fullmatch(r"https://github\.com/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+", url):
        raise ValueError(
            f"the course's repository URL must look like https://github.com/OWNER/REPO "
            f"(Colab opens notebooks from GitHub), got {repo_url!r}")
    return url


def colab_url(notebook_path, repo_url: str, branch: str = "main") -> str:
    """URL that opens a notebook of the repository in Google Colab.

    Inputs:
    - notebook_path: path of the .ipynb relative to the repository root (str or Path),
      e.g. "assignments/01_perceptron/01_perceptron.ipynb".
    - repo_url: https://github.com/OWNER/REPO; branch: the branch Colab reads.

    Returns:
    - str, https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/<notebook_path>
    """
    owner_repo = check_repo_url(repo_url).removeprefix(GITHUB)
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{_repo_path(notebook_path)}"


def badge_markdown(notebook_path, repo_url: str, branch: str = "main") -> str:
    """The markdown of the "Open in Colab" badge for a notebook (see `colab_url`)."""
    return f"[![Open in Colab]({BADGE_IMAGE})]({colab_url(notebook_path, repo_url, branch)})"


def pip_requirement(repo_url: str) -> str:
    """What the set-up cell pip-installs in Colab: the package straight from the repository."""
    return f"course @ git+{check_repo_url(repo_url)}.git"


# Any badge or requirement, whatever repository it names (how release finds the ones to rewrite).
ANY_BADGE = re.compile(r"\[!\[Open in Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)")
ANY_PIP_REQUIREMENT = re.compile(r"course @ git\+https://[^\s\"']+?\.git")
