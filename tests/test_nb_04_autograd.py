"""Module 04 (DAG Jacobians and autograd): what the notebook computes, and the nbgrader round trip
with known-wrong implementations of every graded exercise."""
import numpy as np
import pytest

from nbgrader_harness import Variant, check_round_trip
from notebook_probe import probe, runs_clean_test

TOPOLOGICAL_ORDER_SOLUTION = """    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for parent in node.parents:
            if parent not in visited:
                stack.append((parent, False))
"""
TOPOLOGICAL_ORDER_NO_VISITED_SET = """    order = []

    def visit(node):
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(root)
"""
BACKWARD_LOOP = """    for node in reversed(order):
        for parent, local_grad in zip(node.parents, node.local_grads):
            parent.grad += local_grad * node.grad
"""
BACKWARD_RECURSIVE_REVISITS = """    def visit(node):
        for parent, local_grad in zip(node.parents, node.local_grads):
            parent.grad += local_grad * node.grad
            visit(parent)

    visit(root)
"""

WRONG = [
    Variant("dag_W1_overwritten_at_second_use", "dag_backward", "dW1 += np.outer(da, x0)",
            "dW1 = np.outer(da, x0)", fails=("test_dag_backward",)),
    Variant("dag_x1_overwritten_at_fan_in", "dag_backward", "d1 += W2.T @ du", "d1 = W2.T @ du",
            fails=("test_dag_backward",)),
    Variant("dag_x0_one_path_only", "dag_backward", "dx0 += W1.T @ da", "dx0 = W1.T @ da",
            fails=("test_dag_backward",)),
    Variant("jacobian_transposed", "numerical_jacobian", "J = np.stack(columns, axis=1)",
            "J = np.stack(columns, axis=0)", fails=("test_numerical_jacobian",)),
    Variant("topological_order_without_visited_set", "topological_order", TOPOLOGICAL_ORDER_SOLUTION,
            TOPOLOGICAL_ORDER_NO_VISITED_SET, fails=("test_topological_order",)),
    Variant("backward_overwrites_at_fan_in", "backward", "parent.grad += local_grad * node.grad",
            "parent.grad = local_grad * node.grad", fails=("test_backward",)),
    Variant("backward_recursion_visits_shared_node_twice", "backward", BACKWARD_LOOP,
            BACKWARD_RECURSIVE_REVISITS, fails=("test_backward",)),
    Variant("multiply_does_not_swap", "multiply", "return grad * y, grad * x", "return grad * x, grad * y",
            fails=("test_multiply",)),
    Variant("exp_saves_input", "exp", "ctx.save_for_backward(out)", "ctx.save_for_backward(x)",
            fails=("test_exp",)),
    Variant("matmul_transposed", "matmul", "return grad @ b.T, a.T @ grad", "return grad @ b.T, grad.T @ a",
            fails=("test_matmul",)),
    Variant("matmul_sign_error", "matmul", "return grad @ b.T, a.T @ grad", "return -grad @ b.T, a.T @ grad",
            fails=("test_matmul",)),
    Variant("maximum_ties_to_second", "maximum", "take_a = a >= b", "take_a = a > b", fails=("test_maximum",)),
    Variant("second_derivative_without_create_graph", "second_derivative",
            "(df,) = grad(f(x_t), x_t, create_graph=True)", "(df,) = grad(f(x_t), x_t)",
            fails=("test_second_derivative",)),
]

PROBE = {
    "x0": "x0", "W1": "W1", "W2": "W2",
    "direct_path": "direct_path", "path_via_x2": "path_via_x2", "x1_grad": "x1_t.grad.data",
    "W1_in_phi1": "W1_in_phi1", "W1_in_phi3": "W1_in_phi3", "W1_grad": "W1_t.grad.data",
    "J_reverse": "J_reverse", "W_jac": "W_jac", "x_jac": "x_jac",
    "seconds_paths": "seconds_paths", "seconds_topological": "seconds_topological",
    "f_second": "d2y_dx2.item()",
    "hvp": "hessian_vector_product(f_quartic, x_h, v_h)", "x_h": "x_h", "v_h": "v_h",
    "static_losses": "static_losses", "eager_losses": "eager_losses",
}


probe("04_autograd", PROBE)


test_solution_notebook_runs_clean = runs_clean_test("04_autograd")


@pytest.fixture
def values(solution_run):
    return solution_run("04_autograd").checked_values()


def _loss(x0, W1, W2, x1=None):
    """l = ||x3||^2 / 2 of the lecture's DAG; x1 may be given to cut phi1 off."""
    x1 = np.tanh(W1 @ x0) if x1 is None else x1
    x3 = W1 @ (x0 * (W2 @ x1)) + x1
    return 0.5 * x3 @ x3


def _numeric_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        g[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return g


@pytest.mark.slow
def test_dag_gradients_sum_over_paths_and_uses(values):
    x0, W1, W2 = (np.array(values[k]) for k in ("x0", "W1", "W2"))
    x1 = np.tanh(W1 @ x0)
    # dl/dx1 with x1 as a free variable: both paths, x1 -> x3 and x1 -> x2 -> x3.
    dl_dx1 = _numeric_gradient(lambda v: _loss(x0, W1, W2, x1=v), x1)
    assert np.array(values["direct_path"]) + np.array(values["path_via_x2"]) == pytest.approx(dl_dx1, rel=1e-6)
    assert values["x1_grad"] == pytest.approx(dl_dx1.tolist(), rel=1e-6)
    # Each path alone is not the gradient: the sum matters.
    assert not np.allclose(values["direct_path"], dl_dx1)
    # dl/dW1 with the weight shared by phi1 and phi3.
    dl_dW1 = _numeric_gradient(lambda M: _loss(x0, M, W2), W1)
    assert np.array(values["W1_in_phi1"]) + np.array(values["W1_in_phi3"]) == pytest.approx(dl_dW1, rel=1e-6)
    assert np.array(values["W1_grad"]) == pytest.approx(dl_dW1, rel=1e-6)


@pytest.mark.slow
def test_reverse_mode_jacobian(values):
    W, x = np.array(values["W_jac"]), np.array(values["x_jac"])
    expected = (1 - np.tanh(W @ x) ** 2)[:, None] * W
    assert np.array(values["J_reverse"]) == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_second_derivative_and_hessian_vector_product(values):
    assert values["f_second"] == 12.0               # (x^3)'' = 6x at x = 2
    x, v = np.array(values["x_h"]), np.array(values["v_h"])

    def gradient(p):     # the gradient of sum(p^4) + p0 p1 p2, written out
        return 4 * p ** 3 + np.array([p[1] * p[2], p[0] * p[2], p[0] * p[1]])

    hessian = np.stack([_numeric_gradient(lambda p: gradient(p)[i], x) for i in range(3)])
    assert values["hvp"] == pytest.approx((hessian @ v).tolist(), rel=1e-6)


@pytest.mark.slow
def test_static_graph_and_eager_train_alike(values):
    static, eager = np.array(values["static_losses"]), np.array(values["eager_losses"])
    assert static.shape == eager.shape == (400,)
    assert static == pytest.approx(eager, rel=1e-9)
    assert static[-20:].mean() < 0.2 * static[:20].mean(), "the static graph's training should lower the loss"


@pytest.mark.slow
def test_round_trip_scores_each_exercise_separately(tmp_path):
    timings = check_round_trip(tmp_path, "04_autograd", WRONG)
    print(f"04_autograd round trip: {timings}")
