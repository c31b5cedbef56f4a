"""Lecture demos: each playground alone on a page, served by Voila with the code hidden.

`DEMOS` is the table of demos: a name to type (`course demo relu-sum`), a title, the
course.widgets function it needs and the code that shows it. Adding a demo is one entry.
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


_BACKWARD_STEPPER_CODE = """\
import numpy as np
from course.autograd import Tensor
from course.widgets import backward_stepper

# Module 04's DAG: x1 is used by two later nodes and W1 by two layers, so their gradients add up.
rng = np.random.default_rng(1)
x0 = Tensor(rng.standard_normal(2), requires_grad=True, name="x0")
W1 = Tensor(rng.standard_normal((2, 2)), requires_grad=True, name="W1")
W2 = Tensor(rng.standard_normal((2, 2)), requires_grad=True, name="W2")
x1 = (W1 @ x0).tanh()
x1.name = "x1"
x2 = x0 * (W2 @ x1)
x2.name = "x2"
x3 = W1 @ x2 + x1
x3.name = "x3"
loss = 0.5 * (x3 * x3).sum()
loss.name = "l"
stepper = backward_stepper(loss)
"""

DEMOS = [
    Demo("relu-sum", "Sums of ReLUs approximate any continuous function", "relu_sum_playground",
         "from course.widgets import relu_sum_playground\n\nplayground = relu_sum_playground()\n"),
    Demo("decision-boundary", "Training a small network on 2-d data", "decision_boundary_playground",
         "from course.widgets import decision_boundary_playground\n\n"
         "playground = decision_boundary_playground()\n"),
    Demo("perceptron", "The perceptron's line and its learning rule", "perceptron_playground",
         "from course.widgets import perceptron_playground\n\nplayground = perceptron_playground()\n"),
    Demo("backward-stepper", "The backward pass, one node at a time", "backward_stepper",
         _BACKWARD_STEPPER_CODE),
    Demo("conv-explorer", "Convolution, padding, stride and pooling", "conv_explorer",
         "from course.widgets import conv_explorer\n\nexplorer = conv_explorer()\n"),
    Demo("conv-gradient", "Where a convolution's gradient goes, and max pooling's", "conv_gradient_explorer",
         "from course.widgets import conv_gradient_explorer\n\nexplorer = conv_gradient_explorer()\n"),
]


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
                             "version of the course package does not have yet")
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
