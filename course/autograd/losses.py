"""Softmax and the losses, the reference kernels: cross-entropy is log_softmax, then the
log-probability of each row's target class, averaged (as the lectures write it)."""
import numpy as np

from course.autograd.function import DifferentiableFunction as Op
from course.autograd.tensor import Tensor


class LogSoftmax(Op):
    """log softmax along `axis`, computed as x - max - log(sum(exp(x - max))): no overflow."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        softmax = out.exp()
        return grad - softmax * grad.sum(axis=ctx.axis, keepdims=True), None


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis)


def softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis).exp()


def check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def reduce(losses, reduction):
    """The per-example losses, averaged ("mean"), added ("sum") or left as they are ("none")."""
    check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def class_labels(logits, targets):
    """targets as an int64 array of (N,) labels in [0, K) for (N, K) logits, or a clear error."""
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, K), got {logits.shape}")
    if targets.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: targets must have shape ({logits.shape[0]},) to match "
                         f"logits {logits.shape}, got {targets.shape}")
    if targets.dtype.kind == "f" and not np.all(targets == np.round(targets)):
        raise ValueError("cross_entropy: targets must be integer class labels")
    targets = targets.astype(np.int64)
    if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[1]):
        raise ValueError(f"cross_entropy: targets must lie in [0, {logits.shape[1]}), got "
                         f"values from {targets.min()} to {targets.max()}")
    return targets


def cross_entropy(logits, targets, reduction="mean"):
    """Softmax cross-entropy of (N, K) class scores against (N,) integer labels:
    -log softmax(z)[y] for each row, then reduced ("mean", "sum" or "none")."""
    targets = class_labels(logits, targets)
    check_reduction(reduction)
    log_probs = log_softmax(logits, axis=1)
    return reduce(-log_probs[np.arange(len(targets)), targets], reduction)


def mse_loss(pred, target, reduction="mean"):
    """Mean squared error: mean((pred - target)^2); shapes must match."""
    if pred.shape != target.shape:
        raise ValueError(f"mse_loss: pred has shape {pred.shape} but target has shape "
                         f"{target.shape}; they must match (reshape one of them)")
    return reduce((pred - target) ** 2, reduction)
