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


def _output_size(size, kernel, stride=1, padding=0):
    """Spatial output size of a convolution or pooling: floor((size + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def _offset_views(padded, kernel, stride, out_hw):
    """For each kernel offset (i, j): the (N, OH, OW, C) view of an NHWC array that holds
    position (i, j) of every window."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    for i in range(kh):
        for j in range(kw):
            yield (i, j), padded[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]


class Unfold(Op):
    """im2col: the input's values under every window, in one of two layouts.

    - rows (the default): (N*OH*OW, KH*KW*C), one row per output position, the matrix
      the forward product uses;
    - by_offset: (KH*KW, N*OH*OW, C), the same numbers grouped by kernel offset (i, j),
      the layout in which Fold adds an input gradient back quickly.
    """

    saves = False

    def __init__(self, kernel, stride, padding, by_offset=False):
        self.kh, self.kw = kernel
        self.stride, self.padding, self.by_offset = stride, padding, by_offset

    def forward(self, x):
        return self.columns(x)

    def columns(self, x, ones_column=False):
        """The columns of x; with ones_column (rows layout), one more column of ones."""
        n, c, h, w = x.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        oh, ow = _output_size(h, self.kh, sh, ph), _output_size(w, self.kw, sw, pw)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"conv/pool: a {self.kh}x{self.kw} window does not fit in a {h}x{w} input "
                f"with padding {self.padding}")
        self.out_hw = (oh, ow)
        if ph == pw == 0:      # no copy at all when x is laid out channels-last already
            padded = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        else:
            padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
            padded[:, ph:ph + h, pw:pw + w, :] = x.transpose(0, 2, 3, 1)
        k = self.kh * self.kw * c
        s0, s1, s2, s3 = padded.strides
        windows = as_strided(padded, (n, oh, ow, self.kh, self.kw, c),       # a view, no copy
                             (s0, s1 * sh, s2 * sw, s1, s2, s3), writeable=False)
        if self.by_offset:
            cols = np.empty((self.kh, self.kw, n, oh, ow, c), dtype=x.dtype)
            cols[...] = windows.transpose(3, 4, 0, 1, 2, 5)
            return cols.reshape(self.kh * self.kw, n * oh * ow, c)
        if c < 4:
            # A window row of so few channels is too short a run to copy fast: build the
            # transpose instead, whose runs are rows of output positions.
            cols_t = np.empty((k + ones_column, n * oh * ow), dtype=x.dtype)
            by_offset = cols_t[:k].reshape(self.kh, self.kw, c, n, oh, ow)
            by_offset[...] = windows.transpose(3, 4, 5, 0, 1, 2)
            cols = cols_t.T
        else:
            cols = np.empty((n * oh * ow, k + ones_column), dtype=x.dtype)
            cols[:, :k].reshape(windows.shape)[...] = windows
        if ones_column:
            cols[:, k] = 1
        return cols

    def backward(self, g):
        n, c, h, w = self.inputs[0].shape
        return (Fold((n, c, h, w), (self.kh, self.kw), self.stride, self.padding,
                     self.by_offset)(g),)


class Fold(Op):
    """col2im, the adjoint of Unfold (same two layouts): adds each column back onto the
    window it came from, one kernel offset at a time (no np.add.at)."""

    saves = False

    def __init__(self, shape, kernel, stride, padding, by_offset=False):
        self.shape = shape
        self.kh, self.kw = kernel
        self.stride, self.padding, self.by_offset = stride, padding, by_offset

    def forward(self, cols):
        n, c, h, w = self.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        oh, ow = _output_size(h, self.kh, sh, ph), _output_size(w, self.kw, sw, pw)
        if self.by_offset:
            cols = cols.reshape(self.kh, self.kw, n, oh, ow, c)
        else:
            cols = cols.reshape(n, oh, ow, self.kh, self.kw, c).transpose(3, 4, 0, 1, 2, 5)
        padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
        for (i, j), window in _offset_views(padded, (self.kh, self.kw), self.stride, (oh, ow)):
            window += cols[i, j]
        return padded[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)

    def backward(self, g):
        return (Unfold((self.kh, self.kw), self.stride, self.padding, self.by_offset)(g),)


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
        oh, ow = _output_size(h, kh, sh), _output_size(w, kw, sw)
        if oh < 1 or ow < 1:
            raise ValueError(f"max_pool2d: a {kh}x{kw} window does not fit in {h}x{w}")
        views = _window_views(x, self.kernel, self.stride, (oh, ow))
        best = views[0].copy(order="K")     # K: in x's memory order (conv outputs are NHWC)
        for view in views[1:]:
            np.maximum(best, view, out=best)
        self.best = best
        return best

    def argmax(self):
        """Which offset holds each window's first maximum (computed once, when needed)."""
        if self._argmax is None:
            views = _window_views(self.inputs[0].data, self.kernel, self.stride, self.best.shape[2:])
            # From the last offset back to the first: argmax = (argmax + 1) * [view_k != max],
            # so that it ends as the index of the first view that equals the max. Plain
            # arithmetic: numpy's masked writes (copyto with where=) are several times slower.
            argmax = np.zeros_like(self.best, dtype=np.int16)
            for view in views[-2::-1]:
                argmax += 1
                argmax *= view != self.best
            self._argmax = argmax
        return self._argmax

    def backward(self, g):
        return (PoolScatter(self.argmax(), self.inputs[0].data, self.kernel, self.stride)(g),)


def _laid_out_like(a, template):
    """a, copied into template's memory layout if it has another one: elementwise work
    on operands of different layouts runs several times slower."""
    if [s // a.itemsize for s in a.strides] == [s // template.itemsize for s in template.strides]:
        return a
    out = np.empty_like(template, dtype=a.dtype)
    out[...] = a
    return out


class PoolScatter(Op):
    """Sends each window's gradient to the position `argmax` chose (adjoint: PoolGather)."""

    saves = False

    def __init__(self, argmax, like, kernel, stride):
        """like: the pooled input, whose shape and memory layout the gradient takes."""
        self.argmax, self.like, self.kernel, self.stride = argmax, like, kernel, stride

    def forward(self, g):
        dx = np.zeros_like(self.like, dtype=g.dtype)   # laid out in memory as the input was
        views = _window_views(dx, self.kernel, self.stride, g.shape[2:])
        g = _laid_out_like(g, self.argmax)
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
        out = np.zeros_like(self.argmax, dtype=x.dtype)
        for k, view in enumerate(_window_views(x, self.kernel, self.stride, self.argmax.shape[2:])):
            np.copyto(out, view, where=self.argmax == k)
        return out

    def backward(self, g):
        return (PoolScatter(self.argmax, self.inputs[0].data, self.kernel, self.stride)(g),)


def _long_product(a, b, chunk=1024):
    """a @ b for a (M, L) and b (L, N) with L in the tens of thousands (a first layer's
    weight gradient sums over every output position of the batch).

    When M x N is small, OpenBLAS runs this 1.3 to 2 times faster as a batch of products
    over chunks of L, summed, than as one product; for larger results it does not help.
    """
    (m, length), n = a.shape, b.shape[1]
    b = np.ascontiguousarray(b)
    q = length // chunk
    if m * n > 2048 or q < 2:
        return a @ b
    head = q * chunk
    out = np.matmul(a[:, :head].reshape(m, q, chunk).transpose(1, 0, 2),
                    b[:head].reshape(q, chunk, n)).sum(axis=0)
    if head < length:
        out += a[:, head:] @ b[head:]
    return out


class Conv2d(Op):
    """Cross-correlation as one op: im2col and one matrix product forward; backward with
    Tensor ops (so second derivatives work).

    The bias rides along as one more weight, on a column of ones: the forward product adds
    it, and one product in backward gives the weight and bias gradients together.
    """

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding
        self.cols = None

    def forward(self, x, w, *bias):
        f, c, kh, kw = w.shape
        self.unfold = Unfold((kh, kw), self.stride, self.padding)
        cols = self.unfold.columns(x, ones_column=bool(bias))     # (N*OH*OW, KH*KW*C [+ 1])
        weights = w.transpose(0, 2, 3, 1).reshape(f, -1)          # rows in the columns' order
        if bias:
            weights = np.concatenate([weights, bias[0][:, None]], axis=1)
        self.cols = cols
        out = cols @ weights.T
        (oh, ow), n = self.unfold.out_hw, x.shape[0]
        return out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2)

    def backward(self, g):
        x, w, *bias = self.inputs
        f, c, kh, kw = w.shape
        k = kh * kw * c
        g_rows = g.transpose(0, 2, 3, 1).reshape(-1, f)                 # (N*OH*OW, F)
        gx = gw = gb = None
        if x.requires_grad:
            # kernel offset (i, j) sends g_rows @ w[:, :, i, j] back to the input pixels it read
            by_offset = g_rows @ w.transpose(2, 3, 0, 1).reshape(kh * kw, f, c)
            gx = Fold(x.shape, (kh, kw), self.stride, self.padding, by_offset=True)(by_offset)
        bias_grad = bool(bias) and bias[0].requires_grad
        if grad_mode.enabled:
            # Recording (create_graph): the columns must be a function of x, not a constant.
            if w.requires_grad:
                gw = (self.unfold(x).T @ g_rows).T.reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
            if bias_grad:
                gb = g.sum(axis=(0, 2, 3))
        elif w.requires_grad or bias_grad:
            both = constant(_long_product(self.cols.T, g_rows.data))    # (KH*KW*C [+ 1], F)
            gw = both[:k].T.reshape(f, kh, kw, c).transpose(0, 3, 1, 2) if w.requires_grad else None
            gb = both[k] if bias_grad else None                         # the ones column's row
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


__all__ = ["conv2d", "max_pool2d", "avg_pool2d"]
