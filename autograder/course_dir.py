"""Where a course keeps its notebooks, submissions, results and gradebook.

The layout is nbgrader's (`CourseDirectory`), read from the course root's nbgrader_config.py:

    <root>/solutions/<assignment>/<notebook>.ipynb          source (instructor), hidden tests included
    <root>/assignments/<assignment>/<notebook>.ipynb        release (students)
    <root>/submitted/<student>/<assignment>/<notebook>.ipynb  collected submissions
    <root>/autograded/<student>/<assignment>/<notebook>.result.json   our grading results
    <root>/feedback/<student>/<assignment>/<notebook>.html  feedback for the student
    <root>/gradebook.db                                     nbgrader's gradebook
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Course:
    """Paths of one course. Build it with `Course.at(root)`."""

    root: Path
    source_dir: str = "solutions"
    release_dir: str = "assignments"
    submitted_dir: str = "submitted"
    autograded_dir: str = "autograded"
    feedback_dir: str = "feedback"
    db_url: str = ""

    @classmethod
    def at(cls, root: str | Path | None = None) -> "Course":
        """Read <root>/nbgrader_config.py (if any) for the directory names. Default root: cwd."""
        root = Path(root or Path.cwd()).resolve()
        names = {}
        config_file = root / "nbgrader_config.py"
        if config_file.is_file():
            from traitlets.config.loader import PyFileConfigLoader

            config = PyFileConfigLoader(config_file.name, path=str(root)).load_config()
            course_dir = config.get("CourseDirectory", {})
            for trait, field in [("source_directory", "source_dir"), ("release_directory", "release_dir"),
                                 ("submitted_directory", "submitted_dir"),
                                 ("autograded_directory", "autograded_dir"),
                                 ("feedback_directory", "feedback_dir"), ("db_url", "db_url")]:
                if trait in course_dir:
                    names[field] = str(course_dir[trait])
        names.setdefault("db_url", f"sqlite:///{root / 'gradebook.db'}")
        return cls(root=root, **names)

    @property
    def gradebook_path(self) -> Path | None:
        """The gradebook file when the gradebook is SQLite, else None."""
        prefix = "sqlite:///"
        return Path(self.db_url[len(prefix):].split("?")[0]) if self.db_url.startswith(prefix) else None

    def source_notebooks(self, assignment: str) -> list[Path]:
        folder = self.root / self.source_dir / assignment
        if not folder.is_dir():
            raise FileNotFoundError(
                f"no assignment {assignment!r}: {folder} does not exist. Assignments are the folders "
                f"of {self.root / self.source_dir}.")
        return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))

    def submission(self, student: str, assignment: str, notebook: str) -> Path:
        return self.root / self.submitted_dir / student / assignment / f"{notebook}.ipynb"

    def students_with_submissions(self, assignment: str) -> list[str]:
        base = self.root / self.submitted_dir
        if not base.is_dir():
            return []
        return sorted(d.name for d in base.iterdir() if (d / assignment).is_dir())

    def result_path(self, student: str, assignment: str, notebook: str) -> Path:
        return self.root / self.autograded_dir / student / assignment / f"{notebook}.result.json"

    def feedback_path(self, student: str, assignment: str, notebook: str, suffix: str = ".html") -> Path:
        return self.root / self.feedback_dir / student / assignment / f"{notebook}{suffix}"

    def hidden_paths(self) -> list[Path]:
        """What a student's kernel must never see: solutions, gradebook, other students, history."""
        paths = [self.root / self.source_dir, self.root / self.submitted_dir,
                 self.root / self.autograded_dir, self.root / self.feedback_dir, self.root / ".git"]
        if self.gradebook_path is not None:
            paths.append(self.gradebook_path)
        return paths
