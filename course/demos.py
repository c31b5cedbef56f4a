"""Lecture demos: each playground alone on a page, served by Voila with the code hidden.

`DEMOS` is the table of demos, one per playground of course.playgrounds.PLAYGROUNDS (adding a
playground there adds its demo): a name to type (`course demo relu-sum`), a title, the
course.widgets function it needs and the code that shows it.
`write_demo_notebooks(folder)` turns the table into small notebooks; `serve(name)` writes them
to a temporary folder and runs Voila on one of them (or on the folder, for a list of all).

Voila is imported only by `serve`; it comes with the `demo` extra (`pip install -e ".[demo]"`).
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from course.playgrounds import PLAYGROUNDS


@dataclass(frozen=True)
class Demo:
    """One lecture demo.

    - name: what the instructor types, e.g. "relu-sum"; also the notebook's file name.
    - title: the heading shown above the playground.
    - needs: the course.widgets function the code calls (checked before serving).
    - code: the notebook's one code cell; it displays the playground.
    """
    name: str
    title: str
    needs: str
    code: str


DEMOS = [Demo(p.demo, p.title, p.function, p.code) for p in PLAYGROUNDS]


def demo_names() -> list[str]:
    return [demo.name for demo in DEMOS]


def find_demo(name: str) -> Demo:
    """The demo called `name`; a ValueError listing the names otherwise."""
    for demo in DEMOS:
        if demo.name == name:
            return demo
    raise ValueError(f"no demo called {name!r}; choose one of: {', '.join(demo_names())}")


def is_available(demo: Demo) -> bool:
    """True when this installation of course.widgets has the function the demo needs."""
    import course.widgets

    try:
        getattr(course.widgets, demo.needs)
    except (AttributeError, ImportError):
        return False
    return True


def demo_notebook(demo: Demo):
    """The demo as an nbformat notebook: a markdown title and the code cell."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {demo.title}"),
                nbformat.v4.new_code_cell(demo.code)]
    return nb


def write_demo_notebooks(folder, demos=None) -> list[Path]:
    """Write `<name>.ipynb` into `folder` for each demo (default: every available one).

    Returns the paths written, in the table's order.
    """
    import nbformat

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    demos = [d for d in DEMOS if is_available(d)] if demos is None else list(demos)
    paths = []
    for demo in demos:
        path = folder / f"{demo.name}.ipynb"
        nbformat.write(demo_notebook(demo), path)
        paths.append(path)
    return paths


def voila_command(target, port=None, open_browser=True, theme=None) -> list[str]:
    """The Voila command line that serves `target` (a demo notebook, or a folder of them).

    Code cells are hidden (Voila's default, made explicit); the server listens on 127.0.0.1.
    """
    command = [sys.executable, "-m", "voila", str(target), "--strip_sources=True",
               "--Voila.ip=127.0.0.1"]
    if port is not None:
        command.append(f"--port={int(port)}")
    if not open_browser:
        command.append("--no-browser")
    if theme is not None:
        command.append(f"--theme={theme}")
    return command


def serve(name=None, port=None, open_browser=True, theme=None) -> int:
    """Serve one demo (or, with name None, a page listing all of them) until interrupted.

    Inputs:
    - name: a demo name from DEMOS, or None for all available demos.
    - port: the port to listen on (Voila's default, 8866, when None).
    - open_browser: open the page in the default browser.
    - theme: "light" or "dark" (Voila's default when None).

    Returns Voila's exit status. Raises ValueError for an unknown or unavailable demo, and
    RuntimeError when Voila is not installed.
    """
    import importlib.util

    if name is not None:
        demo = find_demo(name)
        if not is_available(demo):
            raise ValueError(f"demo {name!r} needs course.widgets.{demo.needs}, which this "
                             "installation of the course package cannot import")
    if importlib.util.find_spec("voila") is None:
        raise RuntimeError('Voila is not installed: pip install -e ".[demo]" (or "voila>=0.5")')
    folder = Path(tempfile.mkdtemp(prefix="course-demos-"))
    paths = write_demo_notebooks(folder, None if name is None else [demo])
    target = folder if name is None else paths[0]
    voila = subprocess.Popen(voila_command(target, port, open_browser, theme), cwd=folder)

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return voila.wait()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM: Voila shuts its kernels down on SIGTERM
        voila.terminate()
        try:
            voila.wait(15)
        except subprocess.TimeoutExpired:
            voila.kill()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(folder, ignore_errors=True)
