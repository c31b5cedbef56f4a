"""Collecting LMS downloads: no student lost, none invented, one bad entry never stops the rest."""
from __future__ import annotations

import os
import zipfile

import nbformat
import pytest

from autograder import fixture_course
from autograder.collect import collect
from autograder.course_dir import Course


@pytest.fixture
def course(tmp_path):
    return Course.at(fixture_course.make_course(tmp_path / "course"))


def _nb_bytes(replacements=None):
    return nbformat.writes(fixture_course.notebook_with(fixture_course.correct_code() if replacements is None else replacements)).encode()


def _entry(name, day=1, hour=10):
    return zipfile.ZipInfo(name, date_time=(2026, 1, day, hour, 0, 0))


def _stored(course, student):
    return course.submission(student, "ps1", "ps1").read_text()


def test_canvas_zip_keeps_newest_and_lists_the_rest(course, tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(_entry("smithjane_1234_5678_ps1.ipynb"), _nb_bytes({}))
        z.writestr(_entry("smithjane_late_1234_5999_ps1-1.ipynb", day=2), _nb_bytes())
        z.writestr(_entry("doejohn_2222_7777_homework.ipynb", hour=9), _nb_bytes())
        z.writestr(_entry("müllerjosé_3131_9001_ps1.ipynb"), _nb_bytes())
        z.writestr("readme.txt", "not a notebook")
        z.writestr("my notebook (1).ipynb", _nb_bytes())
        z.writestr("__MACOSX/._smithjane_1234_5678_ps1.ipynb", "junk")
    report = collect(course, "ps1", archive)
    assert sorted(report.collected) == ["doejohn_2222", "mullerjose_3131", "smithjane_1234"]
    assert report.collected["smithjane_1234"] == "smithjane_late_1234_5999_ps1-1.ipynb"
    assert report.superseded == [("smithjane_1234", "smithjane_1234_5678_ps1.ipynb")]
    unmatched = dict(report.unmatched)
    assert "readme.txt" in unmatched and "my notebook (1).ipynb" in unmatched
    assert "NOT collected (2)" in report.text()
    stored = _stored(course, "smithjane_1234")
    assert "np.maximum(x, 0.0)" in stored and "NotImplementedError" not in stored   # the newer one


def test_two_students_with_one_name_stay_two_students(course, tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(_entry("leewei_1001_5001_ps1.ipynb", day=3), _nb_bytes({}))       # an older stub ...
        z.writestr(_entry("leewei_2002_5002_ps1.ipynb", day=1), _nb_bytes())         # ... of another Lee Wei
    report = collect(course, "ps1", archive)
    assert sorted(report.collected) == ["leewei_1001", "leewei_2002"] and not report.superseded
    assert "NotImplementedError" in _stored(course, "leewei_1001")
    assert "NotImplementedError" not in _stored(course, "leewei_2002")


def test_folders_and_plain_files(course, tmp_path):
    source = tmp_path / "downloads"
    (source / "alice" / "work").mkdir(parents=True)
    (source / "alice" / "work" / "anything.ipynb").write_bytes(_nb_bytes())
    (source / "bob.ipynb").write_bytes(_nb_bytes({}))
    (source / "Zoë O'Neil_4711_assignsubmission_file_").mkdir()
    (source / "Zoë O'Neil_4711_assignsubmission_file_" / "ps1.ipynb").write_bytes(_nb_bytes())
    report = collect(course, "ps1", source)
    assert sorted(report.collected) == ["alice", "bob", "zoeoneil_4711"] and not report.unmatched
    assert (course.root / "submitted" / "alice" / "ps1" / "timestamp.txt").exists()


def test_an_entry_with_an_invalid_date_is_listed_and_the_rest_collected(course, tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(zipfile.ZipInfo("carol_3003_6003_ps1.ipynb", date_time=(2026, 0, 0, 0, 0, 0)), _nb_bytes())
        z.writestr(_entry("dave_4004_6004_ps1.ipynb"), _nb_bytes())
    report = collect(course, "ps1", archive)
    assert list(report.collected) == ["dave_4004"]
    (name, why), = report.unmatched
    assert name == "carol_3003_6003_ps1.ipynb" and "invalid date" in why


def test_a_damaged_entry_is_listed_and_the_older_copy_collected(course, tmp_path):
    archive = tmp_path / "submissions.zip"
    newest = _nb_bytes() + b" " * 8 + b"DAMAGE-ME"
    with zipfile.ZipFile(archive, "w") as z:       # stored uncompressed: the bytes are in the file as is
        z.writestr(_entry("erin_5005_7001_ps1.ipynb"), _nb_bytes({}))
        z.writestr(_entry("erin_5005_7002_ps1.ipynb", day=2), newest)
        z.writestr(_entry("frank_6006_7003_ps1.ipynb"), _nb_bytes())
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"DAMAGE-ME", b"DAMAGED!!"))
    report = collect(course, "ps1", archive)
    assert sorted(report.collected) == ["erin_5005", "frank_6006"]
    assert report.collected["erin_5005"] == "erin_5005_7001_ps1.ipynb"
    (name, why), = report.unmatched
    assert name == "erin_5005_7002_ps1.ipynb" and why.startswith("cannot be read (BadZipFile")


def test_naive_and_aware_timestamps_compare(course, tmp_path):
    """Stored stamps written by nbgrader (`... UTC`), naive ones (UTC) and aware ones all compare."""
    source = tmp_path / "downloads"
    source.mkdir()
    stamps = {"gina": "2030-01-01 10:00:00", "hank": "2030-01-01 10:00:00.000000 UTC",
              "ivan": "2000-01-01T10:00:00+02:00", "jill": "2000-01-01 10:00:00"}
    for student, stamp in stamps.items():
        fixture_course.write_notebook(course.root, student, fixture_course.notebook_with({}))
        (course.root / "submitted" / student / "ps1" / "timestamp.txt").write_text(stamp)
        (source / f"{student}.ipynb").write_bytes(_nb_bytes())
    report = collect(course, "ps1", source)
    assert sorted(report.kept_existing) == ["gina", "hank"]          # stored copies newer than the files
    assert sorted(report.collected) == ["ivan", "jill"]
    assert "NotImplementedError" in _stored(course, "gina")
    assert "NotImplementedError" not in _stored(course, "ivan")


def test_symbolic_links_are_refused_with_a_message(course, tmp_path):
    source = tmp_path / "downloads"
    (source / "kim").mkdir(parents=True)
    (source / "kim" / "ps1.ipynb").write_bytes(_nb_bytes({}))
    solution = course.root / "solutions" / "ps1" / "ps1.ipynb"
    os.symlink(solution, source / "mallory.ipynb")                 # the instructor's solution, by link
    os.symlink(solution.parent, source / "oscar")                  # a folder that is a link
    report = collect(course, "ps1", source)
    assert list(report.collected) == ["kim"]
    refused = dict(report.unmatched)
    assert set(refused) == {"mallory.ipynb", "oscar"}
    assert all(why.startswith("a symbolic link: refused") for why in refused.values())
    assert not course.submission("mallory", "ps1", "ps1").exists()


def test_symbolic_links_in_a_zip_are_refused(course, tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        link = _entry("mallory_7007_8001_ps1.ipynb")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "../../solutions/ps1/ps1.ipynb")
        z.writestr(_entry("nina_8008_8002_ps1.ipynb"), _nb_bytes())
    report = collect(course, "ps1", archive)
    assert list(report.collected) == ["nina_8008"]
    assert dict(report.unmatched)["mallory_7007_8001_ps1.ipynb"].startswith("a symbolic link: refused")
