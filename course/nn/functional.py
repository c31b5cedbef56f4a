"""Functions of tensors used to build networks: activations, losses, layers, pooling.

Every function accepts Tensors (or arrays, which become constant Tensors) and returns a
Tensor recorded in the graph.
"""
import numpy as np

from course.autograd import Tensor, ops
from course.autograd.grad_mode import _state as grad_mode
from course.nn import conv_ops


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def relu(x):
    """max(0, x) elementwise, with ReLU'(0) = 1 (the lectures' convention; PyTorch uses 0)."""
    return _t(x).relu()


def tanh(x):
    return _t(x).tanh()


def sigmoid(x):
    return _t(x).sigmoid()


class LogSoftmax(ops.Op):
    """log softmax along `axis`, computed as x - max - log(sum(exp(x - max))): no overflow."""

    keeps_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, g):
        softmax = self.output().exp()
        return (g - softmax * g.sum(axis=self.axis, keepdims=True),)


def log_softmax(x, axis=-1, *, dim=None):
    return LogSoftmax(axis if dim is None else dim)(_t(x))


def softmax(x, axis=-1, *, dim=None):
    return log_softmax(x, axis, dim=dim).exp()


def cross_entropy(logits, targets, reduction="mean"):
    """Softmax cross-entropy of class scores against integer labels.

    Inputs:
    - logits: (N, K) scores
    - targets: (N,) integers in [0, K)
    - reduction: "mean" (default), "sum" or "none"
    Returns: a scalar Tensor (or (N,) for reduction="none").
    """
    logits = _t(logits)
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, K), got {logits.shape}")
    if targets.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: targets must have shape ({logits.shape[0]},) to match "
                         f"logits {logits.shape}, got {targets.shape}")
    if targets.dtype.kind == "f":
        if not np.all(targets == np.round(targets)):
            raise ValueError("cross_entropy: targets must be integer class labels")
    targets = targets.astype(np.int64)
    if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[1]):
        raise ValueError(f"cross_entropy: targets must lie in [0, {logits.shape[1]}), got "
                         f"values from {targets.min()} to {targets.max()}")
    _check_reduction(reduction)
    return CrossEntropy(targets, reduction)(logits)


class CrossEntropy(ops.Op):
    """-log softmax(z)[y] per row, then the mean (or sum) over rows, as one op.

    Its gradient is the lecture's softmax(z) - one_hot(y), row by row, times the incoming
    gradient (and 1/N for the mean): a few array operations instead of a dozen small ops.
    """

    def __init__(self, targets, reduction):
        self.targets, self.reduction = targets, reduction

    def forward(self, logits):
        log_probs = LogSoftmax(axis=1).forward(logits)
        self.probs = np.exp(log_probs)
        losses = -log_probs[np.arange(len(self.targets)), self.targets]
        if self.reduction == "none":
            return losses
        return losses.sum() if self.reduction == "sum" else losses.mean()

    def backward(self, g):
        (logits,) = self.inputs
        n = len(self.targets)
        one_hot = np.zeros_like(self.probs)
        one_hot[np.arange(n), self.targets] = 1
        # Recording (create_graph): the probabilities must be a function of the logits.
        probs = softmax(logits, axis=1) if grad_mode.enabled else ops.constant(self.probs)
        if self.reduction == "none":
            g = g.reshape((n, 1))
        elif self.reduction == "mean":
            g = g * (1.0 / n)
        return ((probs - ops.constant(one_hot)) * g,)

    def release(self):
        super().release()
        self.probs = None


def mse_loss(pred, target, reduction="mean"):
    """Mean squared error: mean((pred - target)^2); shapes must match."""
    pred, target = _t(pred), _t(target)
    if pred.shape != target.shape:
        raise ValueError(f"mse_loss: pred has shape {pred.shape} but target has shape "
                         f"{target.shape}; they must match (reshape one of them)")
    return _reduce((pred - target) ** 2, reduction)


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(losses, reduction):
    _check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


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
    if bias is None:
        return x @ weight.T
    if x.ndim == 2:
        return ops.Affine()(x, weight, _t(bias))
    flat = ops.Affine()(x.reshape(-1, x.shape[-1]), weight, _t(bias))
    return flat.reshape(x.shape[:-1] + (weight.shape[0],))


def conv2d(x, weight, bias=None, stride=1, padding=0):
    return conv_ops.conv2d(_t(x), _t(weight), None if bias is None else _t(bias), stride, padding)


conv2d.__doc__ = conv_ops.conv2d.__doc__


def max_pool2d(x, kernel_size, stride=None):
    return conv_ops.max_pool2d(_t(x), kernel_size, stride)


max_pool2d.__doc__ = conv_ops.max_pool2d.__doc__


def avg_pool2d(x, kernel_size, stride=None):
    return conv_ops.avg_pool2d(_t(x), kernel_size, stride)


avg_pool2d.__doc__ = conv_ops.avg_pool2d.__doc__


def maximum(a, b):
    """Elementwise max(a, b); where a >= b the gradient goes to a (ties: the first argument)."""
    a = _t(a)
    return ops.Maximum()(a, a._lift(b))


def where(cond, a, b):
    """cond ? a : b elementwise; a and b get the gradient where they were chosen."""
    cond = cond.data if isinstance(cond, Tensor) else cond
    a = _t(a)
    return ops.Where(cond)(a, a._lift(b))


def flatten(x, start_dim=1):
    return _t(x).flatten(start_dim)


__all__ = ["relu", "tanh", "sigmoid", "softmax", "log_softmax", "cross_entropy", "mse_loss",
           "linear", "conv2d", "max_pool2d", "avg_pool2d", "maximum", "where", "flatten"]
