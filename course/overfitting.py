"""Overfitting with sums of ReLUs: the computation behind overfitting_playground.

A few noisy samples y = f(x) + noise of module 02's wiggly function are fitted by n ReLUs
hinged at evenly spread knots (slope 1), with the output weights and bias found by least
squares. Few ReLUs underfit; as many ReLUs as samples pass through every sample, noise
included, and between the samples the sum can swing far from f: the training error goes to
zero while the error on new samples from the same distribution (the test error) grows.
Everything random comes from the numpy Generator passed in.
"""

import numpy as np

from course.relu_sums import INTERVAL, fit_output_weights, spread_knots, sum_of_relus


def wiggle(x):
    """Module 02's target f(x) = sin(3x) + 0.3 x^2."""
    x = np.asarray(x, dtype=np.float64)
    return np.sin(3 * x) + 0.3 * x ** 2


def noisy_samples(n, noise, rng, interval=INTERVAL):
    """n points x drawn uniformly from the interval and y = wiggle(x) + noise * N(0, 1).

    Inputs:
    - n: int >= 1, the number of samples; noise: float >= 0, the noise's standard deviation.
    - rng: a numpy Generator, the only source of randomness.

    Returns (x, y), two arrays of shape (n,).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if n < 1 or noise < 0:
        raise ValueError(f"need n >= 1 samples and noise >= 0, got n={n}, noise={noise}")
    x = rng.uniform(*interval, size=n)
    return x, wiggle(x) + noise * rng.standard_normal(n)


class ReluFit:
    """n ReLUs hinged at evenly spread knots, output weights and bias fitted by least squares.

    With more ReLUs than samples the least-squares problem has many exact solutions;
    numpy's lstsq returns the one with the smallest weights.
    """

    def __init__(self, x_train, y_train, n_relus):
        if n_relus < 1:
            raise ValueError(f"n_relus must be at least 1, got {n_relus}")
        self.slopes, self.offsets = spread_knots(n_relus)
        self.weights, self.bias = fit_output_weights(x_train, y_train, self.slopes, self.offsets)

    @property
    def knots(self):
        return -self.offsets / self.slopes

    def __call__(self, x):
        return sum_of_relus(x, self.slopes, self.offsets, self.weights, self.bias)


def mean_squared_error(prediction, y):
    return float(np.mean((np.asarray(prediction, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))


def error_curves(train, test, widths):
    """Training and test mean squared errors of ReluFit for each number of ReLUs.

    Inputs:
    - train, test: (x, y) pairs of arrays of shape (N,) and (M,).
    - widths: iterable of ints >= 1, the numbers of ReLUs.

    Returns (train_errors, test_errors), two arrays of shape (len(widths),).
    """
    train_errors, test_errors = [], []
    for n in widths:
        fit = ReluFit(*train, n)
        train_errors.append(mean_squared_error(fit(train[0]), train[1]))
        test_errors.append(mean_squared_error(fit(test[0]), test[1]))
    return np.array(train_errors), np.array(test_errors)
