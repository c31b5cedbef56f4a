"""course.demos and `course demo` without a browser: the table, the notebooks, the Voila command.

The pages themselves are opened and driven in tests/test_browser.py.
"""
import subprocess
import sys

import nbformat
import pytest

from course import demos
from course.cli import build_parser, main
from course.demos import DEMOS, Demo, demo_notebook, find_demo, is_available, voila_command

REQUIRED_DEMOS = {"relu-sum", "overfitting", "decision-boundary", "perceptron", "scalar-chain", "saturation",
                  "backward-stepper", "conv-explorer", "conv-gradient"}


def test_the_table_has_the_lecture_demos_each_once():
    names = [d.name for d in DEMOS]
    assert REQUIRED_DEMOS <= set(names)
    assert len(names) == len(set(names))
    for demo in DEMOS:
        assert demo.needs in demo.code, f"{demo.name}: its code does not call {demo.needs}"


def test_each_available_demo_notebook_runs_and_shows_a_widget(tmp_path):
    from nbclient import NotebookClient

    for demo in DEMOS:
        if not is_available(demo):
            continue
        nb = demo_notebook(demo)
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        outputs = nb.cells[1].outputs
        assert [o.output_type for o in outputs] == ["display_data"], f"{demo.name}: {outputs}"
        assert "application/vnd.jupyter.widget-view+json" in outputs[0].data, demo.name
        assert nb.cells[0].source == f"# {demo.title}"


def test_write_demo_notebooks_writes_the_available_ones_in_table_order(tmp_path):
    paths = demos.write_demo_notebooks(tmp_path)
    assert [p.stem for p in paths] == [d.name for d in DEMOS if is_available(d)]
    for path in paths:
        nbformat.validate(nbformat.read(path, as_version=4))


def test_a_demo_whose_playground_is_missing_is_unavailable_and_refused():
    ghost = Demo("ghost", "A playground nobody wrote", "no_such_playground", "no_such_playground()\n")
    assert not is_available(ghost)
    original = list(DEMOS)
    DEMOS.append(ghost)
    try:
        with pytest.raises(ValueError, match="no_such_playground"):
            demos.serve("ghost", open_browser=False)
    finally:
        DEMOS[:] = original


def test_unknown_names_are_refused_with_the_list_of_names():
    with pytest.raises(ValueError, match="relu-sum"):
        find_demo("relu")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "relu"])


def test_voila_command_hides_code_listens_locally_and_passes_the_options(tmp_path):
    command = voila_command(tmp_path / "relu-sum.ipynb", port=9999, open_browser=False, theme="dark")
    assert command[:3] == [sys.executable, "-m", "voila"]
    assert "--strip_sources=True" in command and "--Voila.ip=127.0.0.1" in command
    assert {"--port=9999", "--no-browser", "--theme=dark"} <= set(command)
    assert "--no-browser" not in voila_command(tmp_path)


def test_course_demo_reports_a_missing_voila(monkeypatch, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "voila" else real_find_spec(name, *a))
    assert main(["demo", "relu-sum", "--no-browser"]) == 1
    assert "Voila is not installed" in capsys.readouterr().err


def test_course_demo_help_lists_the_demos():
    out = subprocess.run([sys.executable, "-m", "course.cli", "demo", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for demo in DEMOS:
        assert demo.name in out
