"""course.checks: each helper accepts what is right and rejects what is wrong with a message that says why."""
import numpy as np
import pytest

from course.autograd import Tensor
from course.checks import (CallCounter, CheckError, check_gradients, check_shape, check_topological_order,
                           numerical_gradients)


def test_check_shape_accepts_arrays_and_tensors_of_the_shape():
    check_shape(np.zeros((2, 3)), (2, 3))
    check_shape(Tensor(np.zeros((4,))), (4,), name="b")


def test_check_shape_names_the_value_and_both_shapes():
    with pytest.raises(CheckError, match=r"dW has shape \(3, 2\), expected \(2, 3\)"):
        check_shape(np.zeros((3, 2)), (2, 3), name="dW")


def test_numerical_gradients_of_a_function_of_several_inputs():
    x, W = np.array([1.0, -2.0]), np.array([[0.5, 1.0], [2.0, -1.0]])
    gx, gW = numerical_gradients(lambda x, W: np.sum(np.tanh(W @ x)), x, W)
    s = 1 - np.tanh(W @ x) ** 2
    np.testing.assert_allclose(gx, W.T @ s, rtol=1e-8)
    np.testing.assert_allclose(gW, np.outer(s, x), rtol=1e-8)


def test_numerical_gradients_of_numbers_are_numbers():
    (g,) = numerical_gradients(lambda x: x ** 3, 2.0)
    assert g.shape == () and abs(g - 12.0) < 1e-6


def test_check_gradients_accepts_the_right_ones_and_names_a_wrong_one():
    f = lambda x, y: float(np.sum(x * y))   # noqa: E731
    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    check_gradients(f, (x, y), (y, x), names=("x", "y"))
    with pytest.raises(CheckError, match="d f / d y"):
        check_gradients(f, (x, y), (y, 2 * x), names=("x", "y"))


def test_check_gradients_wants_one_gradient_per_input():
    with pytest.raises(ValueError, match="one gradient and one name per input"):
        check_gradients(lambda x: float(np.sum(x)), (np.ones(2),), ())


class Node:
    def __init__(self, *parents, name=""):
        self.parents, self.name = parents, name

    def __repr__(self):
        return self.name


def diamond():
    x = Node(name="x")
    a, b = Node(x, name="a"), Node(x, name="b")
    return x, a, b, Node(a, b, name="out")


def test_a_topological_order_is_accepted():
    x, a, b, out = diamond()
    check_topological_order([x, b, a, out], out)


@pytest.mark.parametrize("order, words", [
    (lambda x, a, b, out: [x, a, a, b, out], "more than once"),
    (lambda x, a, b, out: [x, a, out], "3 nodes, but 4 are reachable"),
    (lambda x, a, b, out: [x, a, out, b], "root must come last"),
    (lambda x, a, b, out: [a, x, b, out], "x comes after a, which uses it"),
    (lambda x, a, b, out: (x, a, b, out), "must be a list"),
])
def test_a_wrong_order_is_rejected_with_the_reason(order, words):
    nodes = diamond()
    with pytest.raises(CheckError, match=words):
        check_topological_order(order(*nodes), nodes[-1])


def test_call_counter_counts_and_stops_past_its_limit():
    counted = CallCounter(lambda v: 2 * v, limit=3, what="visits")
    assert [counted(i) for i in range(3)] == [0, 2, 4] and counted.calls == 3
    with pytest.raises(CheckError, match="more than 3 visits"):
        counted(3)
