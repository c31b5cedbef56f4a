"""Shape ops and indexing: linear maps that only move numbers, so each backward is the
adjoint map (Reshape back, Transpose back, BroadcastTo <-> SumTo, GetItem <-> IndexAdd)."""
import numpy as np

from course.autograd.function import DifferentiableFunction


def sum_to(g, shape):
    """Sum a gradient over the axes that broadcasting added, back to `shape`."""
    return g if g.shape == shape else SumTo.apply(g, tuple(shape))


def reshape(t, shape):
    return t if t.shape == shape else Reshape.apply(t, tuple(shape))


def sum_to_array(a, shape):
    """sum_to on an array."""
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
    if axes:
        a = a.sum(axis=axes, keepdims=True)
    return a.reshape(shape)


class Reshape(DifferentiableFunction):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return Reshape.apply(grad, ctx.shape), None


class Transpose(DifferentiableFunction):
    """numpy's transpose; axes=None reverses the axes."""

    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        inverse = None if ctx.axes is None else tuple(np.argsort(ctx.axes))
        return Transpose.apply(grad, inverse), None


class BroadcastTo(DifferentiableFunction):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return sum_to(grad, ctx.shape), None


class SumTo(DifferentiableFunction):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return sum_to_array(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return BroadcastTo.apply(grad, ctx.shape), None


def is_advanced(index):
    """Whether an index selects with lists or arrays (numpy's advanced indexing)."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray)) for i in items)


class GetItem(DifferentiableFunction):
    @staticmethod
    def forward(ctx, a, index):
        ctx.index, ctx.shape = index, a.shape
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        return IndexAdd.apply(grad, ctx.index, ctx.shape), None


class IndexAdd(DifferentiableFunction):
    """Scatter g into zeros of `shape` at `index`, adding where an index repeats."""

    @staticmethod
    def forward(ctx, g, index, shape):
        ctx.index = index
        out = np.zeros(shape, dtype=g.dtype)
        if is_advanced(index):
            np.add.at(out, index, g)
        else:
            out[index] = g
        return out

    @staticmethod
    def backward(ctx, grad):
        return GetItem.apply(grad, ctx.index), None, None


class Cast(DifferentiableFunction):
    """A change of dtype; the gradient goes back in the input's dtype."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return Cast.apply(grad, ctx.dtype), None
