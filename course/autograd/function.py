"""Custom Functions: the student writes forward and backward on numpy arrays.

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    z = Cube.apply(a)

Because backward works on arrays, the gradient it returns is a constant for the graph:
with create_graph=True, a custom Function's gradient is not differentiated again.
"""
import numpy as np

from course.autograd.grad_mode import is_grad_enabled
from course.autograd.ops import Op, constant
from course.autograd.tensor import Tensor


class Context:
    """What forward leaves for backward: saved arrays and any attributes set on it."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._released = False

    def save_for_backward(self, *values):
        self._saved = tuple(v.data if isinstance(v, Tensor) else v for v in values)

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(
                "saved_tensors were released after the first backward pass; pass "
                "retain_graph=True to backward() to use them again.")
        return self._saved


def _array(value):
    return value.data if isinstance(value, Tensor) else value


class FunctionNode(Op):
    """The graph node of one call to a custom Function."""

    def __init__(self, fn, ctx, positions, n_args):
        self.fn, self.ctx = fn, ctx
        self.positions = positions          # where each Tensor input sits among the arguments
        self.n_args = n_args

    @property
    def name(self):
        return self.fn.__name__

    def release(self):
        self.freed = True
        self.ctx._released = True
        self.ctx._saved = ()

    def backward(self, g):
        grads = self.fn.backward(self.ctx, g.data)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != self.n_args:
            raise RuntimeError(
                f"{self.name}.backward returned {len(grads)} gradient(s), but forward took "
                f"{self.n_args} argument(s): return one per argument (None for those that need none).")
        out = []
        for pos, x in zip(self.positions, self.inputs):
            gx = grads[pos]
            if gx is None:
                out.append(None)
                continue
            gx = np.asarray(_array(gx))
            if gx.shape != x.shape:
                raise RuntimeError(
                    f"{self.name}.backward returned a gradient of shape {gx.shape} for argument "
                    f"{pos}, which has shape {x.shape}: the gradient of an input has the input's shape.")
            out.append(constant(gx.astype(x.dtype, copy=False)))
        return out


class Function:
    """Base class of custom differentiable functions (see the module docstring)."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function needs a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("a Function needs a static backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = tuple(args[i] for i in positions)
        ctx = Context(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        out = np.asarray(_array(cls.forward(ctx, *[_array(a) for a in args])))
        requires_grad = is_grad_enabled() and any(t.requires_grad for t in tensors)
        result = Tensor._wrap(out, requires_grad)
        if requires_grad:
            node = FunctionNode(cls, ctx, positions, len(args))
            node.inputs = tensors
            result.grad_fn = node
        return result
