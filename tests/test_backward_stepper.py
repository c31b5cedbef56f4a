"""backward_trace and the backward_stepper widget, headless.

The oracle is the engine itself (`grad()` on the same graph) and finite differences in
float64; the widget is driven by clicking its buttons.
"""
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from course.autograd import Function, Tensor, grad, topological_order
from course.viz.graph import HIGHLIGHT_COLOR, format_array
from course.widgets.backward_stepper import backward_stepper, backward_trace

rng = np.random.default_rng(7)


# ---- graphs ---------------------------------------------------------------------------
def lecture_graph():
    """f = x y + z with the lecture's numbers."""
    x = Tensor(-2.0, requires_grad=True, name="x", dtype=np.float64)
    y = Tensor(5.0, requires_grad=True, name="y", dtype=np.float64)
    z = Tensor(-4.0, requires_grad=True, name="z", dtype=np.float64)
    f = x * y + z
    f.name = "f"
    return f, [x, y, z]


def fan_in_graph():
    """y = x * x + x: x reaches y along three edges."""
    x = Tensor(3.0, requires_grad=True, name="x", dtype=np.float64)
    y = x * x + x
    y.name = "y"
    return y, [x]


def shared_weight_graph():
    """The lecture's DAG: x1 = tanh(W1 x0), x2 = tanh(W2 x0 + x1), x3 = x1 . (W1 x2); W1 used twice."""
    x0 = Tensor(rng.standard_normal(2), requires_grad=True, name="x0")
    W1 = Tensor(rng.standard_normal((2, 2)), requires_grad=True, name="W1")
    W2 = Tensor(rng.standard_normal((2, 2)), requires_grad=True, name="W2")
    x1 = (W1 @ x0).tanh()
    x2 = (W2 @ x0 + x1).tanh()
    x3 = (x1 * (W1 @ x2)).sum()
    x3.name = "x3"
    return x3, [x0, W1, W2]


def constants_and_broadcast_graph():
    """A bias broadcast over a batch, a constant factor and a mean: shapes that differ."""
    X = Tensor(rng.standard_normal((3, 2)), requires_grad=True, name="X")
    b = Tensor(rng.standard_normal(2), requires_grad=True, name="b")
    loss = ((X + b).relu() * 0.5).mean()
    return loss, [X, b]


GRAPHS = [lecture_graph, fan_in_graph, shared_weight_graph, constants_and_broadcast_graph]


def numerical_gradient(root_fn, leaves, leaf, eps=1e-6):
    """d root / d leaf by central differences in float64, rebuilding the graph each time."""
    out = np.zeros(leaf.shape)
    base = leaf.data.copy()
    for i in np.ndindex(leaf.shape):
        values = []
        for sign in (1, -1):
            leaf.data[...] = base
            leaf.data[i] += sign * eps
            values.append(root_fn().item())
        out[i] = (values[0] - values[1]) / (2 * eps)
    leaf.data[...] = base
    return out


def consumers(root):
    """For each tensor of the graph, the tensors computed directly from it."""
    used_by = {}
    for t in topological_order([root]):
        if t.grad_fn is not None:
            for x in t.grad_fn.inputs:
                used_by.setdefault(id(x), []).append(t)
    return used_by


# ---- backward_trace -------------------------------------------------------------------
@pytest.mark.parametrize("make", GRAPHS)
def test_trace_visits_each_node_once_after_all_its_users(make):
    root, _ = make()
    steps = backward_trace(root)
    order = [s.node for s in steps]
    assert [id(t) for t in order] == [id(t) for t in reversed(topological_order([root]))]
    assert len({id(t) for t in order}) == len(order)
    position = {id(t): i for i, t in enumerate(order)}
    for t in order:
        for user in consumers(root).get(id(t), []):
            assert position[id(user)] < position[id(t)]


@pytest.mark.parametrize("make", GRAPHS)
def test_trace_gradients_equal_the_engine_at_every_node(make):
    root, _ = make()
    steps = backward_trace(root)
    nodes = [s.node for s in steps]
    engine = grad(root, nodes, retain_graph=True)
    for step, expected in zip(steps, engine):
        np.testing.assert_allclose(step.upstream, expected.data, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(steps[-1].grad_of(step.node), expected.data, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make", [fan_in_graph, shared_weight_graph, lecture_graph])
def test_leaf_gradients_match_finite_differences(make):
    root, leaves = make()
    final = backward_trace(root)[-1]
    for leaf in leaves:
        numeric = numerical_gradient(lambda: make_root_again(make, leaves), leaves, leaf)
        np.testing.assert_allclose(final.grad_of(leaf), numeric, rtol=1e-5, atol=1e-7)


def make_root_again(make, leaves):
    """Rebuild the graph of `make` on the same leaf tensors (their data may have been nudged)."""
    if make is fan_in_graph:
        (x,) = leaves
        return x * x + x
    if make is lecture_graph:
        x, y, z = leaves
        return x * y + z
    x0, W1, W2 = leaves
    x1 = (W1 @ x0).tanh()
    x2 = (W2 @ x0 + x1).tanh()
    return (x1 * (W1 @ x2)).sum()


def test_fan_in_running_sums_for_y_equals_x_squared_plus_x():
    root, (x,) = fan_in_graph()
    steps = backward_trace(root)
    assert [s.op.name if s.op else "leaf" for s in steps] == ["Add", "Mul", "leaf"]
    add, mul, leaf = steps
    assert add.grad_of(x) == pytest.approx(1.0)                  # from "+ x"
    assert [id(t) for t in mul.inputs] == [id(x), id(x)]
    assert [float(c) for c in mul.contributions] == pytest.approx([3.0, 3.0])   # upstream 1 times the other x
    assert mul.grad_of(x) == pytest.approx(7.0)                  # 1 + 3 + 3 = 2x + 1
    assert leaf.upstream == pytest.approx(7.0)


def test_shared_weight_gets_the_sum_of_its_two_uses():
    root, (x0, W1, W2) = shared_weight_graph()
    steps = backward_trace(root)
    uses = [(s, c) for s in steps for x, c in zip(s.inputs, s.contributions) if x is W1]
    assert len(uses) == 2
    total = uses[0][1] + uses[1][1]
    np.testing.assert_allclose(steps[-1].grad_of(W1), total)
    (expected,) = grad(root, [W1], retain_graph=True)
    np.testing.assert_allclose(total, expected.data, rtol=1e-10)


@pytest.mark.parametrize("make", GRAPHS)
def test_contribution_is_upstream_times_local_jacobian(make):
    root, _ = make()
    for step in backward_trace(root):
        for x, jac, c in zip(step.inputs, step.jacobians, step.contributions):
            if c is None:
                assert not x.requires_grad and jac is None
                continue
            assert jac.shape == (step.node.data.size, x.data.size)
            np.testing.assert_allclose(step.upstream.ravel() @ jac, c.ravel(), rtol=1e-6, atol=1e-9)


NUMPY_FORWARD = {"MatMul": np.matmul, "Tanh": np.tanh, "Mul": np.multiply, "Add": np.add, "Sum": np.sum}


def test_local_jacobians_match_finite_differences_of_the_forward():
    root, _ = shared_weight_graph()
    checked = set()
    for step in backward_trace(root):
        op = step.op
        if op is None:
            continue
        arrays = [x.data.astype(np.float64) for x in step.inputs]
        for k, jac in enumerate(step.jacobians):
            if jac is None:
                continue
            numeric = np.zeros_like(jac)
            for j in range(arrays[k].size):
                shifted = []
                for sign in (1, -1):
                    moved = [a.copy() for a in arrays]
                    moved[k].reshape(-1)[j] += sign * 1e-6
                    shifted.append(np.asarray(NUMPY_FORWARD[op.name](*moved)).ravel())
                numeric[:, j] = (shifted[0] - shifted[1]) / 2e-6
            np.testing.assert_allclose(jac, numeric, rtol=1e-5, atol=1e-8)
            checked.add(op.name)
    assert {"MatMul", "Tanh", "Mul", "Add", "Sum"} <= checked


def test_trace_and_stepper_leave_grads_alone_and_the_graph_usable():
    root, (x, y, z) = lecture_graph()
    x.grad = Tensor(np.array(100.0))
    before = x.grad
    backward_trace(root)
    stepper = backward_stepper(root, show=False)
    for _ in range(len(stepper.steps)):
        stepper.buttons["next"].click()
    assert x.grad is before and float(x.grad.data) == 100.0
    assert y.grad is None and z.grad is None and root.grad is None
    root.backward()                          # the graph was not freed by stepping through it
    assert float(y.grad.data) == -2.0 and float(x.grad.data) == 105.0


def test_non_scalar_root_takes_a_gradient():
    v = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="v")
    out = v * v
    seed = np.array([1.0, -1.0, 0.5])
    steps = backward_trace(out, gradient=seed)
    np.testing.assert_allclose(steps[-1].grad_of(v), 2 * v.data * seed)
    with pytest.raises(ValueError, match=r"shape \(3,\), not one element.*gradient="):
        backward_trace(out)
    with pytest.raises(ValueError, match="gradient has shape"):
        backward_trace(out, gradient=np.ones(2))


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(TypeError, match="expects a Tensor, got ndarray"):
        backward_trace(np.ones(3))
    with pytest.raises(ValueError, match="does not require grad"):
        backward_trace(Tensor(1.0) * 2)
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(150):
        y = y * 1.0
    with pytest.raises(ValueError, match="small graphs"):
        backward_stepper(y, show=False)


class Cube(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a ** 3

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 3 * a ** 2 * g


def test_custom_function_nodes_and_a_freed_graph():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="a")
    out = Cube.apply(a).sum()
    steps = backward_trace(out)
    assert steps[1].op.name == "Cube"
    np.testing.assert_allclose(steps[1].jacobians[0], np.diag(3 * a.data ** 2))
    out.backward()                           # frees the saved arrays
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        backward_trace(out)


# ---- the widget ---------------------------------------------------------------------------
def lit_label(stepper):
    """The label of the one highlighted tensor record in the drawing at the current position."""
    lit = [line for line in stepper.drawing(stepper.position).source.splitlines()
           if HIGHLIGHT_COLOR in line and "shape=record" in line]
    if not lit:
        return None
    assert len(lit) == 1
    return re.search(r'label="([^|"]*)', lit[0]).group(1).strip()


@pytest.mark.parametrize("make", GRAPHS)
def test_each_next_highlights_the_next_node_in_topological_order(make):
    root, _ = make()
    stepper = backward_stepper(root, show=False)
    expected = list(reversed(topological_order([root])))
    assert stepper.position == 0 and stepper.highlighted is None and lit_label(stepper) is None
    seen = []
    for _ in expected:
        previous = stepper.highlighted
        stepper.buttons["next"].click()
        assert stepper.highlighted is not previous
        seen.append(stepper.highlighted)
        assert lit_label(stepper) == stepper.label(stepper.highlighted)
    assert [id(t) for t in seen] == [id(t) for t in expected]
    assert stepper.buttons["next"].disabled
    stepper.buttons["next"].click()          # past the end: stays on the last step
    assert stepper.position == len(expected)


@pytest.mark.parametrize("make", [lecture_graph, fan_in_graph, shared_weight_graph])
def test_gradients_shown_equal_the_engine(make):
    root, leaves = make()
    stepper = backward_stepper(root, show=False)
    engine = dict(zip([id(t) for t in leaves], grad(root, leaves, retain_graph=True)))
    for _ in stepper.steps:
        stepper.buttons["next"].click()
        node = stepper.highlighted
        if id(node) in engine:               # a leaf: its gradient is final and shown
            text = format_array(engine[id(node)].data, stepper.max_elements)
            assert text in stepper.explanation.value.replace("&#x27;", "'")
    final_source = stepper.drawing(stepper.position).source
    for leaf in leaves:
        text = format_array(engine[id(leaf)].data, stepper.max_elements)
        assert text is not None
        first_line = text.split("\n")[0]
        assert f"grad {first_line}" in final_source


def test_fan_in_running_sum_is_shown():
    root, (x,) = fan_in_graph()
    stepper = backward_stepper(root, show=False)
    stepper.next()                            # Add: x receives 1
    assert "grad so far 1" in stepper.drawing(stepper.position).source
    stepper.next()                            # Mul: 1 + 3 = 4, 4 + 3 = 7
    shown = re.sub(r"<[^>]+>", "", stepper.explanation.value)
    assert "1 + 3 = 4" in shown and "4 + 3 = 7" in shown and "fan-in" in shown


def test_back_and_reset():
    root, _ = shared_weight_graph()
    stepper = backward_stepper(root, show=False)
    buttons = stepper.buttons
    assert buttons["back"].disabled
    buttons["back"].click()
    assert stepper.position == 0
    for _ in range(3):
        buttons["next"].click()
    third_html = (stepper.graph.value, stepper.explanation.value)
    buttons["next"].click()
    buttons["back"].click()
    assert stepper.position == 3 and stepper.highlighted is stepper.steps[2].node
    assert (stepper.graph.value, stepper.explanation.value) == third_html
    buttons["reset"].click()
    assert stepper.position == 0 and stepper.highlighted is None
    assert buttons["back"].disabled and not buttons["next"].disabled
    assert "Press <b>Next</b>" in stepper.explanation.value


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graph_widget_shows_svg_and_redraws_once_per_step():
    """How long a redraw takes is measured by benchmarks/bench_budgets.py, not here."""
    root, _ = shared_weight_graph()
    stepper = backward_stepper(root, show=False)
    assert "<svg" in stepper.graph.value
    n, before = len(stepper.steps), stepper.redraws
    for _ in range(3):                        # through the pass and back, three times
        for _ in range(n):
            stepper.next()
        for _ in range(n):
            stepper.back()
    stepper.back()                            # already at the start: nothing to redraw
    assert stepper.redraws - before == 6 * n
    assert "<svg" in stepper.graph.value


def test_without_dot_the_graph_widget_shows_source_and_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    root, _ = lecture_graph()
    stepper = backward_stepper(root, show=False)
    stepper.next()
    assert "<svg" not in stepper.graph.value
    assert "apt-get install graphviz" in stepper.graph.value and "digraph {" in stepper.graph.value


def test_backward_trace_imports_no_widgets_or_graphviz():
    code = ("import sys; from course.widgets.backward_stepper import backward_trace; "
            "print(*(m in sys.modules for m in ('ipywidgets', 'graphviz', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"] and out.stderr == ""


def test_exported_from_course_widgets_as_the_function_not_the_module():
    import course.widgets

    assert course.widgets.backward_stepper is backward_stepper
    # The submodule has the function's name: importing it first must not shadow the function.
    code = ("import course.widgets.backward_stepper, sys; from course.widgets import backward_stepper; "
            "print(callable(backward_stepper), 'ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"] and out.stderr == ""


# ---- the lecture's scalar chain (the `course demo scalar-chain` page) -----------------------
def scalar_chain_demo():
    """The stepper the demo builds (its code run here, outside a notebook: nothing is displayed)."""
    from course.demos import find_demo

    namespace = {}
    exec(find_demo("scalar-chain").code, namespace)
    return namespace["stepper"], namespace


def test_scalar_chain_steps_through_the_lectures_numbers():
    stepper, names = scalar_chain_demo()
    upstream = {}
    for _ in stepper.steps:
        stepper.next()
        upstream[stepper.label(stepper.highlighted)] = stepper.current_step.upstream.item()
    # The slides' order: dL/dy_hat = 8, then 16 at g, 16 at f, 80 at w1 (and 40 at w2).
    named = [name for name in upstream if name in ("y_hat", "g", "f", "w1")]
    assert named == ["y_hat", "g", "f", "w1"]
    assert [upstream[name] for name in named] == [8.0, 16.0, 16.0, 80.0]
    assert upstream["w2"] == 40.0 and upstream["L"] == 1.0
    # ... from the lecture's forward values, and the engine agrees.
    assert [names[n].item() for n in ("x", "w1", "w2", "f", "g", "y_hat")] == [5.0, 1.0, 2.0, 5.0, 5.0, 10.0]
    engine = grad(names["L"], [names["w1"], names["w2"]], retain_graph=True)
    assert (engine[0].item(), engine[1].item()) == (80.0, 40.0)


def test_the_stepper_says_which_jacobian_it_shows():
    stepper, _ = scalar_chain_demo()
    stepper.next()
    shown = re.sub(r"<[^>]+>", "", stepper.explanation.value)
    assert "upstream · J" in shown.replace("&middot;", "·")
    assert "the ordinary Jacobian" in shown and "is JT" in shown
