"""Two-dimensional toy data sets and input features for the decision-boundary playgrounds.

Everything here is plain NumPy, so it can be tested (and used in notebooks) without
matplotlib or ipywidgets. All data sets live in the box [-BOX, BOX]^2 (before noise), have
labels 0 and 1, and are reproducible from their seed.
"""

import numpy as np

BOX = 3.0  # the playgrounds draw the square [-BOX, BOX]^2

# Corners of the logic data sets: a coordinate > 0 reads as "true", < 0 as "false".
_CORNER = 1.5
_LOGIC_RULES = {
    "AND": lambda a, b: a & b,
    "OR": lambda a, b: a | b,
    "XOR": lambda a, b: a ^ b,
}

DATASETS = ("AND", "OR", "XOR", "blobs", "circles", "moons", "spirals")


def _class_sizes(n_points, n_groups):
    """Split n_points into n_groups sizes that differ by at most one."""
    base, extra = divmod(n_points, n_groups)
    return [base + (1 if i < extra else 0) for i in range(n_groups)]


def _logic(rule, n_points, rng):
    points, labels = [], []
    corners = [(a, b) for a in (False, True) for b in (False, True)]
    for (a, b), size in zip(corners, _class_sizes(n_points, 4)):
        centre = np.array([_CORNER if a else -_CORNER, _CORNER if b else -_CORNER])
        points.append(np.tile(centre, (size, 1)))
        labels.append(np.full(size, int(rule(a, b))))
    return np.concatenate(points), np.concatenate(labels)


def _blobs(n_points, rng):
    n0, n1 = _class_sizes(n_points, 2)
    X0 = rng.normal(loc=(-1.2, -1.2), scale=0.5, size=(n0, 2))
    X1 = rng.normal(loc=(1.2, 1.2), scale=0.5, size=(n1, 2))
    return np.concatenate([X0, X1]), np.repeat([0, 1], [n0, n1])


def _circles(n_points, rng):
    # Class 1: a disc of radius 1 in the middle; class 0: a ring between radii 1.8 and 2.6.
    n0, n1 = _class_sizes(n_points, 2)
    radius = np.concatenate([rng.uniform(1.8, 2.6, n0), rng.uniform(0.0, 1.0, n1)])
    angle = rng.uniform(0.0, 2 * np.pi, n_points)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return X, np.repeat([0, 1], [n0, n1])


def _moons(n_points, rng):
    # Two interleaving half circles of radius 1, centred and scaled by 1.5.
    n0, n1 = _class_sizes(n_points, 2)
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = 1.5 * (np.concatenate([upper, lower]) - np.array([0.5, 0.25]))
    return X, np.repeat([0, 1], [n0, n1])


def _spirals(n_points, rng):
    # Two arms, the second one the first rotated by pi; radius grows linearly with the angle.
    sizes = _class_sizes(n_points, 2)
    points = []
    for label, size in enumerate(sizes):
        s = np.linspace(0.0, 1.0, size, endpoint=False) if size else np.zeros(0)
        radius = 0.2 + 2.5 * s
        angle = 1.75 * 2 * np.pi * s + label * np.pi
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
    return np.concatenate(points), np.repeat([0, 1], sizes)


def make_dataset(name, n_points=200, noise=0.0, seed=0):
    """Make one of the playground data sets.

    Inputs:
    - name: one of DATASETS: "AND", "OR", "XOR" (four clusters at the corners (+-1.5, +-1.5);
      a positive coordinate means "true"), "blobs", "circles", "moons", "spirals".
    - n_points: number of points N (>= 2), split as evenly as possible between the groups.
    - noise: standard deviation of the Gaussian noise added to every coordinate (>= 0).
    - seed: seed of the random generator; the same arguments give the same points.

    Returns a tuple of:
    - X: array of shape (N, 2), float64, the points (x1, x2).
    - y: array of shape (N,), int64, the labels 0 or 1.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if int(n_points) != n_points or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_points = int(n_points)
    if name in _LOGIC_RULES:
        X, y = _logic(_LOGIC_RULES[name], n_points, rng)
    else:
        X, y = {"blobs": _blobs, "circles": _circles, "moons": _moons, "spirals": _spirals}[name](
            n_points, rng
        )
    X = X + noise * rng.standard_normal(X.shape)
    return X.astype(np.float64), y.astype(np.int64)


def train_test_split(X, y, test_fraction=0.5, seed=0):
    """Shuffle the points and split them into a training and a test part.

    Inputs:
    - X: array of shape (N, D); y: array of shape (N,).
    - test_fraction: share of the points that go to the test part, in (0, 1).
    - seed: seed of the shuffle.

    Returns (X_train, y_train, X_test, y_test), with N - round(test_fraction * N) training points.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


# The input features of the decision-boundary playground, in the order the UI shows them.
FEATURES = {
    "x1": lambda X: X[:, 0],
    "x2": lambda X: X[:, 1],
    "x1*x2": lambda X: X[:, 0] * X[:, 1],
    "x1^2": lambda X: X[:, 0] ** 2,
    "x2^2": lambda X: X[:, 1] ** 2,
    "sin x1": lambda X: np.sin(X[:, 0]),
    "sin x2": lambda X: np.sin(X[:, 1]),
}


def features(X, names):
    """Map points to the chosen input features.

    Inputs:
    - X: array of shape (N, 2), the points (x1, x2).
    - names: sequence of F feature names, each a key of FEATURES
      ("x1", "x2", "x1*x2", "x1^2", "x2^2", "sin x1", "sin x2").

    Returns an array of shape (N, F), float64, column j holding feature names[j].
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {X.shape}")
    names = list(names)
    if not names:
        raise ValueError("choose at least one feature, e.g. features(X, ['x1', 'x2'])")
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {list(FEATURES)}")
    return np.stack([FEATURES[name](X) for name in names], axis=1)


def grid(n_cells=60, box=BOX):
    """Points of a regular grid over the square [-box, box]^2, for drawing heat maps.

    Returns a tuple of:
    - points: array of shape (n_cells * n_cells, 2); row r * n_cells + c has x2 from row r
      and x1 from column c, so values.reshape(n_cells, n_cells) is an image with x2 going up
      when drawn with origin="lower".
    - axis: array of shape (n_cells,), the coordinates along each axis.
    """
    axis = np.linspace(-box, box, n_cells)
    x1, x2 = np.meshgrid(axis, axis)
    return np.stack([x1.ravel(), x2.ravel()], axis=1), axis
