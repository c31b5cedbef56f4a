"""Convolution and pooling, the reference kernels: the code of module 05.

conv2d is im2col, then one matrix product. `Unfold` (im2col) lays the input values under
every window out as the rows of a matrix, in (C, KH, KW) order; `Fold` (col2im) is its
adjoint: it adds every row back onto the window it came from. Each one's backward is the
other, so conv2d needs no backward of its own: the product's rules give dW = dout_rows^T rows
and d(rows) = dout_rows W, and Fold turns d(rows) into dx. Max pooling finds each window's
first maximum in backward, as module 05's exercise does.

The library's default kernels are faster versions of the same ops (course.autograd.fast_kernels);
`use_kernels("reference")` switches to these.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course.autograd.function import DifferentiableFunction as Op


def pair(v):
    """An int or an (h, w) pair as an (h, w) tuple."""
    return (v, v) if np.isscalar(v) else tuple(v)


def _output_size(size, kernel, stride=1, padding=0):
    """floor((size + 2 padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def output_hw(x_shape, kernel, stride, padding, what="conv2d"):
    """(OH, OW) of a window sliding over x_shape's last two axes; a clear error if none fits."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = x_shape[-2:], kernel, stride, padding
    oh, ow = _output_size(h, kh, sh, ph), _output_size(w, kw, sw, pw)
    if oh < 1 or ow < 1:
        raise ValueError(f"{what}: a {kh}x{kw} window does not fit in a {h}x{w} input "
                         f"padded by {padding}")
    return oh, ow


def check_conv2d(x, weight, bias):
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d: expected x of shape (N, C, H, W) and weight of shape "
                         f"(F, C, KH, KW), got {x.shape} and {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: x has {x.shape[1]} channels (shape {x.shape}) but weight "
                         f"expects {weight.shape[1]} (shape {weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")


def window_offsets(kernel, stride, out_hw):
    """For each kernel offset (p, q), in reading order: the slices of an (N, C, H, W) array
    that hold position (p, q) of every window, (N, C, OH, OW) each."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    for p in range(kh):
        for q in range(kw):
            yield np.s_[:, :, p:p + sh * oh:sh, q:q + sw * ow:sw]


class Unfold(Op):
    """im2col: (N, C, H, W) -> rows (N*OH*OW, C*KH*KW), one row per window, in (C, KH, KW) order."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        ctx.shape, ctx.kernel, ctx.stride, ctx.padding = x.shape, kernel, stride, padding
        n, c = x.shape[:2]
        oh, ow = output_hw(x.shape, kernel, stride, padding)
        (ph, pw), (sh, sw) = padding, stride
        x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        windows = sliding_window_view(x_pad, kernel, axis=(2, 3))[:, :, ::sh, ::sw][:, :, :oh, :ow]
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kernel[0] * kernel[1])

    @staticmethod
    def backward(ctx, grad):
        return Fold.apply(grad, ctx.shape, ctx.kernel, ctx.stride, ctx.padding), None, None, None


class Fold(Op):
    """col2im, the adjoint of Unfold: adds each row back onto the window it came from."""

    @staticmethod
    def forward(ctx, rows, shape, kernel, stride, padding):
        ctx.kernel, ctx.stride, ctx.padding = kernel, stride, padding
        n, c, h, w = shape
        (kh, kw), (ph, pw) = kernel, padding
        oh, ow = output_hw(shape, kernel, stride, padding)
        cols = rows.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)   # (N, C, KH, KW, OH, OW)
        x_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=rows.dtype)
        for k, window in enumerate(window_offsets(kernel, stride, (oh, ow))):
            x_pad[window] += cols[:, :, k // kw, k % kw]
        return x_pad[:, :, ph:ph + h, pw:pw + w]

    @staticmethod
    def backward(ctx, grad):
        return Unfold.apply(grad, ctx.kernel, ctx.stride, ctx.padding), None, None, None, None


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation (what deep learning calls convolution), NCHW.

    Inputs:
    - x: (N, C, H, W)
    - weight: (F, C, KH, KW)
    - bias: (F,) or None
    - stride, padding: int or (h, w) pair
    Returns: (N, F, OH, OW) with OH = (H + 2*padding - KH) // stride + 1, and likewise OW.
    """
    check_conv2d(x, weight, bias)
    n, f = x.shape[0], weight.shape[0]
    kernel, stride, padding = weight.shape[2:], pair(stride), pair(padding)
    oh, ow = output_hw(x.shape, kernel, stride, padding)
    rows = Unfold.apply(x, kernel, stride, padding)                  # (N*OH*OW, C*KH*KW)
    out = rows @ weight.reshape(f, -1).T                             # (N*OH*OW, F)
    if bias is not None:
        out = out + bias
    return out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2)


def first_max_in_windows(x, kernel, stride):
    """For each window of x (N, C, H, W): the index (p * KW + q) of its first maximum, in
    reading order. (N, C, OH, OW) integers."""
    n, c = x.shape[:2]
    oh, ow = output_hw(x.shape, kernel, stride, (0, 0), "max_pool2d")
    windows = sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]][:, :, :oh, :ow]
    return windows.reshape(n, c, oh, ow, -1).argmax(axis=-1)


class MaxPooling2d(Op):
    """Max over each window; the gradient goes to the window's first maximum (lecture rule)."""

    label = "MaxPool"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, x, kernel, stride):
        oh, ow = output_hw(x.shape, kernel, stride, (0, 0), "max_pool2d")
        ctx.save_for_backward(x)
        ctx.kernel, ctx.stride = kernel, stride
        windows = sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
        return windows[:, :, :oh, :ow].max(axis=(4, 5))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        first_max = first_max_in_windows(x.data, ctx.kernel, ctx.stride)
        return PoolScatter.apply(grad, first_max, x.shape, ctx.kernel, ctx.stride), None, None


class PoolScatter(Op):
    """Sends each window's gradient to the position `first_max` chose; adjoint of PoolGather."""

    @staticmethod
    def forward(ctx, grad, first_max, shape, kernel, stride):
        ctx.first_max, ctx.kernel, ctx.stride = first_max, kernel, stride
        dx = np.zeros(shape, dtype=grad.dtype)
        for k, window in enumerate(window_offsets(kernel, stride, grad.shape[2:])):
            dx[window] += np.where(first_max == k, grad, 0)
        return dx

    @staticmethod
    def backward(ctx, grad):
        return PoolGather.apply(grad, ctx.first_max, ctx.kernel, ctx.stride), None, None, None, None


class PoolGather(Op):
    """Reads, for each window, the value at the position `first_max` chose."""

    @staticmethod
    def forward(ctx, x, first_max, kernel, stride):
        ctx.first_max, ctx.shape, ctx.kernel, ctx.stride = first_max, x.shape, kernel, stride
        out = np.zeros(first_max.shape, dtype=x.dtype)
        for k, window in enumerate(window_offsets(kernel, stride, first_max.shape[2:])):
            out += np.where(first_max == k, x[window], 0)
        return out

    @staticmethod
    def backward(ctx, grad):
        return PoolScatter.apply(grad, ctx.first_max, ctx.shape, ctx.kernel, ctx.stride), None, None, None


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling, NCHW: (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size."""
    kernel = pair(kernel_size)
    return MaxPooling2d.apply(x, kernel, pair(stride) if stride is not None else kernel)


def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling, NCHW: the mean over each window (Unfold, then a mean over each row's
    KH*KW values of a channel)."""
    kernel = pair(kernel_size)
    stride = pair(stride) if stride is not None else kernel
    n, c = x.shape[:2]
    oh, ow = output_hw(x.shape, kernel, stride, (0, 0), "avg_pool2d")
    rows = Unfold.apply(x, kernel, stride, (0, 0))                   # (N*OH*OW, C*KH*KW)
    means = rows.reshape(n * oh * ow, c, -1).mean(axis=2)            # (N*OH*OW, C)
    return means.reshape(n, oh, ow, c).transpose(0, 3, 1, 2)
