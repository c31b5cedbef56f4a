"""The course's own settings: the [tool.course] table of the instructor repository's pyproject.toml.

    [tool.course]
    repo-url = "https://github.com/OWNER/REPO"   # the PUBLIC student repository (see `course publish`)
    branch = "main"                              # the branch Colab opens (optional, default main)

`repo-url` is the one place the course's address is written: `course release` writes every
released notebook's "Open in Colab" badge and Colab set-up cell from it, and `course publish`
writes the student repository (badges, set-up cells, README, its own pyproject.toml) from it,
unless `--repo-url` overrides it for one publication.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from course.colab import check_repo_url


@dataclass(frozen=True)
class CourseSettings:
    repo_url: str
    branch: str = "main"


def read_settings(root: Path | str, repo_url: str | None = None) -> CourseSettings:
    """The settings of the course at root; repo_url, when given, overrides the configured one.

    Raises ValueError naming pyproject.toml when the setting is missing or not a GitHub URL.
    """
    pyproject = Path(root) / "pyproject.toml"
    table = {}
    if pyproject.is_file():
        with pyproject.open("rb") as file:
            table = tomllib.load(file).get("tool", {}).get("course", {})
    url = repo_url or table.get("repo-url")
    if not url:
        raise ValueError(
            f"no course URL: set repo-url in the [tool.course] table of {pyproject} "
            "(e.g. repo-url = \"https://github.com/OWNER/REPO\") or pass --repo-url")
    try:
        url = check_repo_url(url)
    except ValueError as error:
        source = "--repo-url" if repo_url else f"repo-url in {pyproject}"
        raise ValueError(f"{source}: {error}") from None
    return CourseSettings(repo_url=url, branch=str(table.get("branch", "main")))
