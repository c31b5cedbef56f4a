"""Image operations as pairs of linear maps: im2col (Unfold) and col2im (Fold), pooling.

conv2d is Unfold, then one matrix product. Unfold and Fold are each other's adjoint, so
each one's backward is the other and second derivatives come for free. The columns are
laid out in (kh, kw, C) order over an NHWC copy of the input: the copy is cheap and every
window is then a contiguous run of memory.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from course.autograd.grad_mode import _state as grad_mode
from course.autograd.ops import Op, constant


def output_size(size, kernel, stride=1, padding=0):
    """Spatial output size of a convolution or pooling: floor((size + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


class Unfold(Op):
    """im2col: (N, C, H, W) -> (N*OH*OW, KH*KW*C), one row per output position."""

    saves = False

    def __init__(self, kernel, stride, padding):
        self.kh, self.kw = kernel
        self.stride, self.padding = stride, padding

    def forward(self, x):
        n, c, h, w = x.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        oh, ow = output_size(h, self.kh, sh, ph), output_size(w, self.kw, sw, pw)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"conv/pool: a {self.kh}x{self.kw} window does not fit in a {h}x{w} input "
                f"with padding {self.padding}")
        padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
        padded[:, ph:ph + h, pw:pw + w, :] = x.transpose(0, 2, 3, 1)
        self.out_hw = (oh, ow)
        if c < 4:
            return self._columns_by_offset(padded, oh, ow)
        s0, s1, s2, s3 = padded.strides
        windows = as_strided(padded, (n, oh, ow, self.kh, self.kw, c),
                             (s0, s1 * sh, s2 * sw, s1, s2, s3), writeable=False)
        return windows.reshape(n * oh * ow, self.kh * self.kw * c)

    def _columns_by_offset(self, padded, oh, ow):
        """The same matrix, built as its transpose one kernel offset at a time: with few
        channels a window row is too short for the strided copy to be fast."""
        n, _, _, c = padded.shape
        (sh, sw), channels_first = self.stride, padded.transpose(3, 0, 1, 2)
        cols_t = np.empty((self.kh, self.kw, c, n, oh, ow), dtype=padded.dtype)
        for i in range(self.kh):
            for j in range(self.kw):
                cols_t[i, j] = channels_first[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
        return cols_t.reshape(self.kh * self.kw * c, n * oh * ow).T

    def backward(self, g):
        n, c, h, w = self.inputs[0].shape
        return (Fold((n, c, h, w), (self.kh, self.kw), self.stride, self.padding)(g),)


class Fold(Op):
    """col2im, the adjoint of Unfold: adds each row back onto the window it came from."""

    saves = False

    def __init__(self, shape, kernel, stride, padding):
        self.shape = shape
        self.kh, self.kw = kernel
        self.stride, self.padding = stride, padding

    def forward(self, cols):
        n, c, h, w = self.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        oh, ow = output_size(h, self.kh, sh, ph), output_size(w, self.kw, sw, pw)
        cols = cols.reshape(n, oh, ow, self.kh, self.kw, c)
        padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
        for i in range(self.kh):            # one slab per kernel offset: kh*kw adds, no add.at
            for j in range(self.kw):
                padded[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += cols[:, :, :, i, j, :]
        return padded[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)

    def backward(self, g):
        return (Unfold((self.kh, self.kw), self.stride, self.padding)(g),)


def _window_views(x, kernel, stride, out_hw):
    """For each kernel offset (i, j), in row-major order, the strided view of x that holds
    that position of every window: (N, C, OH, OW) each."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    return [x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] for i in range(kh) for j in range(kw)]


class MaxPool(Op):
    """Max over each window; the gradient goes to the window's first maximum (lecture rule).

    Loops over the kh*kw kernel offsets only, each a strided view of the whole batch.
    """

    def __init__(self, kernel, stride):
        self.kernel, self.stride = kernel, stride
        self._argmax = None

    def forward(self, x):
        (kh, kw), (sh, sw) = self.kernel, self.stride
        n, c, h, w = x.shape
        oh, ow = output_size(h, kh, sh), output_size(w, kw, sw)
        if oh < 1 or ow < 1:
            raise ValueError(f"max_pool2d: a {kh}x{kw} window does not fit in {h}x{w}")
        views = _window_views(x, self.kernel, self.stride, (oh, ow))
        best = views[0].copy()
        for view in views[1:]:
            np.maximum(best, view, out=best)
        self.best = best
        return best

    def argmax(self):
        """Which offset holds each window's first maximum (computed once, when needed)."""
        if self._argmax is None:
            views = _window_views(self.inputs[0].data, self.kernel, self.stride, self.best.shape[2:])
            argmax = np.zeros(self.best.shape, dtype=np.int16)
            found = views[0] == self.best
            for k, view in enumerate(views[1:], start=1):
                hit = (view == self.best) & ~found
                np.copyto(argmax, k, where=hit)
                found |= hit
            self._argmax = argmax
        return self._argmax

    def backward(self, g):
        return (PoolScatter(self.argmax(), self.inputs[0].shape, self.kernel, self.stride)(g),)


class PoolScatter(Op):
    """Sends each window's gradient to the position `argmax` chose (adjoint: PoolGather)."""

    saves = False

    def __init__(self, argmax, shape, kernel, stride):
        self.argmax, self.shape, self.kernel, self.stride = argmax, shape, kernel, stride

    def forward(self, g):
        dx = np.zeros(self.shape, dtype=g.dtype)
        views = _window_views(dx, self.kernel, self.stride, g.shape[2:])
        overlapping = any(k > s for k, s in zip(self.kernel, self.stride))
        for k, view in enumerate(views):
            if overlapping:
                view += g * (self.argmax == k)
            else:                       # disjoint windows: write straight into dx
                np.multiply(g, self.argmax == k, out=view)
        return dx

    def backward(self, g):
        return (PoolGather(self.argmax, self.kernel, self.stride)(g),)


class PoolGather(Op):
    """Reads, for each window, the value at the position `argmax` chose."""

    saves = False

    def __init__(self, argmax, kernel, stride):
        self.argmax, self.kernel, self.stride = argmax, kernel, stride

    def forward(self, x):
        out = np.zeros(self.argmax.shape, dtype=x.dtype)
        for k, view in enumerate(_window_views(x, self.kernel, self.stride, self.argmax.shape[2:])):
            np.copyto(out, view, where=self.argmax == k)
        return out

    def backward(self, g):
        return (PoolScatter(self.argmax, self.inputs[0].shape, self.kernel, self.stride)(g),)


class Conv2d(Op):
    """Cross-correlation as one op: im2col and one matrix product forward; backward with
    Tensor ops (so second derivatives work).

    For stride 1, dL/dx is itself a correlation: of the gradient, padded by k - 1 - p, with
    the kernel flipped and its channel axes swapped. That is one im2col and one product,
    cheaper than a product followed by col2im (Fold), which the other strides use.
    """

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding
        self.cols = None

    def forward(self, x, w, *bias):
        f, c, kh, kw = w.shape
        self.unfold = Unfold((kh, kw), self.stride, self.padding)
        cols = self.unfold.forward(x)                                  # (N*OH*OW, KH*KW*C)
        self.cols = cols
        out = cols @ np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(f, -1).T
        if bias:
            out += bias[0]
        (oh, ow), n = self.unfold.out_hw, x.shape[0]
        return out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2)

    def backward(self, g):
        x, w = self.inputs[:2]
        f, c, kh, kw = w.shape
        g_rows = g.transpose(0, 2, 3, 1).reshape(-1, f)                 # (N*OH*OW, F)
        gx = gw = gb = None
        if x.requires_grad:
            (ph, pw) = self.padding
            if self.stride == (1, 1) and ph <= kh - 1 and pw <= kw - 1:
                flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)     # (C, F, KH, KW)
                gx = Conv2d((1, 1), (kh - 1 - ph, kw - 1 - pw))(g, flipped)
            else:
                gx = Fold(x.shape, (kh, kw), self.stride, self.padding)(
                    g_rows @ w.transpose(0, 2, 3, 1).reshape(f, -1))
        if w.requires_grad:
            # When recording (create_graph) the columns must be a function of x; otherwise
            # the ones kept from forward are a constant.
            cols = self.unfold(x) if grad_mode.enabled else constant(self.cols)
            gw = (cols.T @ g_rows).T.reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
        if len(self.inputs) == 3 and self.inputs[2].requires_grad:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def release(self):
        super().release()
        self.cols = None


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation (what deep learning calls convolution), NCHW.

    Inputs:
    - x: (N, C, H, W)
    - weight: (F, C, KH, KW)
    - bias: (F,) or None
    - stride, padding: int or (h, w) pair
    Returns: (N, F, OH, OW) with OH = (H + 2*padding - KH) // stride + 1, and likewise OW.
    """
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d: expected x of shape (N, C, H, W) and weight of shape "
                         f"(F, C, KH, KW), got {x.shape} and {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: x has {x.shape[1]} channels (shape {x.shape}) but weight "
                         f"expects {weight.shape[1]} (shape {weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    op = Conv2d(_pair(stride), _pair(padding))
    return op(x, weight) if bias is None else op(x, weight, bias)


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling, NCHW: (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size."""
    kernel = _pair(kernel_size)
    return MaxPool(kernel, _pair(stride) if stride is not None else kernel)(x)


def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling, NCHW: the mean over each window (an Unfold, then a mean)."""
    kh, kw = _pair(kernel_size)
    stride = _pair(stride) if stride is not None else (kh, kw)
    n, c, h, w = x.shape
    unfold = Unfold((kh, kw), stride, (0, 0))
    cols = unfold(x)                                             # (N*OH*OW, KH*KW*C)
    oh, ow = unfold.out_hw
    means = cols.reshape(n * oh * ow, kh * kw, c).mean(axis=1)
    return means.reshape(n, oh, ow, c).transpose(0, 3, 1, 2)


__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "output_size"]
