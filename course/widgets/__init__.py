"""Interactive playgrounds for the notebooks, one call each.

- decision_boundary_playground(): train a small network on 2-d data, TensorFlow-Playground style.
- perceptron_playground(): move a perceptron's line by hand or by the perceptron rule.
- relu_sum_playground(): build a function out of ReLUs, fit it, take the challenge.
- backward_stepper(tensor): step through the backward pass of a small graph, node by node.
- conv_explorer(): one digit through a 3x3 convolution, ReLU and pooling, with stride and padding.
- overfitting_playground(): fit noisy samples with more and more ReLUs; training vs test error.
- saturation_playground(): activation, depth and initialisation scale -> gradient norm per layer.
- conv_gradient_explorer(): where a convolution's gradient goes (an output's window, an input's
  outputs and weights) and where max pooling sends it, ties included.

The list of playgrounds is course.playgrounds.PLAYGROUNDS. This package holds their interfaces
only; what they compute lives in the library (course.data, course.perceptron, course.relu_sums,
course.mlp, course.overfitting, course.saturation,
course.conv_gradients), and the names notebooks imported from here before are re-exported below.
matplotlib and ipywidgets are imported the first time a playground is asked for, never by
`import course` or `import course.widgets`.
"""

import importlib

from course.data import DATASETS, FEATURES, features, make_dataset, train_test_split
from course.perceptron import mistakes, perceptron_step
from course.playgrounds import PLAYGROUNDS
from course.relu_sums import (
    LECTURE_OFFSETS,
    LECTURE_SLOPES,
    LECTURE_WEIGHTS,
    approximation_errors,
    challenge_status,
    fit_gradient_descent,
    fit_output_weights,
    lecture_function,
    relu_pieces,
)

# Imported now, not when first asked for: the module has the function's name, and loading it
# later would set this package's attribute to the module. It needs numpy only until a stepper is built.
from course.widgets.backward_stepper import backward_stepper

_WIDGET_MODULES = {p.function: p.widget_module for p in PLAYGROUNDS}

__all__ = list(_WIDGET_MODULES) + [
    "DATASETS", "FEATURES", "features", "make_dataset", "train_test_split",
    "mistakes", "perceptron_step",
    "LECTURE_OFFSETS", "LECTURE_SLOPES", "LECTURE_WEIGHTS", "approximation_errors", "challenge_status",
    "fit_gradient_descent", "fit_output_weights", "lecture_function", "relu_pieces",
]


def __getattr__(name):
    if name in _WIDGET_MODULES:
        return getattr(importlib.import_module(f"{__name__}.{_WIDGET_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
