"""Reductions over axes: sum, mean, max. Each gradient spreads the upstream gradient back
over the reduced axes (reshape it with the axes kept, then broadcast)."""
import numpy as np

from course.autograd.elementwise import constant
from course.autograd.function import DifferentiableFunction as Op
from course.autograd.shape import BroadcastTo, reshape


def normalized_axes(axis, ndim):
    """axis (None, an int or a tuple, negative allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if np.isscalar(axis) else tuple(axis)
    return tuple(sorted(a % ndim for a in axis)) if ndim else ()


def kept_shape(shape, axis):
    """The shape of a reduction over `axis` with keepdims=True."""
    axes = normalized_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Op):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axis = a.shape, axis
        return np.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return BroadcastTo.apply(reshape(grad, kept_shape(ctx.shape, ctx.axis)), ctx.shape), None, None


class Mean(Op):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axis = a.shape, axis
        return np.mean(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        kept = kept_shape(ctx.shape, ctx.axis)
        n = int(np.prod(ctx.shape)) // max(int(np.prod(kept)), 1)
        return BroadcastTo.apply(reshape(grad, kept), ctx.shape) * (1.0 / n), None, None


class Max(Op):
    """max over `axis`; the gradient goes to the first maximal element (lecture rule)."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.save_for_backward(a)
        ctx.axis = axis
        return np.max(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return reshape(grad, kept_shape(a.shape, ctx.axis)) * constant(first_max_mask(a.data, ctx.axis).astype(grad.dtype)), None, None


def first_max_mask(a, axis):
    """True at the first maximal element of a along `axis` (row-major order), False elsewhere."""
    axes = normalized_axes(axis, a.ndim)
    moved = np.moveaxis(a, axes, range(a.ndim - len(axes), a.ndim))
    flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
    mask = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(mask, flat.argmax(axis=-1)[..., None], True, axis=-1)
    return np.moveaxis(mask.reshape(moved.shape), range(a.ndim - len(axes), a.ndim), axes)
