# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/course-authors/how-networks-learn/blob/main/assignments/03_backprop/03_backprop.ipynb)
#
# # Module 03: backpropagation, the recursion
#
# Training a network means following the gradient of the loss with respect to every weight.
# Backpropagation computes all of these gradients in one sweep backwards through the
# computation, at the cost of about two forward passes. In this notebook you
#
# 1. compare three ways to differentiate (numerical, symbolic, automatic) and see where each fails;
# 2. run a backward pass by hand on small computational graphs: $f = xy + z$, the lecture's scalar
#    chain, and a sigmoid neuron;
# 3. meet the two vector derivatives behind every layer: a matrix product gives $W^\top$, an
#    elementwise product gives a diagonal matrix;
# 4. write the backward pass of every layer of an MLP, then the recursion that chains them, and
#    train MLPs on spirals and on handwritten digits with your own backprop;
# 5. see why gradients vanish in deep networks (saturation, dead ReLUs) and how Xavier and He
#    initialisation keep them alive;
# 6. measure what backprop costs in time and in memory.
#
# | exercise | points |
# |---|---|
# | 1. `linear_forward`, `linear_backward` | 2 |
# | 2. `relu_forward`, `relu_backward` | 1 |
# | 3. `sigmoid_forward`, `sigmoid_backward` | 1 |
# | 4. `tanh_forward`, `tanh_backward` | 1 |
# | 5. `mse_forward`, `mse_backward` | 1 |
# | 6. `softmax_cross_entropy_forward`, `softmax_cross_entropy_backward` | 2 |
# | 7. `mlp_backward` | 3 |
# | 8. `sgd_step`, `train_mlp` | 2 |
# | 9. `init_weights` (Xavier and He) | 2 |
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
from threadpoolctl import threadpool_limits

from course.autograd import Tensor
import course.nn.functional as F
from course.data import digits
from course.gradcheck import assert_close, check_backward, numerical_grad
from course.nn import Linear
from course.viz import draw_graph

# nbgrader sets NBGRADER_EXECUTION while it validates or grades: training is shortened then.
GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))

# The matrices of this notebook are small: numpy's matrix library is as fast on one thread, and
# much faster when other programs keep the cores busy (a second thread then mostly waits).
# (Not while grading, where the training is short anyway.)
if not GRADING:
    threadpool_limits(limits=1)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-three-ways", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 1. Three ways to differentiate
#
# **Numerically.** A derivative is the limit of difference quotients, so we can approximate it
# with a small step $h$:
#
# $$\frac{df}{dx} \approx \frac{f(x + h) - f(x)}{h} \quad\text{(forward)}, \qquad
#   \frac{df}{dx} \approx \frac{f(x + h) - f(x - h)}{2h} \quad\text{(central)}.$$
#
# Easy and always available, but approximate: a large $h$ leaves a truncation error
# ($O(h)$ forward, $O(h^2)$ central), a small $h$ drowns in rounding error (the two values of
# $f$ agree in almost all their digits). Worse, it needs one or two evaluations of $f$ *per
# input*: for a network with $P$ weights that is $2P$ forward passes for one gradient.

# %% nbgrader={"grade": false, "grade_id": "numerical-error", "locked": true, "schema_version": 3, "solution": false, "task": false}
# f(x) = exp(x) at x = 1: we know the exact derivative, e.
f_example = np.exp
df_example = np.exp
x0 = 1.0
steps = np.logspace(-14, -1, 60)
# (a floor of 1e-17 keeps exact zeros off the log scale)
forward_error = np.maximum(np.abs((f_example(x0 + steps) - f_example(x0)) / steps - df_example(x0)), 1e-17)
central_error = np.maximum(np.abs((f_example(x0 + steps) - f_example(x0 - steps)) / (2 * steps)
                                  - df_example(x0)), 1e-17)

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(steps, forward_error, ".-", label="forward difference")
ax.loglog(steps, central_error, ".-", label="central difference")
ax.set_xlabel("step h")
ax.set_ylabel("|error|")
ax.set_title("finite differences: truncation (right) vs rounding (left)")
ax.legend()
plt.show()
print(f"best forward error {forward_error.min():.1e} at h = {steps[forward_error.argmin()]:.0e}")
print(f"best central error {central_error.min():.1e} at h = {steps[central_error.argmin()]:.0e}")
params_784_128_10 = 784 * 128 + 128 + 128 * 10 + 10
print(f"a 784-128-10 MLP has {params_784_128_10:,} weights: "
      f"{2 * params_784_128_10:,} forward passes for one gradient by central differences")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-symbolic", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Symbolically.** Apply the rules of calculus to the formula and get a formula for the
# derivative. Exact, but the derivative's formula can be far larger than the function's: the
# product rule $(uv)' = u'v + uv'$ copies $u$ and $v$, and in a deep composition the copies
# multiply. And a program with loops and `if`s is not a formula at all.
#
# Below, a tiny symbolic differentiator works on expression trees (nested tuples) without
# simplifying. The function is $f_1(x) = x$, $f_{k+1}(x) = f_k(x)\,\tanh(f_k(x))$: as a program it is
# two operations per step, but its derivative, written out as a formula, grows exponentially.

# %% nbgrader={"grade": false, "grade_id": "symbolic", "locked": true, "schema_version": 3, "solution": false, "task": false}
def derivative(expr):
    """d expr / dx for expressions built from ("x",), numbers like ("1",), ("+", a, b), ("*", a, b), ("tanh", a)."""
    op = expr[0]
    if op == "x":
        return ("1",)
    if op == "+":
        return ("+", derivative(expr[1]), derivative(expr[2]))
    if op == "*":
        u, v = expr[1], expr[2]
        return ("+", ("*", derivative(u), v), ("*", u, derivative(v)))
    if op == "tanh":
        u = expr[1]
        one_minus_tanh_squared = ("+", ("1",), ("*", ("-1",), ("*", ("tanh", u), ("tanh", u))))
        return ("*", one_minus_tanh_squared, derivative(u))
    if op.lstrip("-").isdigit():
        return ("0",)
    raise ValueError(f"unknown operation {op!r}")


def written_size(expr, memo=None):
    """Number of symbols when the expression is written out (shared parts written each time)."""
    memo = {} if memo is None else memo
    if id(expr) not in memo:
        memo[id(expr)] = 1 + sum(written_size(arg, memo) for arg in expr[1:])
    return memo[id(expr)]


depths = range(1, 13)
f_sizes, df_sizes = [], []
f_k = ("x",)
for k in depths:
    f_sizes.append(written_size(f_k))
    df_sizes.append(written_size(derivative(f_k)))
    f_k = ("*", f_k, ("tanh", f_k))

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(depths, [2 * (k - 1) + 1 for k in depths], "o-", label="program: operations")
ax.semilogy(depths, f_sizes, "s-", label="formula of $f_k$")
ax.semilogy(depths, df_sizes, "^-", label="formula of $f_k'$")
ax.set_xlabel("k")
ax.set_ylabel("size")
ax.set_title("expression swell")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-automatic", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Automatically.** Apply the chain rule to the *operations the program executed*, with numbers
# instead of formulas: every operation knows its local derivative, and the backward pass
# multiplies local derivatives with the gradient arriving from above. The result is exact up to
# rounding, costs a small constant times the forward pass whatever the number of inputs, and
# works through loops and `if`s because it only sees the operations that actually ran. This is
# what the rest of the course builds. Here is `course.autograd` on $f_{12}$:

# %% nbgrader={"grade": false, "grade_id": "automatic", "locked": true, "schema_version": 3, "solution": false, "task": false}
def f_program(x, k):
    """f_k from above as a program: a loop, not a formula (x: a numpy array or a Tensor)."""
    for _ in range(k - 1):
        x = x * (x.tanh() if isinstance(x, Tensor) else np.tanh(x))
    return x


x_auto = Tensor(np.array(2.0), requires_grad=True)
y_auto = f_program(x_auto, 12)
y_auto.backward()
numeric = numerical_grad(lambda x: f_program(x, 12), np.array(2.0))
print(f"f_12(2)             = {y_auto.item():.10f}")
print(f"automatic  f_12'(2) = {x_auto.grad.item():.10f}")
print(f"numerical  f_12'(2) = {float(numeric):.10f}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-graph", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 2. A computational graph: $f(x, y, z) = xy + z$
#
# Write the computation as a graph of elementary operations: $q = xy$, then $f = q + z$. The
# **forward pass** computes the values from the inputs to the output. The **backward pass**
# starts with $\partial f / \partial f = 1$ and walks back; at every node
#
# $$\underbrace{\frac{\partial f}{\partial \text{input}}}_{\text{downstream}}
#   = \underbrace{\frac{\partial\, \text{node}}{\partial\, \text{input}}}_{\text{local}}
#   \times \underbrace{\frac{\partial f}{\partial\, \text{node}}}_{\text{upstream}} .$$
#
# The $+$ node has local gradient 1 for both inputs (it *distributes* the upstream gradient); the
# $\times$ node's local gradient for $x$ is $y$ and for $y$ is $x$ (it *swaps* its inputs).

# %% nbgrader={"grade": false, "grade_id": "graph-by-hand", "locked": true, "schema_version": 3, "solution": false, "task": false}
x, y, z = -2.0, 5.0, -4.0

# forward
q = x * y
f = q + z

# backward: downstream = local x upstream
df_df = 1.0
df_dq = 1.0 * df_df          # + distributes
df_dz = 1.0 * df_df
df_dx = y * df_dq            # x swaps: the local gradient of x*y w.r.t. x is y
df_dy = x * df_dq

print(f"forward:  q = x*y = {q},  f = q + z = {f}")
print(f"backward: df/dq = {df_dq}, df/dz = {df_dz}, df/dx = {df_dx}, df/dy = {df_dy}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-graph-autograd", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The same graph recorded by `course.autograd`: every operation on a Tensor with
# `requires_grad=True` adds a node, and `backward()` runs the pass we just did by hand. The drawing
# shows each node with its value and its gradient.

# %% nbgrader={"grade": false, "grade_id": "graph-autograd", "locked": true, "schema_version": 3, "solution": false, "task": false}
x_t = Tensor(np.array(x), requires_grad=True, name="x")
y_t = Tensor(np.array(y), requires_grad=True, name="y")
z_t = Tensor(np.array(z), requires_grad=True, name="z")
q_t = x_t * y_t
q_t.name = "q"
q_t.retain_grad()            # keep the gradient of an intermediate node for the picture
f_t = q_t + z_t
f_t.name = "f"
f_t.backward()
assert (x_t.grad.item(), y_t.grad.item(), z_t.grad.item(), q_t.grad.item()) == (df_dx, df_dy, df_dz, df_dq)
draw_graph(f_t)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-chain", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 3. The scalar chain of the lecture
#
# One input $x$, two weights, a ReLU and the squared loss:
#
# $$f = w_1 x, \qquad g = \mathrm{ReLU}(f), \qquad \hat y = w_2\, g, \qquad L = \tfrac12 (\hat y - y)^2 .$$
#
# The backward pass multiplies local derivatives from the loss down, and each local derivative
# uses a value **stored during the forward pass**:
#
# $$\frac{\partial L}{\partial \hat y} = \hat y - y, \quad
#   \frac{\partial L}{\partial w_2} = \frac{\partial L}{\partial \hat y}\, g, \quad
#   \frac{\partial L}{\partial g} = \frac{\partial L}{\partial \hat y}\, w_2, \quad
#   \frac{\partial L}{\partial f} = \frac{\partial L}{\partial g}\, \mathrm{ReLU}'(f), \quad
#   \frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial f}\, x .$$
#
# With $x = 5$, $w_1 = 1$, $w_2 = 2$ and target $y = 2$, the prediction is $\hat y = 10$, so
# $\partial L / \partial \hat y = 8$. (The lecture's convention: $\mathrm{ReLU}'(0) = 1$.)

# %% nbgrader={"grade": false, "grade_id": "chain", "locked": true, "schema_version": 3, "solution": false, "task": false}
x_in, w1, w2, y_target = 5.0, 1.0, 2.0, 2.0

# forward pass: keep every intermediate value
f_val = w1 * x_in
g_val = max(f_val, 0.0)
y_hat = w2 * g_val
L = 0.5 * (y_hat - y_target) ** 2

# backward pass: local derivative x upstream gradient, with the stored values
dL_dyhat = y_hat - y_target
dL_dw2 = dL_dyhat * g_val
dL_dg = dL_dyhat * w2
dL_df = dL_dg * (1.0 if f_val >= 0 else 0.0)
dL_dw1 = dL_df * x_in

print(f"forward:  f = {f_val}, g = {g_val}, y_hat = {y_hat}, L = {L}")
print(f"backward: dL/dy_hat = {dL_dyhat}, dL/dw2 = {dL_dw2}, dL/dg = {dL_dg}, "
      f"dL/df = {dL_df}, dL/dw1 = {dL_dw1}")

# %% nbgrader={"grade": false, "grade_id": "chain-autograd", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The same chain in course.autograd, drawn; its gradients agree with ours.
w1_t = Tensor(np.array(w1), requires_grad=True, name="w1")
w2_t = Tensor(np.array(w2), requires_grad=True, name="w2")
f_chain = w1_t * Tensor(np.array(x_in), name="x")
f_chain.name = "f"
g_chain = f_chain.relu()
g_chain.name = "g"
y_hat_chain = w2_t * g_chain
y_hat_chain.name = "y_hat"
L_chain = 0.5 * (y_hat_chain - Tensor(np.array(y_target), name="y")) ** 2
L_chain.name = "L"
L_chain.backward(retain_graph=True)      # keep the graph for the stepper below
print(f"autograd: dL/dw1 = {w1_t.grad.item()}, dL/dw2 = {w2_t.grad.item()}")
assert (w1_t.grad.item(), w2_t.grad.item()) == (dL_dw1, dL_dw2)
draw_graph(L_chain)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-chain-stepper", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The backward pass of this chain, one node per click (**Next**): the forward values $x = 5$,
# $w_1 = 1$, $w_2 = 2$ are in the drawing, and the upstream gradients appear in the lecture's order,
# $\partial L/\partial \hat y = 8$, then $\partial L/\partial g = 16$, $\partial L/\partial f = 16$ and
# $\partial L/\partial w_1 = 80$ (and $\partial L/\partial w_2 = 40$).
#
# Which Jacobian the stepper shows: the **ordinary** one, $J[i, j] = \partial\,\text{node}_i /
# \partial\,\text{input}_j$, and each input receives the row vector upstream $\cdot J$. Module 04 (and
# section 5 below) writes the same numbers as $\left[\frac{\partial\, \text{node}}{\partial\,
# \text{input}}\right] \frac{\partial L}{\partial\, \text{node}}$ with $\left[\frac{\partial\,
# \text{node}}{\partial\, \text{input}}\right] = J^\top$. On this chain every node is a scalar, so $J$ and
# $J^\top$ are the same number; they differ in module 04's vector graphs.

# %% nbgrader={"grade": false, "grade_id": "chain-stepper", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("The backward stepper is skipped while grading.")
else:
    from course.widgets import backward_stepper
    chain_stepper = backward_stepper(L_chain)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-sigmoid-neuron", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 4. A sigmoid neuron, gate by gate and as one gate
#
# $$f(w, x) = \frac{1}{1 + e^{-(w_0 + w_1 x_1 + w_2 x_2)}}$$
#
# with the lecture's numbering: $w_0$ is the bias. (CS231n's notes, where this example comes from,
# write $w_0 x_0 + w_1 x_1 + w_2$ with the bias last; the numbers below are theirs, renamed.)
# As a graph of elementary gates: two $\times$, two $+$, a $\times(-1)$, $\exp$, $+1$ and $1/x$,
# each with a local derivative we know ($\frac{d}{dx} e^x = e^x$, $\frac{d}{dx}\frac1x = -\frac1{x^2}$).
# But the last four gates together are the sigmoid $\sigma(s) = 1/(1 + e^{-s})$, whose derivative
# is simply $\sigma'(s) = \sigma(s)\,(1 - \sigma(s))$: we may group gates into any function whose
# local derivative we can write down.

# %% nbgrader={"grade": false, "grade_id": "sigmoid-neuron", "locked": true, "schema_version": 3, "solution": false, "task": false}
w0_n, w1_n, x1_n, w2_n, x2_n = -3.0, 2.0, -1.0, -3.0, -2.0     # w0 is the bias

# forward, gate by gate
a = w1_n * x1_n
b = w2_n * x2_n
c = a + b
s = c + w0_n
t1 = -1.0 * s
t2 = np.exp(t1)
t3 = t2 + 1.0
out = 1.0 / t3

# backward, gate by gate
d_t3 = -1.0 / t3 ** 2 * 1.0        # 1/x
d_t2 = 1.0 * d_t3                  # +1
d_t1 = np.exp(t1) * d_t2           # exp
d_s_gates = -1.0 * d_t1            # *(-1)

# backward through the one sigmoid gate
d_s_sigmoid = out * (1 - out) * 1.0

# from s down, + distributes and x swaps
grads_neuron = {"w0": d_s_sigmoid,
                "w1": x1_n * d_s_sigmoid, "x1": w1_n * d_s_sigmoid,
                "w2": x2_n * d_s_sigmoid, "x2": w2_n * d_s_sigmoid}
print(f"f = {out:.4f};  df/ds by gates = {d_s_gates:.6f}, by the sigmoid gate = {d_s_sigmoid:.6f}")
print("  ".join(f"df/d{name} = {g:.4f}" for name, g in grads_neuron.items()))
assert np.isclose(d_s_gates, d_s_sigmoid)

fig, ax = plt.subplots(figsize=(6, 3.5))
s_axis = np.linspace(-6, 6, 200)
sig = 1 / (1 + np.exp(-s_axis))
ax.plot(s_axis, sig, label=r"$\sigma(s)$")
ax.plot(s_axis, sig * (1 - sig), label=r"$\sigma'(s) = \sigma(s)(1-\sigma(s))$")
ax.plot([s], [out], "ko")
ax.annotate(f"s = {s:g}", (s, out), textcoords="offset points", xytext=(8, -12))
ax.legend()
ax.set_xlabel("s")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-vector-derivatives", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 5. Vector derivatives
#
# For vectors we collect the partial derivatives in a matrix, and the lecture uses **two
# conventions** for it, one after the other; they hold the same numbers, transposed:
#
# - first the ordinary **Jacobian** $J = \frac{\partial a}{\partial b}$, entry $(i, j)$ =
#   $\partial a_i / \partial b_j$ (one *row per output*). The chain rule for a scalar loss $l$ then
#   treats gradients as row vectors: $\frac{\partial l}{\partial b} = \frac{\partial l}{\partial a}\, J$;
# - later, in the part on DAGs (module 04), $\left[\frac{\partial a}{\partial b}\right] = J^\top$,
#   entry $(i, j)$ = $\partial a_j / \partial b_i$ (one *row per input*), so that gradients are
#   column vectors with the shape of their variable and the chain rule reads from the loss down:
#
# $$\frac{\partial l}{\partial b} = \left[\frac{\partial a}{\partial b}\right] \frac{\partial l}{\partial a}
#   = J^\top \frac{\partial l}{\partial a}.$$
#
# In this notebook the formulas use the second form (column gradients, $J^\top$), the code computes
# exactly these products, and `numerical_grad` below measures rows of the ordinary $J$. Two cases
# cover a whole layer:
#
# - **matrix product** $a = W g$: $J = W$, so $\left[\frac{\partial (Wg)}{\partial g}\right] = W^\top$
#   and $\frac{\partial l}{\partial g} = W^\top \frac{\partial l}{\partial a}$;
# - **elementwise product** $a = f \odot g$: $a_j$ depends on $f_j$ only, so
#   $\left[\frac{\partial (f \odot g)}{\partial f}\right] = \mathrm{diag}(g)$ and
#   $\frac{\partial l}{\partial f} = g \odot \frac{\partial l}{\partial a}$ (we never build the diagonal
#   matrix). An elementwise activation $x = \sigma(s)$ works the same way: $\mathrm{diag}(\sigma'(s))$.
#
# Let us measure both Jacobians with finite differences.

# %% nbgrader={"grade": false, "grade_id": "vector-derivatives", "locked": true, "schema_version": 3, "solution": false, "task": false}
rng = np.random.default_rng(0)
W_demo = rng.standard_normal((3, 5))
g_demo = rng.standard_normal(5)
f_demo = rng.standard_normal(5)

# Row i of a Jacobian is the gradient of output i alone: upstream gradient 1 there, 0 elsewhere.
J_matmul = np.stack([numerical_grad(lambda g: W_demo @ g, g_demo, dout=e) for e in np.eye(3)])  # (3, 5)
J_elementwise = np.stack([numerical_grad(lambda f: f * g_demo, f_demo, dout=e) for e in np.eye(5)])  # (5, 5)
print("J of W g is W:             ", np.allclose(J_matmul, W_demo))
print("J of f * g is diag(g):     ", np.allclose(J_elementwise, np.diag(g_demo)))

dl_da = rng.standard_normal(3)
dl_dg = numerical_grad(lambda g: W_demo @ g, g_demo, dout=dl_da)
print("dl/dg = W^T dl/da:         ", np.allclose(dl_dg, W_demo.T @ dl_da), "  shape", dl_dg.shape, "= shape of g")

fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, M, title in [(axes[0], W_demo, "W (3x5)"),
                     (axes[1], J_matmul.T, r"$[\partial(Wg)/\partial g] = J^\top = W^\top$ (5x3)"),
                     (axes[2], J_elementwise.T, r"$[\partial(f\odot g)/\partial f] = \mathrm{diag}(g)$")]:
    ax.imshow(M, cmap="coolwarm", vmin=-2, vmax=2)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-recursion", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 6. The layer recursion of an MLP
#
# As in the lectures, $l$ is the loss, and a layer's number is a superscript in parentheses:
# $W^{(l)}$ belongs to layer $l$. An MLP with $L$ layers computes, for $l = 1, \dots, L$,
#
# $$s^{(l)} = W^{(l)} x^{(l-1)} + b^{(l)}, \qquad x^{(l)} = \sigma(s^{(l)}),$$
#
# from $x^{(0)}$ = the input (the last layer usually has no $\sigma$: its $s^{(L)}$ are the scores).
# With the two vector derivatives above, the backward pass is one recursion from layer $L$ down to 1:
#
# $$\frac{\partial l}{\partial s^{(l)}} = \frac{\partial l}{\partial x^{(l)}} \odot \sigma'(s^{(l)}), \qquad
#   \frac{\partial l}{\partial x^{(l-1)}} = W^{(l)\top} \frac{\partial l}{\partial s^{(l)}}, \qquad
#   \frac{\partial l}{\partial W^{(l)}} = \frac{\partial l}{\partial s^{(l)}}\, x^{(l-1)\top}, \qquad
#   \frac{\partial l}{\partial b^{(l)}} = \frac{\partial l}{\partial s^{(l)}}.$$
#
# and gradient descent updates every weight: $W^{(l)} \leftarrow W^{(l)} - \eta\, \frac{\partial l}{\partial W^{(l)}}$.
#
# **Batched form.** In code we process $N$ examples at once and store them as the *rows* of a
# matrix: $X^{(l-1)}$ has shape $(N, D_{\text{in}})$ and $W^{(l)}$ keeps the lecture's shape
# $(D_{\text{out}}, D_{\text{in}})$ (as `course.nn.Linear` does). Transposing the column formulas, and
# writing $dS^{(l)}$ for $\partial l / \partial S^{(l)}$ (the same for $X$, $W$, $b$):
#
# $$S^{(l)} = X^{(l-1)} W^{(l)\top} + b^{(l)}, \qquad
#   dS^{(l)} = dX^{(l)} \odot \sigma'(S^{(l)}), \qquad dX^{(l-1)} = dS^{(l)}\, W^{(l)}, \qquad
#   dW^{(l)} = dS^{(l)\top} X^{(l-1)}, \qquad db^{(l)} = \textstyle\sum_{n} dS^{(l)}[n, :].$$
#
# $W^{(l)}$ and $b^{(l)}$ are shared by all $N$ examples, so their gradients **sum** the examples'
# contributions: $dS^{(l)\top} X^{(l-1)}$ does it for $W^{(l)}$ (a sum over $n$ of outer products),
# and for $b^{(l)}$ we sum over the batch axis ourselves.
#
# Every layer below is a pair of functions, in the style `course.gradcheck.check_backward` checks:
#
# ```python
# out, cache = layer_forward(x, ...)      # cache: whatever backward will need
# dx, ... = layer_backward(dout, cache)   # dout = dl/d(out); one gradient per input, same shapes
# ```

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex1", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1 (2 points): the linear layer
#
# Forward $S = X W^\top + b$; backward $dX = dS\, W$, $dW = dS^\top X$, $db = \sum_n dS[n, :]$.
#
# *What you may use in exercises 1 to 8:* NumPy. The point is the backward pass by hand, so
# `course.autograd` (`backward()`, `grad`), `course.nn` and `course.gradcheck` must not compute
# it for you: answers that hand it to the library are flagged for the instructor's review.

# %% nbgrader={"grade": false, "grade_id": "linear", "locked": false, "schema_version": 3, "solution": true, "task": false}
def linear_forward(x, W, b):
    """Affine layer s = W x + b for a batch of inputs stored as rows.

    Inputs:
    - x: array of shape (N, D_in), one example per row.
    - W: array of shape (D_out, D_in), the weights (the lecture's layout).
    - b: array of shape (D_out,), the bias.

    Returns a tuple (out, cache):
    - out: array of shape (N, D_out), out[n] = W @ x[n] + b.
    - cache: whatever linear_backward needs.
    """
    ### BEGIN SOLUTION
    out = x @ W.T + b
    cache = (x, W)
    ### END SOLUTION
    return out, cache


def linear_backward(dout, cache):
    """Backward pass of linear_forward.

    Inputs:
    - dout: array of shape (N, D_out), the upstream gradient dl/d(out).
    - cache: from linear_forward.

    Returns a tuple (dx, dW, db) with the shapes of x (N, D_in), W (D_out, D_in), b (D_out,).
    """
    ### BEGIN SOLUTION
    x, W = cache
    dx = dout @ W
    dW = dout.T @ x
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dW, db


# %% nbgrader={"grade": true, "grade_id": "test_linear", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(1)
_x, _W, _b = _rng.standard_normal((4, 3)), _rng.standard_normal((2, 3)), _rng.standard_normal(2)
_out, _ = linear_forward(_x, _W, _b)
assert_close(_out, np.array([_W @ row + _b for row in _x]), name="linear_forward(x, W, b)")
check_backward(linear_forward, linear_backward, _x, _W, _b)
### BEGIN HIDDEN TESTS
# hint: a batch of one, a square W, and a long batch with D_out < D_in
# One example, a square W (so a transposed dW has the right shape but wrong values), a long batch.
for _shape in [(1, 5, 5), (7, 4, 4), (33, 6, 2)]:
    _n, _din, _dout = _shape
    _x = _rng.standard_normal((_n, _din))
    _W, _b = _rng.standard_normal((_dout, _din)), _rng.standard_normal(_dout)
    check_backward(linear_forward, linear_backward, _x, _W, _b, seed=_n)
# hint: db for a batch of several examples
# The bias gradient is the sum of the upstream gradients over the batch.
_, _cache = linear_forward(np.ones((3, 2)), np.ones((4, 2)), np.zeros(4))
_dx, _dW, _db = linear_backward(np.arange(12.0).reshape(3, 4), _cache)
assert_close(_db, np.array([12.0, 15.0, 18.0, 21.0]), name="db for dout = arange(12).reshape(3, 4)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-activations", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercises 2 to 4 (1 point each): the activations
#
# An elementwise activation $x = \sigma(s)$ has the diagonal Jacobian $\mathrm{diag}(\sigma'(s))$, so its
# backward pass is $ds = dx \odot \sigma'(s)$: the derivative is taken **at the input $s$**.
# For sigmoid and tanh it is cheapest to write $\sigma'(s)$ through the output, which the forward
# pass has already computed:
#
# | $\sigma(s)$ | $\sigma'(s)$ |
# |---|---|
# | $\mathrm{ReLU}(s) = \max(s, 0)$ | $1$ if $s \ge 0$, else $0$ (the lecture's convention at $0$) |
# | $\mathrm{sigmoid}(s) = 1 / (1 + e^{-s})$ | $\mathrm{sigmoid}(s)\,(1 - \mathrm{sigmoid}(s))$ |
# | $\tanh(s)$ | $1 - \tanh(s)^2$ |
#
# Exercise 2: ReLU.
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "relu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu_forward(s):
    """ReLU, elementwise.

    Inputs:
    - s: array of any shape.

    Returns a tuple (out, cache): out = max(s, 0) with the shape of s; cache for relu_backward.
    """
    ### BEGIN SOLUTION
    out = np.maximum(s, 0.0)
    cache = s
    ### END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of relu_forward, with ReLU'(0) = 1.

    Inputs:
    - dout: array, the upstream gradient, shape of s.
    - cache: from relu_forward.

    Returns ds: array of the shape of s.
    """
    ### BEGIN SOLUTION
    s = cache
    ds = dout * (s >= 0)
    ### END SOLUTION
    return ds


# %% nbgrader={"grade": true, "grade_id": "test_relu", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_s = np.array([[-2.0, -0.5, 0.3], [1.5, -1.0, 2.0]])
assert_close(relu_forward(_s)[0], np.array([[0, 0, 0.3], [1.5, 0, 2.0]]), name="relu_forward(s)")
check_backward(relu_forward, relu_backward, _s)
# The lecture's convention: ReLU'(0) = 1, so a zero input lets the gradient through.
_, _cache = relu_forward(np.array([0.0, -1.0, 1.0]))
assert_close(relu_backward(np.array([5.0, 5.0, 5.0]), _cache), np.array([5.0, 0.0, 5.0]),
             name="relu_backward at s = (0, -1, 1)")
### BEGIN HIDDEN TESTS
# hint: other shapes, including a 3-D array
_rng = np.random.default_rng(2)
_s = _rng.standard_normal((6, 5))
_s[np.abs(_s) < 0.05] = 0.5          # finite differences need some distance from the kink
check_backward(relu_forward, relu_backward, _s, seed=3)
check_backward(relu_forward, relu_backward, _rng.standard_normal((2, 3, 4)) + 0.1, seed=4)
# hint: ReLU'(0) = 1 for a zero input among others
_, _cache = relu_forward(np.array([[0.0, 2.0], [-3.0, 0.0]]))
assert_close(relu_backward(np.array([[1.0, 2.0], [3.0, 4.0]]), _cache), np.array([[1.0, 2.0], [0.0, 4.0]]),
             name="relu_backward with zeros in s")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Exercise 3: sigmoid. For large negative $s$, $e^{-s}$ overflows (NumPy warns, and the tests
# run your function under `np.errstate(over="raise")`, which turns the warning into an error).
# Where $s < 0$ compute $e^{s} / (1 + e^{s})$ instead. Careful with `np.where(cond, A, B)`: NumPy
# computes **both** `A` and `B` for every element before choosing, so neither may overflow
# anywhere; writing both branches with $e^{-|s|}$ (which is at most 1) does it. Other exact
# formulas, such as $\tfrac12 (1 + \tanh(s/2))$, are fine too.
#
# Required: no overflow for $|s|$ up to 1000, and every output within $10^{-12}$ of the true value
# (so tiny values such as $\mathrm{sigmoid}(-40) \approx 4 \cdot 10^{-18}$ may come out as 0).
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "sigmoid", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sigmoid_forward(s):
    """Sigmoid 1 / (1 + exp(-s)), elementwise, without overflow for large |s|.

    Inputs:
    - s: array of any shape; |s| may be as large as 1000.

    Returns a tuple (out, cache): out with the shape of s, within 1e-12 of the exact sigmoid and
    computed without overflow; cache for sigmoid_backward.
    """
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(s))                        # never overflows
    out = np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    cache = out
    ### END SOLUTION
    return out, cache


def sigmoid_backward(dout, cache):
    """Backward pass of sigmoid_forward.

    Inputs:
    - dout: array, the upstream gradient, shape of s.
    - cache: from sigmoid_forward.

    Returns ds: array of the shape of s.
    """
    ### BEGIN SOLUTION
    out = cache
    ds = dout * out * (1.0 - out)
    ### END SOLUTION
    return ds


# %% nbgrader={"grade": true, "grade_id": "test_sigmoid", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_s = np.array([[-2.0, -0.5, 0.0], [1.5, -1.0, 3.0]])
assert_close(sigmoid_forward(_s)[0], 1 / (1 + np.exp(-_s)), name="sigmoid_forward(s)")
check_backward(sigmoid_forward, sigmoid_backward, _s)
# Large |s|: no overflow (an overflow raises FloatingPointError here), 0 and 1 in the limit.
with np.errstate(over="raise", invalid="raise"):
    _out = sigmoid_forward(np.array([-1000.0, 1000.0]))[0]
assert_close(_out, np.array([0.0, 1.0]), name="sigmoid_forward at s = (-1000, 1000)", atol=1e-12)
### BEGIN HIDDEN TESTS
# hint: other shapes, including a 3-D array, and larger |s|
_rng = np.random.default_rng(5)
check_backward(sigmoid_forward, sigmoid_backward, 3 * _rng.standard_normal((7, 4)), seed=6)
check_backward(sigmoid_forward, sigmoid_backward, _rng.standard_normal((2, 2, 3)), seed=7)
# hint: large positive and negative s mixed in one array (no overflow, within 1e-12)
_big = np.array([[-800.0, -40.0], [40.0, 800.0]])
with np.errstate(over="raise", invalid="raise"):
    _out = sigmoid_forward(_big)[0]
assert_close(_out, 1 / (1 + np.exp(-np.clip(_big, -700, 700))), name="sigmoid_forward at large |s|", rtol=0, atol=1e-12)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Exercise 4: tanh (`np.tanh` does the forward pass).
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "tanh", "locked": false, "schema_version": 3, "solution": true, "task": false}
def tanh_forward(s):
    """tanh, elementwise.

    Inputs:
    - s: array of any shape.

    Returns a tuple (out, cache): out = tanh(s) with the shape of s; cache for tanh_backward.
    """
    ### BEGIN SOLUTION
    out = np.tanh(s)
    cache = out
    ### END SOLUTION
    return out, cache


def tanh_backward(dout, cache):
    """Backward pass of tanh_forward.

    Inputs:
    - dout: array, the upstream gradient, shape of s.
    - cache: from tanh_forward.

    Returns ds: array of the shape of s.
    """
    ### BEGIN SOLUTION
    out = cache
    ds = dout * (1.0 - out ** 2)
    ### END SOLUTION
    return ds


# %% nbgrader={"grade": true, "grade_id": "test_tanh", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_s = np.array([[-2.0, -0.5, 0.0], [1.5, -1.0, 3.0]])
assert_close(tanh_forward(_s)[0], np.tanh(_s), name="tanh_forward(s)")
check_backward(tanh_forward, tanh_backward, _s)
### BEGIN HIDDEN TESTS
# hint: other shapes, including a 3-D array
_rng = np.random.default_rng(8)
check_backward(tanh_forward, tanh_backward, 2 * _rng.standard_normal((9, 3)), seed=9)
check_backward(tanh_forward, tanh_backward, _rng.standard_normal((2, 3, 2)), seed=10)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 5 (1 point): the squared loss
#
# The lecture's loss $\tfrac12 (\hat y - y)^2$, for a batch: half the squared distance of each
# prediction from its target, averaged over the $N$ examples,
#
# $$L = \frac{1}{N} \sum_{n=1}^{N} \tfrac12 \lVert \hat y_n - y_n \rVert^2, \qquad
#   \frac{\partial L}{\partial \hat y_n} = \frac{1}{N} (\hat y_n - y_n).$$
#
# A loss is a layer like the others: its output is one number, and backward multiplies by the
# upstream gradient `dout` (1 when $L$ is the final loss). The targets get no gradient.
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "mse", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mse_forward(y_hat, y):
    """Half squared error, summed over outputs and averaged over the batch.

    Inputs:
    - y_hat: array of shape (N, D), the predictions.
    - y: array of shape (N, D), the targets.

    Returns a tuple (loss, cache): loss a float (0-d), cache for mse_backward.
    """
    ### BEGIN SOLUTION
    diff = y_hat - y
    loss = 0.5 * np.sum(diff ** 2) / y_hat.shape[0]
    cache = diff
    ### END SOLUTION
    return loss, cache


def mse_backward(dout, cache):
    """Backward pass of mse_forward.

    Inputs:
    - dout: float, the upstream gradient dl/dL (1 if L is the final loss).
    - cache: from mse_forward.

    Returns dy_hat: array of shape (N, D), the gradient with respect to the predictions only.
    """
    ### BEGIN SOLUTION
    diff = cache
    dy_hat = dout * diff / diff.shape[0]
    ### END SOLUTION
    return dy_hat


# %% nbgrader={"grade": true, "grade_id": "test_mse", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# The lecture's chain as a batch of one: y_hat = 10, y = 2 gives dL/dy_hat = 8.
_loss, _cache = mse_forward(np.array([[10.0]]), np.array([[2.0]]))
assert_close(_loss, 32.0, name="mse_forward(10, 2)")
assert_close(mse_backward(1.0, _cache), np.array([[8.0]]), name="dL/dy_hat for y_hat = 10, y = 2")
_rng = np.random.default_rng(11)
check_backward(mse_forward, mse_backward, _rng.standard_normal((5, 3)), y=_rng.standard_normal((5, 3)))
### BEGIN HIDDEN TESTS
# hint: the loss on a batch of 12 with two outputs (mean over the batch, sum over the outputs), and a batch of one
_y_hat, _y = _rng.standard_normal((12, 2)), _rng.standard_normal((12, 2))
assert_close(mse_forward(_y_hat, _y)[0], np.mean(np.sum((_y_hat - _y) ** 2, axis=1)) / 2,
             name="mse_forward on a batch of 12")
check_backward(mse_forward, mse_backward, _y_hat, y=_y, seed=12)
check_backward(mse_forward, mse_backward, _rng.standard_normal((1, 4)), y=np.zeros((1, 4)), seed=13)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 6 (2 points): softmax and cross-entropy
#
# For classification the last layer's scores $s_n \in \mathbb{R}^K$ become probabilities
# $p_n = \mathrm{softmax}(s_n)$, $p_{nk} = e^{s_{nk}} / \sum_j e^{s_{nj}}$, and the loss is the mean
# negative log-probability of the correct classes $y_n$:
#
# $$L = -\frac1N \sum_n \log p_{n, y_n}, \qquad
#   \frac{\partial L}{\partial s_{nk}} = \frac1N \left(p_{nk} - [k = y_n]\right).$$
#
# Softmax does not change when a constant is subtracted from all scores of a row: subtract the
# row's maximum first, so that `np.exp` never overflows (scores of 1000 must work).
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "softmax_ce", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax_cross_entropy_forward(scores, y):
    """Mean softmax cross-entropy, numerically stable.

    Inputs:
    - scores: array of shape (N, K), class scores.
    - y: int array of shape (N,), the correct class of each example, in 0..K-1.

    Returns a tuple (loss, cache): loss a float (0-d); cache for softmax_cross_entropy_backward.
    """
    ### BEGIN SOLUTION
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    loss = -log_p[np.arange(n), y].mean()
    cache = (np.exp(log_p), y)
    ### END SOLUTION
    return loss, cache


def softmax_cross_entropy_backward(dout, cache):
    """Backward pass of softmax_cross_entropy_forward.

    Inputs:
    - dout: float, the upstream gradient (1 if the loss is the final one).
    - cache: from softmax_cross_entropy_forward.

    Returns dscores: array of shape (N, K).
    """
    ### BEGIN SOLUTION
    p, y = cache
    n = p.shape[0]
    dscores = p.copy()
    dscores[np.arange(n), y] -= 1.0
    dscores *= dout / n
    ### END SOLUTION
    return dscores


# %% nbgrader={"grade": true, "grade_id": "test_softmax_ce", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Equal scores: every class has probability 1/K, so the loss is log K.
_loss, _ = softmax_cross_entropy_forward(np.zeros((2, 4)), np.array([0, 3]))
assert_close(_loss, np.log(4.0), name="loss for equal scores (K = 4)")
_rng = np.random.default_rng(14)
_scores, _labels = _rng.standard_normal((5, 3)), np.array([0, 2, 1, 2, 0])
check_backward(softmax_cross_entropy_forward, softmax_cross_entropy_backward, _scores, y=_labels)
# Scores of 1000 must not overflow (an overflow raises FloatingPointError here).
with np.errstate(over="raise", invalid="raise"):
    _loss, _ = softmax_cross_entropy_forward(np.array([[1000.0, 1000.0]]), np.array([1]))
assert_close(_loss, np.log(2.0), name="loss for scores (1000, 1000)")
### BEGIN HIDDEN TESTS
# hint: ten classes and a batch of 16 (gradient and loss value)
_scores, _labels = 2 * _rng.standard_normal((16, 10)), _rng.integers(0, 10, size=16)
check_backward(softmax_cross_entropy_forward, softmax_cross_entropy_backward, _scores, y=_labels, seed=15)
_reference = -np.mean([_scores[i, _labels[i]] - np.log(np.exp(_scores[i]).sum()) for i in range(16)])
assert_close(softmax_cross_entropy_forward(_scores, _labels)[0], _reference, name="loss on 16 examples")
# hint: large scores (loss and gradient must equal those of the scores shifted back), and a batch of one
# Stable for large scores: the same loss and gradient as for the scores shifted by -1000.
with np.errstate(over="raise", invalid="raise"):
    _loss_big, _cache_big = softmax_cross_entropy_forward(_scores + 1000.0, _labels)
    _d_big = softmax_cross_entropy_backward(1.0, _cache_big)
assert_close(_loss_big, _reference, name="loss for scores + 1000")
_, _cache = softmax_cross_entropy_forward(_scores, _labels)
assert_close(_d_big, softmax_cross_entropy_backward(1.0, _cache), name="dscores for scores + 1000")
check_backward(softmax_cross_entropy_forward, softmax_cross_entropy_backward,
               _rng.standard_normal((1, 2)), y=np.array([1]), seed=16)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-mlp", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 7. The whole MLP: the recursion over the layers
#
# `mlp_forward` (given) runs the layers in order and keeps, for every layer $l$, what the recursion
# needs: its input $X^{(l-1)}$, its pre-activation $S^{(l)}$ and its weights $W^{(l)}$. This list *is* the
# memory cost of backprop: every activation of the forward pass stays alive until backward has used it.
# The activation $\sigma$ is applied after every layer except the last.

# %% nbgrader={"grade": false, "grade_id": "mlp-forward", "locked": true, "schema_version": 3, "solution": false, "task": false}
def mlp_forward(x, params, sigma):
    """Forward pass of an MLP; sigma after every layer but the last.

    Inputs:
    - x: array of shape (N, D_0), the inputs.
    - params: list of L pairs (W^(l), b^(l)), W^(l) of shape (D_l, D_{l-1}), b^(l) of shape (D_l,).
    - sigma: the activation, a function from arrays to arrays of the same shape.

    Returns a tuple (scores, cache):
    - scores: array of shape (N, D_L), the last layer's S^(L).
    - cache: list of L tuples (x_prev, s, W): the layer's input X^(l-1) (N, D_{l-1}),
      its pre-activation S^(l) (N, D_l), and W^(l).
    """
    cache = []
    for l, (W, b) in enumerate(params):
        s = x @ W.T + b
        cache.append((x, s, W))
        x = sigma(s) if l < len(params) - 1 else s
    return x, cache


# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex7", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 7 (3 points): `mlp_backward`
#
# Run the recursion of section 6 from the last layer to the first, using the cache. Write the four
# formulas directly (no calls to your layer functions): the last layer has no activation, so there
# $dS^{(L)}$ is the upstream gradient itself; everywhere else, remember that $\sigma'$ is taken at
# $S^{(l)}$, not at $X^{(l)}$.
#
# *What you may use:* NumPy and the `sigma_prime` you are given.

# %% nbgrader={"grade": false, "grade_id": "mlp_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_backward(dscores, cache, sigma_prime):
    """Backward pass of mlp_forward by the layer recursion.

    Inputs:
    - dscores: array of shape (N, D_L), dl/d(scores).
    - cache: from mlp_forward (a list of L tuples (x_prev, s, W)).
    - sigma_prime: the derivative of the activation, elementwise: sigma_prime(s) has s's shape.

    Returns a tuple (dx, grads):
    - dx: array of shape (N, D_0), the gradient with respect to the input.
    - grads: list of L pairs (dW^(l), db^(l)) with the shapes of (W^(l), b^(l)), in layer order.
    """
    ### BEGIN SOLUTION
    grads = [None] * len(cache)
    dx = dscores
    for l in reversed(range(len(cache))):
        x_prev, s, W = cache[l]
        ds = dx if l == len(cache) - 1 else dx * sigma_prime(s)
        grads[l] = (ds.T @ x_prev, ds.sum(axis=0))
        dx = ds @ W
    ### END SOLUTION
    return dx, grads


# %% nbgrader={"grade": true, "grade_id": "test_mlp_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# A test network with sigma = sin (so sigma' = cos), as a layer with inputs x, W1, b1, W2, b2, W3, b3.
def _mlp_layer(sigma, sigma_prime):
    def mlp_as_layer_forward(x, *weights):
        params = list(zip(weights[0::2], weights[1::2]))
        return mlp_forward(x, params, sigma)

    def mlp_as_layer_backward(dout, cache):
        dx, grads = mlp_backward(dout, cache, sigma_prime)
        assert len(grads) == len(cache), f"mlp_backward returned {len(grads)} (dW, db) pairs for {len(cache)} layers"
        return (dx,) + tuple(g for pair in grads for g in pair)
    return mlp_as_layer_forward, mlp_as_layer_backward


def _random_mlp(rng, sizes):
    return [a for d_in, d_out in zip(sizes[:-1], sizes[1:])
            for a in (rng.standard_normal((d_out, d_in)) / np.sqrt(d_in), rng.standard_normal(d_out))]


_rng = np.random.default_rng(17)
_fwd, _bwd = _mlp_layer(np.sin, np.cos)
_names = ["x", "W1", "b1", "W2", "b2", "W3", "b3"]
check_backward(_fwd, _bwd, _rng.standard_normal((4, 3)), *_random_mlp(_rng, [3, 5, 4, 2]), names=_names)
### BEGIN HIDDEN TESTS
# hint: other activations, a deeper network, a batch of one
# Other activations, depths and batch sizes.
_fwd, _bwd = _mlp_layer(np.tanh, lambda s: 1 - np.tanh(s) ** 2)
check_backward(_fwd, _bwd, _rng.standard_normal((6, 2)), *_random_mlp(_rng, [2, 3, 3, 3, 2]),
               names=["x", "W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"], seed=18)
_fwd, _bwd = _mlp_layer(lambda s: s ** 3 / 3 + s, lambda s: s ** 2 + 1)
check_backward(_fwd, _bwd, _rng.standard_normal((1, 4)), *_random_mlp(_rng, [4, 3, 2]),
               names=["x", "W1", "b1", "W2", "b2"], seed=19)
# hint: a network of a single layer (which has no activation)
_fwd, _bwd = _mlp_layer(np.sin, np.cos)
check_backward(_fwd, _bwd, _rng.standard_normal((5, 3)), *_random_mlp(_rng, [3, 2]),
               names=["x", "W1", "b1"], seed=20)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex8", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 8 (2 points): training with your own backprop
#
# `sgd_step` is the update $W \leftarrow W - \eta\, dW$ for every parameter. Change the arrays
# **in place** (`W -= lr * dW`): the list `params` holds the network's arrays, and `W = W - lr * dW`
# would only rebind a local name and leave the network as it was.
#
# `train_mlp` runs mini-batch stochastic gradient descent. The function that computes the loss and
# the gradients is an argument, `loss_and_grads(params, x_batch, y_batch) -> (loss, grads)`, so the
# same loop trains any network. In every epoch, draw a new random order of the $N$ examples with
# `rng.permutation(N)` from **one** generator `rng = np.random.default_rng(seed)` made at the start,
# and walk through it in batches of `batch_size` (the last batch may be smaller).
#
# *What you may use:* NumPy and the `loss_and_grads` you are given.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-autograd-reference", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The tests below (and section 8) need a `loss_and_grads` they can trust: here it is, computed by
# `course.autograd` for a ReLU MLP with softmax cross-entropy.

# %% nbgrader={"grade": false, "grade_id": "autograd-reference", "locked": true, "schema_version": 3, "solution": false, "task": false}
def autograd_loss_and_grads(params, x_batch, y_batch):
    """Cross-entropy of a ReLU MLP (params as for mlp_forward) and its gradients, by course.autograd.

    Returns (loss, grads): loss a float, grads a list of pairs (dW, db) of arrays like params.
    """
    tensors = [(Tensor(W, requires_grad=True), Tensor(b, requires_grad=True)) for W, b in params]
    h = Tensor(x_batch)
    for l, (W, b) in enumerate(tensors):
        h = h @ W.T + b
        if l < len(tensors) - 1:
            h = h.relu()
    loss = F.cross_entropy(h, y_batch)
    loss.backward()
    return loss.item(), [(W.grad.data, b.grad.data) for W, b in tensors]


# %% nbgrader={"grade": false, "grade_id": "train_mlp", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sgd_step(params, grads, lr):
    """One gradient-descent step, in place.

    Inputs:
    - params: list of pairs (W, b) of arrays; they are changed in place.
    - grads: list of pairs (dW, db) with the same shapes.
    - lr: float, the learning rate eta.

    Returns nothing.
    """
    ### BEGIN SOLUTION
    for (W, b), (dW, db) in zip(params, grads):
        W -= lr * dW
        b -= lr * db
    ### END SOLUTION


def train_mlp(params, loss_and_grads, x, y, lr, epochs, batch_size, seed=0):
    """Mini-batch SGD.

    Inputs:
    - params: list of pairs (W, b), trained in place.
    - loss_and_grads: function (params, x_batch, y_batch) -> (loss, grads), grads a list of
      pairs (dW, db) like params.
    - x: array of shape (N, D), y: array of shape (N,) (or anything indexable like x).
    - lr: float, the learning rate; epochs: int, passes over the data; batch_size: int.
    - seed: int, seed of the generator that shuffles the examples.

    Returns losses: list of floats, the loss of every batch, in order.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])
            sgd_step(params, grads, lr)
            losses.append(float(loss))
    return losses
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_train_mlp", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(21)
_params = [(_rng.standard_normal((3, 2)), np.zeros(3)), (_rng.standard_normal((2, 3)), np.zeros(2))]
_W0 = _params[0][0]
_before = [(W.copy(), b.copy()) for W, b in _params]
_grads = [(np.ones_like(W), np.full_like(b, 2.0)) for W, b in _params]
sgd_step(_params, _grads, 0.1)
assert _params[0][0] is _W0, "sgd_step must change the arrays in place, not put new ones in the list"
assert_close(_params[0][0], _before[0][0] - 0.1, name="W after sgd_step with dW = 1, lr = 0.1")
assert_close(_params[1][1], _before[1][1] - 0.2, name="b after sgd_step with db = 2, lr = 0.1")
_x = _rng.standard_normal((20, 2))
_y = (_x[:, 0] * _x[:, 1] > 0).astype(int)
_losses = train_mlp(_params, autograd_loss_and_grads, _x, _y, lr=0.1, epochs=3, batch_size=8)
assert len(_losses) == 9, f"3 epochs of 20 examples in batches of 8 are 9 steps, got {len(_losses)} losses"
# One epoch uses every example once, in batches of 8, 8 and 4: a loss_and_grads that records its batches.
_batches = []
def _record_batches(params, x_batch, y_batch):
    _batches.append(np.array(y_batch))
    return 0.0, [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
train_mlp(_params, _record_batches, _x, np.arange(20), lr=0.1, epochs=1, batch_size=8)
assert [len(b) for b in _batches] == [8, 8, 4], f"batch sizes {[len(b) for b in _batches]}, expected [8, 8, 4]"
assert sorted(np.concatenate(_batches)) == list(range(20)), "one epoch must use every example exactly once"
### BEGIN HIDDEN TESTS
# hint: full batches for several epochs, compared step by step with plain gradient descent
# Full batches: the order of the examples does not matter, so the result is the reference one.
_start = [(_rng.standard_normal((4, 2)), _rng.standard_normal(4)), (_rng.standard_normal((2, 4)), np.zeros(2))]
_mine = [(W.copy(), b.copy()) for W, b in _start]
_reference = [(W.copy(), b.copy()) for W, b in _start]
_losses = train_mlp(_mine, autograd_loss_and_grads, _x, _y, lr=0.5, epochs=5, batch_size=20, seed=3)
_expected_losses = []
for _ in range(5):
    _l, _g = autograd_loss_and_grads(_reference, _x, _y)
    _expected_losses.append(_l)
    _reference = [(W - 0.5 * dW, b - 0.5 * db) for (W, b), (dW, db) in zip(_reference, _g)]
assert_close(np.array(_losses), np.array(_expected_losses), name="losses of 5 full-batch steps")
for (_W, _b), (_W_ref, _b_ref) in zip(_mine, _reference):
    assert_close(_W, _W_ref, name="W after 5 full-batch steps")
    assert_close(_b, _b_ref, name="b after 5 full-batch steps")
# hint: every example exactly once per epoch, a new order in each epoch, a smaller last batch
# Every example is used exactly once per epoch, with a fresh order each epoch.
_seen = []
def _recording(params, x_batch, y_batch):
    _seen.append(np.array(y_batch))
    return 0.0, [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
train_mlp(_mine, _recording, _x, np.arange(20), lr=0.1, epochs=2, batch_size=6, seed=4)
assert [len(s) for s in _seen] == [6, 6, 6, 2, 6, 6, 6, 2], f"batch sizes {[len(s) for s in _seen]}"
assert sorted(np.concatenate(_seen[:4])) == list(range(20)), "epoch 1 must use every example once"
assert sorted(np.concatenate(_seen[4:])) == list(range(20)), "epoch 2 must use every example once"
assert not np.array_equal(np.concatenate(_seen[:4]), np.concatenate(_seen[4:])), "each epoch needs a new order"
# hint: many epochs of small batches must lower the loss
_params = [(_rng.standard_normal((8, 2)), np.zeros(8)), (_rng.standard_normal((2, 8)) * 0.1, np.zeros(2))]
_first = autograd_loss_and_grads(_params, _x, _y)[0]
train_mlp(_params, autograd_loss_and_grads, _x, _y, lr=0.2, epochs=40, batch_size=5, seed=5)
_last = autograd_loss_and_grads(_params, _x, _y)[0]
assert _last < 0.7 * _first, f"training should lower the loss: {_first:.3f} -> {_last:.3f}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-check-autograd", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 8. Your backprop against `course.autograd`
#
# Put your pieces together: `mlp_forward`, your softmax cross-entropy, your `mlp_backward` with the
# ReLU derivative from your `relu_backward`. Then compare its gradients with the ones
# `course.autograd` computes for the very same network and batch.

# %% nbgrader={"grade": false, "grade_id": "my-backprop", "locked": true, "schema_version": 3, "solution": false, "task": false}
def relu(s):
    return relu_forward(s)[0]


def relu_prime(s):
    """ReLU'(s) elementwise, from your relu_backward with an upstream gradient of ones."""
    return relu_backward(np.ones_like(s), relu_forward(s)[1])


def my_loss_and_grads(params, x_batch, y_batch):
    """Cross-entropy of a ReLU MLP and its gradients, by your own backprop."""
    scores, cache = mlp_forward(x_batch, params, relu)
    loss, loss_cache = softmax_cross_entropy_forward(scores, y_batch)
    dscores = softmax_cross_entropy_backward(1.0, loss_cache)
    _, grads = mlp_backward(dscores, cache, relu_prime)
    return loss, grads


def init_mlp(sizes, seed=0):
    """He-initialised weights for layer widths sizes = [D_0, D_1, ..., D_L]; zero biases (section 9 says why)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((d_out, d_in)) * np.sqrt(2.0 / d_in), np.zeros(d_out))
            for d_in, d_out in zip(sizes[:-1], sizes[1:])]


def make_spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    """Interleaved spiral arms in the plane, one per class: x (N, 2) floats, y (N,) ints."""
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.1, 1.0, n_per_class)
    xs, ys = [], []
    for k in range(n_classes):
        angle = 4.0 * radius + 2 * np.pi * k / n_classes + noise * rng.standard_normal(n_per_class)
        xs.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs), np.concatenate(ys)


x_spirals, y_spirals = make_spirals()
spiral_params = init_mlp([2, 64, 64, 3], seed=0)
loss_mine, grads_mine = my_loss_and_grads(spiral_params, x_spirals[:32], y_spirals[:32])
loss_auto, grads_auto = autograd_loss_and_grads(spiral_params, x_spirals[:32], y_spirals[:32])
worst = max(np.max(np.abs(g1 - g2)) / np.max(np.abs(g2))
            for pair_mine, pair_auto in zip(grads_mine, grads_auto) for g1, g2 in zip(pair_mine, pair_auto))
print(f"loss: yours {loss_mine:.10f}, autograd {loss_auto:.10f}")
print(f"largest difference of any gradient, relative to its size: {worst:.1e}")
assert worst < 1e-8, "your gradients differ from course.autograd's: check the exercises above"

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-spirals", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Spirals
#
# Three interleaved spiral arms: no line separates them, but a ReLU MLP with two hidden layers
# of 64 units learns to. (While grading, the training is shortened.)

# %% nbgrader={"grade": false, "grade_id": "train-spirals", "locked": true, "schema_version": 3, "solution": false, "task": false}
def accuracy(params, x, y):
    scores, _ = mlp_forward(x, params, relu)
    return float(np.mean(scores.argmax(axis=1) == y))


spiral_epochs = 10 if GRADING else 150
spiral_params = init_mlp([2, 64, 64, 3], seed=0)
spiral_losses = train_mlp(spiral_params, my_loss_and_grads, x_spirals, y_spirals,
                          lr=0.1, epochs=spiral_epochs, batch_size=32, seed=0)
spiral_accuracy = accuracy(spiral_params, x_spirals, y_spirals)
print(f"spirals: {spiral_epochs} epochs, training accuracy {spiral_accuracy:.1%}")

u, v = np.meshgrid(np.linspace(-1.2, 1.2, 200), np.linspace(-1.2, 1.2, 200))
grid_scores, _ = mlp_forward(np.column_stack([u.ravel(), v.ravel()]), spiral_params, relu)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
axes[0].contourf(u, v, grid_scores.argmax(axis=1).reshape(u.shape), levels=[-0.5, 0.5, 1.5, 2.5],
                 colors=["#f6d5d5", "#d5e3f6", "#d9f0d3"])
axes[0].scatter(x_spirals[:, 0], x_spirals[:, 1], c=y_spirals, cmap="brg", s=12, edgecolors="k", linewidths=0.3)
axes[0].set_aspect("equal")
axes[0].set_title(f"decision regions, accuracy {spiral_accuracy:.0%}")
axes[1].plot(spiral_losses, lw=0.7)
axes[1].set_yscale("log")
axes[1].set_xlabel("step")
axes[1].set_ylabel("cross-entropy (batch)")
axes[1].set_title("training loss")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-digits", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Handwritten digits
#
# The same code on real data: 8x8 images of handwritten digits (`course.data.digits()`), each
# flattened into a vector of 64 pixels, ten classes.

# %% nbgrader={"grade": false, "grade_id": "train-digits", "locked": true, "schema_version": 3, "solution": false, "task": false}
data = digits()
x_train = data.x_train.reshape(len(data.x_train), -1).astype(np.float64)
x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float64)
y_train, y_test = data.y_train, data.y_test

digit_epochs = 2 if GRADING else 20
digit_params = init_mlp([64, 64, 10], seed=0)
_, digit_grads_mine = my_loss_and_grads(digit_params, x_train[:64], y_train[:64])
_, digit_grads_auto = autograd_loss_and_grads(digit_params, x_train[:64], y_train[:64])
digit_worst = max(np.max(np.abs(g1 - g2)) / np.max(np.abs(g2))
                  for pair_mine, pair_auto in zip(digit_grads_mine, digit_grads_auto)
                  for g1, g2 in zip(pair_mine, pair_auto))
print(f"digits network: your gradients and course.autograd's differ by at most {digit_worst:.1e} (relative)")
digit_losses = train_mlp(digit_params, my_loss_and_grads, x_train, y_train,
                         lr=0.1, epochs=digit_epochs, batch_size=32, seed=0)
digit_accuracy = accuracy(digit_params, x_test, y_test)
print(f"digits: {digit_epochs} epochs on {len(x_train)} images, test accuracy {digit_accuracy:.1%}")

test_scores, _ = mlp_forward(x_test, digit_params, relu)
predicted = test_scores.argmax(axis=1)
fig, axes = plt.subplots(2, 8, figsize=(11, 3.2))
for ax, image, label, guess in zip(axes.ravel(), data.x_test, y_test, predicted):
    ax.imshow(image[0], cmap="gray_r")
    ax.set_title(f"{guess}" + ("" if guess == label else f" (is {label})"),
                 color="black" if guess == label else "red", fontsize=10)
    ax.axis("off")
fig.suptitle("test digits and the network's answers")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-saturation", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 9. Saturation, vanishing gradients and initialisation
#
# Unroll the recursion of section 6 from the top layer $L$ down to layer $l$: every layer on the
# way multiplies the gradient by $\mathrm{diag}(\sigma'(s^{(k)}))$ and by $W^{(k)\top}$,
#
# $$\frac{\partial l}{\partial s^{(l)}} = \mathrm{diag}(\sigma'(s^{(l)}))\, W^{(l+1)\top}
#   \mathrm{diag}(\sigma'(s^{(l+1)}))\, W^{(l+2)\top} \cdots\, \frac{\partial l}{\partial s^{(L)}},$$
#
# a **product over the depth**. If the factors are mostly below 1 the gradient that reaches the
# first layers *vanishes*; if mostly above 1 it *explodes*.
#
# - **Sigmoid saturates.** $\sigma'(s) = \sigma(s)(1 - \sigma(s)) \le \tfrac14$, with equality only
#   at $s = 0$, so each sigmoid layer shrinks the gradient by at least a factor 4 unless the weights
#   make up for it; and where $|s|$ is large, $\sigma'(s) \approx e^{-|s|}$: the unit is *saturated*
#   and passes almost nothing back. $\tanh' = 1 - \tanh^2$ is 1 at 0 but saturates the same way.
# - **ReLUs do not saturate** for $s > 0$ ($\mathrm{ReLU}' = 1$), but a unit whose $s < 0$ for
#   every input is **dead**: $\mathrm{ReLU}'(s) = 0$ there, so its weights get exactly zero gradient
#   and no step of gradient descent will ever bring it back.

# %% nbgrader={"grade": false, "grade_id": "saturation-numbers", "locked": true, "schema_version": 3, "solution": false, "task": false}
def derivative_of(layer_forward, layer_backward):
    """sigma'(s) elementwise, from a layer pair of exercises 2 to 4 (upstream gradient of ones)."""
    return lambda s: layer_backward(np.ones_like(s), layer_forward(s)[1])


sigmoid_prime = derivative_of(sigmoid_forward, sigmoid_backward)
tanh_prime = derivative_of(tanh_forward, tanh_backward)

largest_sigmoid_slope = float(sigmoid_prime(np.array(0.0)))
print(f"sigma'(0) = {largest_sigmoid_slope}, the largest slope of the sigmoid")
print(f"through 10 sigmoid layers at best: (1/4)^10 = {largest_sigmoid_slope ** 10:.1e} (unless the weights make up for it)")
for s_value in [2.0, 5.0, 10.0]:
    print(f"saturated: sigma'({s_value:g}) = {float(sigmoid_prime(np.array(s_value))):.1e}, "
          f"tanh'({s_value:g}) = {float(tanh_prime(np.array(s_value))):.1e}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-initialisation", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Initialisation** sets the size of those factors at the start. With independent weights of mean 0
# and variance $\mathrm{Var}(W)$, a unit with $D_\text{in}$ inputs has
# $\mathrm{Var}(s_i) = D_\text{in}\, \mathrm{Var}(W)\, \mathbb{E}[x_j^2]$, and on the way back
# $\partial l / \partial x^{(l-1)} = W^{(l)\top} \partial l / \partial s^{(l)}$ sums over the
# $D_\text{out}$ units in the same way. To keep both the forward signal and the backward gradient at
# the same scale from layer to layer we want $D_\text{in} \mathrm{Var}(W) \approx 1$ and
# $D_\text{out} \mathrm{Var}(W) \approx 1$:
#
# - **Xavier/Glorot** (for activations that are close to the identity near 0, like tanh): the
#   compromise $\mathrm{Var}(W) = \dfrac{2}{D_\text{in} + D_\text{out}}$;
# - **He** (for ReLU, which sets half of the $s$ to zero and so halves $\mathbb{E}[x^2]$):
#   $\mathrm{Var}(W) = \dfrac{2}{D_\text{in}}$.
#
# Where the course uses them: `init_mlp` of section 8 draws **He** weights,
# `rng.standard_normal((d_out, d_in)) * np.sqrt(2.0 / d_in)`, for the ReLU networks on spirals and
# digits and for the timing of section 10 (that is the $\sqrt{2 / D_\text{in}}$ you may have
# wondered about). `course.nn.Linear` and `course.nn.Conv2d` (modules 01, 02 and 05) use PyTorch's
# default instead, uniform on $\pm 1/\sqrt{D_\text{in}}$ ($D_\text{in}$ = inputs of a unit, for a
# convolution channels x kernel height x kernel width), whose variance $1 / (3 D_\text{in})$ is a
# sixth of He's: the cell below checks both numbers.

# %% nbgrader={"grade": false, "grade_id": "initialisation-in-the-course", "locked": true, "schema_version": 3, "solution": false, "task": false}
he_std = np.std(np.concatenate([W.ravel() for W, _ in init_mlp([64, 512, 512], seed=0)[1:]]))
linear_std = np.std(Linear(512, 512).weight.data)
print(f"init_mlp, 512 inputs:       std {he_std:.4f}   He: sqrt(2/512) = {np.sqrt(2 / 512):.4f}")
print(f"course.nn.Linear(512, 512): std {linear_std:.4f}   1/sqrt(3 * 512) = {1 / np.sqrt(3 * 512):.4f}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex9", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 9 (2 points): Xavier and He initialisation
#
# Write `init_weights(sizes, scheme, rng)` for an MLP with layer widths
# `sizes = [D_0, D_1, ..., D_L]` (input first). Layer $l$ gets weights $W^{(l)}$ of shape
# $(D_l, D_{l-1})$, drawn from a normal distribution with mean 0 and standard deviation
#
# - `scheme == "xavier"`: $\sqrt{2 / (D_{l-1} + D_l)}$ (Xavier/Glorot);
# - `scheme == "he"`: $\sqrt{2 / D_{l-1}}$ (He);
#
# and a bias $b^{(l)}$ of zeros, shape $(D_l,)$; both float64. For any other `scheme`, raise a
# `ValueError`.
#
# **Random numbers** (the tests compare your weights number for number): use the generator `rng`
# you are given, do not make a new one. Draw layer 1's weights first, then layer 2's, and so on,
# each with **one** call `rng.standard_normal((D_l, D_{l-1}))` multiplied by the standard
# deviation (`rng.normal(0.0, std, size=(D_l, D_{l-1}))` draws the same numbers), and draw nothing
# else from `rng`.
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "init_weights", "locked": false, "schema_version": 3, "solution": true, "task": false}
def init_weights(sizes, scheme, rng):
    """Xavier or He initialisation of an MLP.

    Inputs:
    - sizes: list of ints [D_0, D_1, ..., D_L], the layer widths, input first.
    - scheme: "xavier" (std sqrt(2 / (D_in + D_out))) or "he" (std sqrt(2 / D_in)).
    - rng: a np.random.Generator; one rng.standard_normal((D_out, D_in)) per layer, in layer order,
      and nothing else drawn from it.

    Returns params: list of L pairs (W, b), W of shape (D_l, D_{l-1}), b zeros of shape (D_l,).
    Raises ValueError for any other scheme.
    """
    ### BEGIN SOLUTION
    if scheme not in ("xavier", "he"):
        raise ValueError(f"scheme must be 'xavier' or 'he', got {scheme!r}")
    params = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        std = np.sqrt(2.0 / (d_in + d_out)) if scheme == "xavier" else np.sqrt(2.0 / d_in)
        params.append((rng.standard_normal((d_out, d_in)) * std, np.zeros(d_out)))
    ### END SOLUTION
    return params


# %% nbgrader={"grade": true, "grade_id": "test_init_weights", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def _expected_weights(sizes, stds, seed):
    _reference = np.random.default_rng(seed)
    return [_reference.standard_normal((d_out, d_in)) * std for d_in, d_out, std in zip(sizes[:-1], sizes[1:], stds)]


_params = init_weights([3, 5, 2], "he", np.random.default_rng(0))
assert len(_params) == 2, f"sizes [3, 5, 2] are 2 layers, got {len(_params)} pairs"
assert [(W.shape, b.shape) for W, b in _params] == [((5, 3), (5,)), ((2, 5), (2,))], \
    f"shapes {[(W.shape, b.shape) for W, b in _params]}, expected W (5, 3), b (5,) and W (2, 5), b (2,)"
for (_W, _b), _W_expected in zip(_params, _expected_weights([3, 5, 2], [np.sqrt(2 / 3), np.sqrt(2 / 5)], 0)):
    assert_close(_W, _W_expected, name="He weights for sizes [3, 5, 2], rng = default_rng(0)")
    assert_close(_b, np.zeros_like(_b), name="biases")
_params = init_weights([4, 4], "xavier", np.random.default_rng(1))
assert_close(_params[0][0], _expected_weights([4, 4], [np.sqrt(2 / 8)], 1)[0],
             name="Xavier weights for sizes [4, 4], rng = default_rng(1)")
### BEGIN HIDDEN TESTS
# hint: Xavier and He on a deeper network with unequal widths, from a generator that was used before
_sizes = [7, 3, 6, 1]
for _scheme, _stds in [("xavier", [np.sqrt(2 / (7 + 3)), np.sqrt(2 / (3 + 6)), np.sqrt(2 / (6 + 1))]),
                       ("he", [np.sqrt(2 / 7), np.sqrt(2 / 3), np.sqrt(2 / 6)])]:
    _rng = np.random.default_rng(5)
    _rng.standard_normal(4)
    _reference = np.random.default_rng(5)
    _reference.standard_normal(4)
    _params = init_weights(_sizes, _scheme, _rng)
    for _k, ((_W, _b), _d_in, _d_out, _std) in enumerate(zip(_params, _sizes[:-1], _sizes[1:], _stds)):
        assert _W.shape == (_d_out, _d_in) and _b.shape == (_d_out,), f"{_scheme} layer {_k + 1}: shapes {_W.shape}, {_b.shape}"
        assert _W.dtype == np.float64 and _b.dtype == np.float64, f"{_scheme} layer {_k + 1}: dtypes {_W.dtype}, {_b.dtype}"
        assert_close(_W, _reference.standard_normal((_d_out, _d_in)) * _std, name=f"{_scheme} W of layer {_k + 1}")
        assert_close(_b, np.zeros(_d_out), name=f"{_scheme} b of layer {_k + 1}")
    # hint: nothing else is drawn from rng (its next number is the reference's next number)
    assert_close(_rng.standard_normal(3), _reference.standard_normal(3),
                 name=f"the generator's next numbers after init_weights(..., {_scheme!r}, rng)")
# hint: the standard deviation of a large layer
_W = init_weights([400, 100], "he", np.random.default_rng(7))[0][0]
assert abs(_W.std() / np.sqrt(2 / 400) - 1) < 0.02, f"He std for 400 inputs: {_W.std():.4f}, expected {np.sqrt(2 / 400):.4f}"
# hint: an unknown scheme raises ValueError
try:
    init_weights([2, 2], "uniform", np.random.default_rng(0))
except ValueError:
    pass
else:
    raise AssertionError("init_weights(..., 'uniform', ...) must raise ValueError")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-depth", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Now measure it. A deep network on the digits: 10 hidden layers of 100 units and the 10 class
# scores, a batch of 256 images, the cross-entropy loss, and the gradient of every layer's weights
# by your `mlp_backward`. For sigmoid we compare small weights (std 0.01) with Xavier; for ReLU,
# Xavier with He. For ReLU the difference shows in the forward pass (right): with Xavier each layer
# loses a factor $\sqrt 2$ of the signal. Its weight gradients (left) stay level across the layers,
# but all of them come out smaller than He's (the playground at the end of this section shows why).

# %% nbgrader={"grade": false, "grade_id": "depth-gradients", "locked": true, "schema_version": 3, "solution": false, "task": false}
depth_sizes = [64] + [100] * 10 + [10]
x_depth, y_depth = x_train[:256], y_train[:256]
activations = {"sigmoid": (lambda s: sigmoid_forward(s)[0], sigmoid_prime),
               "tanh": (lambda s: tanh_forward(s)[0], tanh_prime), "ReLU": (relu, relu_prime)}


def small_weights(sizes, rng, std=0.01):
    return [(std * rng.standard_normal((d_out, d_in)), np.zeros(d_out)) for d_in, d_out in zip(sizes[:-1], sizes[1:])]


def layer_profile(activation, params):
    """Norm of dl/dW^(l) and std of the activations x^(l), for every layer l of params."""
    sigma, sigma_prime = activations[activation]
    scores, cache = mlp_forward(x_depth, params, sigma)
    _, loss_cache = softmax_cross_entropy_forward(scores, y_depth)
    _, grads = mlp_backward(softmax_cross_entropy_backward(1.0, loss_cache), cache, sigma_prime)
    activation_std = [sigma(s).std() for _, s, _ in cache[:-1]]
    return np.array([np.linalg.norm(dW) for dW, _ in grads]), np.array(activation_std)


if GRADING:
    print("The measurement is skipped while grading.")
else:
    depth_runs = {
        "sigmoid, small (std 0.01)": layer_profile("sigmoid", small_weights(depth_sizes, np.random.default_rng(0))),
        "sigmoid, Xavier": layer_profile("sigmoid", init_weights(depth_sizes, "xavier", np.random.default_rng(0))),
        "tanh, Xavier": layer_profile("tanh", init_weights(depth_sizes, "xavier", np.random.default_rng(0))),
        "ReLU, Xavier": layer_profile("ReLU", init_weights(depth_sizes, "xavier", np.random.default_rng(0))),
        "ReLU, He": layer_profile("ReLU", init_weights(depth_sizes, "he", np.random.default_rng(0))),
    }
    layer_numbers = np.arange(1, len(depth_sizes))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, (dW_norms, activation_std) in depth_runs.items():
        axes[0].semilogy(layer_numbers, dW_norms, "o-", ms=4, label=name)
        axes[1].semilogy(layer_numbers[:-1], activation_std, "o-", ms=4, label=name)
        print(f"{name:26s} |dl/dW| layer 1 / layer 11 = {dW_norms[0] / dW_norms[-1]:.1e}, "
              f"std of x^(10) = {activation_std[-1]:.1e}")
    axes[0].set_title("backward: norm of dl/dW$^{(l)}$")
    axes[1].set_title("forward: std of the activations x$^{(l)}$")
    for ax in axes:
        ax.set_xlabel("layer l")
    axes[0].legend(fontsize=8)
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-dead-relus", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Dead ReLUs.** One gradient step that is far too large (learning rate 10 instead of 0.1) on the
# digits network of section 8 pushes many hidden units' $s$ below 0 for every image. Their rows of
# $\partial l / \partial W^{(1)}$ are exactly zero from then on, so training at a sensible rate
# cannot bring them back.

# %% nbgrader={"grade": false, "grade_id": "dead-relus", "locked": true, "schema_version": 3, "solution": false, "task": false}
def dead_units(params, x):
    """Boolean (D_1,): the first layer's ReLUs with s < 0 for every example of x."""
    _, cache = mlp_forward(x, params, relu)
    return np.all(cache[0][1] < 0, axis=0)


if GRADING:
    print("The measurement is skipped while grading.")
else:
    dead_params = init_mlp([64, 100, 10], seed=0)
    dead_at_start = dead_units(dead_params, x_train)
    _, big_step_grads = my_loss_and_grads(dead_params, x_train[:256], y_train[:256])
    sgd_step(dead_params, big_step_grads, lr=10.0)
    dead_after_big_step = dead_units(dead_params, x_train)
    _, grads_after = my_loss_and_grads(dead_params, x_train, y_train)
    largest_dead_gradient = np.abs(grads_after[0][0][dead_after_big_step]).max()
    train_mlp(dead_params, my_loss_and_grads, x_train, y_train, lr=0.1, epochs=2, batch_size=32)
    dead_after_training = dead_units(dead_params, x_train)
    print(f"dead ReLUs: {dead_at_start.mean():.0%} at the start, {dead_after_big_step.mean():.0%} after one step "
          f"with lr = 10, {dead_after_training.mean():.0%} after training on at lr = 0.1")
    print(f"largest |dl/dW^(1)| in the rows of dead units: {largest_dead_gradient}")

    active_share = [np.mean(mlp_forward(x_train, params, relu)[1][0][1] >= 0, axis=0)
                    for params in (init_mlp([64, 100, 10], seed=0), dead_params)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.sort(active_share[0])[::-1], label="at the start (He)")
    ax.plot(np.sort(active_share[1])[::-1], label="after the big step and training")
    ax.set_xlabel("hidden unit (sorted)")
    ax.set_ylabel("share of images with s >= 0")
    ax.set_title("units at 0 are dead: no image makes them pass a gradient")
    ax.legend()
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-saturation-playground", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Playground (not graded): depth, activation and initialisation
#
# A stack of layers of 64 units with the activation after each, weights
# $\mathcal{N}(0, \text{gain}^2 / 64)$ (gain 1 is Xavier here, where $D_\text{in} = D_\text{out}$;
# gain $\sqrt 2$ is He), and a fixed random gradient arriving at the top. Left: for every layer, the
# norm of $\partial l / \partial s^{(l)}$, the gradient the recursion passes down, and of
# $\partial l / \partial W^{(l)}$; right: the share of saturated or dead units. Try sigmoid at any
# gain, tanh with small weights, ReLU with Xavier and with He, and a deeper network. (For ReLU the
# $\partial l / \partial W^{(l)}$ stay level whatever the gain: $\mathrm{ReLU}(a s) = a\,\mathrm{ReLU}(s)$
# for $a > 0$ scales them all alike; the gain shows in $\partial l / \partial s^{(l)}$.)

# %% nbgrader={"grade": false, "grade_id": "saturation-playground", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("The playground is skipped while grading.")
else:
    from course.widgets import saturation_playground
    saturation_playground()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-cost", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 10. What backprop costs
#
# **Time.** Per layer, the forward pass does one matrix product ($X W^\top$); the backward pass
# does two of the same size ($dS\, W$ and $dS^\top X$). So we expect backward to take about
# **twice** as long as forward. Let us time both on a wider MLP (64-1024-1024-10) and a batch of
# 512 digits, on one processor core (`threadpoolctl`, which comes with scikit-learn, keeps numpy's
# matrix library to one thread, so that other programs competing for the cores disturb the
# measurement less). The numbers are whatever this machine measures today; they vary from run to run.
#
# **Memory.** Backward needs the forward pass's activations: the cache holds every layer's input and
# pre-activation, so it grows with the batch size, while the weights do not.

# %% nbgrader={"grade": false, "grade_id": "cost", "locked": true, "schema_version": 3, "solution": false, "task": false}
def best_time(fn, repeats):
    """Seconds of the fastest of several runs: the run least disturbed by other programs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


if GRADING:
    print("The timing is skipped while grading.")
else:
    wide_params = init_mlp([64, 1024, 1024, 10], seed=1)
    x_batch, y_batch = x_train[:512], y_train[:512]
    scores, cache = mlp_forward(x_batch, wide_params, relu)
    _, loss_cache = softmax_cross_entropy_forward(scores, y_batch)
    dscores = softmax_cross_entropy_backward(1.0, loss_cache)

    with threadpool_limits(limits=1):
        forward_seconds = best_time(lambda: mlp_forward(x_batch, wide_params, relu), repeats=7)
        backward_seconds = best_time(lambda: mlp_backward(dscores, cache, relu_prime), repeats=7)
    backward_over_forward = backward_seconds / forward_seconds
    print(f"forward {1e3 * forward_seconds:.2f} ms, backward {1e3 * backward_seconds:.2f} ms: "
          f"backward / forward = {backward_over_forward:.2f}")

    batch_sizes = [64, 256, 512, 1024]
    cache_megabytes = []
    for n in batch_sizes:
        _, cache_n = mlp_forward(np.resize(x_train, (n, 64)), wide_params, relu)
        cache_megabytes.append(sum(x_prev.nbytes + s_l.nbytes for x_prev, s_l, _ in cache_n) / 1e6)
    weight_megabytes = sum(W.nbytes + b.nbytes for W, b in wide_params) / 1e6

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].bar(["forward", "backward"], [1e3 * forward_seconds, 1e3 * backward_seconds], color=["tab:blue", "tab:orange"])
    axes[0].set_ylabel("milliseconds (best of 7)")
    axes[0].set_title(f"64-1024-1024-10, batch 512: backward = {backward_over_forward:.1f} x forward")
    axes[1].plot(batch_sizes, cache_megabytes, "o-", label="cache for backward")
    axes[1].axhline(weight_megabytes, color="k", ls="--", label="weights")
    axes[1].set_xlabel("batch size")
    axes[1].set_ylabel("MB")
    axes[1].set_title("memory kept for the backward pass")
    axes[1].legend()
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Summary
#
# - Numerical differentiation is a check, not a method (cost per input, rounding); symbolic
#   differentiation swells; automatic differentiation applies the chain rule to the executed
#   operations, with numbers.
# - Backward pass: downstream gradient = local gradient x upstream gradient, using values stored in
#   the forward pass.
# - A layer's backward pass needs two rules: $W^\top$ for a matrix product, $\mathrm{diag}(\sigma'(s))$
#   (an elementwise product) for an activation; the shapes always match their variables.
# - Gradients of shared parameters sum over the batch.
# - The gradient reaching the first layers is a product over the depth: sigmoid ($\sigma' \le 1/4$)
#   and saturated units make it vanish, dead ReLUs pass nothing; Xavier ($2 / (D_\text{in} + D_\text{out})$)
#   and He ($2 / D_\text{in}$, for ReLU) initialisation keep signal and gradient at scale.
# - Backward costs about two forward passes and keeps the forward activations in memory.
#
# Next, in module 04: graphs that are not chains, and an engine that does all this for any program.
