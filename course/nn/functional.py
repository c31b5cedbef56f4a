"""Functions of tensors used to build networks: activations, losses, layers, pooling.

A thin public API over the ops of course.autograd: every function accepts Tensors (or arrays,
which become constant Tensors) and returns a Tensor recorded in the graph. Where an op has
two kernels (conv2d, pooling, cross_entropy, linear), the one `course.autograd.use_kernels`
chose runs: the fast one by default, or the reference one that reads like the notebooks.
"""
import numpy as np

from course.autograd import Tensor, convolution, fast_kernels, linalg, losses
from course.autograd.elementwise import ElementwiseMaximum, Where
from course.autograd.kernels import active


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def relu(x):
    """max(0, x) elementwise, with ReLU'(0) = 1 (the lectures' convention; PyTorch uses 0)."""
    return _t(x).relu()


def tanh(x):
    return _t(x).tanh()


def sigmoid(x):
    return _t(x).sigmoid()


def log_softmax(x, axis=-1, *, dim=None):
    """log softmax along `axis`, without overflow."""
    return losses.log_softmax(_t(x), axis if dim is None else dim)


def softmax(x, axis=-1, *, dim=None):
    return losses.softmax(_t(x), axis if dim is None else dim)


def cross_entropy(logits, targets, reduction="mean"):
    """Softmax cross-entropy of class scores against integer labels.

    Inputs:
    - logits: (N, K) scores
    - targets: (N,) integers in [0, K)
    - reduction: "mean" (default), "sum" or "none"
    Returns: a scalar Tensor (or (N,) for reduction="none").
    """
    kernels = fast_kernels if active.fast else losses
    return kernels.cross_entropy(_t(logits), targets, reduction)


def mse_loss(pred, target, reduction="mean"):
    """Mean squared error: mean((pred - target)^2); shapes must match."""
    return losses.mse_loss(_t(pred), _t(target), reduction)


def linear(x, weight, bias=None):
    """An affine layer: x @ weight.T + bias.

    Inputs:
    - x: (N, D_in) (any leading dimensions)
    - weight: (D_out, D_in)
    - bias: (D_out,) or None
    Returns: (N, D_out)
    """
    x, weight = _t(x), _t(weight)
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: x has {x.shape[-1]} features (shape {x.shape}) but weight "
                         f"expects {weight.shape[-1]} (shape {weight.shape}, i.e. (out, in))")
    kernels = fast_kernels if active.fast else linalg
    return kernels.linear(x, weight, None if bias is None else _t(bias))


def conv2d(x, weight, bias=None, stride=1, padding=0):
    kernels = fast_kernels if active.fast else convolution
    return kernels.conv2d(_t(x), _t(weight), None if bias is None else _t(bias), stride, padding)


conv2d.__doc__ = convolution.conv2d.__doc__


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling, NCHW: (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size.
    The gradient goes to each window's first maximum (reading order)."""
    kernels = fast_kernels if active.fast else convolution
    return kernels.max_pool2d(_t(x), kernel_size, stride)


def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling, NCHW: the mean over each window; stride defaults to kernel_size."""
    kernels = fast_kernels if active.fast else convolution
    return kernels.avg_pool2d(_t(x), kernel_size, stride)


def maximum(a, b):
    """Elementwise max(a, b); where a >= b the gradient goes to a (ties: the first argument)."""
    a = _t(a)
    return ElementwiseMaximum.apply(a, a._lift(b))


def where(cond, a, b):
    """cond ? a : b elementwise; a and b get the gradient where they were chosen."""
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool)
    a = _t(a)
    return Where.apply(cond, a, a._lift(b))


def flatten(x, start_dim=1):
    return _t(x).flatten(start_dim)


__all__ = ["relu", "tanh", "sigmoid", "softmax", "log_softmax", "cross_entropy", "mse_loss",
           "linear", "conv2d", "max_pool2d", "avg_pool2d", "maximum", "where", "flatten"]
