"""The notebooks as Colab runs them: `google.colab` imported, the set-up cell installing the course.

Every solution notebook runs top to bottom in a kernel where `google.colab` is in sys.modules, as
in Colab. Its set-up cell then asks pip for the course from the repository; pip is replaced by a
recorder for that cell (this machine has no access to the repository, and the course is already
installed), and put back before the rest runs. The notebook must run without errors or stderr
(warnings shown), call pip exactly once with the repository's requirement, and show the widgets
of its playgrounds.

`make test-colab` runs this file (with the headless widget tests) in .venv-colab, an environment
with Colab's versions (tests/colab-constraints.txt); there COURSE_COLAB_ENV=1 is set and the
installed versions are checked against that file. In .venv (`make test`) the whole-notebook
runs are skipped (test_notebooks.py runs the notebooks there); the rest runs in both.
"""
import json
import os
import re
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from course.colab import ANY_PIP_REQUIREMENT
from nbgrader_harness import ROOT, cell_problems, execute_notebook, solution_notebooks
from playgrounds import REQUIRED, playground_calls

CONSTRAINTS = ROOT / "tests" / "colab-constraints.txt"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MARKER = "<<pip calls>>"

FAKE_COLAB = """\
import importlib.util, subprocess, sys, types
if importlib.util.find_spec("google") is None:
    sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = types.ModuleType("google.colab")
_pip_calls, _real_run = [], subprocess.run
def _record_pip(command, *args, **kwargs):
    _pip_calls.append([str(part) for part in command])
    return subprocess.CompletedProcess(command, 0)
subprocess.run = _record_pip
"""
RESTORE = "subprocess.run = _real_run\n"
REPORT = f"import json as _json\nprint({MARKER!r} + _json.dumps(_pip_calls))\n"


def colab_pins() -> dict[str, str]:
    """{package: version} from tests/colab-constraints.txt."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def test_playground_calls_are_found_in_order_and_hidden_ones_skipped():
    source = ("if GRADING:\n    pass\nelse:\n    perceptron_playground()\n"
              "    w.decision_boundary_playground(dataset='XOR')\n"
              "relu_sum_playground(show=False)\n%matplotlib inline\n")
    assert playground_calls(source) == ["perceptron_playground", "decision_boundary_playground"]
    assert playground_calls("from course.widgets import backward_stepper\n") == []


def test_constraints_name_colabs_versions_of_what_the_notebooks_use():
    pins = colab_pins()
    assert {"ipywidgets", "ipython", "ipykernel", "matplotlib", "numpy", "graphviz"} <= set(pins)
    assert pins["ipywidgets"].startswith("7."), "Colab's widget front end speaks ipywidgets 7"


def colab_pythons() -> list[str]:
    """The Python versions of Colab's runtimes (the constraints' "Colab runtimes:" line)."""
    line = next(line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("# Colab runtimes:"))
    return re.findall(r"Python (3\.\d+)", line)


@pytest.mark.skipif(not os.environ.get("COURSE_COLAB_ENV"), reason="only in `make test-colab`")
def test_this_environment_has_colabs_versions():
    wrong = {name: metadata.version(name) for name, version in colab_pins().items()
             if metadata.version(name) != version}
    assert not wrong, f"installed instead of Colab's versions: {wrong} (rebuild: rm -rf .venv-colab)"
    python = "%d.%d" % sys.version_info[:2]
    assert python in colab_pythons(), f"Python {python} is not one of Colab's runtimes {colab_pythons()}"


def run_as_in_colab(path: Path, folder: Path):
    """Execute a copy of the notebook with google.colab faked; returns (notebook, pip calls)."""
    nb = nbformat.read(path, as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(RESTORE))
    nb.cells.insert(setup, nbformat.v4.new_code_cell(FAKE_COLAB))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    copy = folder / path.name
    nbformat.write(nb, copy)
    executed, _ = execute_notebook(copy, timeout=300, env={"PYTHONWARNINGS": "default"})
    printed = "".join(o.get("text", "") for o in executed.cells[-1].outputs if o.output_type == "stream")
    assert MARKER in printed, f"the report cell printed {printed!r}"
    return executed, json.loads(printed.split(MARKER, 1)[1])


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("COURSE_COLAB_ENV"),
                    reason="runs in `make test-colab`; in .venv the notebooks run in test_notebooks.py")
@pytest.mark.parametrize("path", solution_notebooks(), ids=lambda p: p.parent.name)
def test_notebook_runs_as_in_colab_and_shows_its_playgrounds(path, tmp_path):
    executed, pip_calls = run_as_in_colab(path, tmp_path)
    problems = cell_problems(executed)
    assert not problems, "\n".join(problems)

    assert len(pip_calls) == 1, f"the set-up cell ran pip {len(pip_calls)} times: {pip_calls}"
    assert pip_calls[0][1:4] == ["-m", "pip", "install"] and ANY_PIP_REQUIREMENT.fullmatch(pip_calls[0][-1])

    shown = []
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        expected = playground_calls(cell.source)
        views = [o for o in cell.outputs if o.output_type == "display_data" and WIDGET_VIEW in o.data]
        assert len(views) == len(expected), (
            f"cell {cell.source[:80]!r} calls {expected} but displays {len(views)} widget(s)")
        shown += expected
    missing = REQUIRED.get(path.parent.name[:2], set()) - set(shown)
    assert not missing, f"{path.parent.name} must show {sorted(missing)}"


def test_the_fake_pip_is_put_back_before_the_notebook_goes_on(tmp_path):
    # A notebook whose later cell calls subprocess.run for real: it must not hit the recorder.
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell('import sys\nif "google.colab" in sys.modules:\n'
                                          '    import subprocess\n'
                                          '    subprocess.run(["pip", "install", "x"], check=True)\n'),
                nbformat.v4.new_code_cell('import subprocess, sys\n'
                                          'r = subprocess.run([sys.executable, "-c", "print(42)"], '
                                          'capture_output=True, text=True)\nprint(r.stdout.strip())\n')]
    path = tmp_path / "source" / "probe.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    executed, pip_calls = run_as_in_colab(path, tmp_path)
    assert pip_calls == [["pip", "install", "x"]]
    assert executed.cells[3].outputs[0]["text"].strip() == "42"


def test_colabs_versions_meet_the_course_requirements_so_the_set_up_cell_changes_nothing():
    # The set-up cell's `pip install course @ git+...` would upgrade a package whose Colab
    # version falls outside the course's bounds, and an upgraded ipywidgets or IPython breaks
    # Colab's widgets. The bounds are read from pyproject.toml, the versions from the constraints.
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")
    requirements = pytest.importorskip("packaging.requirements")
    Requirement = requirements.Requirement

    pins = colab_pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    checked = []
    for text in project["dependencies"]:
        requirement = Requirement(text)
        if requirement.name in pins:
            assert requirement.specifier.contains(pins[requirement.name]), (
                f"Colab has {requirement.name} {pins[requirement.name]}, the course asks for {text}")
            checked.append(requirement.name)
    assert {"numpy", "matplotlib", "ipywidgets", "graphviz"} <= set(checked)


def test_readme_has_a_working_colab_badge_for_every_module():
    from autograder.settings import read_settings
    from course.colab import badge_markdown

    settings = read_settings(ROOT)
    readme = (ROOT / "README.md").read_text()
    released = sorted(ROOT.glob("assignments/*/*.ipynb"))
    assert released
    missing = [p.relative_to(ROOT).as_posix() for p in released
               if badge_markdown(p.relative_to(ROOT).as_posix(), settings.repo_url, settings.branch) not in readme]
    assert not missing, f"README.md has no Open-in-Colab badge for {missing} (the URL is repo-url in pyproject.toml's [tool.course])"
