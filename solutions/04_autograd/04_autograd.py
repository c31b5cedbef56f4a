# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/course-authors/how-networks-learn/blob/main/assignments/04_autograd/04_autograd.ipynb)
#
# # Module 04: Jacobians on DAGs, and autograd
#
# Module 03 ran backprop down a chain of layers. Real networks are directed acyclic graphs
# (DAGs): a value feeds several operations, a weight is used in several places. In this notebook
# you
#
# 1. differentiate a small DAG by hand with Jacobians, summing over paths and over the places a
#    shared weight is used;
# 2. compute vector-Jacobian products (VJPs) and whole Jacobians, by reverse mode and numerically;
# 3. build a tiny autograd engine: topological order, accumulation, backward;
# 4. write custom differentiable `Function`s for `course.autograd`;
# 5. tour autograd as PyTorch has it (`requires_grad`, accumulation, `no_grad`, `detach`,
#    `retain_graph`, `create_graph`) and take a second derivative;
# 6. compare a define-then-run (static graph) framework with eager execution;
# 7. see where the gradients of `max` and `where` go;
# 8. trade memory for compute with gradient checkpointing.
#
# | exercise | points |
# |---|---|
# | 1. `dag_backward` | 3 |
# | 2. `numerical_jacobian` | 2 |
# | 3. `topological_order` | 2 |
# | 4. `backward` | 2 |
# | 5. `Multiply` | 1 |
# | 6. `Exp` | 1 |
# | 7. `MatMul` | 2 |
# | 8. `Maximum` | 1 |
# | 9. `second_derivative` | 2 |
#
# Write your code where it says `YOUR CODE HERE`, then run the test cell below it. Tests you can
# see are only part of the grading: hidden tests check other inputs as well.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Set-up: in Google Colab this installs the course package from its repository; elsewhere it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "course @ git+https://github.com/course-authors/how-networks-learn.git"], check=True)

# %% nbgrader={"grade": false, "grade_id": "imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import os
import time

import numpy as np
import matplotlib.pyplot as plt
from IPython.display import display

from course.autograd import Function, Tensor, grad, no_grad
from course.checks import check_gradients, check_topological_order
import course.nn.functional as F
from course.gradcheck import assert_close, check_backward, gradcheck
from course.viz import draw_graph
from course.widgets import backward_stepper

# nbgrader sets NBGRADER_EXECUTION while it validates or grades: the widgets are skipped then.
GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-dag", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 1. From a chain to a DAG
#
# The lecture's example: three functions, where $x_0$ feeds two of them, $x_1$ feeds two of them,
# and the weight $w_1$ is used twice:
#
# $$x_1 = \phi_1(x_0; w_1), \qquad x_2 = \phi_2(x_0, x_1; w_2), \qquad x_3 = \phi_3(x_1, x_2; w_1),
#   \qquad l = l(x_3).$$
#
# **Notation.** For $a = \phi(b)$ write $\left[\frac{\partial a}{\partial b}\right]$ for the matrix
# with entries $\partial a_j / \partial b_i$: the transpose $J^\top$ of the Jacobian $J$ (rows of $J$ =
# outputs). Then the chain rule reads from the loss downwards, and every gradient has the shape of
# its variable: $\frac{\partial l}{\partial b} = \left[\frac{\partial a}{\partial b}\right]\frac{\partial l}{\partial a}$.
#
# **Several paths add up.** $x_1$ influences $l$ directly through $\phi_3$ and indirectly through
# $\phi_2$; the total derivative is the sum over the paths:
#
# $$\frac{\partial l}{\partial x_2} = \left[\frac{\partial x_3}{\partial x_2}\right]\frac{\partial l}{\partial x_3}, \qquad
#   \frac{\partial l}{\partial x_1} = \left[\frac{\partial x_3}{\partial x_1}\right]\frac{\partial l}{\partial x_3}
#   + \left[\frac{\partial x_2}{\partial x_1}\right]\frac{\partial l}{\partial x_2}, \qquad
#   \frac{\partial l}{\partial x_0} = \left[\frac{\partial x_1}{\partial x_0}\right]\frac{\partial l}{\partial x_1}
#   + \left[\frac{\partial x_2}{\partial x_0}\right]\frac{\partial l}{\partial x_2}.$$
#
# **A shared weight adds up too.** Think of the two uses of $w_1$ as two different variables that
# happen to hold the same value; the gradient of $w_1$ is the sum of theirs:
#
# $$\frac{\partial l}{\partial w_1} = \left[\frac{\partial x_1}{\partial w_1}\right]\frac{\partial l}{\partial x_1}
#   + \left[\frac{\partial x_3}{\partial w_1}\right]\frac{\partial l}{\partial x_3}, \qquad
#   \frac{\partial l}{\partial w_2} = \left[\frac{\partial x_2}{\partial w_2}\right]\frac{\partial l}{\partial x_2}.$$
#
# Our instance, with vectors $x_i \in \mathbb{R}^n$ and matrices $W_1, W_2 \in \mathbb{R}^{n \times n}$:
#
# $$x_1 = \tanh(W_1 x_0), \qquad x_2 = x_0 \odot (W_2 x_1), \qquad x_3 = W_1 x_2 + x_1 .$$

# %% nbgrader={"grade": false, "grade_id": "dag-forward", "locked": true, "schema_version": 3, "solution": false, "task": false}
def dag_forward(x0, W1, W2):
    """The lecture's DAG: x1 = tanh(W1 x0), x2 = x0 * (W2 x1), x3 = W1 x2 + x1.

    Inputs:
    - x0: array of shape (n,).
    - W1, W2: arrays of shape (n, n); W1 is used twice.

    Returns a tuple (x3, cache): x3 of shape (n,), cache = (x0, W1, W2, x1, u, x2) with u = W2 x1.
    """
    x1 = np.tanh(W1 @ x0)
    u = W2 @ x1
    x2 = x0 * u
    x3 = W1 @ x2 + x1
    return x3, (x0, W1, W2, x1, u, x2)


# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex1", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1 (3 points): the VJPs of the DAG by hand
#
# Given $d_3 = \partial l / \partial x_3$, go backwards through the three functions. The pieces you
# need are the two rules of module 03: $\left[\frac{\partial (Wg)}{\partial g}\right] = W^\top$ (and, for the
# weight, $\frac{\partial l}{\partial W} = \frac{\partial l}{\partial a}\, g^\top$ with `np.outer`), and
# $\left[\frac{\partial (f \odot g)}{\partial f}\right] = \mathrm{diag}(g)$; also $\tanh' = 1 - \tanh^2$.
# Where a variable is used twice, **add** the contributions: never overwrite one with the other.
#
# *What you may use:* NumPy. Not `course.autograd`: the hidden test compares your gradients with
# it, and answers that let it compute them are flagged for the instructor's review.

# %% nbgrader={"grade": false, "grade_id": "dag_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dag_backward(d3, cache):
    """Backward pass of dag_forward.

    Inputs:
    - d3: array of shape (n,), dl/dx3.
    - cache: from dag_forward.

    Returns a tuple (dx0, dW1, dW2) of the shapes of x0 (n,), W1 (n, n), W2 (n, n).
    """
    x0, W1, W2, x1, u, x2 = cache
    ### BEGIN SOLUTION
    # phi3: x3 = W1 x2 + x1
    d2 = W1.T @ d3
    d1 = d3.copy()                       # the direct path x1 -> x3
    dW1 = np.outer(d3, x2)               # W1's use in phi3
    # phi2: x2 = x0 * u, u = W2 x1
    du = d2 * x0
    dx0 = d2 * u
    d1 += W2.T @ du                      # the path x1 -> x2 -> x3
    dW2 = np.outer(du, x1)
    # phi1: x1 = tanh(a), a = W1 x0
    da = d1 * (1.0 - x1 ** 2)
    dx0 += W1.T @ da
    dW1 += np.outer(da, x0)              # W1's use in phi1
    ### END SOLUTION
    return dx0, dW1, dW2


# %% nbgrader={"grade": true, "grade_id": "test_dag_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(0)
_n = 3
check_backward(dag_forward, dag_backward, _rng.standard_normal(_n),
               _rng.standard_normal((_n, _n)), _rng.standard_normal((_n, _n)))
### BEGIN HIDDEN TESTS
# hint: other sizes n, including n = 1
for _n, _seed in [(1, 1), (2, 2), (5, 3)]:
    _rng = np.random.default_rng(_seed)
    check_backward(dag_forward, dag_backward, _rng.standard_normal(_n),
                   _rng.standard_normal((_n, _n)) / np.sqrt(_n), _rng.standard_normal((_n, _n)), seed=_seed)
# hint: all three gradients compared with course.autograd's on the same DAG
# The same DAG in course.autograd gives the same gradients.
_rng = np.random.default_rng(4)
_x0, _W1, _W2, _d3 = _rng.standard_normal(4), _rng.standard_normal((4, 4)), _rng.standard_normal((4, 4)), _rng.standard_normal(4)
_t = [Tensor(a.copy(), requires_grad=True) for a in (_x0, _W1, _W2)]
_x1 = (_t[1] @ _t[0]).tanh()
_x3 = _t[1] @ (_t[0] * (_t[2] @ _x1)) + _x1
_x3.backward(Tensor(_d3))
for _got, _tensor, _name in zip(dag_backward(_d3, dag_forward(_x0, _W1, _W2)[1]), _t, ["dx0", "dW1", "dW2"]):
    assert_close(_got, _tensor.grad.data, name=_name)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-paths", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The two paths into $x_1$ and the two uses of $W_1$, one by one, with the loss
# $l = \tfrac12 \lVert x_3 \rVert^2$ (so $d_3 = x_3$). `course.autograd` adds them up the same way:

# %% nbgrader={"grade": false, "grade_id": "paths", "locked": true, "schema_version": 3, "solution": false, "task": false}
rng = np.random.default_rng(1)
x0, W1, W2 = rng.standard_normal(2), rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
x3, (_, _, _, x1, u, x2) = dag_forward(x0, W1, W2)
d3 = x3                                           # l = ||x3||^2 / 2
d2 = W1.T @ d3
direct_path = d3                                  # [dx3/dx1] d3: phi3 adds x1
path_via_x2 = W2.T @ (d2 * x0)                    # [dx2/dx1] d2
da = (direct_path + path_via_x2) * (1 - x1 ** 2)
W1_in_phi3, W1_in_phi1 = np.outer(d3, x2), np.outer(da, x0)

x0_t = Tensor(x0, requires_grad=True, name="x0")
W1_t = Tensor(W1, requires_grad=True, name="W1")
W2_t = Tensor(W2, requires_grad=True, name="W2")
x1_t = (W1_t @ x0_t).tanh()
x1_t.name = "x1"
x1_t.retain_grad()
x2_t = x0_t * (W2_t @ x1_t)
x2_t.name = "x2"
x3_t = W1_t @ x2_t + x1_t
x3_t.name = "x3"
loss = 0.5 * (x3_t * x3_t).sum()
loss.name = "l"
loss.backward(retain_graph=True)

print("dl/dx1 along x1 -> x3:      ", direct_path)
print("dl/dx1 along x1 -> x2 -> x3:", path_via_x2)
print("their sum:                  ", direct_path + path_via_x2, "  autograd:", x1_t.grad.data)
print("dl/dW1 = use in phi1 + use in phi3 =\n", W1_in_phi1 + W1_in_phi3, "\nautograd:\n", W1_t.grad.data)
assert np.allclose(direct_path + path_via_x2, x1_t.grad.data)
assert np.allclose(W1_in_phi1 + W1_in_phi3, W1_t.grad.data)
draw_graph(loss)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-stepper", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Step through the same backward pass node by node: the highlighted node's upstream gradient is
# complete before it is processed, its local Jacobian turns it into contributions for its inputs,
# and at $x_0$, $x_1$ and $W_1$ you can watch contributions from two places being added up.

# %% nbgrader={"grade": false, "grade_id": "stepper", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("The backward stepper is skipped while grading.")
else:
    stepper = backward_stepper(loss)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-vjp", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 2. Vector-Jacobian products and whole Jacobians
#
# The backward pass never forms a Jacobian. Each operation only maps an upstream gradient $v$ to
# $J^\top v$ (a **vector-Jacobian product**, VJP, written $v^\top J$ as a row), and that is
# cheaper: for $a = Wg$ the VJP $W^\top v$ costs a matrix-vector product, for an elementwise
# operation it is an elementwise product instead of an $n \times n$ diagonal matrix.
#
# One backward pass gives one VJP. For a scalar loss that is all we need: with $v = 1$ the VJP *is*
# the gradient, whatever the number of inputs; this is why training uses reverse mode. For the
# whole Jacobian of $f: \mathbb{R}^N \to \mathbb{R}^M$, reverse mode needs $M$ passes, one per
# output with $v = e_i$, each giving row $i$ of $J$. Finite differences need $N$ (or $2N$) evaluations,
# one per input, each giving a column.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2 (2 points): a numerical Jacobian
#
# Column $j$ of the Jacobian is the derivative of $f$ along the input's $j$-th coordinate:
# $J[:, j] \approx \big(f(x + \varepsilon e_j) - f(x - \varepsilon e_j)\big) / (2\varepsilon)$.
# Work on a float64 copy of `x` (the caller's array must not change).
#
# *What you may use:* NumPy. Not `course.gradcheck`, which has finite differences of its own
# (answers that call them are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "numerical_jacobian", "locked": false, "schema_version": 3, "solution": true, "task": false}
def numerical_jacobian(f, x, eps=1e-6):
    """Jacobian of f at x by central differences.

    Inputs:
    - f: function from an array of shape (N,) to an array of shape (M,).
    - x: array of shape (N,); not modified.
    - eps: the step.

    Returns J: float64 array of shape (M, N), J[i, j] = d f(x)[i] / d x[j].
    """
    ### BEGIN SOLUTION
    x = np.array(x, dtype=np.float64)
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = eps
        columns.append((np.asarray(f(x + step), dtype=np.float64)
                        - np.asarray(f(x - step), dtype=np.float64)) / (2 * eps))
    J = np.stack(columns, axis=1)
    ### END SOLUTION
    return J


# %% nbgrader={"grade": true, "grade_id": "test_numerical_jacobian", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_W = np.arange(6.0).reshape(2, 3)
assert_close(numerical_jacobian(lambda v: _W @ v, np.ones(3)), _W, name="Jacobian of W x (W is 2x3)")
_g = np.array([1.0, -2.0, 0.5])
assert_close(numerical_jacobian(lambda f: f * _g, np.zeros(3)), np.diag(_g), name="Jacobian of f * g")
_x = np.array([1.0, 2.0])
numerical_jacobian(lambda v: v ** 2, _x)
assert_close(_x, np.array([1.0, 2.0]), name="x after numerical_jacobian (it must not change)")
### BEGIN HIDDEN TESTS
# hint: a nonlinear f with more inputs than outputs, and x left unchanged
_rng = np.random.default_rng(5)
_W = _rng.standard_normal((4, 6))
_x = _rng.standard_normal(6)
_x_before = _x.copy()
_J = numerical_jacobian(lambda v: np.tanh(_W @ v), _x)
assert np.array_equal(_x, _x_before), "numerical_jacobian changed its input x"
assert_close(_J, (1 - np.tanh(_W @ _x) ** 2)[:, None] * _W, name="Jacobian of tanh(W x)", rtol=1e-6, atol=1e-9)
# hint: more outputs than inputs, and a single output
_J = numerical_jacobian(lambda v: np.array([v[0] * v[1], v[1] ** 3, np.exp(v[0])]), np.array([2.0, -1.0]))
assert_close(_J, np.array([[-1.0, 2.0], [0.0, 3.0], [np.exp(2.0), 0.0]]), name="Jacobian of (x0 x1, x1^3, exp x0)", rtol=1e-6)
assert_close(numerical_jacobian(lambda v: np.array([v.sum()]), np.ones(5)), np.ones((1, 5)), name="Jacobian of sum")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-reverse-jacobian", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The same Jacobian by reverse mode, one VJP per output: `grad(y, x, grad_outputs=e_i)` returns
# $e_i^\top J$, row $i$. The graph is kept (`retain_graph=True`) so that we can go back through it $M$ times.

# %% nbgrader={"grade": false, "grade_id": "reverse-jacobian", "locked": true, "schema_version": 3, "solution": false, "task": false}
def jacobian_by_vjps(f, x):
    """Jacobian of f: R^N -> R^M at x, by M backward passes of course.autograd. Returns (M, N)."""
    x_t = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    y = f(x_t)
    rows = []
    for i in range(y.shape[0]):
        e_i = np.zeros(y.shape)
        e_i[i] = 1.0
        (row,) = grad(y, x_t, grad_outputs=Tensor(e_i), retain_graph=True)
        rows.append(row.data)
    return np.stack(rows)


rng = np.random.default_rng(2)
W_jac = rng.standard_normal((4, 6))
x_jac = rng.standard_normal(6)
J_reverse = jacobian_by_vjps(lambda v: (Tensor(W_jac) @ v).tanh(), x_jac)
J_numeric = numerical_jacobian(lambda v: np.tanh(W_jac @ v), x_jac)
print(f"largest difference between reverse mode and finite differences: {np.abs(J_reverse - J_numeric).max():.1e}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
for ax, J, title in [(axes[0], J_reverse, "reverse mode: 4 VJPs (rows)"),
                     (axes[1], J_numeric, "finite differences: 6 columns")]:
    ax.imshow(J, cmap="coolwarm", vmin=-2, vmax=2)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("input j")
    ax.set_ylabel("output i")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-forward-mode", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Forward mode vs reverse mode.** For $f = f_k \circ \dots \circ f_1: \mathbb{R}^N \to \mathbb{R}^M$
# the chain rule $J = J_k \cdots J_1$ can be multiplied from either end. *Forward mode* carries a
# tangent $\dot x$ along with the values, $\dot x_{i} = J_i \dot x_{i-1}$, and returns the
# Jacobian-vector product $J \dot x$: one column of $J$ per pass, so $N$ passes for the whole
# Jacobian, no storage beyond the current step. *Reverse mode* first runs forward storing the
# intermediate values, then carries a cotangent back, $\bar x_{i-1} = J_i^\top \bar x_i$: one row of
# $J$ per pass, $M$ passes. Each pass costs a small constant times one evaluation of $f$. For
# training, $M = 1$ (the loss) and $N$ is the number of parameters (millions): reverse mode gets
# the whole gradient for the price of a few forward passes, forward mode would need $N$ of them.
# Reverse mode pays in memory instead: everything the backward pass needs is kept from the
# forward pass (section 8 trades some of that memory back for compute).

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-engine", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 3. Building the engine
#
# An autograd engine records, for every value computed, which values it was computed from and the
# local derivatives. Here is the smallest such recording for scalars: a `Node` holds its value, its
# parents and $\partial\,\text{node} / \partial\,\text{parent}$ for each parent, computed right away in the
# forward pass.

# %% nbgrader={"grade": false, "grade_id": "node", "locked": true, "schema_version": 3, "solution": false, "task": false}
class Node:
    """A scalar in a computational graph.

    - value: float, computed in the forward pass.
    - grad: float, dl/d(this node), filled in by backward.
    - parents: tuple of the Nodes it was computed from (a node used twice appears twice).
    - local_grads: tuple of floats, d(this node)/d(parent), one per parent.
    """

    def __init__(self, value, parents=(), local_grads=(), op="", name=""):
        self.value = float(value)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.local_grads = tuple(local_grads)
        self.op = op
        self.name = name

    def __add__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        return Node(self.value + other.value, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        return Node(self.value * other.value, (self, other), (other.value, self.value), "*")

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def tanh(self):
        t = np.tanh(self.value)
        return Node(t, (self,), (1.0 - t * t,), "tanh")

    def exp(self):
        e = np.exp(self.value)
        return Node(e, (self,), (e,), "exp")

    def __repr__(self):
        label = self.name or self.op or "leaf"
        return f"Node({label}: value={self.value:.4g}, grad={self.grad:.4g})"


# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3 (2 points): topological order
#
# The backward pass may process a node only when its gradient is complete, that is, after every
# node that used it. So we need the nodes in **topological order**: every node after all of its
# parents (inputs first, root last). Reversed, that is the order of the backward pass.
#
# A depth-first search does it: visit a node's parents first, then append the node. Two things
# to get right:
# - a node reachable along several paths must appear **once** (keep a set of visited nodes;
#   nodes are hashable by identity, so `set()` of nodes works);
# - deep graphs: a chain of 10,000 nodes is deeper than Python's recursion limit, so use an
#   explicit stack instead of recursion.
#
# *What you may use:* plain Python (lists, sets, `node.parents`). Not `course.autograd`.

# %% nbgrader={"grade": false, "grade_id": "topological_order", "locked": false, "schema_version": 3, "solution": true, "task": false}
def topological_order(root):
    """All nodes the root depends on (and the root), each after all of its parents.

    Inputs:
    - root: a Node.

    Returns order: list of Nodes, each exactly once, every node after its parents, root last.
    """
    ### BEGIN SOLUTION
    order, visited = [], set()
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
    ### END SOLUTION
    return order


# %% nbgrader={"grade": true, "grade_id": "test_topological_order", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# check_topological_order(order, root) (course.checks): a list of every node reachable from root,
# each once, every node after its parents, root last.
_x, _y = Node(2.0, name="x"), Node(-3.0, name="y")
_a = _x * _y
_b = _a + _x                 # x is used twice, a is used twice
_c = _a * _b
check_topological_order(topological_order(_c), _c)
# Deeper than Python's recursion limit: a chain of nodes.
_deep = Node(1.0)
for _ in range(sys.getrecursionlimit() + 2000):
    _deep = _deep + 1.0
check_topological_order(topological_order(_deep), _deep)
### BEGIN HIDDEN TESTS
# hint: a single leaf, and a graph with a node used several times
check_topological_order(topological_order(_x), _x)          # a single leaf
_z = (_x * _x).tanh() + (_x * _y).exp() * _y - _x
check_topological_order(topological_order(_z), _z)
# hint: a graph with 2^30 paths from the root to the leaf (each node must be visited once)
# Many paths: each level uses the previous one twice (2^30 paths to the leaf).
_d = Node(0.5)
for _ in range(30):
    _d = _d * _d + _d
check_topological_order(topological_order(_d), _d)
# hint: a chain deeper than Python's recursion limit, built from a node used twice at each step
_deep = Node(1.0)
for _ in range(sys.getrecursionlimit() + 2000):
    _deep = _deep * 1.0 + _deep
check_topological_order(topological_order(_deep), _deep)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 4 (2 points): `backward`
#
# Set every node's `grad` to 0, the root's to 1, then go through the nodes in **reverse**
# topological order; each node passes `local_grad * node.grad` to each of its parents, which
# **add it** to what they have (`+=`): a parent used twice, or reached along two paths, collects
# both contributions. Each node is processed once, so the cost is proportional to the size of the
# graph. (`order` is an argument so that you can test `backward` with an order you trust.)
#
# *What you may use:* plain Python (`node.parents`, `node.local_grads`, `node.grad`). Not
# `course.autograd`.

# %% nbgrader={"grade": false, "grade_id": "backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def backward(root, order=None):
    """Fill in node.grad = d root / d node for every node of root's graph.

    Inputs:
    - root: a Node.
    - order: the graph's nodes in topological order (root last); by default topological_order(root).

    Returns nothing; sets the .grad of every node in the graph (root.grad = 1).
    """
    if order is None:
        order = topological_order(root)
    ### BEGIN SOLUTION
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        for parent, local_grad in zip(node.parents, node.local_grads):
            parent.grad += local_grad * node.grad
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# c = a * b with a = x * y and b = a + x: x and a are both used twice.
_x, _y = Node(2.0, name="x"), Node(-3.0, name="y")
_a = _x * _y
_b = _a + _x
_c = _a * _b
backward(_c, order=[_x, _y, _a, _b, _c])
# c = (xy)^2 + x^2 y: dc/dx = 2 x y^2 + 2 x y, dc/dy = 2 x^2 y + x^2
assert_close(_c.grad, 1.0, name="c.grad (the root)")
assert_close(_x.grad, 2 * 2.0 * 9.0 + 2 * 2.0 * -3.0, name="dc/dx")
assert_close(_y.grad, 2 * 4.0 * -3.0 + 4.0, name="dc/dy")
# A second backward starts again from zero: the same gradients, not twice them.
backward(_c, order=[_x, _y, _a, _b, _c])
assert_close(_x.grad, 2 * 2.0 * 9.0 + 2 * 2.0 * -3.0, name="dc/dx after a second backward")
### BEGIN HIDDEN TESTS
def _build(x, y, z):
    """A graph of tanh, exp, sums and products in which a is used by three nodes.

    Returns the root and the graph's nodes in the order they were computed: each after the nodes
    it uses, so a topological order that does not depend on your topological_order.
    """
    a = x * y
    s = a + z
    b = s.tanh()
    ba, e = b * a, x.exp()
    eb, aa = e * b, a * a
    t = ba + eb
    c = t + aa
    cz = c * z
    root = cz + b
    return root, [x, y, z, a, s, b, ba, e, eb, aa, t, c, cz, root]


def _root_value(x, y, z):
    return _build(Node(x), Node(y), Node(z))[0].value


# hint: a larger graph (tanh, exp, a node used by three others), checked against finite differences
_leaves = [Node(0.3), Node(-1.2), Node(0.7)]
_root, _order = _build(*_leaves)
backward(_root, order=_order)
check_gradients(_root_value, [0.3, -1.2, 0.7], [leaf.grad for leaf in _leaves], names="xyz", rtol=1e-6)
# hint: a second backward on the same graph
backward(_root, order=_order)
check_gradients(_root_value, [0.3, -1.2, 0.7], [leaf.grad for leaf in _leaves], names="xyz", rtol=1e-6)


# hint: each node processed once (a graph with 2^40 paths)
# Each node processed once: on 40 levels that each use the level below twice (2^40 paths),
# a backward that follows every path would never finish; it is stopped after 20 visits per node.
class _CountingNode(Node):
    visits, limit = 0, 0

    @property
    def parents(self):
        _CountingNode.visits += 1
        if _CountingNode.visits > _CountingNode.limit:
            raise RuntimeError("backward visits nodes again and again: it follows every path "
                               "through the graph instead of processing each node once")
        return self._parents

    @parents.setter
    def parents(self, value):
        self._parents = value


_levels = [_CountingNode(1.0)]
for _ in range(40):
    _levels.append(_CountingNode(2 * _levels[-1].value, (_levels[-1], _levels[-1]), (1.0, 1.0), "+"))
_CountingNode.visits, _CountingNode.limit = 0, 20 * len(_levels)
backward(_levels[-1], order=list(_levels))
assert_close(_levels[0].grad, 2.0 ** 40, name="d top / d bottom of the doubling chain")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-why-not-recursion", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Why not plain recursion?** A recursive backward, "give each parent its share of my gradient,
# then recurse into the parent", has two ways to fail on a DAG:
#
# - if it passes its *whole* current gradient every time it is reached, a node reached along two
#   paths forwards gradients twice: the result is **wrong**;
# - if it passes only the *new* contribution each time, it is right, but it follows every
#   **path** instead of every node: on the doubling chain below ($k$ levels, each using the one below
#   twice) that is $2^k$ visits instead of $k$.

# %% nbgrader={"grade": false, "grade_id": "why-not-recursion", "locked": true, "schema_version": 3, "solution": false, "task": false}
def backward_recursive_paths(node, contribution=1.0):
    """Right but exponential: push each new contribution down every path."""
    node.grad += contribution
    for parent, local in zip(node.parents, node.local_grads):
        backward_recursive_paths(parent, local * contribution)


def doubling_chain(k):
    bottom = top = Node(1.0)
    for _ in range(k):
        top = top + top
    return bottom, top


depths, seconds_paths, seconds_topological = list(range(4, 17, 2)), [], []
for k in depths:
    bottom, top = doubling_chain(k)
    start = time.perf_counter()
    backward_recursive_paths(top)
    seconds_paths.append(time.perf_counter() - start)
    assert bottom.grad == 2.0 ** k
    start = time.perf_counter()
    backward(top)
    seconds_topological.append(time.perf_counter() - start)
    assert bottom.grad == 2.0 ** k

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(depths, seconds_paths, "o-", label="recursion along every path")
ax.semilogy(depths, seconds_topological, "s-", label="reverse topological order")
ax.set_xlabel("levels k (each node used twice)")
ax.set_ylabel("seconds")
ax.set_title("backward on the doubling chain")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-functions", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 4. Custom Functions
#
# `course.autograd` works on tensors, and every operation is a pair forward/backward, like the
# layers of module 03. You can add your own as a `Function` with two static methods:
#
# - `forward(ctx, *inputs)` gets numpy arrays, returns the output array, and keeps what backward
#   will need with `ctx.save_for_backward(...)`;
# - `backward(ctx, grad)` gets the upstream gradient (an array of the output's shape), reads
#   `ctx.saved_tensors`, and returns one gradient per input: the VJP.
#
# Calling `MyFunction.apply(a, b)` on Tensors runs forward and records a node in the graph. The
# lecture's example, written out:
#
# ```python
# class Multiply(Function):
#     @staticmethod
#     def forward(ctx, x, y):
#         ctx.save_for_backward(x, y)
#         return x * y
#
#     @staticmethod
#     def backward(ctx, grad):
#         x, y = ctx.saved_tensors
#         return grad * y, grad * x        # the multiply gate swaps its inputs
# ```
#
# Each Function below is checked with `gradcheck`, which compares your backward with finite
# differences of your forward in float64.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 5 (1 point): `Multiply`, elementwise $x \odot y$ (same shapes)
#
# *What you may use:* NumPy on the arrays `forward` receives and on the upstream gradient. Not
# `course.nn.functional`, Tensor methods or `course.autograd` for the same operation (answers
# that hand it to the library are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "multiply", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Multiply(Function):
    """Elementwise product of two arrays of the same shape."""

    @staticmethod
    def forward(ctx, x, y):
        ### BEGIN SOLUTION
        ctx.save_for_backward(x, y)
        return x * y
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        x, y = ctx.saved_tensors
        return grad * y, grad * x
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_multiply", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(6)
_a = Tensor(np.array([2.0, -1.0, 0.5]), requires_grad=True)
_b = Tensor(np.array([3.0, 4.0, -2.0]), requires_grad=True)
_out = Multiply.apply(_a, _b)
assert_close(_out.data, np.array([6.0, -4.0, -1.0]), name="Multiply.apply(a, b)")
gradcheck(Multiply.apply, _rng.standard_normal(4), _rng.standard_normal(4), names=["x", "y"])
### BEGIN HIDDEN TESTS
# hint: 2-D arrays
gradcheck(Multiply.apply, _rng.standard_normal((3, 5)), _rng.standard_normal((3, 5)), names=["x", "y"], seed=1)
# hint: the same tensor as both arguments
_t = Tensor(np.array([1.5, -2.0]), requires_grad=True)
Multiply.apply(_t, _t).sum().backward()
assert_close(_t.grad.data, np.array([3.0, -4.0]), name="gradient of sum(x * x)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 6 (1 point): `Exp`, elementwise $e^x$
#
# Its derivative is itself: save the output, not the input, and backward needs no second `exp`.
#
# *What you may use:* NumPy on the arrays `forward` receives and on the upstream gradient. Not
# `course.nn.functional`, Tensor methods or `course.autograd` for the same operation (answers
# that hand it to the library are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "exp", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Exp(Function):
    """Elementwise exponential."""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        (out,) = ctx.saved_tensors
        return grad * out
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_exp", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(7)
assert_close(Exp.apply(Tensor(np.array([0.0, 1.0]))).data, np.array([1.0, np.e]), name="Exp.apply([0, 1])")
gradcheck(Exp.apply, _rng.standard_normal(5), names=["x"])
### BEGIN HIDDEN TESTS
# hint: a 2-D array, and Exp used twice in one expression
gradcheck(Exp.apply, 2 * _rng.standard_normal((2, 3)), names=["x"], seed=2)
gradcheck(lambda x: Exp.apply(Exp.apply(x) * 0.5), _rng.standard_normal(3), names=["x"], seed=3)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex7", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 7 (2 points): `MatMul`, $A B$ for matrices $A$ $(N, K)$ and $B$ $(K, M)$
#
# The batched rules of module 03: for $C = AB$, $dA = dC\, B^\top$ and $dB = A^\top dC$. (Check the shapes:
# each gradient has the shape of its matrix.)
#
# *What you may use:* NumPy on the arrays `forward` receives and on the upstream gradient. Not
# `course.nn.functional`, Tensor methods or `course.autograd` for the same operation (answers
# that hand it to the library are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "matmul", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MatMul(Function):
    """Matrix product of a (N, K) and a (K, M) array."""

    @staticmethod
    def forward(ctx, a, b):
        ### BEGIN SOLUTION
        ctx.save_for_backward(a, b)
        return a @ b
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        a, b = ctx.saved_tensors
        return grad @ b.T, a.T @ grad
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_matmul", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(8)
_A, _B = _rng.standard_normal((2, 3)), _rng.standard_normal((3, 4))
assert_close(MatMul.apply(Tensor(_A), Tensor(_B)).data, _A @ _B, name="MatMul.apply(A, B)")
gradcheck(MatMul.apply, _A, _B, names=["A", "B"])
### BEGIN HIDDEN TESTS
# hint: square matrices, a row times a column, and MatMul used twice with a transposed argument
gradcheck(MatMul.apply, _rng.standard_normal((3, 3)), _rng.standard_normal((3, 3)), names=["A", "B"], seed=4)
gradcheck(MatMul.apply, _rng.standard_normal((1, 5)), _rng.standard_normal((5, 1)), names=["A", "B"], seed=5)
gradcheck(lambda a, b: MatMul.apply(MatMul.apply(a, b), b.T), _rng.standard_normal((2, 3)),
          _rng.standard_normal((3, 3)), names=["A", "B"], seed=6)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex8", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 8 (1 point): `Maximum`, elementwise $\max(a, b)$ with the lecture's tie rule
#
# The output is one of the two inputs, so the whole upstream gradient goes to the one that was
# chosen, and none to the other. On a tie ($a = b$) the lecture's rule sends it to the **first**
# argument, $a$. (PyTorch's `torch.maximum` would split it, half to each; here follow the lecture.)
#
# *What you may use:* NumPy on the arrays `forward` receives and on the upstream gradient. Not
# `course.nn.functional`, Tensor methods or `course.autograd` for the same operation (answers
# that hand it to the library are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "maximum", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Maximum(Function):
    """Elementwise maximum of two arrays of the same shape; ties go to the first argument."""

    @staticmethod
    def forward(ctx, a, b):
        ### BEGIN SOLUTION
        take_a = a >= b
        ctx.save_for_backward(take_a)
        return np.where(take_a, a, b)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        (take_a,) = ctx.saved_tensors
        return grad * take_a, grad * ~take_a
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_maximum", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_a = Tensor(np.array([1.0, 5.0, 2.0]), requires_grad=True)
_b = Tensor(np.array([3.0, 4.0, 2.0]), requires_grad=True)
_m = Maximum.apply(_a, _b)
assert_close(_m.data, np.array([3.0, 5.0, 2.0]), name="Maximum.apply(a, b)")
_m.backward(Tensor(np.array([10.0, 20.0, 30.0])))
assert_close(_a.grad.data, np.array([0.0, 20.0, 30.0]), name="a.grad (the tie a = b = 2 goes to a)")
assert_close(_b.grad.data, np.array([10.0, 0.0, 0.0]), name="b.grad")
### BEGIN HIDDEN TESTS
# hint: random 2-D arrays, and a tie at every element
_rng = np.random.default_rng(9)
gradcheck(Maximum.apply, _rng.standard_normal((3, 4)), _rng.standard_normal((3, 4)), names=["a", "b"])
_x = Tensor(np.zeros((2, 2)), requires_grad=True)
_y = Tensor(np.zeros((2, 2)), requires_grad=True)
Maximum.apply(_x, _y).sum().backward()
assert_close(_x.grad.data, np.ones((2, 2)), name="a.grad where a = b everywhere")
assert_close(_y.grad.data, np.zeros((2, 2)), name="b.grad where a = b everywhere")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-functions-together", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Your Functions compose with the built-in operations into bigger graphs. A small network
# $\max(XW, 0)$, then a sum, built from them only, agrees with the same network built from
# `course.autograd`'s own operations:

# %% nbgrader={"grade": false, "grade_id": "functions-together", "locked": true, "schema_version": 3, "solution": false, "task": false}
rng = np.random.default_rng(3)
X_net, W_net = rng.standard_normal((5, 3)), rng.standard_normal((3, 2))
W_mine = Tensor(W_net.copy(), requires_grad=True)
out_mine = Exp.apply(Multiply.apply(Maximum.apply(MatMul.apply(Tensor(X_net), W_mine), Tensor(np.zeros((5, 2)))),
                                    Tensor(np.full((5, 2), -0.5)))).sum()
out_mine.backward()
W_builtin = Tensor(W_net.copy(), requires_grad=True)
out_builtin = ((Tensor(X_net) @ W_builtin).relu() * -0.5).exp().sum()
out_builtin.backward()
print(f"yours: {out_mine.item():.6f}, built-in: {out_builtin.item():.6f}, "
      f"largest gradient difference {np.abs(W_mine.grad.data - W_builtin.grad.data).max():.1e}")
draw_graph(out_mine)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-pytorch-semantics", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 5. Autograd as PyTorch has it
#
# `course.autograd` follows PyTorch's rules for recording graphs and gradients. Where a derivative
# has a choice to make, it follows the lectures instead: $\mathrm{ReLU}'(0) = 1$ and ties of
# `maximum` and `max` go to the first candidate, where PyTorch has $\mathrm{ReLU}'(0) = 0$ and
# splits ties (section 7 gives the numbers). Each rule on a small example:
#
# **`requires_grad`** marks the leaves we want gradients for. Operations on them are recorded
# (the result has a `grad_fn`, the node that made it); anything computed only from tensors without
# `requires_grad` is a constant for the graph and gets no gradient.

# %% nbgrader={"grade": false, "grade_id": "requires-grad", "locked": true, "schema_version": 3, "solution": false, "task": false}
w = Tensor(np.array([1.0, -2.0]), requires_grad=True, name="w")
x = Tensor(np.array([3.0, 0.5]), name="x")                 # data: no gradient wanted
y = (w * x).sum()
print("w: leaf", w.is_leaf, "requires_grad", w.requires_grad)
print("x: leaf", x.is_leaf, "requires_grad", x.requires_grad)
product = y.grad_fn.inputs[0]
print("y: leaf", y.is_leaf, "made by", y.grad_fn.name, "of", product.grad_fn.name,
      "of", [t.name for t in product.grad_fn.inputs])
y.backward()
print("w.grad =", w.grad.data, "  x.grad =", x.grad)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-accumulate", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **`backward` accumulates** into `.grad`: it adds to what is there, exactly as a node used twice
# collects both contributions. That lets us sum gradients over several losses or micro-batches,
# but it also means that a training loop must clear the gradients before each step
# (`optimizer.zero_grad()`, or `w.grad = None`); otherwise every step uses the sum of all the
# gradients so far.

# %% nbgrader={"grade": false, "grade_id": "accumulate", "locked": true, "schema_version": 3, "solution": false, "task": false}
w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
for step in range(3):
    (w * w).sum().backward()
    print(f"after backward #{step + 1}: w.grad = {w.grad.data}")
w.grad = None                        # what zero_grad does
(w * w).sum().backward()
print(f"after clearing and one more backward: w.grad = {w.grad.data}  (= 2 w)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-no-grad", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **`no_grad` for the update.** The step $w \leftarrow w - \eta\, \nabla w$ is not part of the model:
# it must not be recorded, and changing a leaf that requires grad in place would break the graph
# that uses its old value. Inside `with no_grad():` nothing is recorded and the update is allowed.

# %% nbgrader={"grade": false, "grade_id": "no-grad", "locked": true, "schema_version": 3, "solution": false, "task": false}
w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
loss = ((w - 3.0) ** 2).sum()
loss.backward()
try:
    w -= 0.1 * w.grad
except RuntimeError as error:
    print("without no_grad:", error)
with no_grad():
    w -= 0.1 * w.grad
    print("inside no_grad, results record nothing:", (w * 2).requires_grad)
print("after the update: w =", w.data, "(still a leaf:", w.is_leaf, ")")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-detach-update", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Updating by making a new leaf: `detach()` and `requires_grad_()`.** Another way to write the
# update is to compute the new values and make them a fresh leaf,
# `w = (w - lr * w.grad).detach().requires_grad_()`. Without `detach`, the new `w` is computed from
# the old one, so it is a node of the old graph, not a leaf: the next `backward` leaves its `.grad`
# empty (only leaves keep gradients) and pushes the new loss's gradient into the *old* `w` instead.
# `detach()` cuts the new values loose, and `requires_grad_()` (in place, returning the tensor)
# marks them as a leaf to differentiate.

# %% nbgrader={"grade": false, "grade_id": "detach-update", "locked": true, "schema_version": 3, "solution": false, "task": false}
w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
((w - 3.0) ** 2).sum().backward()
w_chained = w - 0.1 * w.grad                                   # recorded: a node, not a leaf
((w_chained - 3.0) ** 2).sum().backward()
print("without detach: leaf", w_chained.is_leaf, "| its grad:", w_chained.grad,
      "| the old w.grad collected both losses:", w.grad.data)
w.grad = None
((w - 3.0) ** 2).sum().backward()
w_new = (w - 0.1 * w.grad).detach().requires_grad_()           # a fresh leaf
((w_new - 3.0) ** 2).sum().backward()
print("with detach().requires_grad_(): leaf", w_new.is_leaf, "| its grad:", w_new.grad.data,
      "(= 2 (w_new - 3))")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-detach", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **`detach`** returns the same values cut from the graph: a constant. Gradients stop there. Below,
# $y = x \cdot \mathrm{detach}(x)$ has the value $x^2$, but its gradient is $x$, not $2x$: only the first factor
# is seen as depending on $x$. (Used to freeze part of a model, or for targets that must not be
# trained towards, and to get plain values out of a graph.)

# %% nbgrader={"grade": false, "grade_id": "detach", "locked": true, "schema_version": 3, "solution": false, "task": false}
x = Tensor(np.array([3.0]), requires_grad=True)
(x * x).sum().backward()
print("d(x * x)/dx          =", x.grad.data)
x.grad = None
(x * x.detach()).sum().backward()
print("d(x * detach(x))/dx  =", x.grad.data)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-retain", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **`retain_graph`.** After a backward pass the values saved for it are released (they can be large:
# all the activations). A second backward through the same graph then fails; ask to keep the graph
# with `retain_graph=True` in the first call if you need to go through it again.

# %% nbgrader={"grade": false, "grade_id": "retain", "locked": true, "schema_version": 3, "solution": false, "task": false}
x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
y = (x.tanh() * x).sum()
y.backward()
try:
    y.backward()
except RuntimeError as error:
    print("second backward without retain_graph:", error)

y = (x.tanh() * x).sum()
y.backward(retain_graph=True)
y.backward()
print("with retain_graph=True both passes run; x.grad holds their sum:", x.grad.data)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-create-graph", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **`create_graph`: derivatives of derivatives.** With `create_graph=True` the backward pass is
# itself recorded (the built-in operations write their backward with Tensor operations), so the
# gradient is a Tensor with a graph of its own and can be differentiated again. For
# $f(x) = x^3$: $f'(x) = 3x^2$ (a graph), and differentiating that gives $f''(x) = 6x$.
#
# The same trick gives **Hessian-vector products** without the Hessian:
# $H v = \nabla_x\big(\nabla_x f(x) \cdot v\big)$, two backward passes whatever the dimension.

# %% nbgrader={"grade": false, "grade_id": "create-graph", "locked": true, "schema_version": 3, "solution": false, "task": false}
x = Tensor(np.array(2.0), requires_grad=True)
y = x ** 3
(dy_dx,) = grad(y, x, create_graph=True)
(d2y_dx2,) = grad(dy_dx, x)
print(f"f(x) = x^3 at x = 2: f' = {dy_dx.item()} (= 3 x^2), f'' = {d2y_dx2.item()} (= 6 x)")


def hessian_vector_product(f, x, v):
    """H v for the Hessian H of a scalar function f of a vector at x (two backward passes)."""
    x_t = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    (g,) = grad(f(x_t), x_t, create_graph=True)
    (hv,) = grad((g * Tensor(v)).sum(), x_t)
    return hv.data


def f_quartic(x):
    return (x ** 4).sum() + (x[0] * x[1] * x[2])


x_h = np.array([1.0, -0.5, 2.0])
v_h = np.array([0.3, 1.0, -1.0])
H = np.diag(12 * x_h ** 2) + np.array([[0, x_h[2], x_h[1]], [x_h[2], 0, x_h[0]], [x_h[1], x_h[0], 0]])
print("H v by two backward passes:", hessian_vector_product(f_quartic, x_h, v_h))
print("H v from the Hessian:      ", H @ v_h)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex9", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 9 (2 points): a second derivative
#
# Write `second_derivative(f, x)`: make `x` a float64 leaf Tensor that requires grad, take the first
# derivative with `grad(..., create_graph=True)`, then differentiate that. One case needs care: when
# the first derivative does not depend on $x$ at all (for $f(x) = 3x + 1$ it is the constant 3), it
# has no graph (`requires_grad` is False), there is nothing to differentiate, and $f''(x) = 0$.
#
# *What you may use:* `course.autograd` (`Tensor`, `grad`): differentiating with the library is the
# point here.

# %% nbgrader={"grade": false, "grade_id": "second_derivative", "locked": false, "schema_version": 3, "solution": true, "task": false}
def second_derivative(f, x):
    """f''(x) for a scalar function f, by differentiating twice with course.autograd.

    Inputs:
    - f: function from a 0-d Tensor to a 0-d Tensor, built from differentiable Tensor operations.
    - x: float, the point.

    Returns a float, d^2 f / dx^2 at x.
    """
    ### BEGIN SOLUTION
    x_t = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    (df,) = grad(f(x_t), x_t, create_graph=True)
    if not df.requires_grad:             # f' is a constant: no graph to differentiate
        return 0.0
    (d2f,) = grad(df, x_t)
    return float(d2f.item())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_second_derivative", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_d2 = second_derivative(lambda t: t ** 3, 2.0)
assert isinstance(_d2, float), f"second_derivative must return a float, got {type(_d2).__name__}"
assert_close(_d2, 12.0, name="(x^3)'' at x = 2")
assert_close(second_derivative(lambda t: t.tanh(), 0.5), -2 * np.tanh(0.5) * (1 - np.tanh(0.5) ** 2),
             name="tanh'' at 0.5")
assert_close(second_derivative(lambda t: 2.0 * t - 5.0, 1.0), 0.0, name="(2x - 5)'' (f' is a constant)")
### BEGIN HIDDEN TESTS
# hint: other functions (products, quotients, sigmoid), and a linear function
assert_close(second_derivative(lambda t: t.exp() * t, 1.5), 3.5 * np.exp(1.5), name="(x e^x)'' at 1.5")
assert_close(second_derivative(lambda t: 3.0 * t + 1.0, -4.0), 0.0, name="(3x + 1)''", atol=1e-12)
assert_close(second_derivative(lambda t: 1.0 / t, 2.0), 2.0 / 8.0, name="(1/x)'' at 2")
assert_close(second_derivative(lambda t: t.sigmoid(), -1.0),
             (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + np.exp(1.0))), name="sigmoid'' at -1")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-static", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 6. Define-then-run vs eager execution
#
# **Define-then-run** (static graphs, as in early TensorFlow): first describe the whole
# computation as a graph of named values and operations, with no data; then run that fixed graph
# many times, feeding data in. The framework sees the whole graph before it runs, so it can plan
# memory and fuse operations, but the program that built the graph is gone by the time data flows.
#
# **Eager** (PyTorch, `course.autograd`): operations run immediately on real numbers, and the graph is
# recorded as a side effect, anew on every forward pass.
#
# A tiny static-graph framework in the style of the lecture's edf: a dictionary of `values`, a
# list of `ops`, and `forward`, `backward` and `sgd` that walk that list. As in edf, a leaf is
# either a **Value** (data fed in at run time, here `x` and `y`: no gradient is kept for it) or a
# **Param** (a weight: it gets a gradient and `sgd` updates it). A matrix of weights has shape
# (inputs, outputs) and a layer computes $xW$ for a batch $x$ of shape (N, inputs), as in the
# lecture. (`course.nn.Linear`, like PyTorch's, stores the transpose, shape (outputs, inputs), and
# computes $xW^\top$.)
#
# **Why a node's gradient is final when backward reaches it.** An op can only be added once its
# inputs exist (`op` checks it), so the list `ops` is in construction order, and that is a
# topological order: every op comes after the ops that produce its inputs. Walking it backwards,
# every op that *uses* a node's output comes before the op that produced it, so by the time
# `backward` reaches a node, all contributions to its gradient have been added. No search for a
# topological order is needed, as in exercise 3: the program that built the graph wrote one down.

# %% nbgrader={"grade": false, "grade_id": "static-graph", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Each op kind: forward(*inputs) -> output, and backward(upstream, *inputs) -> one gradient per input.
OP_KINDS = {
    "matmul": (lambda x, W: x @ W,
               lambda g, x, W: (g @ W.T, x.T @ g)),
    "add_bias": (lambda s, b: s + b,
                 lambda g, s, b: (g, g.sum(axis=0))),
    "tanh": (np.tanh,
             lambda g, s: (g * (1 - np.tanh(s) ** 2),)),
    "mse": (lambda y_hat, y: 0.5 * np.sum((y_hat - y) ** 2) / len(y),
            lambda g, y_hat, y: (g * (y_hat - y) / len(y), None)),
}


class StaticGraph:
    """Define the computation once, run it many times."""

    def __init__(self):
        self.values = {}      # name -> array: Values, Params and every intermediate result
        self.params = []      # names of the Params (trainable)
        self.fed = []         # names of the Values (fed by forward, no gradient)
        self.ops = []         # (kind, input names, output name), in construction order
        self.grads = {}

    def value(self, name):
        self.values[name] = None              # filled in by forward(feed)
        self.fed.append(name)
        return name

    def param(self, name, initial):
        self.values[name] = np.array(initial, dtype=np.float64)
        self.params.append(name)
        return name

    def op(self, kind, inputs, output):
        missing = [name for name in inputs if name not in self.values]
        if missing:
            raise ValueError(f"op {output!r} uses {missing}, which do not exist yet: define them first")
        self.values[output] = None
        self.ops.append((kind, tuple(inputs), output))
        return output

    def forward(self, **feed):
        self.values.update(feed)
        for kind, inputs, output in self.ops:
            self.values[output] = OP_KINDS[kind][0](*(self.values[i] for i in inputs))
        return self.values[self.ops[-1][2]]

    def backward(self):
        last = self.ops[-1][2]
        self.grads = {last: 1.0}
        for kind, inputs, output in reversed(self.ops):
            upstream = self.grads[output]
            local = OP_KINDS[kind][1](upstream, *(self.values[i] for i in inputs))
            for name, g in zip(inputs, local):
                if g is not None and name not in self.fed:             # Values get no gradient
                    self.grads[name] = self.grads.get(name, 0.0) + g     # accumulate at a fan-in

    def sgd(self, lr):
        for name in self.params:
            self.values[name] -= lr * self.grads[name]


# Definition: a 1-16-1 tanh network for regression. No data has been seen yet.
rng = np.random.default_rng(0)
W1_init, b1_init = rng.standard_normal((1, 16)), np.zeros(16)          # (inputs, outputs)
W2_init, b2_init = rng.standard_normal((16, 1)) * 0.3, np.zeros(1)
graph = StaticGraph()
graph.value("x")
graph.value("y")
graph.param("W1", W1_init)
graph.param("b1", b1_init)
graph.param("W2", W2_init)
graph.param("b2", b2_init)
graph.op("matmul", ["x", "W1"], "s1")
graph.op("add_bias", ["s1", "b1"], "s1b")
graph.op("tanh", ["s1b"], "h")
graph.op("matmul", ["h", "W2"], "s2")
graph.op("add_bias", ["s2", "b2"], "y_hat")
graph.op("mse", ["y_hat", "y"], "loss")
print("the graph:", *(f"{output} = {kind}({', '.join(inputs)})" for kind, inputs, output in graph.ops), sep="\n  ")
try:
    graph.op("tanh", ["s3"], "h3")                       # s3 has not been defined
except ValueError as error:
    print("an op before its inputs:", error)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-static-vs-eager", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Run: the static graph is fed mini-batches of $y = \sin(2x)$; next to it, the same network with
# the same initial weights, written eagerly with `course.autograd`. Same numbers, two styles.

# %% nbgrader={"grade": false, "grade_id": "static-vs-eager", "locked": true, "schema_version": 3, "solution": false, "task": false}
x_data = np.linspace(-2, 2, 64)[:, None]
y_data = np.sin(2 * x_data)
steps, lr = 400, 0.1

static_losses = []
for step in range(steps):
    batch = np.random.default_rng(step).choice(64, size=16, replace=False)
    static_losses.append(float(graph.forward(x=x_data[batch], y=y_data[batch])))
    graph.backward()
    graph.sgd(lr)

W1_e, b1_e = Tensor(W1_init.copy(), requires_grad=True), Tensor(b1_init.copy(), requires_grad=True)
W2_e, b2_e = Tensor(W2_init.copy(), requires_grad=True), Tensor(b2_init.copy(), requires_grad=True)
eager_losses = []
for step in range(steps):
    batch = np.random.default_rng(step).choice(64, size=16, replace=False)
    y_hat = (Tensor(x_data[batch]) @ W1_e + b1_e).tanh() @ W2_e + b2_e   # runs right now
    loss = 0.5 * ((y_hat - Tensor(y_data[batch])) ** 2).sum() / 16
    eager_losses.append(loss.item())
    for p in (W1_e, b1_e, W2_e, b2_e):
        p.grad = None
    loss.backward()
    with no_grad():
        for p in (W1_e, b1_e, W2_e, b2_e):
            p -= lr * p.grad

print(f"largest difference between the two loss curves: {np.abs(np.array(static_losses) - eager_losses).max():.1e}")
print("gradients kept by the static graph (no Value among them):", sorted(graph.grads))
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].semilogy(static_losses, label="define-then-run")
axes[0].semilogy(eager_losses, "--", label="eager (course.autograd)")
axes[0].set_xlabel("step")
axes[0].set_ylabel("loss")
axes[0].legend()
graph.forward(x=x_data, y=y_data)
axes[1].plot(x_data, y_data, "k.", label="data")
axes[1].plot(x_data, graph.values["y_hat"], label="static graph's fit")
axes[1].legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-conditionals", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Why conditionals favour eager execution.** In eager mode a Python `if` on a value just works:
# each forward pass records the branch that actually ran, so two inputs can give two different
# graphs. A static graph is built before any data exists, so a Python `if` there is decided once,
# at definition time; the graph needs a special operation (a `cond` or `where`) that holds both
# branches, and `where` computes both of them every time.

# %% nbgrader={"grade": false, "grade_id": "conditionals", "locked": true, "schema_version": 3, "solution": false, "task": false}
def eager_program(x):
    if x.sum().item() > 0:                 # a Python if on a value
        return (x * x).sum()
    return (-x).exp().sum()


for value in (1.5, -0.5):
    x = Tensor(np.array([value]), requires_grad=True)
    out = eager_program(x)
    out.backward()
    print(f"x = {value:5}: took the {'x*x' if value > 0 else 'exp(-x)'} branch, "
          f"ops recorded: {out.grad_fn.name} <- {out.grad_fn.inputs[0].grad_fn.name}, grad = {x.grad.data}")
    display(draw_graph(out))

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-max-where", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 7. Gradients of max and where
#
# `max` and `where` choose: their output *is* one of their inputs, element by element. So the
# gradient flows to the chosen input unchanged and the other gets 0; on a tie in `maximum(a, b)` the
# lecture's rule gives it to the first argument, and `x.max()` gives it to the first maximal element.
# The condition of `where(cond, a, b)` is a boolean, not a number that varies smoothly: it gets no
# gradient at all.
#
# **PyTorch decides ties differently.** `torch.maximum(a, b)` splits the gradient at a tie, half to
# each input (below: `a.grad` 15 and `b.grad` 15 at index 2, where this library gives 30 and 0); a
# full reduction `v.max()` (like `torch.amax`) spreads it evenly over all the maximal elements
# (below: `v.grad` = (0, 0.5, 0.5, 0) instead of (0, 1, 0, 0)); and `torch.relu` has slope 0 at 0,
# where this library has 1. Any of these choices is a valid subgradient, and ties are rare with
# real-valued data, but tests that compare the two libraries must avoid exact ties.

# %% nbgrader={"grade": false, "grade_id": "max-where", "locked": true, "schema_version": 3, "solution": false, "task": false}
a = Tensor(np.array([1.0, 4.0, 2.0, -1.0]), requires_grad=True, name="a")
b = Tensor(np.array([3.0, 0.0, 2.0, -2.0]), requires_grad=True, name="b")
upstream = Tensor(np.array([10.0, 20.0, 30.0, 40.0]))
F.maximum(a, b).backward(upstream)
print("maximum(a, b):", F.maximum(a, b).data, "  a.grad:", a.grad.data, "  b.grad:", b.grad.data, " (tie at index 2 -> a)")

v = Tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
v.max().backward()
print("v.max():      ", v.max().item(), "  v.grad:", v.grad.data, "  (first of the two maxima)")
x_tie = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
x_tie.relu().sum().backward()
print("relu at (-1, 0, 2): grad", x_tie.grad.data, "  (ReLU'(0) = 1 here, 0 in PyTorch)")

a.grad = b.grad = None
cond = a.data > 0.5                                    # a plain boolean array
F.where(cond, a, b).backward(upstream)
print("where(a > 0.5, a, b): a.grad:", a.grad.data, "  b.grad:", b.grad.data, "  (nothing for the condition)")

fig, ax = plt.subplots(figsize=(6, 3.5))
s = np.linspace(-2, 2, 401)
ax.plot(s, np.maximum(s, 0.5), label="max(s, 0.5)")
ax.plot(s, (s >= 0.5).astype(float), label="d/ds: 1 where s was chosen")
ax.set_xlabel("s")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-where-learning", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **What `where` means for learning.** In $y = \mathrm{where}(c, p, q)$, element $i$ of $p$ gets
# the upstream gradient where $c_i$ is true and exactly 0 where it is false, and $q$ the other way
# round. So whatever computes $p$ learns only from the elements where $c$ selects $p$, and what
# computes $q$ only from the others; a branch that is never selected never learns, and the
# condition itself (a threshold, a comparison) learns nothing through `where`: if it must learn,
# its parameters need a gradient from elsewhere (a smooth gate such as a sigmoid mixing $p$ and
# $q$, or another loss term). Below, $p = a x$ and $q = b x$ are fitted to $y = |x|$ through
# $\mathrm{where}(x > 0, p, q)$: each sample contributes to the gradient of $a$ or of $b$, never to both.

# %% nbgrader={"grade": false, "grade_id": "where-learning", "locked": true, "schema_version": 3, "solution": false, "task": false}
x_where = np.linspace(-2.0, 2.0, 21)
a_slope = Tensor(np.array(0.5), requires_grad=True)
b_slope = Tensor(np.array(0.5), requires_grad=True)
x_t = Tensor(x_where)
prediction = F.where(x_where > 0, a_slope * x_t, b_slope * x_t)
per_sample = (prediction - Tensor(np.abs(x_where))) ** 2
contributions = {"a": [], "b": []}
for i in range(len(x_where)):                         # the gradient of each sample's loss alone
    a_slope.grad = b_slope.grad = None
    per_sample[i].backward(retain_graph=True)
    contributions["a"].append(a_slope.grad.item())
    contributions["b"].append(b_slope.grad.item())
print("samples with a nonzero gradient for a:", np.count_nonzero(contributions["a"]),
      "| for b:", np.count_nonzero(contributions["b"]), "| for both:",
      np.count_nonzero(np.array(contributions["a"]) * np.array(contributions["b"])))

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.stem(x_where - 0.03, contributions["a"], linefmt="C0-", markerfmt="C0o", basefmt=" ", label="d loss_i / d a  (p = a x)")
ax.stem(x_where + 0.03, contributions["b"], linefmt="C3-", markerfmt="C3s", basefmt=" ", label="d loss_i / d b  (q = b x)")
ax.axhline(0.0, color="0.6", lw=0.8)
ax.set_xlabel("sample x_i")
ax.set_title("where(x > 0, p, q): each sample teaches only the selected branch")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-checkpointing", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 8. Memory: gradient checkpointing
#
# Reverse mode keeps every intermediate value the backward pass needs: for a chain of $L$ layers,
# $L$ activations, which for large networks is more memory than the weights. **Gradient
# checkpointing** keeps only every $k$-th activation (the checkpoints) in the forward pass. The
# backward pass then goes segment by segment from the end: it runs the $k$ layers of a segment
# forward again from their checkpoint, backpropagates through them, and drops them. Memory falls
# from about $L$ to $L/k + k$ activations (smallest, $2\sqrt{L}$, at $k = \sqrt{L}$), and the price is
# one more forward pass: about $2L$ layer evaluations instead of $L$. Below, a chain of 64 tanh layers
# $x_i = \tanh(W_i x_{i-1})$ with loss $\frac12 \lVert x_{64} \rVert^2$, by hand in NumPy, both ways.

# %% nbgrader={"grade": false, "grade_id": "checkpointing", "locked": true, "schema_version": 3, "solution": false, "task": false}
rng = np.random.default_rng(8)
depth, width = 64, 8
chain_weights = [rng.standard_normal((width, width)) / np.sqrt(width) for _ in range(depth)]
chain_input = rng.standard_normal(width)
layers_run = [0]


def chain_layer(i, x):
    layers_run[0] += 1
    return np.tanh(chain_weights[i] @ x)


def backward_through(first, activations, upstream, grads):
    """Backpropagate through layers first, first + 1, ...; activations[j] is the input of layer
    first + j and activations[-1] the output of the last. Fills grads, returns d loss / d input."""
    for j in reversed(range(len(activations) - 1)):
        ds = upstream * (1.0 - activations[j + 1] ** 2)
        grads[first + j] = np.outer(ds, activations[j])
        upstream = chain_weights[first + j].T @ ds
    return upstream


def gradients_keeping_everything(x):
    activations = [x]
    for i in range(depth):
        activations.append(chain_layer(i, activations[-1]))
    grads = [None] * depth
    backward_through(0, activations, activations[-1], grads)     # d loss / d x_64 = x_64
    return grads, len(activations)


def gradients_with_checkpoints(x, k):
    checkpoints = {}                                    # the inputs of layers 0, k, 2k, ...
    for i in range(depth):
        if i % k == 0:
            checkpoints[i] = x
        x = chain_layer(i, x)
    grads, upstream, peak = [None] * depth, x, 0
    for first in sorted(checkpoints, reverse=True):
        segment = [checkpoints[first]]
        for i in range(first, min(first + k, depth)):  # this segment's forward pass, again
            segment.append(chain_layer(i, segment[-1]))
        peak = max(peak, len(checkpoints) + len(segment))
        upstream = backward_through(first, segment, upstream, grads)
    return grads, peak


layers_run[0] = 0
reference, stored = gradients_keeping_everything(chain_input)
print(f"keep everything: {stored} activations stored, {layers_run[0]} layers run")
costs = {}
for k in (2, 4, 8, 16, 32):
    layers_run[0] = 0
    grads, peak = gradients_with_checkpoints(chain_input, k)
    costs[k] = (layers_run[0], peak)
    difference = max(np.abs(g - r).max() for g, r in zip(grads, reference))
    print(f"checkpoints every {k:2d} layers: at most {peak:2d} activations stored, {layers_run[0]} layers run, "
          f"largest gradient difference {difference:.0e}")

ks = np.array(list(costs))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.axhline(stored, color="k", ls="--", label=f"keep everything ({depth} layers run)")
ax.plot(ks, [costs[k][1] for k in ks], "o", color="tab:blue",
        label=f"checkpoints every k layers ({costs[ks[0]][0]} layers run)")
k_grid = np.linspace(2, 32, 200)
ax.plot(k_grid, depth / k_grid + k_grid + 1, color="tab:blue", lw=1, label="$L/k + k + 1$")
ax.set_xscale("log", base=2)
ax.set_xticks(ks, [str(k) for k in ks])
ax.set_xlabel("k (layers per segment)")
ax.set_ylabel("activations stored at most")
ax.set_title("checkpointing: less memory for one more forward pass")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Summary
#
# - In a DAG, gradients arriving along several paths, and from several uses of a shared weight, add up.
# - Reverse mode computes one vector-Jacobian product per backward pass: the whole gradient of a
#   scalar loss at once; a full Jacobian takes one pass per output.
# - An engine: topological order, then every node once in reverse, each passing
#   local gradient x its own gradient to its parents, which accumulate. Plain recursion is wrong or
#   exponential on DAGs, and too deep for long chains.
# - A `Function` is a forward/backward pair; `backward` returns a VJP, one gradient per input.
# - `backward` accumulates (clear the gradients each step); update under `no_grad`; `detach` cuts
#   the graph; `retain_graph` keeps it for a second pass; `create_graph` records the backward pass for
#   higher derivatives.
# - Static graphs are defined once and run many times; eager graphs are recorded as the program
#   runs, so ordinary Python control flow just works.
# - `max` and `where` pass the gradient to the chosen input; the condition gets none, and a branch
#   of `where` learns only from the elements where it is selected. PyTorch splits ties and has
#   ReLU'(0) = 0; this library follows the lectures (first argument, ReLU'(0) = 1).
# - Forward mode costs one pass per input, reverse mode one per output (the loss: one); reverse mode
#   stores the forward pass, and checkpointing stores less of it at the price of recomputing it.
