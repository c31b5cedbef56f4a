"""Gradients through a deep network at initialisation: what the depth/saturation playground shows.

A stack of `depth` fully connected layers of `width` units, each followed by the activation,
weights drawn from N(0, gain^2 / width) and zero biases. A batch of standard normal inputs goes
forward; backward starts from a fixed random gradient at the top (the loss does not matter here,
only how the gradient changes on its way down). Per layer l = 1..depth we record the norms of
dl/ds^(l) (the gradient passed down the recursion) and of dl/dW^(l), the spread of the
activations x^(l), and the fraction of units that pass (almost) no gradient back: saturated
sigmoid or tanh units (sigma'(s) below a tenth of its largest value), dead ReLUs (s < 0 for every
example of the batch).

For ReLU the norms of dl/dW^(l) are about equal in all layers whatever the gain (ReLU(a s) =
a ReLU(s) for a > 0, so a factor on the weights scales every dl/dW^(l) by the same power of it);
the gain shows in dl/ds^(l), which shrinks or grows layer by layer, and in the activations.

The gain says which initialisation this is, for layers of equal width n: Xavier/Glorot
(Var W = 2 / (n_in + n_out) = 1 / n) is gain 1, He (Var W = 2 / n_in) is gain sqrt(2).

numpy only; every function takes its own seed and draws from a local np.random.Generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _sigmoid(s):
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# name -> (sigma, sigma'), with sigma' written through the input s and the output x = sigma(s).
ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda s, x: x * (1.0 - x)),
    "tanh": (np.tanh, lambda s, x: 1.0 - x ** 2),
    "relu": (lambda s: np.maximum(s, 0.0), lambda s, x: (s >= 0).astype(np.float64)),
}
# sigma'(s) is largest at s = 0 for sigmoid (1/4) and tanh (1).
_LARGEST_SLOPE = {"sigmoid": 0.25, "tanh": 1.0}

XAVIER_GAIN = 1.0
HE_GAIN = float(np.sqrt(2.0))


def small_gain(width, std=0.01):
    """The gain that gives weights of standard deviation `std` in layers of `width` inputs."""
    return std * np.sqrt(width)


@dataclass(frozen=True)
class DepthProfile:
    """What one deep network shows at initialisation, one entry per layer l = 1..depth.

    - ds_norms: norm of dl/ds^(l) over the batch (Frobenius norm of the (N, width) array).
    - dW_norms: Frobenius norm of dl/dW^(l).
    - activation_std: standard deviation of the layer's outputs x^(l) over batch and units.
    - stuck_fraction: fraction of the layer's units that pass (almost) no gradient back.
    """
    ds_norms: np.ndarray
    dW_norms: np.ndarray
    activation_std: np.ndarray
    stuck_fraction: np.ndarray


def _check(activation, depth, gain, width, n_examples):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    for name, value in (("depth", depth), ("width", width), ("n_examples", n_examples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    if not (np.isfinite(gain) and gain > 0):
        raise ValueError(f"gain must be a positive number (the weights' std times sqrt(width)), got {gain!r}")


def depth_profile(activation="sigmoid", depth=10, gain=1.0, width=64, n_examples=64, seed=0):
    """Forward and backward through a deep network at initialisation; see the module's text.

    Inputs:
    - activation: "sigmoid", "tanh" or "relu", after every layer.
    - depth: number of layers; width: units per layer (and inputs).
    - gain: the weights' standard deviation times sqrt(width) (1: Xavier, sqrt(2): He).
    - n_examples: batch size; seed: seed of one generator that draws, in this order, the weights
      (rng.standard_normal((width, width)) per layer, layer 1 first, times gain / sqrt(width)),
      the inputs (rng.standard_normal((n_examples, width))) and the gradient dl/dx^(depth) at the
      top (rng.standard_normal((n_examples, width)) / n_examples).

    Returns a DepthProfile (arrays of shape (depth,), layer 1 first).
    """
    _check(activation, depth, gain, width, n_examples)
    sigma, sigma_prime = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    weights = [gain / np.sqrt(width) * rng.standard_normal((width, width)) for _ in range(depth)]
    x = rng.standard_normal((n_examples, width))
    cache = []
    activation_std, stuck = np.empty(depth), np.empty(depth)
    for layer, W in enumerate(weights):
        s = x @ W.T
        x_prev, x = x, sigma(s)
        slope = sigma_prime(s, x)
        cache.append((x_prev, slope))
        activation_std[layer] = x.std()
        if activation == "relu":
            stuck[layer] = np.mean(np.all(s < 0, axis=0))
        else:
            stuck[layer] = np.mean(slope < 0.1 * _LARGEST_SLOPE[activation])

    dx = rng.standard_normal((n_examples, width)) / n_examples   # dl/dx^(depth)
    ds_norms, dW_norms = np.empty(depth), np.empty(depth)
    for layer in reversed(range(depth)):
        x_prev, slope = cache[layer]
        ds = dx * slope
        ds_norms[layer] = np.linalg.norm(ds)
        dW_norms[layer] = np.linalg.norm(ds.T @ x_prev)
        dx = ds @ weights[layer]
    return DepthProfile(ds_norms, dW_norms, activation_std, stuck)
