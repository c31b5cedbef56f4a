"""The course's playgrounds, one line each: the only list of them.

Three places read this table: `course.widgets` (which function lives in which of its modules),
`course.demos` (`course demo NAME` serves a playground alone on a page) and the tests (which
notebook must show which playground, and how the browser test drives it). Adding a playground
is one entry in PLAYGROUNDS below, for example

    Playground("saturation_playground", "_saturation_ui", "03", "drag",
               "saturation", "Saturating activations stop the gradient"),

for a function saturation_playground defined in course/widgets/_saturation_ui.py, shown by module
03's notebook, driven by dragging its first slider, served by `course demo saturation`.

Nothing here imports matplotlib, ipywidgets or the playgrounds: it is plain data.
"""
from __future__ import annotations

from dataclasses import dataclass

_DAG_STEPPER_CODE = """\
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

_SCALAR_CHAIN_STEPPER_CODE = """\
import numpy as np
from course.autograd import Tensor
from course.widgets import backward_stepper

# The lecture's scalar chain: f = w1 x, g = ReLU(f), y_hat = w2 g, L = (y_hat - y)^2 / 2,
# with x = 5, w1 = 1, w2 = 2, y = 2: dL/dy_hat = 8, then dL/dg = 16, dL/df = 16, dL/dw1 = 80.
x = Tensor(np.array(5.0), name="x")
w1 = Tensor(np.array(1.0), requires_grad=True, name="w1")
w2 = Tensor(np.array(2.0), requires_grad=True, name="w2")
f = w1 * x
f.name = "f"
g = f.relu()
g.name = "g"
y_hat = w2 * g
y_hat.name = "y_hat"
L = 0.5 * (y_hat - Tensor(np.array(2.0), name="y")) ** 2
L.name = "L"
stepper = backward_stepper(L)
"""


@dataclass(frozen=True)
class Playground:
    """One playground.

    - function: its name in course.widgets, e.g. "relu_sum_playground".
    - widget_module: the course.widgets module that defines it, e.g. "_relu_ui"; imported the
      first time the function is asked for (so `import course.widgets` stays light).
    - lecture: the number of the module whose notebook shows it, e.g. "02" (the tests check that
      solutions/02_*/ calls it).
    - browser_action: how the browser test drives it: "drag" (its first slider, or without one its
      first enabled button) or the label of a button to press, e.g. "Next".
    - demo: the name the instructor types, `course demo relu-sum`.
    - title: the heading of the demo page.
    - demo_code: the demo notebook's code cell; by default it calls the function with no arguments.
    """
    function: str
    widget_module: str
    lecture: str
    browser_action: str
    demo: str
    title: str
    demo_code: str = ""

    @property
    def code(self) -> str:
        """The code cell of the demo notebook: demo_code, or a call of the function without arguments."""
        return self.demo_code or (f"from course.widgets import {self.function}\n\n"
                                  f"playground = {self.function}()\n")


PLAYGROUNDS = [
    Playground("perceptron_playground", "_perceptron_ui", "01", "drag",
               "perceptron", "The perceptron's line and its learning rule"),
    Playground("decision_boundary_playground", "_boundary_ui", "01", "Step",
               "decision-boundary", "Training a small network on 2-d data"),
    Playground("relu_sum_playground", "_relu_ui", "02", "drag",
               "relu-sum", "Sums of ReLUs approximate any continuous function"),
    Playground("backward_stepper", "backward_stepper", "04", "Next",
               "backward-stepper", "The backward pass, one node at a time", _DAG_STEPPER_CODE),
    Playground("conv_explorer", "_conv_ui", "05", "drag",
               "conv-explorer", "Convolution, padding, stride and pooling"),
    Playground("overfitting_playground", "_overfitting_ui", "02", "drag",
               "overfitting", "More ReLUs, smaller training error, and the test error"),
    Playground("backward_stepper", "backward_stepper", "03", "Next",
               "scalar-chain", "The lecture's scalar chain, backward one node at a time",
               _SCALAR_CHAIN_STEPPER_CODE),
    Playground("saturation_playground", "_saturation_ui", "03", "drag",
               "saturation", "Saturation, depth and initialisation: the gradient per layer"),
    Playground("conv_gradient_explorer", "_conv_gradient_ui", "05", "drag",
               "conv-gradient", "Where a convolution's gradient goes, and max pooling's"),
]

