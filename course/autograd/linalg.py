"""Matrix products: the batched rules of module 03, dA = dC B^T and dB = A^T dC."""
import numpy as np

from course.autograd.function import DifferentiableFunction as Op
from course.autograd.shape import Transpose, reshape, sum_to


def swap_last(t):
    """t with its last two axes swapped (the transpose of each matrix of a batch)."""
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Transpose.apply(t, None if t.ndim == 2 else tuple(axes))


def check_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul (@) needs at least 1-D operands; use * for scalars")
    k_left = a.shape[-1]
    k_right = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_left != k_right:
        raise ValueError(
            f"matmul (@): the last dimension of the left operand ({k_left}) must equal the "
            f"{'first' if b.ndim == 1 else 'second-to-last'} dimension of the right one ({k_right}); "
            f"shapes {a.shape} @ {b.shape}. Transpose one of them?")


class MatrixProduct(Op):
    """a @ b, with numpy's rules for 1-D operands and broadcast batch dimensions."""

    label = "MatMul"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, a, b):
        check_matmul(a, b)
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        # 1-D operands: a row vector on the left, a column vector on the right, as numpy does.
        a2 = a if a.ndim > 1 else reshape(a, (1,) + a.shape)
        b2 = b if b.ndim > 1 else reshape(b, b.shape + (1,))
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = reshape(grad, batch + (a2.shape[-2], b2.shape[-1]))
        need_a, need_b = ctx.needs_input_grad
        ga = reshape(sum_to(g2 @ swap_last(b2), a2.shape), a.shape) if need_a else None
        gb = reshape(sum_to(swap_last(a2) @ g2, b2.shape), b.shape) if need_b else None
        return ga, gb



def linear(x, weight, bias=None):
    """x @ weight.T + bias, composed of the ops above (the reference kernel)."""
    out = x @ swap_last(weight) if weight.ndim > 1 else x @ weight
    return out if bias is None else out + bias
