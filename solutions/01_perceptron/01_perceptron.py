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
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/course-authors/how-networks-learn/blob/main/assignments/01_perceptron/01_perceptron.ipynb)
#
# # Module 01: the perceptron and XOR
#
# A perceptron draws one straight line (in general a hyperplane) through the input space and
# calls everything on one side "1" and everything on the other side "0". In this notebook you
#
# 1. write the perceptron's prediction and its learning rule, and watch it learn AND and OR;
# 2. see why no line separates XOR, and why the learning rule then never stops making mistakes;
# 3. add the feature $x_u x_v$, after which a single perceptron handles XOR;
# 4. train a small multi-layer perceptron (MLP) on XOR with the course's autograd, and check
#    numerically that without its nonlinearity it would be a single affine map again.
#
# | exercise | points |
# |---|---|
# | 1. `predict` | 2 |
# | 2. `train_perceptron` | 4 |
# | 3. `xor_features` | 2 |
# | 4. weights that separate XOR in feature space | 2 |
# | 5. `make_xor_mlp` and `train_xor_mlp` | 3 |
# | 6. `collapse_linear_layers` | 2 |
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

import numpy as np
import matplotlib.pyplot as plt

from course import nn, optim
from course.autograd import Tensor, manual_seed
import course.nn.functional as F
from course.gradcheck import assert_close

# While nbgrader grades the notebook, figures are built but never drawn, and playgrounds are skipped.
GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))
if GRADING:
    plt.switch_backend("agg")
    plt.rcParams["figure.max_open_warning"] = 0

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-linear-classifier", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 1. A linear classifier is a hyperplane
#
# A linear classifier scores an input $x \in \mathbb{R}^D$ with a weighted sum and passes the
# score through a threshold:
#
# $$f(x) = \sigma(w^\top x + b), \qquad \sigma(z) = \begin{cases} 1 & z > 0 \\ 0 & z \le 0. \end{cases}$$
#
# The points with $w^\top x + b = 0$ form a hyperplane (a line when $D = 2$). The weight vector
# $w$ is perpendicular to it and points to the side labelled 1; the bias $b$ shifts it away from
# the origin, to distance $|b| / \lVert w \rVert$. Points exactly on the hyperplane get label 0.
#
# Our first data sets are the logic functions of two bits: four inputs, one label each.

# %% nbgrader={"grade": false, "grade_id": "data", "locked": true, "schema_version": 3, "solution": false, "task": false}
X_logic = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y_and = np.array([0, 0, 0, 1], dtype=float)
y_or = np.array([0, 1, 1, 1], dtype=float)
y_xor = np.array([0, 1, 1, 0], dtype=float)


def plot_points(ax, X, y, title=""):
    """Scatter 2-D points: class 1 as filled circles, class 0 as open squares."""
    ax.scatter(X[y == 1, 0], X[y == 1, 1], s=90, c="tab:blue", edgecolors="k", label="1")
    ax.scatter(X[y == 0, 0], X[y == 0, 1], s=90, marker="s", facecolors="white",
               edgecolors="tab:red", linewidths=2, label="0")
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(-0.5, 1.5)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_u$")
    ax.set_ylabel("$x_v$")
    ax.set_title(title)


def plot_regions(ax, classify, lo=-0.5, hi=1.5, steps=200):
    """Shade the plane by `classify`, a function from (N, 2) points to (N,) labels."""
    u, v = np.meshgrid(np.linspace(lo, hi, steps), np.linspace(lo, hi, steps))
    labels = classify(np.column_stack([u.ravel(), v.ravel()])).reshape(u.shape)
    ax.contourf(u, v, labels, levels=[-0.5, 0.5, 1.5], colors=["#f6d5d5", "#d5e3f6"])


def plot_line(ax, w, b, lo=-0.5, hi=1.5):
    """Draw the line w[0] x_u + w[1] x_v + b = 0 inside the plotted square."""
    if abs(w[1]) > 1e-12:
        u = np.array([lo, hi])
        ax.plot(u, -(w[0] * u + b) / w[1], "k-", lw=2)
    elif abs(w[0]) > 1e-12:
        ax.axvline(-b / w[0], color="k", lw=2)


# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex1", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1 (2 points): the prediction
#
# Write `predict(X, w, b)`, which applies $f$ to every row of `X` at once (no Python loop: a
# matrix-vector product does all rows).
#
# *What you may use:* NumPy. (Nothing from `course` is needed here.)

# %% nbgrader={"grade": false, "grade_id": "predict", "locked": false, "schema_version": 3, "solution": true, "task": false}
def predict(X, w, b):
    """Perceptron prediction: which side of the hyperplane w^T x + b = 0 each point lies on.

    Inputs:
    - X: array of shape (N, D), one input per row.
    - w: array of shape (D,), the weights.
    - b: float, the bias.

    Returns:
    - y_hat: array of shape (N,) of floats: 1.0 where w^T x + b > 0, 0.0 elsewhere.
    """
    ### BEGIN SOLUTION
    return (X @ w + b > 0).astype(float)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_predict", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# AND by hand: only (1, 1) is above the line x_u + x_v = 1.5.
y_hat = predict(X_logic, np.array([1.0, 1.0]), -1.5)
assert isinstance(y_hat, np.ndarray) and y_hat.shape == (4,), "predict must return an array of shape (N,)"
assert_close(y_hat, y_and, name="predict(X_logic, w=(1, 1), b=-1.5)")
# Points exactly on the line x_u + x_v = 1 get 0.
assert_close(predict(X_logic, np.array([1.0, 1.0]), -1.0), y_and, name="predict(X_logic, w=(1, 1), b=-1)")
### BEGIN HIDDEN TESTS
# hint: w = 0, where the bias alone decides (a score of exactly 0 gives 0)
assert_close(predict(X_logic, np.zeros(2), 0.7), np.ones(4), name="predict with w=0, b=0.7")
assert_close(predict(X_logic, np.zeros(2), 0.0), np.zeros(4), name="predict on the hyperplane")
# hint: inputs with one feature (D = 1)
# One dimension: threshold at x = -b / w = 0.5.
x_line = np.array([[-2.0], [-1.0], [0.0], [0.5], [1.0], [2.0]])
assert_close(predict(x_line, np.array([-2.0]), 1.0), np.array([1, 1, 1, 0, 0, 0.0]), name="1-D predict")
# hint: many points in five dimensions
rng = np.random.default_rng(3)
X5, w5 = rng.normal(size=(40, 5)), rng.normal(size=5)
expected = np.array([1.0 if sum(x * w5) - 0.3 > 0 else 0.0 for x in X5])
assert_close(predict(X5, w5, -0.3), expected, name="predict in 5-D")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-and-or", "locked": true, "schema_version": 3, "solution": false, "task": false}
# AND and OR are separated by parallel lines: $x_u + x_v = 1.5$ and $x_u + x_v = 0.5$.

# %% nbgrader={"grade": false, "grade_id": "plot-and-or", "locked": true, "schema_version": 3, "solution": false, "task": false}
fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
for ax, y, b, name in [(axes[0], y_and, -1.5, "AND"), (axes[1], y_or, -0.5, "OR")]:
    w = np.array([1.0, 1.0])
    plot_regions(ax, lambda P, w=w, b=b: predict(P, w, b))
    plot_line(ax, w, b)
    plot_points(ax, X_logic, y, f"{name}: w = (1, 1), b = {b}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-rule", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 2. The perceptron learning rule
#
# Rosenblatt's rule finds $w$ and $b$ from examples. Start from $w = 0$, $b = 0$ and visit the
# examples $(x_i, y_i)$ in order. For each, predict $\hat y_i = \sigma(w^\top x_i + b)$ and update
#
# $$w \leftarrow w + \eta\,(y_i - \hat y_i)\,x_i, \qquad b \leftarrow b + \eta\,(y_i - \hat y_i).$$
#
# A correct prediction changes nothing. A missed 1 ($y_i - \hat y_i = 1$) adds $x_i$ to $w$,
# which raises the score of $x_i$; a false 1 subtracts it. One pass over the data is an
# *epoch*; we count the mistakes in each epoch and stop after the first epoch without one.
#
# **Convergence theorem.** Append a 1 to each input and the bias to the weights: with
# $\tilde x_i = (x_i, 1)$ and $\tilde w = (w, b)$ the score is $\tilde w^\top \tilde x_i$. Suppose a
# *unit* vector $\tilde w^* = (w^*, b^*)$, $\lVert (w^*, b^*) \rVert = 1$, separates the classes with
# margin $\gamma > 0$: $(2 y_i - 1)\, \tilde w^{*\top} \tilde x_i \ge \gamma$ for every $i$ (the label
# written as $\pm 1$), and let $R = \max_i \lVert (x_i, 1) \rVert$. Then the rule, started from zero,
# makes at most $(R/\gamma)^2$ mistakes in total, whatever the order of the examples and the
# learning rate. Both numbers belong to the augmented vectors: $\gamma$ is not the distance of
# the points to the line, $\min_i |w^{*\top} x_i + b^*| / \lVert w^* \rVert$, which is larger, and
# $R$ counts the appended 1 (the proof runs the rule on $\tilde w$, where the bias is just one
# more weight). So on separable data the rule stops. The
# converse is just as useful: an epoch without mistakes leaves $w, b$ unchanged and classifying
# every example correctly, so on data that no hyperplane separates, **every epoch has at least
# one mistake**.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2 (4 points): the update and the training loop
#
# Write `train_perceptron`. Visit the examples in the order given, update after every example as
# above, and record the number of mistakes of each epoch. Stop after the first epoch with no
# mistakes, or after `epochs` epochs.
#
# *What you may use:* NumPy, and your `predict`.

# %% nbgrader={"grade": false, "grade_id": "train_perceptron", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_perceptron(X, y, epochs=20, lr=1.0):
    """Train a perceptron with Rosenblatt's rule, starting from w = 0, b = 0.

    Inputs:
    - X: array of shape (N, D), the inputs, visited in this order in every epoch.
    - y: array of shape (N,), labels 0.0 or 1.0.
    - epochs: int, the largest number of passes over the data.
    - lr: float, the learning rate eta.

    Returns a tuple (w, b, mistakes):
    - w: array of shape (D,), the learnt weights.
    - b: float, the learnt bias.
    - mistakes: list of ints, the number of mistakes made in each epoch run
      (its last entry is 0 exactly when the perceptron converged).
    """
    ### BEGIN SOLUTION
    w = np.zeros(X.shape[1])
    b = 0.0
    mistakes = []
    for _ in range(epochs):
        errors = 0
        for x_i, y_i in zip(X, y):
            y_hat = 1.0 if x_i @ w + b > 0 else 0.0
            if y_hat != y_i:
                w = w + lr * (y_i - y_hat) * x_i
                b = b + lr * (y_i - y_hat)
                errors += 1
        mistakes.append(errors)
        if errors == 0:
            break
    return w, float(b), mistakes
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_train_perceptron", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
for name, y in [("AND", y_and), ("OR", y_or)]:
    w, b, mistakes = train_perceptron(X_logic, y)
    assert np.shape(w) == (2,), f"{name}: w must have shape (2,), got {np.shape(w)}"
    assert all(isinstance(m, (int, np.integer)) for m in mistakes), "mistakes must be a list of ints"
    assert mistakes[-1] == 0, f"{name}: the perceptron should converge, mistakes per epoch = {mistakes}"
    assert_close((X_logic @ w + b > 0).astype(float), y, name=f"{name}: predictions after training")
w, b, mistakes = train_perceptron(X_logic, y_xor, epochs=30)
assert len(mistakes) == 30 and min(mistakes) >= 1, f"XOR cannot be learnt, yet mistakes = {mistakes}"
### BEGIN HIDDEN TESTS
# hint: the mistakes per epoch and the final w, b of AND, compared with the rule traced by hand
# AND traced by hand from w = 0, b = 0, lr = 1, in the given order.
w, b, mistakes = train_perceptron(X_logic, y_and)
assert list(mistakes) == [1, 3, 3, 2, 1, 0], f"AND mistakes per epoch: {mistakes}"
assert_close(np.asarray(w, dtype=float), np.array([2.0, 1.0]), name="AND weights")
assert_close(float(b), -2.0, name="AND bias")
# hint: a learning rate other than 1
# The learning rate scales w and b (from zero) but changes no prediction.
w_half, b_half, mistakes_half = train_perceptron(X_logic, y_and, lr=0.5)
assert list(mistakes_half) == [1, 3, 3, 2, 1, 0], f"AND with lr=0.5: {mistakes_half}"
assert_close(np.asarray(w_half, dtype=float), np.array([1.0, 0.5]), name="AND weights with lr=0.5")
# hint: XOR in another order, for many epochs
# XOR never reaches an epoch without mistakes, however long we train.
_, _, mistakes = train_perceptron(X_logic[::-1], y_xor[::-1], epochs=200, lr=0.3)
assert len(mistakes) == 200 and min(mistakes) >= 1, "XOR: every epoch must have a mistake"
# hint: separable data in three dimensions
# Separable data in 3-D (margin at least 0.2) is learnt.
rng = np.random.default_rng(7)
w_true = np.array([1.0, -2.0, 0.5])
X3 = rng.uniform(-1, 1, size=(300, 3))
score = X3 @ w_true + 0.3
X3, y3 = X3[np.abs(score) > 0.2][:60], (score[np.abs(score) > 0.2][:60] > 0).astype(float)
w, b, mistakes = train_perceptron(X3, y3, epochs=500)
assert mistakes[-1] == 0 and len(mistakes) < 500, "separable 3-D data should be learnt"
assert_close((X3 @ w + b > 0).astype(float), y3, name="3-D predictions after training")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-train-plots", "locked": true, "schema_version": 3, "solution": false, "task": false}
# AND and OR are learnt in a few epochs. On XOR the mistakes never reach zero; the weights keep
# moving without settling.

# %% nbgrader={"grade": false, "grade_id": "plot-training", "locked": true, "schema_version": 3, "solution": false, "task": false}
fig, axes = plt.subplots(1, 4, figsize=(16, 4), layout="constrained")
for ax, y, name in [(axes[0], y_and, "AND"), (axes[1], y_or, "OR"), (axes[2], y_xor, "XOR")]:
    w, b, mistakes = train_perceptron(X_logic, y, epochs=12)
    plot_regions(ax, lambda P, w=w, b=b: predict(P, w, b))
    plot_line(ax, w, b)
    plot_points(ax, X_logic, y, f"{name} after {len(mistakes)} epochs")
    axes[3].plot(range(1, len(mistakes) + 1), mistakes, "o-", label=name)
axes[3].set_xlabel("epoch")
axes[3].set_ylabel("mistakes")
axes[3].set_title("mistakes per epoch")
axes[3].legend()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-bound", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The bound for AND, with the separator $x_u + x_v - 1.5 = 0$ of section 1 scaled so that the
# augmented vector $(1, 1, -1.5)$ has length 1:

# %% nbgrader={"grade": false, "grade_id": "bound", "locked": true, "schema_version": 3, "solution": false, "task": false}
X_augmented = np.column_stack([X_logic, np.ones(len(X_logic))])   # rows (x_u, x_v, 1)
w_star = np.array([1.0, 1.0, -1.5]) / np.linalg.norm([1.0, 1.0, -1.5])
gamma = np.min((2 * y_and - 1) * (X_augmented @ w_star))
R = np.linalg.norm(X_augmented, axis=1).max()
distance = np.min(np.abs(X_logic @ w_star[:2] + w_star[2])) / np.linalg.norm(w_star[:2])
_, _, mistakes = train_perceptron(X_logic, y_and)
print(f"gamma = {gamma:.4f} (distance of the points to the line: {distance:.4f}), R = {R:.4f}")
print(f"bound (R / gamma)^2 = {(R / gamma) ** 2:.1f}; mistakes made: {sum(mistakes)} {mistakes}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-xor", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 3. XOR is not linearly separable
#
# Suppose $\sigma(w_1 x_u + w_2 x_v + b)$ computed XOR. The four examples demand
#
# $$\underbrace{b \le 0}_{(0,0)\,\mapsto\,0}, \qquad \underbrace{w_2 + b > 0}_{(0,1)\,\mapsto\,1}, \qquad
#   \underbrace{w_1 + b > 0}_{(1,0)\,\mapsto\,1}, \qquad \underbrace{w_1 + w_2 + b \le 0}_{(1,1)\,\mapsto\,0}.$$
#
# Adding the two middle ones gives $w_1 + w_2 + 2b > 0$; adding the outer ones gives
# $w_1 + w_2 + 2b \le 0$. No weights satisfy both, so no line separates XOR, and by the argument
# above the perceptron makes at least one mistake in every epoch, forever.
#
# ## 4. A feature map makes XOR separable
#
# The perceptron is linear in whatever we feed it. Feed it
#
# $$\phi(x_u, x_v) = (x_u,\; x_v,\; x_u x_v)$$
#
# instead of $(x_u, x_v)$: in this 3-D feature space the four points are separable by a plane,
# and that plane, seen back in the $(x_u, x_v)$ plane, is a curve.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3 (2 points): the feature map
#
# *What you may use:* NumPy. `X` itself must not change.

# %% nbgrader={"grade": false, "grade_id": "xor_features", "locked": false, "schema_version": 3, "solution": true, "task": false}
def xor_features(X):
    """The feature map phi(x_u, x_v) = (x_u, x_v, x_u * x_v), applied to every row.

    Inputs:
    - X: array of shape (N, 2), rows (x_u, x_v).

    Returns:
    - Phi: array of shape (N, 3), rows (x_u, x_v, x_u * x_v). X is not changed.
    """
    ### BEGIN SOLUTION
    return np.column_stack([X[:, 0], X[:, 1], X[:, 0] * X[:, 1]])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_xor_features", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
Phi = xor_features(X_logic)
assert np.shape(Phi) == (4, 3), f"xor_features must return shape (N, 3), got {np.shape(Phi)}"
assert_close(Phi, np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 1.0]]), name="xor_features(X_logic)")
assert_close(X_logic, np.array([[0, 0], [0, 1], [1, 0], [1, 1.0]]), name="X_logic after xor_features (it must not change)")
### BEGIN HIDDEN TESTS
# hint: negative and non-binary inputs, and the input left unchanged
X_pm = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [2.5, -0.4], [0.0, 3.0]])
assert_close(xor_features(X_pm), np.array([[-1, -1, 1], [-1, 1, -1], [1, -1, -1], [1, 1, 1],
                                            [2.5, -0.4, -1.0], [0, 3, 0.0]]), name="xor_features on other points")
X_copy = X_pm.copy()
xor_features(X_pm)
assert_close(X_pm, X_copy, name="xor_features must not change its input")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 4 (2 points): a perceptron that separates XOR in feature space
#
# Choose `w_xor` (shape (3,)) and `b_xor` so that $\sigma(w^\top \phi(x) + b)$ is XOR on the four
# inputs. Reason it out (the inputs $(0,1)$ and $(1,0)$ fix the signs of $w_1 + b$ and
# $w_2 + b$; which sign must the weight of $x_u x_v$ then have?), or train your perceptron on
# `xor_features(X_logic)`.
#
# The test checks exactly this: with the step of section 1 (1 for a positive score, 0 for a score
# $\le 0$), the four inputs get their XOR labels. No margin is asked for: a plane through a corner
# that gives it score 0, and so label 0, counts as correct.
#
# *What you may use:* your reasoning, or your `train_perceptron` and `xor_features`.

# %% nbgrader={"grade": false, "grade_id": "xor_weights", "locked": false, "schema_version": 3, "solution": true, "task": false}
# w_xor: array of shape (3,), the weights of (x_u, x_v, x_u x_v); b_xor: float, the bias.
### BEGIN SOLUTION
w_xor = np.array([1.0, 1.0, -2.0])
b_xor = -0.5
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_xor_weights", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
Phi_logic = np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 1.0]])  # phi of (0,0), (0,1), (1,0), (1,1)
assert np.shape(w_xor) == (3,), f"w_xor must have shape (3,), got {np.shape(w_xor)}"
assert np.ndim(b_xor) == 0, f"b_xor must be a single number, got shape {np.shape(b_xor)}"
assert_close((Phi_logic @ w_xor + b_xor > 0).astype(float), y_xor, name="XOR in feature space")
### BEGIN HIDDEN TESTS
# hint: w_xor and b_xor must be finite real numbers (no NaN or infinity)
assert np.all(np.isfinite(np.asarray(w_xor, dtype=float))) and np.isfinite(float(b_xor)), "w_xor, b_xor not finite"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-feature-plot", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The perceptron rule finds such a plane by itself once it sees the features. Drawn in the
# original plane, the boundary $w_1 x_u + w_2 x_v + w_3 x_u x_v + b = 0$ is a hyperbola.

# %% nbgrader={"grade": false, "grade_id": "plot-features", "locked": true, "schema_version": 3, "solution": false, "task": false}
w_learnt, b_learnt, mistakes = train_perceptron(xor_features(X_logic), y_xor, epochs=50)
print(f"perceptron on phi(x): mistakes per epoch {mistakes}, w = {w_learnt}, b = {b_learnt}")
fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
for ax, w, b, title in [(axes[0], w_xor, b_xor, "your w_xor, b_xor"),
                        (axes[1], w_learnt, b_learnt, "learnt on phi(x)")]:
    plot_regions(ax, lambda P, w=w, b=b: predict(xor_features(P), w, b))
    plot_points(ax, X_logic, y_xor, title)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-multiclass", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 5. Many classes: one hyperplane per class
#
# For $K$ classes, stack $K$ weight vectors as the rows of a matrix $W \in \mathbb{R}^{K \times D}$
# and $K$ biases in $b \in \mathbb{R}^K$: one layer computes all scores at once,
#
# $$f(x) = \sigma(Wx + b),$$
#
# and the predicted class is the one with the largest score, $\arg\max_k (Wx + b)_k$. The
# perceptron rule carries over: after a mistake, add $x$ to the row of the true class and
# subtract it from the row of the predicted class. Class $k$ wins where its score beats every
# other one, on the intersection of the $K - 1$ half-spaces $(w_k - w_j)^\top x + b_k - b_j > 0$:
# each region is a convex polyhedral set. In the plane that is a convex polygon or an unbounded
# convex region; with three classes, as below, each region is the intersection of two half-planes
# and so always unbounded.

# %% nbgrader={"grade": false, "grade_id": "multiclass", "locked": true, "schema_version": 3, "solution": false, "task": false}
rng = np.random.default_rng(0)
centres = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])
labels = np.repeat(np.arange(3), 30)
points = centres[labels] + 0.6 * rng.normal(size=(90, 2))

W, b = np.zeros((3, 2)), np.zeros(3)
for epoch in range(20):
    errors = 0
    for x_i, k in zip(points, labels):
        guess = np.argmax(W @ x_i + b)
        if guess != k:
            W[k] += x_i
            b[k] += 1
            W[guess] -= x_i
            b[guess] -= 1
            errors += 1
    if errors == 0:
        break
print(f"3-class perceptron: {errors} mistakes in epoch {epoch + 1}")

fig, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
u, v = np.meshgrid(np.linspace(-4, 4, 200), np.linspace(-3.5, 4, 200))
regions = np.argmax(np.column_stack([u.ravel(), v.ravel()]) @ W.T + b, axis=1).reshape(u.shape)
ax.contourf(u, v, regions, levels=[-0.5, 0.5, 1.5, 2.5], colors=["#d5e3f6", "#f6d5d5", "#d8f0d2"])
for k, colour in enumerate(["tab:blue", "tab:red", "tab:green"]):
    ax.scatter(*points[labels == k].T, c=colour, edgecolors="k", s=30)
ax.set_title("argmax(Wx + b): three classes")
ax.set_aspect("equal")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-mlp", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 6. A hidden layer solves XOR
#
# Instead of choosing the feature map by hand, let the network learn one. A multi-layer
# perceptron with one hidden layer computes
#
# $$h = \mathrm{ReLU}(W_1 x + b_1), \qquad s = W_2 h + b_2,$$
#
# where $s$ holds one score per class. XOR even has an exact solution with two hidden units:
# $h_1 = \mathrm{ReLU}(x_u + x_v)$, $h_2 = \mathrm{ReLU}(x_u + x_v - 1)$ and $h_1 - 2 h_2$ is
# XOR. The threshold step has no useful derivative, so we train with gradients instead: the
# softmax cross-entropy of the scores is minimised by Adam, and `backward()` computes the
# gradients for us.
#
# The course library follows PyTorch's interface: `nn.Sequential(nn.Linear(2, 8), nn.ReLU(), ...)`
# builds the network, `F.cross_entropy(scores, labels)` is the loss, and an optimiser step is
# `opt.zero_grad(); loss.backward(); opt.step()`. One derivative differs, see below the plot.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 5 (3 points): an MLP that learns XOR
#
# `make_xor_mlp(hidden)` returns `Linear(2, hidden) -> ReLU -> Linear(hidden, 2)`.
# `train_xor_mlp` trains it on the whole data set at every step (full batch) with
# `optim.Adam(model.parameters(), lr=lr)` and `F.cross_entropy`, for `steps` steps.
#
# *What you may use:* `course.nn`, `course.optim`, `F.cross_entropy` and `backward()`: here the
# library computing the gradients is the point.

# %% nbgrader={"grade": false, "grade_id": "xor_mlp", "locked": false, "schema_version": 3, "solution": true, "task": false}
def make_xor_mlp(hidden=8):
    """A two-layer perceptron for 2-D inputs and two classes.

    Inputs:
    - hidden: int, the width of the hidden layer.

    Returns:
    - model: nn.Sequential mapping inputs of shape (N, 2) to class scores of shape (N, 2).
    """
    ### BEGIN SOLUTION
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    ### END SOLUTION


def train_xor_mlp(model, X, y, steps=300, lr=0.05):
    """Full-batch training with Adam on the softmax cross-entropy.

    Inputs:
    - model: an nn.Module mapping (N, 2) inputs to (N, 2) scores.
    - X: array of shape (N, 2), the inputs.
    - y: int array of shape (N,), class labels 0 or 1.
    - steps: int, the number of optimiser steps.
    - lr: float, Adam's learning rate.

    Returns:
    - losses: list of `steps` floats, the loss before each step.
    """
    ### BEGIN SOLUTION
    inputs = Tensor(np.asarray(X, dtype=np.float32))
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(inputs), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_xor_mlp", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
labels_xor = y_xor.astype(int)
manual_seed(0)
model = make_xor_mlp(hidden=8)
losses = train_xor_mlp(model, X_logic, labels_xor)
assert len(losses) == 300, f"train_xor_mlp must return one loss per step, got {len(losses)}"
scores = model(Tensor(X_logic.astype(np.float32))).data
assert scores.shape == (4, 2), f"the MLP must output scores of shape (N, 2), got {scores.shape}"
assert_close(scores.argmax(axis=1), labels_xor, name="MLP predictions on XOR")
assert losses[-1] < 0.1 * losses[0], f"the loss should drop by 10x, went {losses[0]:.3f} -> {losses[-1]:.3f}"
### BEGIN HIDDEN TESTS
# hint: other seeds and hidden widths (the layer shapes must follow `hidden`)
# Other seeds and widths reach 100% too.
for seed, hidden in [(1, 8), (2, 16), (4, 6)]:
    manual_seed(seed)
    model = make_xor_mlp(hidden=hidden)
    weights = [p.shape for p in model.parameters()]
    assert (hidden, 2) in weights and (2, hidden) in weights, f"layer shapes {weights} for hidden={hidden}"
    train_xor_mlp(model, X_logic, labels_xor, steps=300, lr=0.05)
    scores = model(Tensor(X_logic.astype(np.float32))).data
    assert_close(scores.argmax(axis=1), labels_xor, name=f"MLP on XOR, seed {seed}, hidden {hidden}")
# hint: the trained network must be nonlinear (a ReLU between the two layers)
# The learnt map is not affine: an affine fit of its scores on random inputs leaves residuals.
rng = np.random.default_rng(5)
P = rng.uniform(-0.5, 1.5, size=(200, 2))
S = model(Tensor(P.astype(np.float32))).data
A = np.column_stack([P, np.ones(len(P))])
residual = S - A @ np.linalg.lstsq(A, S, rcond=None)[0]
assert np.abs(residual).max() > 0.1, "the trained MLP behaves like an affine map: where is the nonlinearity?"
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "plot-mlp", "locked": true, "schema_version": 3, "solution": false, "task": false}
manual_seed(0)
mlp = make_xor_mlp(hidden=8)
mlp_losses = train_xor_mlp(mlp, X_logic, y_xor.astype(int))
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
plot_regions(axes[0], lambda P: mlp(Tensor(P.astype(np.float32))).data.argmax(axis=1))
plot_points(axes[0], X_logic, y_xor, "MLP (8 ReLUs) on XOR")
axes[1].semilogy(mlp_losses)
axes[1].set_xlabel("step")
axes[1].set_ylabel("cross-entropy")
axes[1].set_title("training loss")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-relu-at-zero", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **ReLU at 0: the library follows the lectures, not PyTorch.** $\mathrm{ReLU}$ has no derivative
# at 0 (any slope in $[0, 1]$ is a valid subgradient there). The lectures and `course.autograd`
# take $\mathrm{ReLU}'(0) = 1$; PyTorch takes $\mathrm{ReLU}'(0) = 0$. It only matters when a
# pre-activation is exactly 0, and the exact XOR network of this section is such a case: at the
# input $(1, 0)$, $h_2 = \mathrm{ReLU}(x_u + x_v - 1)$ receives 0. The gradients of its output
# $h_1 - 2 h_2$ with respect to the first layer:

# %% nbgrader={"grade": false, "grade_id": "relu-at-zero", "locked": true, "schema_version": 3, "solution": false, "task": false}
W_hidden = Tensor(np.array([[1.0, 1.0], [1.0, 1.0]]), requires_grad=True)
b_hidden = Tensor(np.array([0.0, -1.0]), requires_grad=True)
v_out = np.array([1.0, -2.0])
x_corner = Tensor(np.array([1.0, 0.0]))
pre_activation = W_hidden @ x_corner + b_hidden
output = (pre_activation.relu() * Tensor(v_out)).sum()
output.backward()
print("pre-activations at (1, 0):", pre_activation.data, "  output:", output.item(), "= XOR(1, 0)")
# What PyTorch computes: the same chain rule with ReLU'(0) = 0, i.e. slope 1 only where s > 0.
grad_b_pytorch = np.where(pre_activation.data > 0, v_out, 0.0)
print("d output / d b_hidden: course", b_hidden.grad.data, "  PyTorch", grad_b_pytorch)
print("d output / d W_hidden: course", W_hidden.grad.data.tolist(),
      "  PyTorch", np.outer(grad_b_pytorch, x_corner.data).tolist())

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-collapse", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 7. Without a nonlinearity, depth buys nothing
#
# Remove the ReLU and two layers collapse into one:
#
# $$W_2 (W_1 x + b_1) + b_2 = \underbrace{W_2 W_1}_{W}\, x + \underbrace{W_2 b_1 + b_2}_{b}.$$
#
# Any stack of linear layers is a single affine map, so it draws a single line and fails on XOR
# exactly like the perceptron.

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 6 (2 points): the collapsed layer
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "collapse_linear_layers", "locked": false, "schema_version": 3, "solution": true, "task": false}
def collapse_linear_layers(W1, b1, W2, b2):
    """The single affine map equal to x -> W2 (W1 x + b1) + b2.

    Inputs:
    - W1: array of shape (H, D); b1: array of shape (H,).
    - W2: array of shape (K, H); b2: array of shape (K,).

    Returns a tuple (W, b):
    - W: array of shape (K, D).
    - b: array of shape (K,).
    """
    ### BEGIN SOLUTION
    return W2 @ W1, W2 @ b1 + b2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_collapse", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
rng = np.random.default_rng(0)
W1, b1, W2, b2 = rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=(3, 4)), rng.normal(size=3)
W, b = collapse_linear_layers(W1, b1, W2, b2)
assert np.shape(W) == (3, 2) and np.shape(b) == (3,), f"shapes: W {np.shape(W)}, b {np.shape(b)}"
x = rng.normal(size=2)
assert_close(W @ x + b, W2 @ (W1 @ x + b1) + b2, name="collapsed map at one point")
### BEGIN HIDDEN TESTS
# hint: other sizes (D = 5, H = 7, K = 3) and a whole batch of inputs
# A linear-only network built from course.nn equals its collapsed map on a batch.
manual_seed(3)
linear_net = nn.Sequential(nn.Linear(5, 7), nn.Linear(7, 3))
params = [p.data.astype(float) for p in linear_net.parameters()]
W, b = collapse_linear_layers(*params)
batch = rng.normal(size=(10, 5))
assert_close(batch @ W.T + b, linear_net(Tensor(batch.astype(np.float32))).data.astype(float),
             name="collapsed map of a Linear-Linear network", atol=1e-5)  # the network is float32
# hint: b1 = 0
# Zero first bias: only the second survives.
W, b = collapse_linear_layers(W1, np.zeros(4), W2, b2)
assert_close(b, b2, name="bias when b1 = 0")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-linear-xor", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Check it in practice: the same training without the ReLU never gets all four XOR points right
# (at best three, since its boundary is a line).

# %% nbgrader={"grade": false, "grade_id": "linear-xor", "locked": true, "schema_version": 3, "solution": false, "task": false}
manual_seed(0)
linear_mlp = nn.Sequential(nn.Linear(2, 8), nn.Linear(8, 2))
train_xor_mlp(linear_mlp, X_logic, y_xor.astype(int))
accuracy = (linear_mlp(Tensor(X_logic.astype(np.float32))).data.argmax(axis=1) == y_xor).mean()
print(f"two linear layers on XOR: accuracy {accuracy:.0%}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-playground", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Playgrounds (not graded)
#
# Move the perceptron's weights by hand, then train networks on harder data sets: which ones
# need a hidden layer, and which input features make the hidden layer unnecessary?

# %% nbgrader={"grade": false, "grade_id": "playground", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("Playgrounds are skipped while grading.")
else:
    from course.widgets import decision_boundary_playground, perceptron_playground
    perceptron_playground()
    decision_boundary_playground()
