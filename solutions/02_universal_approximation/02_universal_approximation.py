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
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/course-authors/how-networks-learn/blob/main/assignments/02_universal_approximation/02_universal_approximation.ipynb)
#
# # Module 02: universal approximation with ReLUs
#
# A weighted sum of ReLUs is a continuous, piecewise-linear function, and with enough pieces it
# follows any continuous function on an interval as closely as we like. In this notebook you
#
# 1. rebuild the lecture's example, a sum of six ReLUs, piece by piece;
# 2. construct the approximation yourself: $n$ ReLUs that interpolate $f$ at $n + 1$ points, and
#    measure how the error shrinks like $1/n^2$;
# 3. let gradient descent find the ReLUs instead, and compare the two;
# 4. see what the theorem does not promise: a network that fits its noisy training samples
#    perfectly can still be far from $f$ between them (overfitting).
#
# | exercise | points |
# |---|---|
# | 1. `relu_sum` | 2 |
# | 2. `relu_interpolant` | 4 |
# | 3. `fit_relu_network` | 3 |
#
# Write your code where it says `YOUR CODE HERE`, then run the test cell below it. Hidden tests
# check other inputs as well.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Set-up: in Google Colab this installs the course package from its repository; elsewhere it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "course @ git+https://github.com/course-authors/how-networks-learn.git"], check=True)

# %% nbgrader={"grade": false, "grade_id": "imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import os

import numpy as np
import matplotlib.pyplot as plt

from course import nn, optim
from course.autograd import Tensor, manual_seed
import course.nn.functional as F
from course.gradcheck import assert_close

# While nbgrader grades the notebook, the demonstrations train for fewer steps, figures are
# built but never drawn, and the playground is skipped.
GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))
if GRADING:
    plt.switch_backend("agg")
    plt.rcParams["figure.max_open_warning"] = 0

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-relu-sum", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 1. Sums of ReLUs
#
# One neuron with a single input computes $\mathrm{ReLU}(w x + b) = \max(0, w x + b)$: zero on
# one side of the point $x = -b/w$, a straight line of slope $w$ on the other. A weighted sum
#
# $$g(x) = \sum_{i=1}^{K} v_i\, \mathrm{ReLU}(w_i x + b_i)$$
#
# is continuous and piecewise linear. Its slope only changes at the kinks $-b_i / w_i$, and at
# the kink of neuron $i$ it changes by $v_i |w_i|$.
#
# The lecture's example uses six neurons,
#
# $$\begin{aligned}
# n_1 &= \mathrm{ReLU}(-5x - 7.7), & n_2 &= \mathrm{ReLU}(-1.2x - 1.3), & n_3 &= \mathrm{ReLU}(1.2x + 1), \\
# n_4 &= \mathrm{ReLU}(1.2x - 0.2), & n_5 &= \mathrm{ReLU}(2x - 1.1), & n_6 &= \mathrm{ReLU}(5x - 5),
# \end{aligned}$$
#
# combined as $g = -n_1 - n_2 - n_3 + n_4 + n_5 + n_6$.

# %% nbgrader={"grade": false, "grade_id": "lecture-example", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The lecture's six neurons: n_i = ReLU(slope_i * x + offset_i), output weights +-1.
lecture_slopes = np.array([-5.0, -1.2, 1.2, 1.2, 2.0, 5.0])
lecture_offsets = np.array([-7.7, -1.3, 1.0, -0.2, -1.1, -5.0])
lecture_weights = np.array([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0])

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex1", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1 (2 points): the ReLU sum
#
# Write `relu_sum` for any number of neurons, evaluated at many points at once. Broadcasting
# helps: `x[:, None] * slopes[None, :]` has shape (N, K).
#
# *What you may use:* NumPy (loops over the neurons are fine too).

# %% nbgrader={"grade": false, "grade_id": "relu_sum", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu_sum(x, slopes, offsets, weights):
    """A one-hidden-layer ReLU network with one input and one output.

    Inputs:
    - x: array of shape (N,), the points.
    - slopes: array of shape (K,), w_i.
    - offsets: array of shape (K,), b_i.
    - weights: array of shape (K,), v_i.

    Returns:
    - g: array of shape (N,), g(x) = sum_i v_i * max(0, w_i * x + b_i) at every point.
    """
    ### BEGIN SOLUTION
    hidden = np.maximum(0.0, x[:, None] * slopes[None, :] + offsets[None, :])
    return hidden @ weights
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_relu_sum", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
points = np.array([-1.0, 0.0, 2.0])
assert_close(relu_sum(points, np.array([1.0]), np.array([0.0]), np.array([1.0])),
             np.array([0.0, 0.0, 2.0]), name="a single ReLU(x)")
# At x = 0 only n3 = ReLU(1.2 * 0 + 1) = 1 is active, with weight -1.
assert_close(relu_sum(np.array([0.0]), lecture_slopes, lecture_offsets, lecture_weights),
             np.array([-1.0]), name="the lecture's sum at x = 0")
### BEGIN HIDDEN TESTS
# hint: the lecture's six neurons on a grid of points
# The lecture's function written out neuron by neuron.
x = np.linspace(-3, 3, 601)
relu = lambda z: np.maximum(z, 0.0)
lecture = (-relu(-5 * x - 7.7) - relu(-1.2 * x - 1.3) - relu(1.2 * x + 1)
           + relu(1.2 * x - 0.2) + relu(2 * x - 1.1) + relu(5 * x - 5))
assert_close(relu_sum(x, lecture_slopes, lecture_offsets, lecture_weights), lecture,
             name="the lecture's sum on [-3, 3]")
# Its value at a few points worked out by hand: 6.2x + 9 left of -1.54, -1.2 on [1/6, 0.55], 7x - 7.3 right of 1.
assert_close(relu_sum(np.array([-2.0, 0.3, 2.0]), lecture_slopes, lecture_offsets, lecture_weights),
             np.array([-3.4, -1.2, 6.7]), name="the lecture's sum at -2, 0.3, 2")
# hint: a single neuron, and networks with more neurons than points or more points than neurons
# Random networks of other sizes, and more points than neurons.
rng = np.random.default_rng(2)
for k in (1, 3, 17):
    s, o, v = rng.normal(size=k), rng.normal(size=k), rng.normal(size=k)
    x = rng.uniform(-4, 4, size=29)
    expected = np.array([sum(v[i] * max(0.0, s[i] * xj + o[i]) for i in range(k)) for xj in x])
    assert_close(relu_sum(x, s, o, v), expected, name=f"relu_sum with {k} neurons")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-plot-lecture", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Each piece, and their sum. The dotted lines mark the kinks $-b_i / w_i$.

# %% nbgrader={"grade": false, "grade_id": "plot-lecture", "locked": true, "schema_version": 3, "solution": false, "task": false}
x_plot = np.linspace(-2, 2, 801)
kinks = -lecture_offsets / lecture_slopes
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for i in range(6):
    piece = lecture_weights[i] * relu_sum(x_plot, lecture_slopes[i:i + 1], lecture_offsets[i:i + 1],
                                          np.ones(1))
    sign = "+" if lecture_weights[i] > 0 else "-"
    axes[0].plot(x_plot, piece, label=f"{sign}n{i + 1}")
axes[0].set_title("the six pieces, with their signs")
axes[0].legend(ncol=2)
axes[1].plot(x_plot, relu_sum(x_plot, lecture_slopes, lecture_offsets, lecture_weights), "k", lw=2.5)
for kink in kinks:
    axes[1].axvline(kink, color="gray", ls=":", lw=1)
axes[1].set_title("$-n_1 - n_2 - n_3 + n_4 + n_5 + n_6$")
for ax in axes:
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
print("kinks at", np.round(np.sort(kinks), 3))

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-theorem", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 2. The universal approximation theorem
#
# **Theorem.** Let $f$ be continuous on $[a, b]$ and $\varepsilon > 0$. There is a width $K$ and
# parameters $W \in \mathbb{R}^{K \times 1}$, $b \in \mathbb{R}^K$, $w \in \mathbb{R}^K$, $c \in \mathbb{R}$
# such that the one-hidden-layer network
#
# $$x \mapsto w^\top \sigma(W x + b) + c$$
#
# with $\sigma = \mathrm{ReLU}$ satisfies $|f(x) - w^\top \sigma(Wx + b) - c| < \varepsilon$ for
# every $x \in [a, b]$. The same holds for inputs in $\mathbb{R}^D$ (on a closed, bounded set)
# and for any continuous activation that is not a polynomial, such as the sigmoid or tanh
# (Cybenko 1989; Hornik 1991; Leshno, Lin, Pinkus and Schocken 1993).
#
# **A proof you can run, in one dimension.** Put $n + 1$ equally spaced knots
# $x_k = a + k h$, $h = (b - a)/n$, and join the points $(x_k, f(x_k))$ by straight segments.
# Segment $k$ has slope $s_k = (f(x_{k+1}) - f(x_k)) / h$. Starting from the constant $f(x_0)$,
# one ReLU hinged at $x_0$ supplies the first slope, and one ReLU hinged at each later knot
# supplies the change of slope there:
#
# $$g(x) = f(x_0) + s_0\,\mathrm{ReLU}(x - x_0) + \sum_{k=1}^{n-1} (s_k - s_{k-1})\,\mathrm{ReLU}(x - x_k).$$
#
# These are $n$ ReLUs. If $f$ has a second derivative, linear interpolation misses by at most
#
# $$\max_{[a,b]} |f - g| \le \frac{h^2}{8} \max_{[a,b]} |f''| = \frac{(b-a)^2}{8 n^2} \max_{[a,b]} |f''|,$$
#
# so doubling the number of ReLUs divides the error by four: it decays like $1/n^2$.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2 (4 points): the constructive approximation
#
# Return the hinges $x_0, \dots, x_{n-1}$, the coefficients of the ReLUs (the first slope, then
# the slope changes) and the constant $f(x_0)$. `f` is a function that accepts an array.
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "relu_interpolant", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu_interpolant(f, a, b, n):
    """n ReLUs that interpolate f at n + 1 equally spaced knots of [a, b].

    Inputs:
    - f: function mapping an array of shape (M,) to an array of shape (M,).
    - a, b: floats with a < b, the interval.
    - n: int >= 1, the number of ReLUs.

    Returns a tuple (knots, coefficients, bias) such that
    g(x) = bias + sum_k coefficients[k] * max(0, x - knots[k]) equals f at a, a + h, ..., b:
    - knots: array of shape (n,), the hinges a, a + h, ..., b - h with h = (b - a) / n.
    - coefficients: array of shape (n,), the first slope, then the changes of slope.
    - bias: float, f(a).
    """
    ### BEGIN SOLUTION
    x = np.linspace(a, b, n + 1)
    y = f(x)
    slopes = np.diff(y) / np.diff(x)
    coefficients = np.concatenate([slopes[:1], np.diff(slopes)])
    return x[:-1], coefficients, float(y[0])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_relu_interpolant", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
def evaluate(knots, coefficients, bias, x):
    """g(x) = bias + sum_k coefficients[k] * ReLU(x - knots[k]) for x of shape (M,)."""
    return bias + np.maximum(0.0, x[:, None] - knots[None, :]) @ coefficients


knots, coefficients, bias = relu_interpolant(np.sin, 0.0, np.pi, 8)
assert np.shape(knots) == (8,) and np.shape(coefficients) == (8,), "8 ReLUs need 8 knots and 8 coefficients"
all_knots = np.linspace(0.0, np.pi, 9)
assert_close(evaluate(knots, coefficients, bias, all_knots), np.sin(all_knots), name="g at the knots")
grid = np.linspace(0.0, np.pi, 2001)
error = np.abs(evaluate(knots, coefficients, bias, grid) - np.sin(grid)).max()
assert error <= (np.pi / 8) ** 2 / 8, f"max error {error:.4f} is above the bound h^2/8 * max|sin''|"
### BEGIN HIDDEN TESTS
# hint: how the error shrinks as n doubles (on another interval and function)
# The error decays like 1/n^2 on a smooth function.
grid = np.linspace(-1.0, 1.0, 4001)
ns = np.array([4, 8, 16, 32, 64])
errors = np.array([np.abs(evaluate(*relu_interpolant(np.exp, -1.0, 1.0, n), grid) - np.exp(grid)).max()
                   for n in ns])
ratios = errors[:-1] / errors[1:]
assert np.all((ratios > 3.5) & (ratios < 4.5)), f"doubling n should divide the error by ~4, got ratios {ratios}"
order = np.polyfit(np.log(ns), np.log(errors), 1)[0]
assert -2.15 < order < -1.85, f"log-log slope of the error should be -2, got {order:.2f}"
assert np.all(errors <= (2.0 / ns) ** 2 / 8 * np.e), "error above h^2/8 * max|exp''|"
# hint: the knots, coefficients and bias returned for a straight line
# A straight line is reproduced by one ReLU; the other coefficients vanish.
knots, coefficients, bias = relu_interpolant(lambda x: 3.0 * x - 1.0, 0.0, 2.0, 5)
assert_close(knots, np.array([0.0, 0.4, 0.8, 1.2, 1.6]), name="knots on [0, 2] with n = 5")
assert_close(coefficients, np.array([3.0, 0.0, 0.0, 0.0, 0.0]), name="coefficients of a straight line")
assert_close(float(bias), -1.0, name="bias of a straight line")
# hint: a kink that sits on a knot, and n = 1
# A kink that sits on a knot is reproduced exactly; a single ReLU (n = 1) is the chord.
grid = np.linspace(-1.0, 1.0, 801)
absolute = lambda x: np.abs(x - 0.25)
assert_close(evaluate(*relu_interpolant(absolute, -1.0, 1.0, 8), grid), absolute(grid), name="|x - 0.25|, n = 8")
knots, coefficients, bias = relu_interpolant(np.square, 1.0, 3.0, 1)
assert_close(evaluate(knots, coefficients, bias, np.array([1.0, 2.0, 3.0])), np.array([1.0, 5.0, 9.0]),
             name="x^2 on [1, 3] with one ReLU")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-plot-interpolant", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Your construction on a wiggly function, and its error as $n$ grows (log-log: a line of
# slope $-2$). The interpolant is itself a ReLU sum: slopes 1, offsets $-x_k$, weights the
# coefficients, plus the constant.

# %% nbgrader={"grade": false, "grade_id": "plot-interpolant", "locked": true, "schema_version": 3, "solution": false, "task": false}
def wiggle(x):
    return np.sin(3 * x) + 0.3 * x ** 2


x_plot = np.linspace(-2, 2, 1001)
fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
for ax, n in zip(axes[:2], (6, 16)):
    knots, coefficients, bias = relu_interpolant(wiggle, -2.0, 2.0, n)
    g = bias + relu_sum(x_plot, np.ones(n), -knots, coefficients)
    ax.plot(x_plot, wiggle(x_plot), "k", lw=1, label="f")
    ax.plot(x_plot, g, "tab:orange", lw=2, label=f"{n} ReLUs")
    ax.plot(np.append(knots, 2.0), wiggle(np.append(knots, 2.0)), "o", color="tab:orange", ms=4)
    ax.set_title(f"n = {n}: max error {np.abs(g - wiggle(x_plot)).max():.3f}")
    ax.legend()
ns = 2 ** np.arange(2, 9)
errors = []
for n in ns:
    knots, coefficients, bias = relu_interpolant(wiggle, -2.0, 2.0, n)
    errors.append(np.abs(bias + relu_sum(x_plot, np.ones(n), -knots, coefficients) - wiggle(x_plot)).max())
axes[2].loglog(ns, errors, "o-", label="max error")
axes[2].loglog(ns, errors[0] * (ns[0] / ns) ** 2, "k--", label="$\\propto 1/n^2$")
axes[2].set_xlabel("number of ReLUs n")
axes[2].set_title("error of the constructive approximation")
axes[2].legend()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-fit", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 3. Letting gradient descent find the ReLUs
#
# The theorem says good weights exist; it does not say how to find them. Here we build the
# network $x \mapsto w^\top \mathrm{ReLU}(W x + b) + c$ as
# `nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1))` and minimise the mean
# squared error on samples of $f$ with Adam, all gradients coming from `backward()`.

# %% nbgrader={"grade": false, "grade_id": "network-output", "locked": true, "schema_version": 3, "solution": false, "task": false}
def network_output(model, x):
    """Evaluate a 1-input, 1-output network at the points x of shape (N,); returns shape (N,)."""
    return model(Tensor(np.asarray(x, dtype=np.float32).reshape(-1, 1))).data.reshape(-1).astype(float)


# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3 (3 points): fit a one-hidden-layer ReLU network
#
# Seed the initialisation with `manual_seed(seed)` before building the model, then train on all
# samples at every step with `optim.Adam(model.parameters(), lr=lr)` and `F.mse_loss`. The
# network takes inputs of shape (N, 1) and returns (N, 1); the samples arrive with shape (N,).
#
# *What you may use:* `course.nn`, `course.optim`, `F.mse_loss` and `backward()`: the library
# training the network is the point.

# %% nbgrader={"grade": false, "grade_id": "fit_relu_network", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_relu_network(x, y, width, steps=1000, lr=0.01, seed=0):
    """Fit x -> w^T ReLU(W x + b) + c to samples (x, y) by full-batch gradient descent.

    Inputs:
    - x: array of shape (N,), the inputs.
    - y: array of shape (N,), the targets f(x).
    - width: int, the number of hidden ReLUs.
    - steps: int, the number of Adam steps.
    - lr: float, Adam's learning rate.
    - seed: int, passed to manual_seed before the model is built.

    Returns a tuple (model, losses):
    - model: nn.Sequential(Linear(1, width), ReLU(), Linear(width, 1)), trained.
    - losses: list of `steps` floats, the mean squared error before each step.
    """
    ### BEGIN SOLUTION
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1))
    inputs = Tensor(np.asarray(x, dtype=np.float32).reshape(-1, 1))
    targets = Tensor(np.asarray(y, dtype=np.float32).reshape(-1, 1))
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(inputs), targets)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fit_relu_network", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
x_train = np.linspace(0.0, np.pi, 100)
model, losses = fit_relu_network(x_train, np.sin(x_train), width=16, steps=1000)
assert len(losses) == 1000, f"one loss per step expected, got {len(losses)}"
assert [p.shape for p in model.parameters()][0] == (16, 1), "the first layer must be Linear(1, width)"
mse = np.mean((network_output(model, x_train) - np.sin(x_train)) ** 2)
assert mse < 1e-3, f"mean squared error {mse:.2e} after training; expected below 1e-3"
# The same seed gives the same run: the first losses again.
_, losses_again = fit_relu_network(x_train, np.sin(x_train), width=16, steps=5)
assert_close(np.array(losses_again), np.array(losses[:5]), name="the first 5 losses of a second run with seed 0")
### BEGIN HIDDEN TESTS
# hint: two runs with the same seed must give the same losses; another target, width and learning rate
# Same seed, same result; another target and width.
x_train = np.linspace(-1.0, 1.0, 80)
model_a, losses_a = fit_relu_network(x_train, np.abs(x_train), width=8, steps=400, lr=0.02, seed=3)
model_b, losses_b = fit_relu_network(x_train, np.abs(x_train), width=8, steps=400, lr=0.02, seed=3)
assert_close(np.array(losses_a), np.array(losses_b), name="losses of two runs with the same seed")
assert [p.shape for p in model_a.parameters()][0] == (8, 1), "the first layer must be Linear(1, width)"
mse = np.mean((network_output(model_a, x_train) - np.abs(x_train)) ** 2)
assert mse < 2e-3, f"|x| with 8 ReLUs: mean squared error {mse:.2e}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-compare", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Constructed or trained?
#
# With the same number of ReLUs, compare the construction with the network trained by gradient
# descent on 200 samples of the wiggly function. The construction's guarantee holds for every
# $f$; gradient descent can place its kinks where $f$ bends most, but it can also get stuck,
# and its result depends on the initialisation and the number of steps.

# %% nbgrader={"grade": false, "grade_id": "compare", "locked": true, "schema_version": 3, "solution": false, "task": false}
steps = 300 if GRADING else 3000
x_train = np.linspace(-2.0, 2.0, 200)
widths = [4, 8, 16, 32]
constructed, trained, fits = [], [], {}
for width in widths:
    knots, coefficients, bias = relu_interpolant(wiggle, -2.0, 2.0, width)
    constructed.append(np.abs(bias + relu_sum(x_plot, np.ones(width), -knots, coefficients) - wiggle(x_plot)).max())
    fits[width], _ = fit_relu_network(x_train, wiggle(x_train), width=width, steps=steps, lr=0.02)
    trained.append(np.abs(network_output(fits[width], x_plot) - wiggle(x_plot)).max())

fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
axes[0].plot(x_plot, wiggle(x_plot), "k", lw=1, label="f")
axes[0].plot(x_plot, network_output(fits[16], x_plot), "tab:green", lw=2, label="trained, 16 ReLUs")
axes[0].legend()
axes[0].set_title(f"gradient descent, {steps} Adam steps")
axes[1].loglog(widths, constructed, "o-", label="constructed (interpolant)")
axes[1].loglog(widths, trained, "s-", label="trained (Adam)")
axes[1].set_xlabel("number of ReLUs")
axes[1].set_ylabel("max error on [-2, 2]")
axes[1].legend()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-limits", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 4. Other activations, and what the theorem does not promise
#
# Nothing above needed ReLU in particular: with tanh the same training fits $f$ as well
# (the theorem holds for every continuous activation that is not a polynomial). But read the
# theorem's fine print:
#
# - **Width.** The bound $h^2/8 \cdot \max|f''|$ asks for $n \approx (b - a)\sqrt{\max|f''| / (8\varepsilon)}$
#   ReLUs: ten times more accuracy costs about three times more neurons, and for inputs in
#   $\mathbb{R}^D$ the count can grow exponentially with $D$.
# - **Only on $[a, b]$.** Outside the interval it was fitted on, a ReLU network continues along
#   its outermost linear pieces, whatever $f$ does there.
# - **Existence, not learning.** The theorem gives no recipe for finding the weights from data,
#   and says nothing about points between the samples.

# %% nbgrader={"grade": false, "grade_id": "limits", "locked": true, "schema_version": 3, "solution": false, "task": false}
manual_seed(0)
tanh_net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
opt = optim.Adam(tanh_net.parameters(), lr=0.02)
inputs = Tensor(x_train.astype(np.float32).reshape(-1, 1))
targets = Tensor(wiggle(x_train).astype(np.float32).reshape(-1, 1))
for _ in range(steps):
    opt.zero_grad()
    loss = F.mse_loss(tanh_net(inputs), targets)
    loss.backward()
    opt.step()

x_wide = np.linspace(-5.0, 5.0, 1001)
fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
axes[0].plot(x_plot, wiggle(x_plot), "k", lw=1, label="f")
axes[0].plot(x_plot, network_output(tanh_net, x_plot), "tab:purple", lw=2, label="16 tanh units")
axes[0].set_title(f"tanh works too (MSE {loss.item():.4f})")
axes[0].legend()
axes[1].plot(x_wide, wiggle(x_wide), "k", lw=1, label="f")
axes[1].plot(x_wide, network_output(fits[16], x_wide), "tab:green", lw=2, label="16 ReLUs, trained on [-2, 2]")
axes[1].axvspan(-2, 2, color="gray", alpha=0.15)
axes[1].set_ylim(-3, 10)
axes[1].set_title("outside the training interval: straight lines")
axes[1].legend()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-overfitting", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 5. Overfitting: fitting the samples is not learning $f$
#
# In practice we never see $f$, only $N$ samples $y_i = f(x_i) + \text{noise}$. Training minimises
# the **training error** on them,
#
# $$E_{\text{train}}(g) = \frac{1}{N} \sum_{i=1}^{N} \big(g(x_i) - y_i\big)^2,$$
#
# but what we want is a small error on new samples $(x, y)$ from the same source, estimated by the
# **test error** $E_{\text{test}}$, the same average over samples kept out of training. With noise of
# standard deviation $\sigma$, no $g$ has a test error below $\sigma^2$ on average, not even $f$ itself.
#
# The universal approximation lecture warns that a network that fits may not generalise. With
# at least as many ReLUs as samples, a ReLU sum can pass through every $(x_i, y_i)$, noise
# included: $E_{\text{train}} = 0$, while between the samples it may be far from $f$. Below, 15 noisy
# samples of the wiggly function are fitted by $n$ ReLUs hinged at evenly spread knots on $[-2, 2]$
# (slope 1, as in the construction of section 2), the output weights and bias chosen by least
# squares, for $n = 1, \dots, 40$.

# %% nbgrader={"grade": false, "grade_id": "overfitting", "locked": true, "schema_version": 3, "solution": false, "task": false}
rng = np.random.default_rng(1)   # the same samples as the overfitting playground below
noise = 0.3
x_train = rng.uniform(-2.0, 2.0, 15)
y_train = wiggle(x_train) + noise * rng.standard_normal(15)
x_test = rng.uniform(-2.0, 2.0, 500)      # new samples from the same source, never trained on
y_test = wiggle(x_test) + noise * rng.standard_normal(500)


def least_squares_relus(x, y, n):
    """n ReLUs hinged at -2, -2 + 4/n, ..., slope 1; output weights and bias by least squares.
    With more unknowns than samples, lstsq returns the exact fit with the smallest weights."""
    knots = -2.0 + 4.0 * np.arange(n) / n
    design = np.column_stack([np.maximum(0.0, x[:, None] - knots), np.ones_like(x)])
    coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    return lambda t: relu_sum(t, np.ones(n), -knots, coefficients[:-1]) + coefficients[-1]


widths = np.arange(1, 41)
fits = [least_squares_relus(x_train, y_train, n) for n in widths]
train_error = np.array([np.mean((g(x_train) - y_train) ** 2) for g in fits])
test_error = np.array([np.mean((g(x_test) - y_test) ** 2) for g in fits])
best = widths[np.argmin(test_error)]
for n in (2, best, 20, 40):
    print(f"{n:2d} ReLUs: training error {train_error[n - 1]:.4f}, test error {test_error[n - 1]:.4f}")

fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
axes[0].plot(x_test, y_test, ".", color="0.8", ms=3, label="test samples")
axes[0].plot(x_plot, wiggle(x_plot), "k--", lw=1, label="f")
for n, colour in ((2, "tab:blue"), (best, "tab:green"), (20, "tab:red")):
    axes[0].plot(x_plot, fits[n - 1](x_plot), color=colour, lw=1.8, label=f"{n} ReLUs")
axes[0].plot(x_train, y_train, "ko", ms=5, label="training samples")
axes[0].set_ylim(-3, 4)
axes[0].legend(ncol=3, fontsize=8)
axes[0].set_title("too few, about right, too many ReLUs")
axes[1].semilogy(widths, test_error, "s-", color="tab:red", ms=3, label="test error")
axes[1].semilogy(widths, train_error, "o-", color="tab:blue", ms=3, label="training error")
axes[1].axhline(noise ** 2, color="0.5", ls=":", label="noise variance $\\sigma^2$")
axes[1].set_ylim(1e-3, None)
axes[1].minorticks_off()
axes[1].set_xlabel("number of ReLUs n")
axes[1].set_title("training error falls, test error does not (0 is off the log scale)")
axes[1].legend()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-overfitting-reading", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Reading the curves: with one or two ReLUs both errors are large (underfitting). The test error
# is smallest with a few ReLUs (8 here, about twice the noise variance). With more ReLUs the
# training error keeps falling, below $\sigma^2$, a sure sign that the fit follows the noise, while
# the test error grows: the fit passes through the samples and swings between them (overfitting).
# Past the point where it passes through every sample, least squares picks the exact fit with the
# smallest weights; the test error no longer grows, but it stays far above its best. Choosing the
# width (or when to stop training, or a penalty on large weights) by the error on held-out
# samples is how this is avoided in practice.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-playground", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Playground (not graded)
#
# Drag each ReLU's slope, offset and output weight and watch the sum follow (or miss) a target.
# The challenge: get the maximum error below 0.05 with as few ReLUs as you can.

# %% nbgrader={"grade": false, "grade_id": "playground", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("The playground is skipped while grading.")
else:
    from course.widgets import relu_sum_playground
    relu_sum_playground()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-playground-overfitting", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The overfitting playground: slide the number of ReLUs and watch the fit, the training error and
# the test error; change the noise and the number of samples, or draw new samples. When does the
# test error start to grow? Does it move when there are more samples?

# %% nbgrader={"grade": false, "grade_id": "playground-overfitting", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("The playground is skipped while grading.")
else:
    from course.widgets import overfitting_playground
    overfitting_playground()
