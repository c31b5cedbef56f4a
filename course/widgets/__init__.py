"""Interactive playgrounds for the notebooks, one call each.

- decision_boundary_playground(): train a small network on 2-d data, TensorFlow-Playground style.
- perceptron_playground(): move a perceptron's line by hand or by the perceptron rule.
- relu_sum_playground(): build a function out of ReLUs, fit it, take the challenge.
- backward_stepper(tensor): step through the backward pass of a small graph, node by node.
- conv_explorer(): one digit through a 3x3 convolution, ReLU and pooling, with stride and padding.
- conv_gradient_explorer(): where a convolution's gradient goes (an output's window, an input's
  outputs and weights) and where max pooling sends it, ties included.

The computation lives in plain modules (_datasets2d, _perceptron, _relu_sum, _mlp) that need
numpy (and, for training, course.nn/optim) only; the most useful of their functions are
re-exported here for notebooks, except those that would answer a graded exercise (the
perceptron's prediction of module 01, the ReLU sum of module 02): the playgrounds keep those
private. matplotlib and ipywidgets are imported the first time a
playground is asked for, never by `import course` or `import course.widgets`.
"""

import importlib

from ._datasets2d import DATASETS, FEATURES, features, make_dataset, train_test_split
from ._perceptron import mistakes, perceptron_step
from ._relu_sum import (
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

# Imported here, not through the lazy table below: the module has the function's name, and a
# loaded submodule would otherwise shadow it. It needs numpy only until a stepper is built.
from course.widgets.backward_stepper import backward_stepper

_PLAYGROUNDS = {
    "decision_boundary_playground": "._boundary_ui",
    "perceptron_playground": "._perceptron_ui",
    "relu_sum_playground": "._relu_ui",
    "conv_explorer": "._conv_ui",
    "conv_gradient_explorer": "._conv_gradient_ui",
}

__all__ = list(_PLAYGROUNDS) + [
    "DATASETS", "FEATURES", "features", "make_dataset", "train_test_split",
    "mistakes", "perceptron_step",
    "LECTURE_OFFSETS", "LECTURE_SLOPES", "LECTURE_WEIGHTS", "approximation_errors", "challenge_status",
    "fit_gradient_descent", "fit_output_weights", "lecture_function", "relu_pieces",
] + ["backward_stepper"]


def __getattr__(name):
    if name in _PLAYGROUNDS:
        return getattr(importlib.import_module(_PLAYGROUNDS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
