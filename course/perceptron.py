"""The perceptron of module 01: its classification, its mistakes and one step of its learning rule.

Labels are 0 and 1; the perceptron classifies a point x as 1 where w^T x + b > 0 and as 0
elsewhere (module 01's step: a point on the line gets 0). perceptron_playground draws with these.
The module 01 exercise `predict` is the student's to write: here it is called `classify`.
"""

import numpy as np


def classify(X, w, b):
    """The perceptron's classes of the points X.

    Inputs:
    - X: array of shape (N, D), the points.
    - w: array of shape (D,), the weights; b: float, the bias.

    Returns an int64 array of shape (N,): 1 where X @ w + b > 0, else 0.
    """
    return (np.asarray(X) @ np.asarray(w, dtype=np.float64) + b > 0).astype(np.int64)


def mistakes(X, y, w, b):
    """Indices of the misclassified points, as an int array of shape (M,), in increasing order."""
    return np.flatnonzero(classify(X, w, b) != np.asarray(y))


def perceptron_step(X, y, w, b, lr=1.0, start=0):
    """One step of the perceptron rule: update on the next misclassified point.

    The points are visited in cyclic order from index `start`; the first misclassified
    point i found gets the update
        w <- w + lr * (y_i - yhat_i) * x_i,    b <- b + lr * (y_i - yhat_i).

    Inputs:
    - X: array of shape (N, D); y: array of shape (N,) with labels 0 or 1.
    - w: array of shape (D,); b: float; lr: learning rate (> 0).
    - start: index from which the search for a misclassified point begins.

    Returns a tuple (w_new, b_new, i): the updated weights (a new array) and bias, and the
    index i of the point used, or (w, b, None) unchanged when no point is misclassified.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    w = np.asarray(w, dtype=np.float64)
    if X.ndim != 2 or w.shape != (X.shape[1],) or y.shape != (X.shape[0],):
        raise ValueError(
            f"shapes do not fit: X {X.shape} must be (N, D), y {y.shape} (N,), w {w.shape} (D,)"
        )
    wrong = mistakes(X, y, w, b)
    if len(wrong) == 0:
        return w.copy(), float(b), None
    later = wrong[wrong >= start % len(X)]
    i = int(later[0]) if len(later) else int(wrong[0])
    error = int(y[i]) - int(classify(X[i : i + 1], w, b)[0])  # +1 or -1
    return w + lr * error * X[i], float(b) + lr * error, i


def boundary_segment(w, b, box):
    """End points of the line w1 x1 + w2 x2 + b = 0 inside the square [-box, box]^2.

    Returns arrays (x1s, x2s) of shape (2,), or two empty arrays when the line misses
    the square or w = 0 (then there is no line).
    """
    w1, w2 = float(w[0]), float(w[1])
    candidates = []
    if w2 != 0.0:  # crossings with the vertical sides x1 = +-box
        candidates += [(x1, -(w1 * x1 + b) / w2) for x1 in (-box, box)]
    if w1 != 0.0:  # crossings with the horizontal sides x2 = +-box
        candidates += [(-(w2 * x2 + b) / w1, x2) for x2 in (-box, box)]
    inside = [p for p in candidates if abs(p[0]) <= box * (1 + 1e-12) and abs(p[1]) <= box * (1 + 1e-12)]
    if len(inside) < 2:
        return np.zeros(0), np.zeros(0)
    inside.sort()
    (a1, a2), (z1, z2) = inside[0], inside[-1]
    return np.array([a1, z1]), np.array([a2, z2])
