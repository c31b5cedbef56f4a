"""The delegation detector: graded answers that hand the asked-for computation to the library."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder import delegation
from autograder.model import load_source
from autograder.recover import Step

ROOT = Path(__file__).resolve().parents[1]

SETUP_05 = """
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from course import nn, optim
from course.autograd import Function, Tensor, enable_grad, manual_seed, no_grad
import course.nn.functional as F
from course.gradcheck import assert_close, check_backward
"""
SETUP_04 = """
import numpy as np
from course.autograd import Function, Tensor, grad, no_grad
import course.nn.functional as F
from course.gradcheck import assert_close, check_backward, gradcheck
"""


def plan(setup, *cells):
    """Steps of a grading plan: the notebook's set-up cell, then (grade_id, student code) pairs."""
    return [Step("setup", "imports", setup, "setup")] + [Step("student", cell_id, code, cell_id)
                                                         for cell_id, code in cells]


def flagged(notebook, setup, *cells):
    return delegation.flags(notebook, plan(setup, *cells))


def test_conv2d_forward_by_F_conv2d_is_flagged_naming_the_cell_and_the_call():
    code = """
def conv2d_forward(x, w, b, stride=1, padding=0):
    out = F.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding).data
    cache = (x, w, b, stride, padding)
    return out, cache
"""
    flags = flagged("05_cnn", SETUP_05, ("conv_forward", code))
    assert any("delegated to the library: conv_forward" in f and "uses F.conv2d (course.nn.functional.conv2d)" in f
               for f in flags), flags


@pytest.mark.parametrize("imports, call", [
    ("from course.nn import functional as G", "G.conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding)"),
    ("import course.nn.functional", "course.nn.functional.conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding)"),
    ("from course.nn.functional import conv2d as correlate", "correlate(Tensor(x), Tensor(w), Tensor(b), stride, padding)"),
    ("import importlib\nG = importlib.import_module('course.nn.functional')", "G.conv2d(Tensor(x), Tensor(w), Tensor(b))"),
    ("convolve = F.conv2d", "convolve(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding)"),
    ("", "getattr(F, 'conv2d')(Tensor(x), Tensor(w), Tensor(b))"),
])
def test_aliases_of_the_library_are_resolved(imports, call):
    code = f"""{imports}

def conv2d_forward_loops(x, w, b, stride=1, padding=0):
    return {call}.data
"""
    flags = flagged("05_cnn", SETUP_05, ("conv_loops", code))
    assert any("course.nn.functional.conv2d" in f for f in flags), flags
    assert all(f.startswith("delegated to the library: conv_loops (the convolution): uses ") for f in flags), flags


def test_an_autograd_backward_for_a_hand_derived_gradient_is_flagged():
    code = """
def dag_backward(d3, cache):
    x0, W1, W2, x1, u, x2 = cache
    t = [Tensor(a.copy(), requires_grad=True) for a in (x0, W1, W2)]
    x3 = t[1] @ (t[0] * (t[2] @ (t[1] @ t[0]).tanh())) + (t[1] @ t[0]).tanh()
    x3.backward(Tensor(d3))
    return t[0].grad.data, t[1].grad.data, t[2].grad.data
"""
    flags = flagged("04_autograd", SETUP_04, ("dag_backward", code))
    assert any("uses Tensor (course.autograd.Tensor)" in f for f in flags), flags
    assert any("calls x3.backward()" in f for f in flags), flags
    assert all(f.startswith("delegated to the library: dag_backward") for f in flags)


def test_full_convolution_may_correlate_with_F_conv2d_but_not_take_a_backward_pass():
    by_correlation = """
def conv_input_grad_full(dout, w):
    KH, KW = w.shape[2:]
    padded = np.pad(dout, ((0, 0), (0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1)))
    return F.conv2d(Tensor(padded), Tensor(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))).data
"""
    by_autograd = """
def conv_input_grad_full(dout, w):
    x = Tensor(np.zeros((dout.shape[0], w.shape[1], dout.shape[2] + w.shape[2] - 1, dout.shape[3] + w.shape[3] - 1)),
               requires_grad=True)
    F.conv2d(x, Tensor(w)).backward(Tensor(dout))
    return x.grad.data
"""
    by_exercise_4 = """
def conv_input_grad_full(dout, w):
    x = np.zeros((dout.shape[0], w.shape[1], dout.shape[2] + w.shape[2] - 1, dout.shape[3] + w.shape[3] - 1))
    return conv2d_backward_input(dout, (x, w, np.zeros(len(w)), 1, 0))
"""
    assert flagged("05_cnn", SETUP_05, ("conv_input_full", by_correlation)) == []
    flags = flagged("05_cnn", SETUP_05, ("conv_input_full", by_autograd))
    assert flags and all(f.startswith("delegated to the library: conv_input_full") for f in flags), flags
    assert any(".backward()" in f for f in flags), flags
    flags = flagged("05_cnn", SETUP_05, ("conv_input_full", by_exercise_4))
    assert any("conv2d_backward_input" in f for f in flags), flags


def test_gradcheck_differences_for_numerical_jacobian_are_flagged():
    code = """
from course.gradcheck import numerical_jacobian as nj

def numerical_jacobian(f, x, eps=1e-6):
    return nj(f, np.array(x, dtype=np.float64), eps)
"""
    flags = flagged("04_autograd", SETUP_04, ("numerical_jacobian", code))
    assert flags == ["delegated to the library: numerical_jacobian (central differences): "
                     "uses nj (course.gradcheck.numerical_jacobian)"]


def test_nn_layers_and_notebook_wrappers_of_the_library_are_flagged():
    table = """
def parameter_table(layers, input_shape):
    x = Tensor(np.zeros((1,) + tuple(input_shape), dtype=np.float32))
    rows = []
    for layer in layers:
        module = nn.Conv2d(x.shape[1], layer[1], layer[2], stride=layer[3], padding=layer[4])
        x = module(x)
        rows.append((x.shape[1:], module.num_parameters()))
    return rows
"""
    pool = """
def max_pool_forward(x, size=2, stride=2):
    out, _ = reference_max_pool_forward(x, size, stride)
    return out, (x, size, stride)
"""
    flags = flagged("05_cnn", SETUP_05, ("parameter_table", table), ("pool_forward", pool))
    assert any("parameter_table" in f and "nn.Conv2d" in f for f in flags), flags
    assert any("pool_forward" in f and "reference_max_pool_forward" in f for f in flags), flags


def test_own_functions_numpy_and_the_function_base_class_are_not_flagged():
    conv_function = """
class Conv2dFunction(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        out, cache = conv2d_forward(x, w, b, stride, padding)
        ctx.save_for_backward(x, w, b)
        ctx.stride, ctx.padding = stride, padding
        return out

    @staticmethod
    def backward(ctx, dout):
        x, w, b = ctx.saved_tensors
        cache = (x, w, b, ctx.stride, ctx.padding)
        return (conv2d_backward_input(dout, cache), conv2d_backward_weight(dout, cache),
                conv2d_backward_bias(dout, cache), None, None)
"""
    pool = """
def max_pool_forward(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(4, 5)), (x, size, stride)
"""
    assert flagged("05_cnn", SETUP_05, ("conv_function", conv_function), ("pool_forward", pool)) == []


def test_checking_an_answer_with_the_tests_checkers_is_not_flagged():
    code = """
def linear_forward(x, W, b):
    return x @ W.T + b, (x, W)


def linear_backward(dout, cache):
    x, W = cache
    return dout @ W, dout.T @ x, dout.sum(axis=0)


check_backward(linear_forward, linear_backward, np.ones((2, 3)), np.ones((4, 3)), np.zeros(4))
"""
    setup = "import numpy as np\nfrom course.gradcheck import assert_close, check_backward, numerical_grad\n"
    assert flagged("03_backprop", setup, ("linear", code)) == []
    computed = code.replace("return dout @ W, dout.T @ x, dout.sum(axis=0)",
                            "return numerical_grad(lambda x: (x @ W.T).sum(), x), None, None")
    assert flagged("03_backprop", setup, ("linear", computed))


def test_a_parameter_that_shadows_an_imported_name_is_not_the_library():
    # 04 imports `grad` from course.autograd; a Function's backward names its argument `grad`.
    code = """
class Multiply(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y, grad * x
"""
    assert flagged("04_autograd", SETUP_04, ("multiply", code)) == []


def test_a_custom_function_built_on_library_ops_is_flagged():
    code = """
class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return F.maximum(Tensor(a), Tensor(b)).data

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * (a >= b), grad * (a < b)
"""
    flags = flagged("04_autograd", SETUP_04, ("maximum", code))
    assert any("uses F.maximum" in f for f in flags) and any("uses Tensor" in f for f in flags), flags


def test_library_use_the_exercise_does_not_ask_about_is_not_flagged():
    setup_01 = "import numpy as np\nfrom course import nn, optim\nfrom course.autograd import Tensor\nimport course.nn.functional as F\n"
    predict = """
def predict(X, w, b):
    scores = Tensor(X) @ Tensor(w) + b
    return (scores.data > 0).astype(float)
"""
    mlp = """
def make_xor_mlp(hidden=8):
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 2))

def train_xor_mlp(model, X, y, steps=300, lr=0.05):
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(X.astype(np.float32))), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
"""
    assert flagged("01_perceptron", setup_01, ("predict", predict), ("xor_mlp", mlp)) == []
    # 04's second derivative is asked of course.autograd itself.
    second = """
def second_derivative(f, x):
    x_t = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    (df,) = grad(f(x_t), x_t, create_graph=True)
    return float(grad(df, x_t)[0].item()) if df.requires_grad else 0.0
"""
    assert flagged("04_autograd", SETUP_04, ("second_derivative", second)) == []


def test_the_playgrounds_helpers_answer_module_01s_prediction():
    code = "from course.perceptron import classify as _p\n\ndef predict(X, w, b):\n    return _p(X, w, b).astype(float)\n"
    flags = flagged("01_perceptron", "import numpy as np\n", ("predict", code))
    assert flags and "course.perceptron.classify" in flags[0]


def test_unparsable_cells_and_unknown_notebooks_give_no_flags():
    assert flagged("05_cnn", SETUP_05, ("conv_forward", "def conv2d_forward(x:\n")) == []
    assert flagged("99_other", SETUP_05, ("conv_forward", "F.conv2d(x, w)")) == []


def test_the_table_names_real_solution_cells_of_the_modules():
    for notebook, rules in delegation.TABLE.items():
        source = load_source(ROOT / "solutions" / notebook / f"{notebook}.ipynb")
        solution_ids = {c.cell_id for c in source.solutions}
        assert set(rules) <= solution_ids, (notebook, set(rules) - solution_ids)


def test_the_instructors_own_solutions_are_not_flagged():
    from autograder.recover import plan_for_file

    for notebook in delegation.TABLE:
        path = ROOT / "solutions" / notebook / f"{notebook}.ipynb"
        steps = plan_for_file(path, load_source(path)).steps
        assert delegation.flags(notebook, steps) == [], notebook
