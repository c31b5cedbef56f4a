"""Helpers for the notebooks' test cells, so that each check is one line with a message that helps.

- `assert_close(actual, expected, name)`: values equal up to rounding (from course.gradcheck).
- `check_shape(value, shape, name)`: exactly this shape.
- `numerical_gradients(f, *inputs)`: d f / d input for every input, by central differences in
  float64; `check_gradients(f, inputs, grads)` compares given gradients with them.
- `check_topological_order(order, root, parents)`: every node reachable from root exactly once,
  each after the nodes it uses, root last.
- `CallCounter`: counts the calls of a function and stops a run that calls it too often, the way a
  test shows "each node once, not once per path" without a clock.

Every failure raises CheckError (an AssertionError) whose message says what was expected, what
was found and, where it can, where to look. numpy alone is needed.
"""
from __future__ import annotations

import numpy as np

from course.gradcheck import CheckError, assert_close, numerical_grad

__all__ = ["CheckError", "assert_close", "check_shape", "numerical_gradients", "check_gradients",
           "check_topological_order", "CallCounter"]


def check_shape(value, shape, name="value"):
    """Assert that value (an array, a Tensor or anything with .shape) has exactly this shape.

    Raises CheckError naming the value, the shape expected and the shape found.
    """
    found = tuple(np.shape(getattr(value, "data", value)))
    if found != tuple(shape):
        raise CheckError(f"{name} has shape {found}, expected {tuple(shape)}")


def numerical_gradients(f, *inputs, eps=1e-6):
    """The gradient of a number f(*inputs) with respect to each input, by central differences.

    Inputs:
    - f: a function of len(inputs) numpy arrays (or numbers) returning one number.
    - inputs: the point, numbers or arrays of any shapes; f sees float64 copies.
    - eps: the step.

    Returns a list with one float64 array per input, of that input's shape.
    """
    points = [np.asarray(x, dtype=np.float64) for x in inputs]

    def along(i):
        return lambda moved: f(*points[:i], moved, *points[i + 1:])

    return [numerical_grad(along(i), point, eps=eps) for i, point in enumerate(points)]


def check_gradients(f, inputs, grads, names=None, rtol=1e-5, atol=1e-7, eps=1e-6):
    """Assert that grads are the gradients of the number f(*inputs), checked by central differences.

    Inputs:
    - f, inputs: as for numerical_gradients.
    - grads: one gradient per input, in the same order (arrays, numbers or Tensors).
    - names: what each input is called in the messages (default x0, x1, ...).
    - rtol, atol: the tolerance of assert_close.
    """
    names = list(names) if names is not None else [f"x{i}" for i in range(len(inputs))]
    if not len(grads) == len(inputs) == len(names):
        raise ValueError(f"give one gradient and one name per input: {len(inputs)} inputs, "
                         f"{len(grads)} gradients, {len(names)} names")
    for grad, want, name in zip(grads, numerical_gradients(f, *inputs, eps=eps), names):
        assert_close(grad, want, name=f"d f / d {name}", rtol=rtol, atol=atol)


def check_topological_order(order, root, parents=lambda node: node.parents):
    """Assert that order lists every node reachable from root once, parents before children, root last.

    Inputs:
    - order: the list to check.
    - root: the graph's output node.
    - parents: a function giving the nodes a node was computed from (default: node.parents).
    """
    reachable, todo = {id(root): root}, [root]
    while todo:
        for parent in parents(todo.pop()):
            if id(parent) not in reachable:
                reachable[id(parent)] = parent
                todo.append(parent)
    if not isinstance(order, list):
        raise CheckError(f"the order must be a list, got {type(order).__name__}")
    if len({id(node) for node in order}) != len(order):
        raise CheckError("a node appears more than once in the order")
    if {id(node) for node in order} != set(reachable):
        raise CheckError(f"the order has {len(order)} nodes, but {len(reachable)} are reachable from the root")
    if not order or order[-1] is not root:
        raise CheckError("the root must come last")
    position = {id(node): i for i, node in enumerate(order)}
    for child in order:
        for parent in parents(child):
            if position[id(parent)] > position[id(child)]:
                raise CheckError(f"{parent} comes after {child}, which uses it")


class CallCounter:
    """A function that counts its calls and refuses more than `limit` of them.

        counted = CallCounter(node_backward, limit=20 * n_nodes, what="node visits")
        ... run the code with `counted` in place of node_backward ...
        counted.calls      # how many times it ran

    A call beyond the limit raises CheckError: code that visits a graph once per path instead of
    once per node is stopped long before it would finish.
    """

    def __init__(self, function, limit, what="calls"):
        self.function, self.limit, self.what = function, limit, what
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls > self.limit:
            raise CheckError(f"more than {self.limit} {self.what}: the code visits the same part of "
                             "the graph again and again (once per path instead of once per node)")
        return self.function(*args, **kwargs)
