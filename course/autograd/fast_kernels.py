"""Fast kernels: the same ops as the reference kernels, with the speed-ups measured on
the course's CNNs (see /benchmarks). None of this is needed to understand backprop; each
kernel gives the reference's results (tests/test_autograd_ops.py runs every op test on both).

What each trick buys, measured for the LeNet-size layers of benchmarks/bench_core.py:
- columns in (KH, KW, C) order over a channels-last (NHWC) copy of the input: each window
  is then a contiguous run of memory; for C = 32 the copy takes 0.26 ms instead of 2.4 ms in
  (C, KH, KW) order.
- fewer than 4 channels: build the columns' transpose instead (runs of output positions).
- the bias as one more weight on a column of ones: one product gives the weight and bias
  gradients together.
- dx by kernel offset (a batch of KH*KW products, then Fold adding slabs): no np.add.at.
- the first layer's weight gradient, a product over tens of thousands of positions, in
  chunks (`long_product`): 1.3 to 2 times faster in OpenBLAS.
- max pooling: np.maximum over the KH*KW strided views, the first-max index by arithmetic,
  gradients laid out in memory like their input (`laid_out_like`).
- cross-entropy as one op whose gradient is softmax - one_hot; the affine layer as one op
  that adds the bias in place.
- operands handed to BLAS contiguous (`blas_ready`): a broadcast gradient with zero strides
  would take numpy's slow fallback loop.
- `keep_freed_memory()`: a process-wide glibc setting, opt-in, for training loops.
"""
import ctypes
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided

from course.autograd.convolution import check_conv2d, output_hw, pair
from course.autograd.elementwise import constant
from course.autograd.function import DifferentiableFunction as Op
from course.autograd.grad_mode import _state as grad_mode
from course.autograd.linalg import MatrixProduct, check_matmul
from course.autograd.losses import check_reduction, class_labels, log_softmax


def blas_ready(x):
    """x, copied if needed so that numpy hands it to BLAS (contiguous in either order)."""
    return x if x.flags.c_contiguous or x.flags.f_contiguous else np.ascontiguousarray(x)


class BlasMatrixProduct(MatrixProduct):
    """MatrixProduct with operands made BLAS-ready (same backward)."""

    @staticmethod
    def forward(ctx, a, b):
        check_matmul(a, b)
        ctx.save_for_backward(a, b)
        return blas_ready(a) @ blas_ready(b)


# ---- im2col over a channels-last copy ----------------------------------------------------
def nhwc_columns(x, kernel, stride, padding, ones_column=False, by_offset=False):
    """The columns of x (N, C, H, W):
    - rows layout: (N*OH*OW, KH*KW*C [+ 1 column of ones]), one row per output position;
    - by_offset: (KH*KW, N*OH*OW, C), the same numbers grouped by kernel offset (i, j)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = output_hw(x.shape, kernel, stride, padding)
    if ph == pw == 0:      # no copy at all when x is laid out channels-last already
        padded = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    else:
        padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
        padded[:, ph:ph + h, pw:pw + w, :] = x.transpose(0, 2, 3, 1)
    k = kh * kw * c
    s0, s1, s2, s3 = padded.strides
    windows = as_strided(padded, (n, oh, ow, kh, kw, c),       # a view, no copy
                         (s0, s1 * sh, s2 * sw, s1, s2, s3), writeable=False)
    if by_offset:
        cols = np.empty((kh, kw, n, oh, ow, c), dtype=x.dtype)
        cols[...] = windows.transpose(3, 4, 0, 1, 2, 5)
        return cols.reshape(kh * kw, n * oh * ow, c)
    if c < 4:
        # A window row of so few channels is too short a run to copy fast: build the
        # transpose instead, whose runs are rows of output positions.
        cols_t = np.empty((k + ones_column, n * oh * ow), dtype=x.dtype)
        cols_t[:k].reshape(kh, kw, c, n, oh, ow)[...] = windows.transpose(3, 4, 5, 0, 1, 2)
        cols = cols_t.T
    else:
        cols = np.empty((n * oh * ow, k + ones_column), dtype=x.dtype)
        cols[:, :k].reshape(windows.shape)[...] = windows
    if ones_column:
        cols[:, k] = 1
    return cols


class UnfoldNHWC(Op):
    """im2col in (KH, KW, C) order, rows or by_offset layout (see nhwc_columns)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, by_offset):
        ctx.shape, ctx.args = x.shape, (kernel, stride, padding, by_offset)
        return nhwc_columns(x, kernel, stride, padding, by_offset=by_offset)

    @staticmethod
    def backward(ctx, grad):
        return FoldNHWC.apply(grad, ctx.shape, *ctx.args), None, None, None, None


class FoldNHWC(Op):
    """col2im, the adjoint of UnfoldNHWC: adds the columns back one kernel offset at a time."""

    @staticmethod
    def forward(ctx, cols, shape, kernel, stride, padding, by_offset):
        ctx.args = (kernel, stride, padding, by_offset)
        n, c, h, w = shape
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        oh, ow = output_hw(shape, kernel, stride, padding)
        if by_offset:
            cols = cols.reshape(kh, kw, n, oh, ow, c)
        else:
            cols = cols.reshape(n, oh, ow, kh, kw, c).transpose(3, 4, 0, 1, 2, 5)
        padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                padded[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += cols[i, j]
        return padded[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        return UnfoldNHWC.apply(grad, *ctx.args), None, None, None, None, None


def long_product(a, b, chunk=1024):
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


class Convolution2d(Op):
    """Cross-correlation as one op: NHWC columns and one matrix product forward."""

    label = "Conv2d"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, x, w, bias, stride, padding):
        f, c, kh, kw = w.shape
        ctx.save_for_backward(x, w)
        ctx.window = stride, padding
        cols = nhwc_columns(x, (kh, kw), stride, padding, ones_column=bias is not None)
        weights = w.transpose(0, 2, 3, 1).reshape(f, -1)          # rows in the columns' order
        if bias is not None:
            weights = np.concatenate([weights, bias[:, None]], axis=1)
        ctx.cols = cols                      # (N*OH*OW, KH*KW*C [+ 1])
        out = cols @ weights.T
        oh, ow = output_hw(x.shape, (kh, kw), stride, padding)
        return out.reshape(x.shape[0], oh, ow, f).transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        f, c, kh, kw = w.shape
        k = kh * kw * c
        g_rows = grad.transpose(0, 2, 3, 1).reshape(-1, f)              # (N*OH*OW, F)
        gx = gw = gb = None
        if need_x:
            # kernel offset (i, j) sends g_rows @ w[:, :, i, j] back to the input pixels it read
            by_offset = BlasMatrixProduct.apply(g_rows, w.transpose(2, 3, 0, 1).reshape(kh * kw, f, c))
            gx = FoldNHWC.apply(by_offset, x.shape, (kh, kw), *ctx.window, True)
        if grad_mode.enabled:
            # Recording (create_graph): the columns must be a function of x, not a constant.
            if need_w:
                cols = UnfoldNHWC.apply(x, (kh, kw), *ctx.window, False)
                gw = (cols.T @ g_rows).T.reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
            if need_b:
                gb = grad.sum(axis=(0, 2, 3))
        elif need_w or need_b:
            both = constant(long_product(ctx.cols.T, g_rows.data))   # (KH*KW*C [+ 1], F)
            gw = both[:k].T.reshape(f, kh, kw, c).transpose(0, 3, 1, 2) if need_w else None
            gb = both[k] if need_b else None                         # the ones column's row
        return gx, gw, gb, None, None


def conv2d(x, weight, bias=None, stride=1, padding=0):
    check_conv2d(x, weight, bias)
    return Convolution2d.apply(x, weight, bias, pair(stride), pair(padding))


# ---- pooling -----------------------------------------------------------------------------
def window_views(x, kernel, stride, out_hw):
    """For each kernel offset (i, j), in row-major order, the strided view of x that holds
    that position of every window: (N, C, OH, OW) each."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    return [x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] for i in range(kh) for j in range(kw)]


def laid_out_like(a, template):
    """a, copied into template's memory layout if it has another one: elementwise work
    on operands of different layouts runs several times slower."""
    if [s // a.itemsize for s in a.strides] == [s // template.itemsize for s in template.strides]:
        return a
    out = np.empty_like(template, dtype=a.dtype)
    out[...] = a
    return out


def first_max_by_arithmetic(x, best, kernel, stride):
    """Which offset holds each window's first maximum, (N, C, OH, OW) int16.

    From the last offset back to the first: argmax = (argmax + 1) * [view_k != max], so
    that it ends as the index of the first view that equals the max. Plain arithmetic:
    numpy's masked writes (copyto with where=) are several times slower."""
    views = window_views(x, kernel, stride, best.shape[2:])
    argmax = np.zeros_like(best, dtype=np.int16)
    for view in views[-2::-1]:
        argmax += 1
        argmax *= view != best
    return argmax


class MaxPoolingByViews(Op):
    """Max over each window by np.maximum over the KH*KW strided views of the whole batch."""

    label = "MaxPool"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, x, kernel, stride):
        oh, ow = output_hw(x.shape, kernel, stride, (0, 0), "max_pool2d")
        views = window_views(x, kernel, stride, (oh, ow))
        best = views[0].copy(order="K")     # K: in x's memory order (conv outputs are NHWC)
        for view in views[1:]:
            np.maximum(best, view, out=best)
        ctx.save_for_backward(x)
        ctx.best, ctx.kernel, ctx.stride = best, kernel, stride
        return best

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        argmax = first_max_by_arithmetic(x.data, ctx.best, ctx.kernel, ctx.stride)
        return PoolScatterByViews.apply(grad, argmax, x.data, ctx.kernel, ctx.stride), None, None


class PoolScatterByViews(Op):
    """Sends each window's gradient to the position `argmax` chose (adjoint: PoolGatherByViews)."""

    @staticmethod
    def forward(ctx, g, argmax, like, kernel, stride):
        """like: the pooled input, whose shape and memory layout the gradient takes."""
        ctx.argmax, ctx.like, ctx.kernel, ctx.stride = argmax, like, kernel, stride
        dx = np.zeros_like(like, dtype=g.dtype)   # laid out in memory as the input was
        views = window_views(dx, kernel, stride, g.shape[2:])
        g = laid_out_like(g, argmax)
        overlapping = any(k > s for k, s in zip(kernel, stride))
        for k, view in enumerate(views):
            if overlapping:
                view += g * (argmax == k)
            else:                       # disjoint windows: write straight into dx
                np.multiply(g, argmax == k, out=view)
        return dx

    @staticmethod
    def backward(ctx, grad):
        return PoolGatherByViews.apply(grad, ctx.argmax, ctx.kernel, ctx.stride), None, None, None, None


class PoolGatherByViews(Op):
    """Reads, for each window, the value at the position `argmax` chose."""

    @staticmethod
    def forward(ctx, x, argmax, kernel, stride):
        ctx.argmax, ctx.like, ctx.kernel, ctx.stride = argmax, x, kernel, stride
        out = np.zeros_like(argmax, dtype=x.dtype)
        for k, view in enumerate(window_views(x, kernel, stride, argmax.shape[2:])):
            np.copyto(out, view, where=argmax == k)
        return out

    @staticmethod
    def backward(ctx, grad):
        return PoolScatterByViews.apply(grad, ctx.argmax, ctx.like, ctx.kernel, ctx.stride), None, None, None


def max_pool2d(x, kernel_size, stride=None):
    kernel = pair(kernel_size)
    return MaxPoolingByViews.apply(x, kernel, pair(stride) if stride is not None else kernel)


def avg_pool2d(x, kernel_size, stride=None):
    kh, kw = pair(kernel_size)
    stride = pair(stride) if stride is not None else (kh, kw)
    n, c = x.shape[:2]
    oh, ow = output_hw(x.shape, (kh, kw), stride, (0, 0), "avg_pool2d")
    cols = UnfoldNHWC.apply(x, (kh, kw), stride, (0, 0), False)      # (N*OH*OW, KH*KW*C)
    means = cols.reshape(n * oh * ow, kh * kw, c).mean(axis=1)
    return means.reshape(n, oh, ow, c).transpose(0, 3, 1, 2)


# ---- losses and the affine layer -----------------------------------------------------------
class SoftmaxCrossEntropy(Op):
    """-log softmax(z)[y] per row, then the mean (or sum) over rows, as one op.

    Its gradient is the lecture's softmax(z) - one_hot(y), row by row, times the incoming
    gradient (and 1/N for the mean): a few array operations instead of a dozen small ops.
    """

    label = "CrossEntropy"  # its name in graphs and in grad_fn

    @staticmethod
    def forward(ctx, logits, targets, reduction):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        ctx.probs, ctx.targets, ctx.reduction = np.exp(log_probs), targets, reduction
        ctx.save_for_backward(logits)
        losses = -log_probs[np.arange(len(targets)), targets]
        if reduction == "none":
            return losses
        return losses.sum() if reduction == "sum" else losses.mean()

    @staticmethod
    def backward(ctx, grad):
        (logits,) = ctx.saved_tensors
        n = len(ctx.targets)
        one_hot = np.zeros_like(ctx.probs)
        one_hot[np.arange(n), ctx.targets] = 1
        # Recording (create_graph): the probabilities must be a function of the logits.
        probs = log_softmax(logits, axis=1).exp() if grad_mode.enabled else constant(ctx.probs)
        if ctx.reduction == "none":
            grad = grad.reshape((n, 1))
        elif ctx.reduction == "mean":
            grad = grad * (1.0 / n)
        return (probs - constant(one_hot)) * grad, None, None


def cross_entropy(logits, targets, reduction="mean"):
    targets = class_labels(logits, targets)
    check_reduction(reduction)
    return SoftmaxCrossEntropy.apply(logits, targets, reduction)


class Affine(Op):
    """x @ w.T + b for 2-D x (N, in), w (out, in), b (out,): one op for the most common layer,
    so that the bias is added in place into the product instead of into a copy."""

    @staticmethod
    def forward(ctx, x, w, b):
        if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1] or b.shape != (w.shape[0],):
            raise ValueError(f"affine: expected x (N, in), weight (out, in), bias (out,), got "
                             f"{x.shape}, {w.shape}, {b.shape}")
        ctx.save_for_backward(x, w)
        out = blas_ready(x) @ blas_ready(w).T
        out += b
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return (grad @ w if need_x else None,
                grad.T @ x if need_w else None,     # laid out like w, so it becomes w.grad uncopied
                grad if need_b else None)           # the engine sums it over the batch


def linear(x, weight, bias=None):
    if bias is None:
        return x @ weight.T
    if x.ndim == 2:
        return Affine.apply(x, weight, bias)
    flat = Affine.apply(x.reshape(-1, x.shape[-1]), weight, bias)
    return flat.reshape(x.shape[:-1] + (weight.shape[0],))


# ---- process-wide: opt-in ------------------------------------------------------------------
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory(mmap_threshold=32 << 20, trim_threshold=256 << 20, top_pad=16 << 20):
    """Keep freed array memory in the process, so that the next batch reuses it (opt-in:
    call it once before a training loop; it changes glibc's allocator for the whole process).

    A training step allocates the same large arrays (columns, activations, gradients) again
    and again. glibc hands arrays above its mmap threshold straight back to the kernel when
    they are freed, and the next step pays a page fault for every 4 kB it touches: for a
    small CNN this doubled the time of a convolution. PyTorch avoids it with its own caching
    allocator; this raises glibc's thresholds instead (Linux with glibc only;
    COURSE_KEEP_MEMORY=0 opts out). Returns True when the settings took effect.
    """
    if os.environ.get("COURSE_KEEP_MEMORY") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):       # not glibc (musl, ...): leave the allocator alone
        return False
    return all(mallopt(option, value) == 1 for option, value in
               [(M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold),
                (M_TOP_PAD, top_pad)])
