"""The built-in operations: `forward` on arrays, `backward` with Tensor operations.

Writing backward with Tensor operations is what makes `create_graph=True` work: when the
engine runs backward with recording on, the gradient is itself a graph that can be
differentiated again. Each op's local rule sits right under its forward.

Lecture conventions (where PyTorch differs): ReLU'(0) = 1; in max and maximum, ties send
the gradient to the first argument (the first maximal element).
"""
import weakref

import numpy as np

from course.autograd.grad_mode import _state as grad_mode
from course.autograd.tensor import Tensor


class Op:
    """One node of the graph: applied to tensors, it records itself as the result's grad_fn.

    saves: whether backward needs values that are released after a backward pass (as
    PyTorch's saved tensors are); running backward through a released node again raises.
    """

    saves = True
    keeps_output = False
    freed = False
    inputs = ()

    @property
    def name(self):
        return type(self).__name__

    def __call__(self, *inputs):
        try:
            out = self.forward(*[t.data for t in inputs])
        except (ValueError, IndexError) as err:
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise type(err)(f"{self.name}: cannot apply to shapes {shapes}: {err}") from None
        result = Tensor._wrap(out)
        if grad_mode.enabled:
            for t in inputs:
                if t.requires_grad:
                    self._record(inputs, result)
                    break
        return result

    def _record(self, inputs, result):
        self.inputs = inputs
        result.requires_grad = True
        result.grad_fn = self
        if self.keeps_output:     # a weak reference: no cycle between a tensor and its node
            self._output = weakref.ref(result)

    def output(self):
        return self._output()

    def release(self):
        if self.saves:
            self.freed = True

    def __repr__(self):
        return f"<{self.name}>"


def constant(array):
    return Tensor._wrap(array)


def sum_to(g, shape):
    """Sum a gradient over the axes that broadcasting added, back to `shape`."""
    return g if g.shape == shape else SumTo(shape)(g)


def reshape(t, shape):
    return t if t.shape == shape else Reshape(shape)(t)


def _sum_to_array(a, shape):
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
    if axes:
        a = a.sum(axis=axes, keepdims=True)
    return a.reshape(shape)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if np.isscalar(axis) else tuple(axis)
    return tuple(sorted(a % ndim for a in axis)) if ndim else ()


def _kept_shape(shape, axis):
    """The shape of a reduction over `axis` with keepdims=True."""
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ---- arithmetic (with broadcasting) --------------------------------------------------
class Add(Op):
    saves = False

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        a, b = self.inputs
        return sum_to(g, a.shape), sum_to(g, b.shape)


class Sub(Op):
    saves = False

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        a, b = self.inputs
        return sum_to(g, a.shape), sum_to(-g, b.shape)


class Neg(Op):
    saves = False

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class Mul(Op):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        return (sum_to(g * b, a.shape) if a.requires_grad else None,
                sum_to(g * a, b.shape) if b.requires_grad else None)


class Div(Op):
    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        return (sum_to(g / b, a.shape) if a.requires_grad else None,
                sum_to(-(g * a) / (b * b), b.shape) if b.requires_grad else None)


class PowScalar(Op):
    """x ** p for a constant exponent p."""

    def __init__(self, p):
        self.p = p

    def forward(self, a):
        return a ** self.p

    def backward(self, g):
        (a,) = self.inputs
        return (g * (a ** (self.p - 1)) * self.p,)


class Pow(Op):
    """a ** b with both tensors: d/da = b a^(b-1), d/db = a^b log a."""

    keeps_output = True

    def forward(self, a, b):
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        return (sum_to(g * b * a ** (b - 1), a.shape) if a.requires_grad else None,
                sum_to(g * self.output() * a.log(), b.shape) if b.requires_grad else None)


class MatMul(Op):
    """a @ b, with numpy's rules for 1-D operands and broadcast batch dimensions."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul (@) needs at least 1-D operands; use * for scalars")
        k_left = a.shape[-1]
        k_right = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_left != k_right:
            raise ValueError(
                f"matmul (@): the last dimension of the left operand ({k_left}) must equal the "
                f"{'first' if b.ndim == 1 else 'second-to-last'} dimension of the right one ({k_right}); "
                f"shapes {a.shape} @ {b.shape}. Transpose one of them?")
        return _blas_ready(a) @ _blas_ready(b)

    def backward(self, g):
        a, b = self.inputs
        a2 = a if a.ndim > 1 else reshape(a, (1,) + a.shape)
        b2 = b if b.ndim > 1 else reshape(b, b.shape + (1,))
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = reshape(g, batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if a.requires_grad:
            ga = reshape(sum_to(g2 @ _swap_last(b2), a2.shape), a.shape)
        if b.requires_grad:
            gb = reshape(sum_to(_swap_last(a2) @ g2, b2.shape), b.shape)
        return ga, gb


class Affine(Op):
    """x @ w.T + b for 2-D x (N, in), w (out, in), b (out,): one op for the most common layer,
    so that the bias is added in place into the product instead of into a copy."""

    def forward(self, x, w, b):
        if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1] or b.shape != (w.shape[0],):
            raise ValueError(f"affine: expected x (N, in), weight (out, in), bias (out,), got "
                             f"{x.shape}, {w.shape}, {b.shape}")
        out = _blas_ready(x) @ _blas_ready(w).T
        out += b
        return out

    def backward(self, g):
        x, w, b = self.inputs
        return (g @ w if x.requires_grad else None,
                (x.T @ g).T if w.requires_grad else None,     # BLAS is faster this way round for tall x
                sum_to(g, b.shape) if b.requires_grad else None)


def _blas_ready(x):
    """numpy hands only contiguous operands to BLAS; a strided one (say a broadcast
    gradient with zero strides) would take its slow fallback loop."""
    return x if x.flags.c_contiguous or x.flags.f_contiguous else np.ascontiguousarray(x)


def _swap_last(t):
    if t.ndim == 2:
        return Transpose(None)(t)
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Transpose(tuple(axes))(t)


# ---- elementwise functions -------------------------------------------------------------
class Exp(Op):
    keeps_output = True

    def forward(self, a):
        return np.exp(a)

    def backward(self, g):
        return (g * self.output(),)


class Log(Op):
    def forward(self, a):
        return np.log(a)

    def backward(self, g):
        return (g / self.inputs[0],)


class Abs(Op):
    def forward(self, a):
        return np.abs(a)

    def backward(self, g):
        (a,) = self.inputs
        return (g * constant(np.sign(a.data)),)


class Tanh(Op):
    keeps_output = True

    def forward(self, a):
        return np.tanh(a)

    def backward(self, g):
        y = self.output()
        return (g * (1 - y * y),)


class Sigmoid(Op):
    keeps_output = True

    def forward(self, a):
        return 0.5 * (np.tanh(0.5 * a) + 1)      # = 1 / (1 + e^-a), without overflow

    def backward(self, g):
        y = self.output()
        return (g * y * (1 - y),)


class ReLU(Op):
    """max(0, x), with ReLU'(0) = 1 as in the lectures (PyTorch uses 0)."""

    def forward(self, a):
        return np.maximum(a, 0)

    def backward(self, g):
        (a,) = self.inputs
        return (g * constant((a.data >= 0).astype(g.dtype)),)


class Maximum(Op):
    """Elementwise max(a, b); where a >= b the gradient goes to a (ties: first argument)."""

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.inputs
        take_a = a.data >= b.data
        return (sum_to(g * constant(take_a.astype(g.dtype)), a.shape),
                sum_to(g * constant((~take_a).astype(g.dtype)), b.shape))


class Where(Op):
    """cond ? a : b. The condition is a constant: it gets no gradient."""

    def __init__(self, cond):
        self.cond = np.asarray(cond, dtype=bool)

    def forward(self, a, b):
        return np.where(self.cond, a, b)

    def backward(self, g):
        a, b = self.inputs
        return (sum_to(g * constant(self.cond.astype(g.dtype)), a.shape),
                sum_to(g * constant((~self.cond).astype(g.dtype)), b.shape))


class Cast(Op):
    saves = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        return a.astype(self.dtype)

    def backward(self, g):
        return (Cast(self.inputs[0].dtype)(g),)


# ---- reductions ------------------------------------------------------------------------
class Sum(Op):
    saves = False

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        return np.sum(a, axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        (a,) = self.inputs
        return (BroadcastTo(a.shape)(reshape(g, _kept_shape(a.shape, self.axis))),)


class Mean(Op):
    saves = False

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        return np.mean(a, axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        (a,) = self.inputs
        kept = _kept_shape(a.shape, self.axis)
        n = a.data.size // max(int(np.prod(kept)), 1)
        return (BroadcastTo(a.shape)(reshape(g, kept)) * (1.0 / n),)


class Max(Op):
    """max over `axis`; the gradient goes to the first maximal element (lecture rule)."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        axes = _axes(self.axis, a.ndim)
        moved = np.moveaxis(a, axes, range(a.ndim - len(axes), a.ndim))
        flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
        first = flat.argmax(axis=-1)[..., None]
        mask = np.zeros(flat.shape, dtype=bool)
        np.put_along_axis(mask, first, True, axis=-1)
        self.mask = np.moveaxis(mask.reshape(moved.shape), range(a.ndim - len(axes), a.ndim), axes)
        return np.max(a, axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        (a,) = self.inputs
        return (reshape(g, _kept_shape(a.shape, self.axis)) * constant(self.mask.astype(g.dtype)),)


# ---- shapes and indexing (linear maps: backward is the adjoint map) ------------------------
class Reshape(Op):
    saves = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        return a.reshape(self.shape)

    def backward(self, g):
        return (Reshape(self.inputs[0].shape)(g),)


class Transpose(Op):
    saves = False

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, a):
        return np.transpose(a, self.axes)

    def backward(self, g):
        inverse = None if self.axes is None else tuple(np.argsort(self.axes))
        return (Transpose(inverse)(g),)


class BroadcastTo(Op):
    saves = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        return np.broadcast_to(a, self.shape)

    def backward(self, g):
        return (sum_to(g, self.inputs[0].shape),)


class SumTo(Op):
    saves = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        return _sum_to_array(a, self.shape)

    def backward(self, g):
        return (BroadcastTo(self.inputs[0].shape)(g),)


def _is_advanced(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray)) for i in items)


class GetItem(Op):
    def __init__(self, index):
        self.index = index
        self.saves = _is_advanced(index)

    def forward(self, a):
        return a[self.index]

    def backward(self, g):
        return (IndexAdd(self.index, self.inputs[0].shape)(g),)


class IndexAdd(Op):
    """Scatter g into zeros of `shape` at `index`, adding where an index repeats."""

    saves = False

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        if _is_advanced(self.index):
            np.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return out

    def backward(self, g):
        return (GetItem(self.index)(g),)
