"""Sums of ReLUs on an interval (module 02): evaluate, fit, and measure an approximation.

relu_sum_playground draws with these. The module 02 exercise `relu_sum` is the student's to
write: here it is called `sum_of_relus`.

A network with one hidden layer of K ReLUs and one input x computes
    g(x) = sum_i v_i * ReLU(w_i * x + b_i) + c
with slopes w_i, offsets b_i, output weights v_i and an output bias c (module 02's names).
The lecture's example is n1 = ReLU(-5x - 7.7), n2 = ReLU(-1.2x - 1.3), n3 = ReLU(1.2x + 1),
n4 = ReLU(1.2x - 0.2), n5 = ReLU(2x - 1.1), n6 = ReLU(5x - 5), combined as
-n1 - n2 - n3 + n4 + n5 + n6.
"""

import numpy as np

from course.autograd import Tensor
from course.optim import Adam

INTERVAL = (-2.0, 2.0)  # where targets are drawn and errors measured

LECTURE_SLOPES = np.array([-5.0, -1.2, 1.2, 1.2, 2.0, 5.0])
LECTURE_OFFSETS = np.array([-7.7, -1.3, 1.0, -0.2, -1.1, -5.0])
LECTURE_WEIGHTS = np.array([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0])

CHALLENGE_TOLERANCE = 0.05


def relu_pieces(x, slopes, offsets):
    """The hidden ReLUs n_i(x) = ReLU(w_i x + b_i).

    Inputs:
    - x: array of shape (N,), the inputs.
    - slopes, offsets: arrays of shape (K,), w_i and b_i.

    Returns an array of shape (N, K) with entry [k, i] = max(0, w_i x_k + b_i).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    slopes = np.asarray(slopes, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    if slopes.shape != offsets.shape or slopes.ndim != 1:
        raise ValueError(
            f"slopes and offsets must be 1-d arrays of the same length, got {slopes.shape} and {offsets.shape}"
        )
    return np.maximum(0.0, x * slopes + offsets)


def sum_of_relus(x, slopes, offsets, weights, bias=0.0):
    """g(x) = sum_i v_i ReLU(w_i x + b_i) + c.

    Inputs:
    - x: array of shape (N,).
    - slopes, offsets, weights: arrays of shape (K,), w_i, b_i and v_i; bias: float c.

    Returns an array of shape (N,).
    """
    weights = np.asarray(weights, dtype=np.float64)
    pieces = relu_pieces(x, slopes, offsets)
    if weights.shape != (pieces.shape[1],):
        raise ValueError(f"weights must have shape ({pieces.shape[1]},) like the slopes, got {weights.shape}")
    return pieces @ weights + bias


def lecture_function(x):
    """The lecture's example -n1 - n2 - n3 + n4 + n5 + n6 evaluated at x (any shape)."""
    x = np.asarray(x, dtype=np.float64)
    return sum_of_relus(x.ravel(), LECTURE_SLOPES, LECTURE_OFFSETS, LECTURE_WEIGHTS).reshape(x.shape)


def _step(x):
    return (np.asarray(x) >= 0).astype(np.float64)


# Targets offered by the playground: short name -> function of an array x, and its label.
TARGETS = {
    "lecture": lecture_function,
    "sin": lambda x: np.sin(2 * np.asarray(x, dtype=np.float64)),
    "abs": lambda x: np.abs(np.asarray(x, dtype=np.float64)),
    "step": _step,
    "square": lambda x: np.asarray(x, dtype=np.float64) ** 2,
}
TARGET_LABELS = {
    "lecture": "lecture: -n1-n2-n3+n4+n5+n6",
    "sin": "sin(2x)",
    "abs": "|x|",
    "step": "step at 0",
    "square": "x^2",
}


def spread_knots(n, interval=INTERVAL):
    """Slopes and offsets of K ReLUs ReLU(x - k_i) with knots k_i spread evenly over the interval.

    The first knot sits at the left end, so together with an output bias these ReLUs can
    express every piecewise linear function with kinks at the knots.

    Returns (slopes, offsets), arrays of shape (K,).
    """
    left, right = interval
    knots = left + (right - left) * np.arange(n) / max(n, 1)
    return np.ones(n), -knots


def approximation_errors(approximation, target):
    """Maximum and mean absolute error between two arrays of the same shape (N,)."""
    error = np.abs(np.asarray(approximation, dtype=np.float64) - np.asarray(target, dtype=np.float64))
    return float(error.max()), float(error.mean())


def fit_output_weights(x, target_values, slopes, offsets, fit_bias=True):
    """Least-squares output weights (and bias) for fixed hidden ReLUs.

    Minimises sum_k (sum_i v_i ReLU(w_i x_k + b_i) + c - f(x_k))^2 over v (and c).

    Inputs:
    - x: array of shape (N,); target_values: array of shape (N,), f(x).
    - slopes, offsets: arrays of shape (K,), kept fixed.
    - fit_bias: also fit c (otherwise c = 0).

    Returns (weights, bias): array of shape (K,) and float.
    """
    design = relu_pieces(x, slopes, offsets)
    if fit_bias:
        design = np.concatenate([design, np.ones((design.shape[0], 1))], axis=1)
    solution = np.linalg.lstsq(design, np.asarray(target_values, dtype=np.float64), rcond=None)[0]
    if fit_bias:
        return solution[:-1], float(solution[-1])
    return solution, 0.0


def fit_gradient_descent(x, target_values, slopes, offsets, weights, bias=0.0, steps=500, lr=0.02):
    """Fit all parameters (slopes, offsets, output weights and bias) with Adam on the mean squared error.

    Uses the course's autograd (course.autograd, course.optim) and starts from the given values.

    Inputs:
    - x, target_values: arrays of shape (N,).
    - slopes, offsets, weights: arrays of shape (K,); bias: float. Starting point.
    - steps: number of Adam steps; lr: its learning rate.

    Returns (slopes, offsets, weights, bias, losses): three arrays of shape (K,), a float, and
    the list of the `steps` losses seen before each step.
    """
    x = Tensor(np.asarray(x, dtype=np.float64).reshape(-1, 1))
    target = Tensor(np.asarray(target_values, dtype=np.float64).reshape(-1, 1))

    def parameter(values):
        return Tensor(np.array(values, dtype=np.float64).reshape(1, -1), requires_grad=True)

    w, b, v = parameter(slopes), parameter(offsets), parameter(weights)
    c = Tensor(np.array([[bias]], dtype=np.float64), requires_grad=True)
    optimizer = Adam([w, b, v, c], lr=lr)
    losses = []
    for _ in range(steps):
        prediction = ((x * w + b).relu() * v).sum(axis=1, keepdims=True) + c
        loss = ((prediction - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return w.data.ravel().copy(), b.data.ravel().copy(), v.data.ravel().copy(), float(c.data[0, 0]), losses


def challenge_status(max_error, n_relus, k, tolerance=CHALLENGE_TOLERANCE):
    """Is the challenge "maximum error below tolerance with at most k ReLUs" met?

    Returns (met, message): a bool and a sentence for the playground to show.
    """
    if max_error < tolerance and n_relus <= k:
        return True, f"Challenge met: max error {max_error:.3f} < {tolerance} with {n_relus} ReLUs (at most {k})."
    reasons = []
    if n_relus > k:
        reasons.append(f"you use {n_relus} ReLUs, allowed are at most {k}")
    if not max_error < tolerance:
        reasons.append(f"max error {max_error:.3f} is not below {tolerance}")
    return False, "Challenge not met yet: " + "; ".join(reasons) + "."
