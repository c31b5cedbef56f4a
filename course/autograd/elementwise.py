"""Elementwise ops (numpy broadcasting included: the engine sums each gradient back to its
input's shape).

Lecture conventions (where PyTorch differs): ReLU'(0) = 1; in maximum(a, b), ties send the
gradient to the first argument.
"""
import numpy as np

from course.autograd.function import DifferentiableFunction as Op
from course.autograd.tensor import Tensor


def constant(array):
    """An array as a Tensor outside the graph (a mask, a sign)."""
    return Tensor._wrap(array)


class Add(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad


class Neg(Op):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Mul(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return grad * b if need_a else None, grad * a if need_b else None


class Div(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return grad / b if need_a else None, -(grad * a) / (b * b) if need_b else None


class PowConstant(Op):
    """x ** p for a constant exponent p."""

    label = "PowScalar"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, a, p):
        ctx.save_for_backward(a)
        ctx.p = p
        return a ** p

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (a ** (ctx.p - 1)) * ctx.p, None


class Pow(Op):
    """a ** b with both tensors: d/da = b a^(b-1), d/db = a^b log a."""

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad * b * a ** (b - 1) if need_a else None,
                grad * out * a.log() if need_b else None)


class Exponential(Op):
    label = "Exp"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors        # y = e^a is its own derivative
        return grad * y


class Log(Op):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Abs(Op):
    @staticmethod
    def forward(ctx, a):
        ctx.sign = np.sign(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * constant(ctx.sign)


class HyperbolicTangent(Op):
    label = "Tanh"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Logistic(Op):
    """The sigmoid 1 / (1 + e^-x)."""

    label = "Sigmoid"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, a):
        out = 0.5 * (np.tanh(0.5 * a) + 1)        # = 1 / (1 + e^-a), without overflow
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


class Rectifier(Op):
    """ReLU, max(0, x), with ReLU'(0) = 1 as in the lectures (PyTorch uses 0)."""

    label = "ReLU"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * constant((a.data >= 0).astype(grad.dtype))


class ElementwiseMaximum(Op):
    """max(a, b) elementwise; where a >= b the gradient goes to a (ties: first argument)."""

    label = "Maximum"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, a, b):
        ctx.take_a = np.asarray(a >= b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        take_a = ctx.take_a
        return grad * constant(take_a.astype(grad.dtype)), grad * constant((~take_a).astype(grad.dtype))


class Where(Op):
    """cond ? a : b. The condition is a constant: it gets no gradient."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        cond = ctx.cond
        return None, grad * constant(cond.astype(grad.dtype)), grad * constant((~cond).astype(grad.dtype))
