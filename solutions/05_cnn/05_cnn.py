# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/course-authors/how-networks-learn/blob/main/assignments/05_cnn/05_cnn.ipynb)
#
# # Module 05: convolutional networks, trained on real handwritten digits
#
# A fully-connected layer treats an image as a long list of numbers: it needs a weight for every
# pair of pixel and unit, and it does not know which pixels are neighbours. A convolutional layer
# slides one small filter over the whole image instead. In this notebook you
#
# 1. see why fully-connected layers do not scale to images;
# 2. write a convolution (as the lecture defines it: a sliding inner product, i.e. a correlation)
#    with loops, then vectorised, with padding, stride and many output channels;
# 3. write its backward pass for the input, the weights and the bias, and see that the input
#    gradient is a true (flipped) convolution of the upstream gradient;
# 4. write max pooling forwards and backwards (where the gradient goes, ties included), and flatten;
# 5. count the parameters of a network from its list of layers, up to AlexNet's 60 million (and
#    see why the single-stream version has 62 million);
# 6. plug your convolution and pooling into the course's autograd as `Function`s and train a
#    CNN with them;
# 7. train a CNN on handwritten digits, compare it with an MLP, and look inside: learned filters,
#    feature maps, mistakes; then fill in missing parts of digits, and (if MNIST is available)
#    train on 28x28 digits.
#
# | exercise | points |
# |---|---|
# | 1. `conv_output_size` | 1 |
# | 2. `conv2d_forward_loops` | 2 |
# | 3. `conv2d_forward` (vectorised) | 2 |
# | 4. `conv2d_backward_input` | 2 |
# | 5. `conv2d_backward_weight` | 2 |
# | 6. `conv2d_backward_bias` | 1 |
# | 7. `conv_input_grad_full` | 2 |
# | 8. `max_pool_forward` | 1 |
# | 9. `max_pool_backward` | 2 |
# | 10. `flatten_forward`, `flatten_backward` | 1 |
# | 11. `parameter_table` | 2 |
# | 12. `Conv2dFunction` | 2 |
# | 13. `MaxPool2dFunction` | 1 |
#
# Write your code where it says `YOUR CODE HERE`, then run the test cell below it. Tests you can
# see are only part of the grading: hidden tests check other inputs as well.
#
# Shapes follow PyTorch's NCHW layout: a batch of images is an array `x` of shape `(N, C, H, W)`
# (examples, channels, height, width), the filters of a layer are `w` of shape `(F, C, KH, KW)`
# (output channels, input channels, filter height, filter width). The lecture writes
# `x[b, y, x, c]` (BHWC) and `k[ky, kx, c1, c2]`: the same numbers with the axes in another
# order; section 2 shows the translation.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Set-up: in Google Colab this installs the course package from its repository; elsewhere it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "course @ git+https://github.com/course-authors/how-networks-learn.git"], check=True)

# %% nbgrader={"grade": false, "grade_id": "imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import os
import time

import numpy as np
import matplotlib.pyplot as plt
from numpy.lib.stride_tricks import sliding_window_view

from course import nn, optim
from course.autograd import Function, Tensor, enable_grad, manual_seed, no_grad
import course.nn.functional as F
from course.data import DataLoader, MNISTNotFoundError, digits, mnist
from course.gradcheck import assert_close, check_backward

# While nbgrader grades the notebook, training is shortened, figures are built but never drawn,
# and the explorer widget and MNIST are skipped.
GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))
if GRADING:
    plt.switch_backend("agg")
IN_COLAB = "google.colab" in sys.modules

data = digits()           # scikit-learn's 8x8 digits: float32 (N, 1, 8, 8) in [0, 1], labels (N,)
print(f"digits: {len(data.x_train)} training and {len(data.x_test)} test images of shape {data.x_train.shape[1:]}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-why", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 1. Why fully-connected layers do not scale to images
#
# A colour photo of $200 \times 200$ pixels is $200 \cdot 200 \cdot 3 = 120{,}000$ numbers. A
# fully-connected layer with just 1,000 units on top of it has $120{,}000 \cdot 1{,}000 = 1.2 \cdot 10^8$
# weights, and one with as many units as inputs (so that the next layer still "sees an image") has
# $1.44 \cdot 10^{10}$. Two more problems:
#
# - **It destroys the spatial structure.** The layer computes $W x$ with the image unrolled into
#   a vector. Shuffle the pixels (the same way for every image) and shuffle the columns of $W$
#   alike: every unit adds up the same products, in another order, so the network computes the
#   same function (in float32 up to rounding, see section 8). So it cannot know that two pixels are
#   neighbours; it must learn every relation between pixels from the data (section 8 shows this).
# - **It learns every pattern at every position separately.** An edge detector learned in the top
#   left corner is of no use in the bottom right one.
#
# A convolutional layer fixes both with two ideas: **local connectivity** (each output looks at a
# small window, say $3 \times 3$) and **weight sharing** (the same filter is used at every
# position). Its output is again an image, a *feature map*, one per filter, and its number of
# weights does not depend on the image size at all:

# %% nbgrader={"grade": false, "grade_id": "why-count", "locked": true, "schema_version": 3, "solution": false, "task": false}
print(f"{'image':>16} {'inputs':>9} {'fully connected, 1000 units':>28} {'conv, 64 filters 3x3':>21}")
for height, width, channels in [(8, 8, 1), (28, 28, 1), (200, 200, 3), (1000, 1000, 3)]:
    inputs = height * width * channels
    dense_weights = inputs * 1000 + 1000
    conv_weights = 64 * channels * 3 * 3 + 64
    print(f"{f'{height}x{width}x{channels}':>16} {inputs:>9,} {dense_weights:>28,} {conv_weights:>21,}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-conv", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 2. Convolution: a sliding inner product
#
# A filter $w$ of size $C \times K_H \times K_W$ is laid on a window of the (padded) input, the
# products of overlapping numbers are summed, a bias is added, and the filter moves on by the
# stride $S$. With $F$ filters there are $F$ output channels:
#
# $$\text{out}[n, f, i, j] = b[f] + \sum_{c=0}^{C-1} \sum_{p=0}^{K_H-1} \sum_{q=0}^{K_W-1}
#   x_{\text{pad}}[n,\, c,\, iS + p,\, jS + q]\; w[f, c, p, q].$$
#
# Mathematicians call this a *cross-correlation*: a true convolution would flip the filter,
# $w[f, c, K_H-1-p, K_W-1-q]$. Deep learning (the lecture, PyTorch, this course) calls the
# correlation "convolution"; since the filter is learned, the flip would not change what a
# network can do, but it changes the numbers, and the tests check them.
#
# **Padding** $P$ adds $P$ rows and columns of zeros on every side, so that the filter can be
# centred on border pixels (with $K = 3$, $P = 1$ and $S = 1$ the output has the input's size).
# **Stride** $S$ moves the filter by $S$ pixels at a time and shrinks the output about $S$ times
# along each axis. Along one axis of size $N$, the filter fits at
#
# $$\left\lfloor \frac{N + 2P - K}{S} \right\rfloor + 1$$
#
# positions: that is the output size. For example: $N = 32$, $K = 5$, no padding, stride 1: 28;
# AlexNet's first layer, $N = 227$, $K = 11$, $S = 4$: 55.
#
# ### Exercise 1 (1 point): the output size
#
# When $N + 2P - K$ is not a multiple of $S$, the last few rows or columns are not covered by any
# window (PyTorch does the same: it rounds down). When the window is larger than the padded input,
# there is no output at all: raise a `ValueError` then.
#
# *What you may use:* integer arithmetic. Not `course.nn`'s own size helpers (answers that call them
# are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "output_size", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_output_size(n, k, stride=1, padding=0):
    """Output size of a convolution (or pooling) along one axis.

    Inputs:
    - n: input size along the axis (height or width), an int >= 1.
    - k: filter (window) size along that axis.
    - stride: step between two window positions, >= 1.
    - padding: zeros added on each side of the axis, >= 0.

    Returns the number of window positions, floor((n + 2 * padding - k) / stride) + 1, an int.
    Raises ValueError when the window is larger than the padded input (k > n + 2 * padding).
    """
    ### BEGIN SOLUTION
    if k > n + 2 * padding:
        raise ValueError(f"a window of size {k} does not fit in an input of size {n} "
                         f"with padding {padding}")
    return (n + 2 * padding - k) // stride + 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_output_size", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
assert conv_output_size(8, 3, stride=1, padding=1) == 8, "a 3x3 filter with padding 1 keeps the size"
assert conv_output_size(32, 5) == 28
assert conv_output_size(227, 11, stride=4) == 55, "AlexNet's first layer"
assert conv_output_size(7, 3, stride=2) == 3
assert conv_output_size(8, 3, stride=2) == 3, "stride 2 does not divide 8 - 3: the last column is left out"
try:
    conv_output_size(2, 3)
except ValueError:
    pass
else:
    raise AssertionError("conv_output_size(2, 3): a window of 3 does not fit in 2, expected a ValueError")
### BEGIN HIDDEN TESTS
# hint: many sizes, filter sizes, strides (dividing or not) and paddings
# Against a count of the window positions, for many sizes, including strides that do not divide.
for _n in range(1, 13):
    for _k in range(1, 6):
        for _s in range(1, 4):
            for _p in range(3):
                if _k > _n + 2 * _p:
                    continue
                _positions = len(range(0, _n + 2 * _p - _k + 1, _s))
                _got = conv_output_size(_n, _k, stride=_s, padding=_p)
                assert _got == _positions, f"conv_output_size({_n}, {_k}, stride={_s}, padding={_p}) = {_got}, expected {_positions}"
assert conv_output_size(224, 11, stride=4, padding=2) == 55
# hint: a window that fits exactly in the padded input, and windows that do not fit (with padding too)
assert conv_output_size(3, 5, stride=1, padding=1) == 1, "the window fits exactly in the padded input"
for _args in [(3, 5, 1, 0), (1, 4, 2, 1)]:
    try:
        conv_output_size(*_args)
    except ValueError:
        pass
    else:
        raise AssertionError(f"conv_output_size{_args}: the window does not fit, expected a ValueError")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-loops", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2 (2 points): convolution with loops
#
# Write the formula above as it reads: pad the input with zeros (`np.pad`), then loop over the
# examples $n$, the filters $f$ and the output positions $(i, j)$, and take the inner product of
# the filter with the window it covers.
#
# *What you may use:* NumPy (`np.pad`, or padding by hand). Not `F.conv2d` or `nn.Conv2d`: the
# tests compare with them, and answers that call them are flagged for review.

# %% nbgrader={"grade": false, "grade_id": "conv_loops", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_forward_loops(x, w, b, stride=1, padding=0):
    """Convolution (cross-correlation) of a batch of images with a bank of filters, with loops.

    Inputs:
    - x: array of shape (N, C, H, W), the images.
    - w: array of shape (F, C, KH, KW), the filters.
    - b: array of shape (F,), one bias per filter.
    - stride: step of the window, an int >= 1 (the same along both axes).
    - padding: zeros added on each side of both axes, an int >= 0.

    Returns out, an array of shape (N, F, OH, OW) with
    out[n, f, i, j] = b[f] + sum over c, p, q of x_pad[n, c, i*stride + p, j*stride + q] * w[f, c, p, q],
    where x_pad is x padded with zeros and OH, OW are the output sizes of exercise 1.
    x itself is not changed.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    n_filters, _, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH = (H + 2 * padding - KH) // stride + 1
    OW = (W + 2 * padding - KW) // stride + 1
    out = np.zeros((N, n_filters, OH, OW), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(n_filters):
            for i in range(OH):
                for j in range(OW):
                    window = x_pad[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    ### END SOLUTION
    return out


# %% nbgrader={"grade": true, "grade_id": "test_conv2d_loops", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# A small example worked out by hand: one image, one 2x2 filter that is not symmetric, bias 1.
_x = np.array([[1, 2, 0, 1],
               [0, 1, 3, 1],
               [2, 0, 1, 2],
               [1, 1, 0, 0]], dtype=float).reshape(1, 1, 4, 4)
_w = np.array([[0, 1],
               [2, 3]], dtype=float).reshape(1, 1, 2, 2)
_expected = np.array([[6, 12, 11],
                      [6, 7, 10],
                      [6, 4, 3]], dtype=float).reshape(1, 1, 3, 3)
assert_close(conv2d_forward_loops(_x, _w, np.array([1.0])), _expected,
             name="conv2d_forward_loops on the 4x4 example (a flipped filter gives 8 at the top left)")
# Against course's conv2d: two images, three channels, four filters, stride 2, padding 1.
_rng = np.random.default_rng(0)
_x, _w, _b = _rng.standard_normal((2, 3, 7, 6)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
assert_close(conv2d_forward_loops(_x, _w, _b, stride=2, padding=1),
             F.conv2d(Tensor(_x), Tensor(_w), Tensor(_b), stride=2, padding=1).data,
             name="conv2d_forward_loops(x, w, b, stride=2, padding=1)")
assert np.array_equal(_x, np.random.default_rng(0).standard_normal((2, 3, 7, 6))), "conv2d_forward_loops must not change x"
### BEGIN HIDDEN TESTS
# hint: rectangular filters and images, strides that do not divide, padding wider than 1, one channel, many filters
# Rectangular filters, strides that do not divide, wide padding, one channel, many filters.
for _shape_x, _shape_w, _s, _p in [((3, 2, 5, 7), (4, 2, 2, 3), 3, 2), ((1, 1, 6, 6), (6, 1, 3, 3), 1, 0),
                                   ((2, 4, 4, 5), (1, 4, 4, 5), 1, 0), ((1, 2, 3, 3), (2, 2, 3, 3), 2, 2)]:
    _x, _w, _b = _rng.standard_normal(_shape_x), _rng.standard_normal(_shape_w), _rng.standard_normal(_shape_w[0])
    _x_before = _x.copy()
    assert_close(conv2d_forward_loops(_x, _w, _b, stride=_s, padding=_p),
                 F.conv2d(Tensor(_x), Tensor(_w), Tensor(_b), stride=_s, padding=_p).data,
                 name=f"conv2d_forward_loops for x {_shape_x}, w {_shape_w}, stride {_s}, padding {_p}")
    assert np.array_equal(_x, _x_before), "conv2d_forward_loops must not change x"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-kernels", "locked": true, "schema_version": 3, "solution": false, "task": false}
# One call with several filters gives several feature maps. Four classic hand-made $3 \times 3$
# filters on one digit: the vertical-edge (Sobel $x$) filter responds where the brightness changes
# from left to right, positive on one side of a stroke and negative on the other.

# %% nbgrader={"grade": false, "grade_id": "kernels", "locked": true, "schema_version": 3, "solution": false, "task": false}
classic_filters = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "blur": [[1 / 9] * 3] * 3,
    "vertical edges (Sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
}
filter_bank = np.array(list(classic_filters.values()), dtype=float)[:, None]   # (4, 1, 3, 3)
one_digit = data.x_train[:1].astype(float)                                        # (1, 1, 8, 8)
maps = conv2d_forward_loops(one_digit, filter_bank, np.zeros(4), stride=1, padding=1)

fig, axes = plt.subplots(1, 5, figsize=(12, 2.8))
axes[0].imshow(one_digit[0, 0], cmap="gray_r")
axes[0].set_title(f"input (label {data.y_train[0]})")
for ax, name, feature_map in zip(axes[1:], classic_filters, maps[0]):
    limit = np.abs(feature_map).max()
    ax.imshow(feature_map, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(name, fontsize=9)
for ax in axes:
    ax.axis("off")
fig.suptitle("one input, four filters, four feature maps (red positive, blue negative)")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-layouts", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **The lecture's layout.** The lecture writes an image batch as $x[b, y, x, c]$ (example, row,
# column, channel: *BHWC*, TensorFlow's default) and a filter bank as $k[k_y, k_x, c_1, c_2]$ (row
# and column inside the filter, input channel $c_1$, output channel $c_2$):
# $\text{out}[b, y, x, c_2] = \sum_{k_y, k_x, c_1} x[b, y + k_y, x + k_x, c_1]\; k[k_y, k_x, c_1, c_2]$.
# This notebook, like PyTorch, puts the channel before the rows (*NCHW*) and the output channel
# first in the filters, `(C_out, C_in, KH, KW)`. The numbers are the same, only the axes are in
# another order:
#
# | lecture | this notebook |
# |---|---|
# | `x[b, y, x, c]`, shape `(B, H, W, C)` | `x[n, c, i, j]` = `x_bhwc.transpose(0, 3, 1, 2)`, shape `(N, C, H, W)` |
# | `k[ky, kx, c1, c2]`, shape `(KH, KW, C_in, C_out)` | `w[f, c, p, q]` = `k.transpose(3, 2, 0, 1)`, shape `(C_out, C_in, KH, KW)` |
# | `out[b, y, x, c2]` | `out[n, f, i, j]`; back with `out_nchw.transpose(0, 2, 3, 1)` |

# %% nbgrader={"grade": false, "grade_id": "layouts", "locked": true, "schema_version": 3, "solution": false, "task": false}
layout_rng = np.random.default_rng(15)
x_bhwc = layout_rng.standard_normal((2, 7, 6, 3))             # the lecture's x[b, y, x, c1]
k = layout_rng.standard_normal((3, 2, 3, 4))                  # the lecture's k[ky, kx, c1, c2]
windows_bhwc = sliding_window_view(x_bhwc, (3, 2), axis=(1, 2))          # (b, y, x, c1, ky, kx)
out_bhwc = np.einsum("byxcpq,pqcd->byxd", windows_bhwc, k)               # the lecture's formula
out_nchw = F.conv2d(Tensor(x_bhwc.transpose(0, 3, 1, 2)), Tensor(k.transpose(3, 2, 0, 1))).data
print(f"lecture's layout {out_bhwc.shape}, this notebook's {out_nchw.shape}; largest difference after "
      f"transposing back: {np.abs(out_nchw.transpose(0, 2, 3, 1) - out_bhwc).max():.1e}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-im2col", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3 (2 points): convolution without loops over positions
#
# Four nested Python loops are far too slow for training. The standard trick, **im2col**, turns
# the convolution into one matrix product:
#
# 1. pad the input; collect every window the filter visits. `sliding_window_view(x_pad, (KH, KW),
#    axis=(2, 3))` gives them all as a view of shape `(N, C, H_pad-KH+1, W_pad-KW+1, KH, KW)`
#    without copying; keep every `stride`-th position along both axes;
# 2. reshape the windows into a matrix with one row per output position, `(N*OH*OW, C*KH*KW)`,
#    and the filters into a matrix `(F, C*KH*KW)` (the same order of `c, p, q` in both!);
# 3. one matrix product gives every output, `(N*OH*OW, F)`; add the bias and bring the axes back
#    to `(N, F, OH, OW)`.
#
# Return a cache for the backward pass too. To keep the exercises independent, the backward
# passes below are given exactly the cache `(x, w, b, stride, padding)`.
#
# *What you may use:* NumPy (`sliding_window_view`, `np.pad`, `einsum`, ...). Not `F.conv2d` or
# `nn.Conv2d` (flagged for review).

# %% nbgrader={"grade": false, "grade_id": "conv_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_forward(x, w, b, stride=1, padding=0):
    """Vectorised convolution (cross-correlation), the same function as conv2d_forward_loops.

    Inputs:
    - x: array of shape (N, C, H, W); w: (F, C, KH, KW); b: (F,).
    - stride, padding: ints, as in conv2d_forward_loops.

    Returns a tuple (out, cache):
    - out: array of shape (N, F, OH, OW), equal to conv2d_forward_loops(x, w, b, stride, padding).
    - cache: the tuple (x, w, b, stride, padding).
    x itself is not changed.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    n_filters, _, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    OH, OW = windows.shape[2], windows.shape[3]
    rows = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * KH * KW)
    out = rows @ w.reshape(n_filters, C * KH * KW).T + b
    out = out.reshape(N, OH, OW, n_filters).transpose(0, 3, 1, 2)
    ### END SOLUTION
    cache = (x, w, b, stride, padding)
    return out, cache


# %% nbgrader={"grade": true, "grade_id": "test_conv2d_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(1)
_x, _w, _b = _rng.standard_normal((2, 3, 7, 6)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
_out, _cache = conv2d_forward(_x, _w, _b, stride=2, padding=1)
assert_close(_out, F.conv2d(Tensor(_x), Tensor(_w), Tensor(_b), stride=2, padding=1).data,
             name="conv2d_forward(x, w, b, stride=2, padding=1)")
assert len(_cache) == 5 and _cache[0] is _x and _cache[3:] == (2, 1), \
    "the cache must be the tuple (x, w, b, stride, padding)"
### BEGIN HIDDEN TESTS
# hint: rectangular filters and images, strides that do not divide, padding wider than 1, a filter as large as the image
for _shape_x, _shape_w, _s, _p in [((3, 2, 5, 7), (4, 2, 2, 3), 3, 2), ((1, 1, 6, 6), (6, 1, 3, 3), 1, 0),
                                   ((2, 4, 4, 5), (1, 4, 4, 5), 1, 0), ((5, 3, 9, 9), (2, 3, 3, 3), 2, 0),
                                   ((1, 2, 3, 3), (2, 2, 3, 3), 2, 2)]:
    _x, _w, _b = _rng.standard_normal(_shape_x), _rng.standard_normal(_shape_w), _rng.standard_normal(_shape_w[0])
    _x_before = _x.copy()
    assert_close(conv2d_forward(_x, _w, _b, stride=_s, padding=_p)[0],
                 F.conv2d(Tensor(_x), Tensor(_w), Tensor(_b), stride=_s, padding=_p).data,
                 name=f"conv2d_forward for x {_shape_x}, w {_shape_w}, stride {_s}, padding {_p}")
    assert np.array_equal(_x, _x_before), "conv2d_forward must not change x"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-speed", "locked": true, "schema_version": 3, "solution": false, "task": false}
# How much faster? (Both functions on 64 digits with 16 filters.)

# %% nbgrader={"grade": false, "grade_id": "speed", "locked": true, "schema_version": 3, "solution": false, "task": false}
speed_x = data.x_train[:64].astype(float)
speed_w, speed_b = np.random.default_rng(0).standard_normal((16, 1, 3, 3)), np.zeros(16)
started = time.perf_counter()
loops_out = conv2d_forward_loops(speed_x, speed_w, speed_b, stride=1, padding=1)
loops_seconds = time.perf_counter() - started
started = time.perf_counter()
for _ in range(10):
    fast_out, _ = conv2d_forward(speed_x, speed_w, speed_b, stride=1, padding=1)
fast_seconds = (time.perf_counter() - started) / 10
print(f"loops: {1e3 * loops_seconds:.1f} ms, vectorised: {1e3 * fast_seconds:.2f} ms "
      f"({loops_seconds / fast_seconds:.0f} times faster), largest difference {np.abs(loops_out - fast_out).max():.1e}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-backward", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 3. The backward pass of a convolution
#
# Given the upstream gradient `dout` $= \partial L / \partial\, \text{out}$ (shape of `out`), we
# need $\partial L / \partial x$, $\partial L / \partial w$ and $\partial L / \partial b$. Every
# output is a sum of products, and every weight and every input pixel takes part in many outputs,
# so each gradient is a **sum over all the places where the variable was used**:
#
# - **Bias.** $b[f]$ is added to every output of channel $f$, in every example:
#   $\;db[f] = \sum_{n, i, j} \text{dout}[n, f, i, j]$.
# - **Weights.** $w[f, c, p, q]$ multiplies $x_{\text{pad}}[n, c, iS + p, jS + q]$ at every
#   position $(i, j)$ (weight sharing):
#   $\;dw[f, c, p, q] = \sum_{n, i, j} \text{dout}[n, f, i, j]\; x_{\text{pad}}[n, c, iS + p, jS + q]$.
#   With im2col rows (`rows` of shape `(N*OH*OW, C*KH*KW)`) and `dout_rows` of shape `(N*OH*OW, F)`
#   (`dout` with the filter axis last), this is one matrix product, `dout_rows.T @ rows`, of shape
#   `(F, C*KH*KW)`: reshape it to `(F, C, KH, KW)`.
# - **Input.** Output $(n, f, i, j)$ looked at the window starting at $(iS, jS)$; it sends its
#   gradient back to that window, weighted by the filter:
#   $\;dx_{\text{pad}}[n, c, iS + p, jS + q] \mathrel{+}= \sum_f \text{dout}[n, f, i, j]\; w[f, c, p, q]$.
#   Windows overlap, so contributions add up. At the end, cut the padding off: the zeros around
#   the border are not inputs, and `dx` has the shape of `x`.
#
# For $dx$, a loop over the $K_H \cdot K_W$ filter offsets $(p, q)$ is fast enough: for one
# offset, the input pixels $(iS + p, jS + q)$ of all positions form the strided slice
# `dx_pad[:, :, p:p + S*OH:S, q:q + S*OW:S]`, and their gradient is `dout` multiplied by the
# matrix `w[:, :, p, q]` over the filter axis.
#
# The tests compare your gradients with finite differences of **course's** `conv2d` (through the
# function below, which returns the cache your backward passes receive), so a mistake in your
# forward pass does not cost you points twice.

# %% nbgrader={"grade": false, "grade_id": "reference-forward", "locked": true, "schema_version": 3, "solution": false, "task": false}
def reference_conv2d_forward(x, w, b, stride=1, padding=0):
    """course.nn.functional.conv2d as a forward pass for check_backward: (out, cache)."""
    out = F.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding).data
    return out, (x, w, b, stride, padding)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 4 (2 points): the gradient of the input
#
# *What you may use:* NumPy. Not `course.autograd` or `F.conv2d`'s own backward pass (answers that
# let the library compute the gradient are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "conv_backward_input", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_backward_input(dout, cache):
    """Gradient of the loss with respect to the convolution's input x.

    Inputs:
    - dout: array of shape (N, F, OH, OW), the upstream gradient.
    - cache: the tuple (x, w, b, stride, padding) of the forward pass.

    Returns dx, an array of the shape of x, (N, C, H, W).
    """
    x, w, b, stride, padding = cache
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    _, _, KH, KW = w.shape
    OH, OW = dout.shape[2], dout.shape[3]
    dx_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=dout.dtype)
    for p in range(KH):
        for q in range(KW):
            # Every output position (i, j) saw x_pad[:, :, i*stride + p, j*stride + q] through w[:, :, p, q].
            contribution = np.tensordot(dout, w[:, :, p, q], axes=([1], [0]))    # (N, OH, OW, C)
            dx_pad[:, :, p:p + stride * OH:stride, q:q + stride * OW:stride] += contribution.transpose(0, 3, 1, 2)
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    ### END SOLUTION
    return dx


# %% nbgrader={"grade": true, "grade_id": "test_conv2d_backward_input", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(2)
_x, _w, _b = _rng.standard_normal((2, 3, 7, 6)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
check_backward(lambda x: reference_conv2d_forward(x, _w, _b, stride=2, padding=1),
               conv2d_backward_input, _x, names=["x"])
### BEGIN HIDDEN TESTS
# hint: rectangular filters, strides that do not divide, padding wider than 1, stride larger than the filter
for _shape_x, _shape_w, _s, _p in [((3, 2, 5, 7), (4, 2, 2, 3), 3, 2), ((1, 1, 6, 6), (6, 1, 3, 3), 1, 0),
                                   ((2, 2, 8, 8), (3, 2, 3, 3), 2, 1), ((1, 2, 3, 3), (2, 2, 3, 3), 2, 2),
                                   ((2, 1, 9, 9), (2, 1, 2, 2), 3, 0)]:
    _x, _w, _b = _rng.standard_normal(_shape_x), _rng.standard_normal(_shape_w), _rng.standard_normal(_shape_w[0])
    check_backward(lambda x: reference_conv2d_forward(x, _w, _b, stride=_s, padding=_p),
                   conv2d_backward_input, _x, names=["x"], seed=_s + _p)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 5 (2 points): the gradient of the weights
#
# *What you may use:* NumPy. Not `course.autograd` or `F.conv2d`'s own backward pass (answers that
# let the library compute the gradient are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "conv_backward_weight", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_backward_weight(dout, cache):
    """Gradient of the loss with respect to the filters w.

    Inputs:
    - dout: array of shape (N, F, OH, OW), the upstream gradient.
    - cache: the tuple (x, w, b, stride, padding) of the forward pass.

    Returns dw, an array of the shape of w, (F, C, KH, KW).
    """
    x, w, b, stride, padding = cache
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    n_filters, _, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    OH, OW = windows.shape[2], windows.shape[3]
    rows = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * KH * KW)
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(N * OH * OW, n_filters)
    dw = (dout_rows.T @ rows).reshape(n_filters, C, KH, KW)
    ### END SOLUTION
    return dw


# %% nbgrader={"grade": true, "grade_id": "test_conv2d_backward_weight", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(3)
_x, _w, _b = _rng.standard_normal((2, 3, 7, 6)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
check_backward(lambda w: reference_conv2d_forward(_x, w, _b, stride=2, padding=1),
               conv2d_backward_weight, _w, names=["w"])
### BEGIN HIDDEN TESTS
# hint: rectangular filters, strides that do not divide, a filter as large as the image, stride larger than the filter
for _shape_x, _shape_w, _s, _p in [((3, 2, 5, 7), (4, 2, 2, 3), 3, 2), ((1, 1, 6, 6), (6, 1, 3, 3), 1, 0),
                                   ((2, 2, 8, 8), (3, 2, 3, 3), 2, 1), ((4, 3, 4, 4), (2, 3, 4, 4), 1, 0),
                                   ((2, 1, 9, 9), (2, 1, 2, 2), 3, 0)]:
    _x, _w, _b = _rng.standard_normal(_shape_x), _rng.standard_normal(_shape_w), _rng.standard_normal(_shape_w[0])
    check_backward(lambda w: reference_conv2d_forward(_x, w, _b, stride=_s, padding=_p),
                   conv2d_backward_weight, _w, names=["w"], seed=_s + _p)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 6 (1 point): the gradient of the bias
#
# *What you may use:* NumPy. Not `course.autograd` or `F.conv2d`'s own backward pass (answers that
# let the library compute the gradient are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "conv_backward_bias", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_backward_bias(dout, cache):
    """Gradient of the loss with respect to the biases b.

    Inputs:
    - dout: array of shape (N, F, OH, OW), the upstream gradient.
    - cache: the tuple (x, w, b, stride, padding) of the forward pass.

    Returns db, an array of the shape of b, (F,).
    """
    ### BEGIN SOLUTION
    db = dout.sum(axis=(0, 2, 3))
    ### END SOLUTION
    return db


# %% nbgrader={"grade": true, "grade_id": "test_conv2d_backward_bias", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(4)
_x, _w, _b = _rng.standard_normal((2, 3, 7, 6)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
check_backward(lambda b: reference_conv2d_forward(_x, _w, b, stride=2, padding=1),
               conv2d_backward_bias, _b, names=["b"])
### BEGIN HIDDEN TESTS
# hint: other shapes, strides and paddings, a batch of five with a single filter
for _shape_x, _shape_w, _s, _p in [((3, 2, 5, 7), (4, 2, 2, 3), 3, 2), ((1, 1, 6, 6), (6, 1, 3, 3), 1, 0),
                                   ((5, 1, 4, 4), (1, 1, 4, 4), 1, 0)]:
    _x, _w, _b = _rng.standard_normal(_shape_x), _rng.standard_normal(_shape_w), _rng.standard_normal(_shape_w[0])
    check_backward(lambda b: reference_conv2d_forward(_x, _w, b, stride=_s, padding=_p),
                   conv2d_backward_bias, _b, names=["b"], seed=_s + _p)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-backward-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The three together make the layer's backward pass. A last check of your whole layer, forward and
# backward, against finite differences of *your* forward pass:

# %% nbgrader={"grade": false, "grade_id": "backward-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
def conv2d_backward(dout, cache):
    """Backward pass of conv2d_forward: returns (dx, dw, db) with the shapes of x, w and b."""
    return conv2d_backward_input(dout, cache), conv2d_backward_weight(dout, cache), conv2d_backward_bias(dout, cache)


layer_rng = np.random.default_rng(5)
check_backward(conv2d_forward, conv2d_backward, layer_rng.standard_normal((2, 2, 6, 5)),
               layer_rng.standard_normal((3, 2, 3, 3)), layer_rng.standard_normal(3), stride=2, padding=1)
print("your convolution layer passes the gradient check")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-full-conv", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### The input gradient is a true convolution with the flipped filter
#
# Section 2 said that deep learning's "convolution" is a correlation, and that a true convolution
# would flip the filter. The backward pass is where the flip comes back. Take stride 1, no
# padding and one channel: $\text{out}[i, j] = \sum_{p, q} x[i + p, j + q]\, w[p, q]$. The pixel
# $x[r, s]$ is used by every output $(i, j)$ with $i = r - p$, $j = s - q$, so
#
# $$\frac{\partial L}{\partial x[r, s]} = \sum_{p=0}^{K_H-1} \sum_{q=0}^{K_W-1} \text{dout}[r - p,\, s - q]\; w[p, q]
#   \qquad (\text{dout} = 0 \text{ outside its } O_H \times O_W \text{ grid}).$$
#
# The index of dout runs *backwards* while the index of $w$ runs forwards: this is a convolution
# in the mathematicians' sense, $\text{dout} * w$. Written as a correlation (the only kind the
# library has), substitute $p' = K_H - 1 - p$, $q' = K_W - 1 - q$:
#
# $$\frac{\partial L}{\partial x[r, s]} = \sum_{p', q'} \text{dout}_{\text{pad}}[r + p',\, s + q']\;
#   w[K_H - 1 - p',\, K_W - 1 - q'],$$
#
# where $\text{dout}_{\text{pad}}$ is dout with $K_H - 1$ rows and $K_W - 1$ columns of zeros on
# every side: the **correlation of the zero-padded upstream gradient with the flipped filter**.
# Its output has $O_H + K_H - 1 = H$ rows, one per input row: every placement of the filter that
# overlaps dout in at least one element, which signal processing calls the *full* convolution
# (the forward pass, which keeps only the placements inside $x$, is the *valid* one).
#
# With channels, output channel $f$ was computed from input channel $c$ through $w[f, c]$, so the
# gradient goes back the other way: $dx[n, c] = \sum_f \text{full}(\text{dout}[n, f], w[f, c])$.
# The filters and the channels swap roles: the flipped filter bank has shape `(C, F, KH, KW)`,
# `w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)`, and the backward pass of a layer with $C$ inputs and
# $F$ outputs is a correlation with $F$ inputs and $C$ outputs. Padding and stride fit in too:
# with padding $P$ in the forward pass, cut $P$ rows and columns off every side of this result;
# with stride $S$, first put $S - 1$ zeros between the entries of dout (section 4 shows why).
#
# ### Exercise 7 (2 points): the input gradient as a full convolution
#
# Compute the input gradient of a convolution **with stride 1 and no padding** the way the
# formula reads: pad dout with $K_H - 1$ rows and $K_W - 1$ columns of zeros on every side, flip
# the filters along both spatial axes, swap their first two axes, and correlate. The filters may be
# rectangular ($K_H \ne K_W$), and $F$ and $C$ may differ; the hidden tests also use $1 \times 1$
# filters and filters as large as the input (then dout is $1 \times 1$). The result has the shape
# of $x$, `(N, C, OH + KH - 1, OW + KW - 1)`, float32 or float64; the tests compare it with finite
# differences of course's `conv2d` and with the sum over outputs, up to rounding.
#
# *What you may use:* NumPy (`np.pad`, `sliding_window_view`, `einsum`, loops), and for the
# correlation itself your `conv2d_forward` (with a zero bias) or `F.conv2d`: the exercise is the
# padding and the flip. Not `course.autograd`, a `backward()` call or your `conv2d_backward_input`
# (answers that let them compute the gradient are flagged for review).

# %% nbgrader={"grade": false, "grade_id": "conv_input_full", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_input_grad_full(dout, w):
    """Input gradient of a convolution with stride 1 and no padding, as a full convolution.

    Inputs:
    - dout: array of shape (N, F, OH, OW), the upstream gradient.
    - w: array of shape (F, C, KH, KW), the filters of the forward pass.

    Returns dx, an array of shape (N, C, OH + KH - 1, OW + KW - 1): dout padded with KH - 1 rows
    and KW - 1 columns of zeros on every side, correlated with the flipped filters
    w[:, :, ::-1, ::-1] with their first two axes swapped, (C, F, KH, KW).
    """
    ### BEGIN SOLUTION
    n_filters, C, KH, KW = w.shape
    dout_pad = np.pad(dout, ((0, 0), (0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1)))
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)                  # (C, F, KH, KW)
    windows = sliding_window_view(dout_pad, (KH, KW), axis=(2, 3))      # (N, F, H, W, KH, KW)
    dx = np.einsum("nfhwpq,cfpq->nchw", windows, flipped)
    ### END SOLUTION
    return dx


# %% nbgrader={"grade": true, "grade_id": "test_conv_input_full", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The 2x2 filter of exercise 2, worked out by hand: each output sends dout * w back to its window.
_dout = np.array([[1, 2],
                  [3, 4]], dtype=float).reshape(1, 1, 2, 2)
_w = np.array([[0, 1],
               [2, 3]], dtype=float).reshape(1, 1, 2, 2)
assert_close(conv_input_grad_full(_dout, _w), np.array([[0, 1, 2],
                                                        [2, 10, 10],
                                                        [6, 17, 12]], dtype=float).reshape(1, 1, 3, 3),
             name="conv_input_grad_full on the 2x2 example (a filter that is not flipped gives 3 at the top left)")
# Against finite differences of course's conv2d: two images, three channels, four filters.
_rng = np.random.default_rng(13)
_x, _w, _b = _rng.standard_normal((2, 3, 6, 5)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
check_backward(lambda x: reference_conv2d_forward(x, _w, _b),
               lambda dout, cache: conv_input_grad_full(dout, cache[1]), _x, names=["x"])
### BEGIN HIDDEN TESTS
# hint: rectangular filters, as many filters as channels, 1x1 filters, a filter as large as the input
for _shape_x, _shape_w in [((3, 2, 5, 7), (4, 2, 2, 3)), ((2, 3, 6, 6), (3, 3, 3, 3)), ((1, 1, 6, 6), (6, 1, 3, 3)),
                           ((2, 4, 4, 5), (3, 4, 1, 1)), ((2, 2, 4, 5), (3, 2, 4, 5)), ((1, 3, 7, 4), (2, 3, 4, 2))]:
    _x, _w, _b = _rng.standard_normal(_shape_x), _rng.standard_normal(_shape_w), _rng.standard_normal(_shape_w[0])
    check_backward(lambda x: reference_conv2d_forward(x, _w, _b),
                   lambda dout, cache: conv_input_grad_full(dout, cache[1]), _x, names=["x"], seed=sum(_shape_w))
# hint: integer-valued inputs against the sum over outputs written out (exact up to rounding)
_dout = _rng.integers(-3, 4, (2, 3, 3, 4)).astype(float)
_w = _rng.integers(-3, 4, (3, 2, 3, 2)).astype(float)
_expected = np.zeros((2, 2, 5, 5))
for _i in range(3):
    for _j in range(4):
        _expected[:, :, _i:_i + 3, _j:_j + 2] += np.einsum("nf,fcpq->ncpq", _dout[:, :, _i, _j], _w)
assert_close(conv_input_grad_full(_dout, _w), _expected, name="conv_input_grad_full with a (3, 2, 3, 2) filter bank")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-full-conv-picture", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The same numbers three ways: your full convolution, your `conv2d_backward_input` of exercise 4
# (which sends each output's gradient back to its window), and course's autograd. In the picture,
# the flipped filter sits on the padded dout at the place that gives $dx[1, 1]$.

# %% nbgrader={"grade": false, "grade_id": "full-conv-picture", "locked": true, "schema_version": 3, "solution": false, "task": false}
def autograd_input_gradient(dout, x, w, stride=1, padding=0):
    """dL/dx of F.conv2d(x, w) for the upstream gradient dout, by course's autograd."""
    x = Tensor(x, requires_grad=True)
    F.conv2d(x, Tensor(w), stride=stride, padding=padding).backward(Tensor(dout))
    return x.grad.data


full_rng = np.random.default_rng(14)
full_x, full_w = full_rng.standard_normal((2, 3, 6, 5)), full_rng.standard_normal((4, 3, 3, 2))
full_dout = full_rng.standard_normal((2, 4, 4, 4))
by_full_convolution = conv_input_grad_full(full_dout, full_w)
by_windows = conv2d_backward_input(full_dout, (full_x, full_w, np.zeros(4), 1, 0))
by_autograd = autograd_input_gradient(full_dout, full_x, full_w)
print("full convolution vs your conv2d_backward_input: largest difference "
      f"{np.abs(by_full_convolution - by_windows).max():.1e}; vs course's autograd {np.abs(by_full_convolution - by_autograd).max():.1e}")

picture_dout = np.array([[1.0, 2.0], [3.0, 4.0]])
picture_w = np.array([[0.0, 1.0], [2.0, 3.0]])
picture_dx = conv_input_grad_full(picture_dout[None, None], picture_w[None, None])[0, 0]
panels = [("dout, padded with K - 1 = 1 zeros", np.pad(picture_dout, 1)),
          ("the filter w", picture_w), ("flipped: w[::-1, ::-1]", picture_w[::-1, ::-1]),
          ("dx = padded dout ⋆ flipped w", picture_dx)]
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, (title, values) in zip(axes, panels):
    ax.imshow(values, cmap="Blues", vmin=0, vmax=20)
    for (row, col), value in np.ndenumerate(values):
        ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=11)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].add_patch(plt.Rectangle((0.5, 0.5), 2, 2, fill=False, edgecolor="tab:orange", lw=2.5))
axes[3].add_patch(plt.Rectangle((0.5, 0.5), 1, 1, fill=False, edgecolor="tab:orange", lw=2.5))
fig.suptitle("dx[1, 1] = 1·3 + 2·2 + 3·1 + 4·0 = 10: each output's gradient, through the weight that linked it to x[1, 1]")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-pool", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 4. Pooling
#
# Stride shrinks the feature maps, and smaller maps mean less computation in the next layers and
# outputs that depend on larger parts of the image. The lecture's first way down by a factor 2
# is to compute the convolution everywhere and then **keep every second row and column**. That
# is exactly a convolution with stride 2, computed wastefully: three quarters of the outputs are
# thrown away.

# %% nbgrader={"grade": false, "grade_id": "down-by-2", "locked": true, "schema_version": 3, "solution": false, "task": false}
down_x = data.x_train[:16].astype(float)
down_w, down_b = np.random.default_rng(6).standard_normal((8, 1, 3, 3)), np.zeros(8)
everywhere, _ = conv2d_forward(down_x, down_w, down_b, stride=1, padding=1)      # (16, 8, 8, 8)
strided, _ = conv2d_forward(down_x, down_w, down_b, stride=2, padding=1)         # (16, 8, 4, 4)
print("stride 1, then every second row and column == stride 2:",
      np.allclose(everywhere[:, :, ::2, ::2], strided))
print(f"outputs computed: {everywhere[0, 0].size} per map with stride 1, {strided[0, 0].size} with stride 2 "
      f"({1 - strided[0, 0].size / everywhere[0, 0].size:.0%} of the work wasted)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-down2-backward", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **The backward pass of `down2`.** Keeping every second row and column, $z = \text{down2}(y)$ with
# $z[i, j] = y[2i, 2j]$, only selects: each kept entry passes its gradient back unchanged, and the
# dropped entries did not affect the loss, so they get 0:
#
# $$dy[2i, 2j] = dz[i, j], \qquad dy[r, s] = 0 \text{ when } r \text{ or } s \text{ is odd}.$$
#
# So the gradient of a stride-2 convolution is the gradient of the stride-1 convolution for an
# upstream gradient with a zero between every two entries: the full convolution of section 3, on a
# dout with holes. Checked with your `conv2d_backward_input` (stride 1 on the zero-filled gradient
# against stride 2 on the gradient itself):

# %% nbgrader={"grade": false, "grade_id": "down2-backward", "locked": true, "schema_version": 3, "solution": false, "task": false}
def down2(y):
    """Keep every second row and column of (N, C, H, W) maps, starting with the first."""
    return y[:, :, ::2, ::2]


def down2_backward(dz, y_shape):
    """dL/dy of z = down2(y): dz at the kept places, 0 at the dropped ones."""
    dy = np.zeros(y_shape, dtype=dz.dtype)
    dy[:, :, ::2, ::2] = dz
    return dy


down_dout = np.random.default_rng(16).standard_normal(strided.shape)                  # (16, 8, 4, 4)
zero_filled = down2_backward(down_dout, everywhere.shape)                             # (16, 8, 8, 8)
through_down2 = conv2d_backward_input(zero_filled, (down_x, down_w, down_b, 1, 1))
with_stride_2 = conv2d_backward_input(down_dout, (down_x, down_w, down_b, 2, 1))
print("down2 is a selection:", np.array_equal(down2(everywhere), everywhere[:, :, ::2, ::2]),
      f"| dx through down2 and stride 1 vs stride 2: largest difference {np.abs(through_down2 - with_stride_2).max():.1e}")

fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
for ax, (title, values) in zip(axes, [("dz: gradient of down2's output (4×4)", down_dout[0, 0]),
                                      ("dy = down2_backward(dz) (8×8)", zero_filled[0, 0]),
                                      ("dx of the image (8×8)", through_down2[0, 0])]):
    limit = np.abs(values).max()
    ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("down2's backward puts the gradient back where the values were kept (white: 0)")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-maxpool", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Max pooling** goes down by a factor 2 without throwing values away blindly: it keeps the
# **largest** value of each $2 \times 2$ window (size 2, stride 2). It has no parameters; it works
# on each channel separately, and small shifts of a feature inside a window do not change the
# output. (Average pooling takes the mean instead.)
#
# Its backward pass is the lecture's rule for $\max$: the output is one of the inputs, so the
# whole upstream gradient goes to the position that was the maximum, and the other positions of
# the window get 0. When several positions tie for the maximum, the gradient goes to **one** of
# them, the first in reading order (row by row); this matters, because after a ReLU many windows
# are all zeros. Windows can overlap (stride < size): then a pixel collects the gradients of
# every window in which it was the maximum.
#
# ### Exercise 8 (1 point): max pooling, forward
#
# *What you may use:* NumPy. Not `F.max_pool2d` or `nn.MaxPool2d` (flagged for review).

# %% nbgrader={"grade": false, "grade_id": "pool_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def max_pool_forward(x, size=2, stride=2):
    """Max pooling over square windows, for every example and channel.

    Inputs:
    - x: array of shape (N, C, H, W).
    - size: side of the window, an int >= 1.
    - stride: step of the window, an int >= 1.

    Returns a tuple (out, cache):
    - out: array of shape (N, C, OH, OW), the maximum of each window, with
      OH = (H - size) // stride + 1, and likewise OW (no padding).
    - cache: the tuple (x, size, stride).
    """
    ### BEGIN SOLUTION
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    out = windows.max(axis=(4, 5))
    ### END SOLUTION
    cache = (x, size, stride)
    return out, cache


# %% nbgrader={"grade": true, "grade_id": "test_max_pool_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_x = np.array([[1, 2, 0, 1],
               [0, 4, 3, 1],
               [2, 0, 1, 2],
               [1, 5, 0, 0]], dtype=float).reshape(1, 1, 4, 4)
assert_close(max_pool_forward(_x, 2, 2)[0], np.array([[[[4, 3], [5, 2]]]]), name="max_pool_forward(x, 2, 2)")
_rng = np.random.default_rng(7)
_x = _rng.standard_normal((2, 3, 6, 6))
assert_close(max_pool_forward(_x, 2, 2)[0], F.max_pool2d(Tensor(_x), 2, 2).data, name="max_pool_forward, 2x3x6x6")
### BEGIN HIDDEN TESTS
# hint: odd and rectangular images, overlapping windows (stride < size), stride > size, one window over the whole image
for _shape, _size, _s in [((1, 2, 7, 5), 3, 2), ((2, 1, 5, 5), 2, 1), ((3, 2, 9, 8), 2, 3), ((1, 1, 4, 4), 4, 1)]:
    _x = _rng.standard_normal(_shape)
    assert_close(max_pool_forward(_x, _size, _s)[0], F.max_pool2d(Tensor(_x), _size, _s).data,
                 name=f"max_pool_forward for x {_shape}, size {_size}, stride {_s}")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex8", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 9 (2 points): max pooling, backward
#
# Hint: `argmax` over a flattened window returns the position of the *first* maximum. With the
# windows as above, a loop over the `size * size` positions in the window is enough, as in
# `conv2d_backward_input`.
#
# *What you may use:* NumPy. Not `F.max_pool2d`'s backward pass or `course.autograd` (flagged
# for review).

# %% nbgrader={"grade": false, "grade_id": "reference-pool", "locked": true, "schema_version": 3, "solution": false, "task": false}
def reference_max_pool_forward(x, size=2, stride=2):
    """course.nn.functional.max_pool2d as a forward pass for check_backward: (out, cache)."""
    return F.max_pool2d(Tensor(x), size, stride).data, (x, size, stride)

# %% nbgrader={"grade": false, "grade_id": "pool_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def max_pool_backward(dout, cache):
    """Backward pass of max pooling: each window's gradient goes to the window's first maximum.

    Inputs:
    - dout: array of shape (N, C, OH, OW), the upstream gradient.
    - cache: the tuple (x, size, stride) of the forward pass.

    Returns dx, an array of the shape of x, (N, C, H, W).
    """
    x, size, stride = cache
    ### BEGIN SOLUTION
    N, C, OH, OW = dout.shape
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    first_max = windows.reshape(N, C, OH, OW, size * size).argmax(axis=-1)   # first maximum in reading order
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for k in range(size * size):
        p, q = divmod(k, size)
        dx[:, :, p:p + stride * OH:stride, q:q + stride * OW:stride] += np.where(first_max == k, dout, 0)
    ### END SOLUTION
    return dx


# %% nbgrader={"grade": true, "grade_id": "test_max_pool_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(8)
check_backward(lambda x: reference_max_pool_forward(x, 2, 2), max_pool_backward,
               _rng.standard_normal((2, 3, 6, 6)), names=["x"])
# Ties: an all-zero window (as after a ReLU) and windows whose maximum occurs twice.
_x = np.array([[0, 0, 1, 3],
               [0, 0, 3, 2],
               [2, 1, 6, 6],
               [7, 7, 6, 6]], dtype=float).reshape(1, 1, 4, 4)
_dx = max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), (_x, 2, 2))
assert_close(_dx, np.array([[1, 0, 0, 2],
                            [0, 0, 0, 0],
                            [0, 0, 4, 0],
                            [3, 0, 0, 0]], dtype=float).reshape(1, 1, 4, 4),
             name="max_pool_backward with ties (each window's gradient goes to its first maximum only)")
### BEGIN HIDDEN TESTS
# hint: odd and rectangular images, overlapping windows (stride < size), stride > size
for _shape, _size, _s in [((1, 2, 7, 5), 3, 2), ((2, 1, 5, 5), 2, 1), ((3, 2, 9, 8), 2, 3)]:
    check_backward(lambda x: reference_max_pool_forward(x, _size, _s), max_pool_backward,
                   _rng.standard_normal(_shape), names=["x"], seed=_size + _s)
# hint: overlapping windows that share their maximum (the gradients add up)
_x = np.array([[1, 5, 2],
               [0, 5, 3]], dtype=float).reshape(1, 1, 2, 3)
assert_close(max_pool_backward(np.array([[[[1.0, 10.0]]]]), (_x, 2, 1)),
             np.array([[0, 11, 0], [0, 0, 0]], dtype=float).reshape(1, 1, 2, 3),
             name="max_pool_backward, overlapping windows with a shared maximum")
# hint: an all-zero batch (one position per window gets the gradient)
_dx = max_pool_backward(np.ones((2, 3, 2, 2)), (np.zeros((2, 3, 4, 4)), 2, 2))
assert_close(_dx.sum(), 24.0, name="the sum of dx for an all-zero input (one position per window)")
assert_close(_dx[:, :, ::2, ::2], np.ones((2, 3, 2, 2)), name="dx at the first position of each all-zero window")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-pool-ties", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Where max pooling's gradient goes, ties included.** A $4 \times 4$ map after a ReLU (so with
# many zeros), its four $2 \times 2$ windows, and each window's upstream gradient: the whole of it
# goes to one position, the first maximum in reading order. That is the lecture's convention,
# course's, and that of your `max_pool_backward`. PyTorch's `max_pool2d` also sends each
# window's gradient to one position, the first maximum it finds (PyTorch 2.13 on a CPU gives this
# very dx); but PyTorch's `max()` and `amax()` over a tensor split the gradient evenly among tied
# elements: for an all-zero $2 \times 2$ window each element would get $0.25$ of it.

# %% nbgrader={"grade": false, "grade_id": "pool-ties", "locked": true, "schema_version": 3, "solution": false, "task": false}
ties_x = np.array([[0, 0, 1, 3],
                   [0, 0, 3, 2],
                   [2, 1, 6, 6],
                   [7, 7, 6, 6]], dtype=float).reshape(1, 1, 4, 4)
ties_dout = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
ties_input = Tensor(ties_x, requires_grad=True)
F.max_pool2d(ties_input, 2, 2).backward(Tensor(ties_dout))
yours_dx = max_pool_backward(ties_dout, (ties_x, 2, 2))
print("course's max_pool2d and your max_pool_backward route the same way:", np.array_equal(ties_input.grad.data, yours_dx))

fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
for ax, (title, values) in zip(axes, [("input (ties in every window)", ties_x[0, 0]),
                                      ("dx: each window's gradient at its first maximum", ties_input.grad.data[0, 0])]):
    ax.imshow(values, cmap="Greens" if ax is axes[0] else "Oranges", vmin=0, vmax=2 * values.max())
    for (row, col), value in np.ndenumerate(values):
        ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=12)
    for line in (1.5,):
        ax.axhline(line, color="black", lw=2)
        ax.axvline(line, color="black", lw=2)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
for (i, j), gradient in np.ndenumerate(ties_dout[0, 0]):
    axes[1].text(2 * j + 1.5, 2 * i + 1.45, f"dout {gradient:g}", ha="right", va="bottom", fontsize=7, color="gray")
fig.suptitle("max pooling 2×2: top left all zeros, top right a tie at 3, bottom left at 7, bottom right at 6")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-gradient-explorer", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Explore where the gradient goes (not graded).** Choose an output (row $i$, column $j$): the
# left panel shows $\partial\, \text{out}[i, j] / \partial x$, the filter's weights on the window
# that output saw. Choose an input pixel (row $r$, column $s$, green): the output panel shows every
# output it feeds and through which weight $w[p, q]$; with stride 1 they form the flipped filter,
# the full convolution of section 3, and with stride 2 some of them are missing. The right panel
# pools the ReLU of the feature map: an orange dot gets its window's gradient, a red cross is a
# tie that gets none. Every number comes from course's `conv2d`, `max_pool2d` and backward pass.

# %% nbgrader={"grade": false, "grade_id": "gradient-explorer", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("The explorer is skipped while grading.")
else:
    from course.widgets import conv_gradient_explorer
    conv_gradient_explorer(output=(2, 3), pixel=(4, 2))

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-flatten", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 5. Flatten, and the fully-connected layer as a convolution
#
# After the convolutions and poolings, a classifier needs one vector per example: **flatten**
# reshapes `(N, C, H, W)` into `(N, C*H*W)`, in the order channel, row, column (NumPy's and
# PyTorch's order), and its backward pass puts the gradient back into the original shape.
#
# ### Exercise 10 (1 point): flatten
#
# *What you may use:* NumPy.

# %% nbgrader={"grade": false, "grade_id": "flatten", "locked": false, "schema_version": 3, "solution": true, "task": false}
def flatten_forward(x):
    """Flatten every example into a vector.

    Inputs:
    - x: array of shape (N, d1, d2, ...), e.g. (N, C, H, W).

    Returns a tuple (out, cache): out of shape (N, d1*d2*...), in C order (the last axis
    changes fastest); cache for flatten_backward.
    """
    ### BEGIN SOLUTION
    out = x.reshape(x.shape[0], -1)
    cache = x.shape
    ### END SOLUTION
    return out, cache


def flatten_backward(dout, cache):
    """Backward pass of flatten_forward: dout of shape (N, d1*d2*...) -> dx of shape (N, d1, d2, ...)."""
    ### BEGIN SOLUTION
    dx = dout.reshape(cache)
    ### END SOLUTION
    return dx


# %% nbgrader={"grade": true, "grade_id": "test_flatten", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
_rng = np.random.default_rng(9)
_x = _rng.standard_normal((2, 3, 4, 5))
assert_close(flatten_forward(_x)[0], F.flatten(Tensor(_x)).data, name="flatten_forward of a (2, 3, 4, 5) array")
check_backward(flatten_forward, flatten_backward, _x)
assert_close(flatten_forward(np.ones((3, 7)))[0], np.ones((3, 7)), name="flatten_forward of a (3, 7) array (already flat)")
### BEGIN HIDDEN TESTS
# hint: arrays of 2 to 5 axes, with axes of size 1
for _shape in [(1, 1, 1, 1), (4, 2, 3, 1), (3, 7), (2, 2, 2, 2, 2)]:
    _x = _rng.standard_normal(_shape)
    assert_close(flatten_forward(_x)[0], _x.reshape(_shape[0], -1), name=f"flatten_forward of shape {_shape}")
    check_backward(flatten_forward, flatten_backward, _x, seed=len(_shape))
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-fc-as-conv", "locked": true, "schema_version": 3, "solution": false, "task": false}
# A fully-connected layer on a `(C, H, W)` input is a convolution whose filter covers **the whole
# input**: with $F$ filters of size $C \times H \times W$, no padding, the output is $F$ maps of
# size $1 \times 1$, and each is the inner product of one filter with the whole input, i.e. one
# row of $W$ times the flattened input. (Convolutional networks use this to slide a classifier
# over images larger than those it was trained on.)

# %% nbgrader={"grade": false, "grade_id": "fc-as-conv", "locked": true, "schema_version": 3, "solution": false, "task": false}
fc_rng = np.random.default_rng(10)
fc_x = fc_rng.standard_normal((5, 3, 4, 4))                         # 5 examples of shape (3, 4, 4)
fc_weight, fc_bias = fc_rng.standard_normal((10, 3 * 4 * 4)), fc_rng.standard_normal(10)
as_linear = flatten_forward(fc_x)[0] @ fc_weight.T + fc_bias         # (5, 10)
as_conv, _ = conv2d_forward(fc_x, fc_weight.reshape(10, 3, 4, 4), fc_bias)   # (5, 10, 1, 1)
print("linear layer == convolution with whole-input filters:", np.allclose(as_linear, as_conv[:, :, 0, 0]))

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-params", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 6. Counting parameters
#
# A convolutional layer with $F$ filters of size $K \times K$ on $C$ input channels has
# $F \cdot (C K^2 + 1)$ parameters (the $+1$ is each filter's bias), whatever the image size. A
# fully-connected layer from $D$ inputs to $M$ units has $M (D + 1)$. ReLU, pooling and flatten have
# none. To count a whole network, follow the shape of the data through the layers, with the
# output-size formula for convolutions and pooling.
#
# ### Exercise 11 (2 points): a parameter table
#
# A network is described by a list of layers, each a tuple:
#
# | layer | tuple | output shape for an input `(C, H, W)` |
# |---|---|---|
# | convolution | `("conv", filters, size, stride, padding)` | `(filters, OH, OW)` |
# | max pooling | `("pool", size, stride)` | `(C, OH, OW)` (no padding) |
# | ReLU | `("relu",)` | unchanged |
# | flatten | `("flatten",)` | `(C*H*W,)` |
# | fully connected | `("fc", units)` | `(units,)`; its input is a vector `(D,)` |
#
# Use your `conv_output_size`.
#
# *What you may use:* your `conv_output_size` and arithmetic. Not `course.nn` (building the layers
# to count their parameters is flagged for review).

# %% nbgrader={"grade": false, "grade_id": "parameter_table", "locked": false, "schema_version": 3, "solution": true, "task": false}
def parameter_table(layers, input_shape):
    """Output shape and number of parameters of every layer of a network.

    Inputs:
    - layers: list of layer tuples as in the table above.
    - input_shape: shape of one input example, a tuple (C, H, W).

    Returns a list with one pair (output_shape, parameters) per layer, in order: output_shape a
    tuple of ints, parameters an int (weights and biases).
    """
    table = []
    shape = tuple(input_shape)
    for layer in layers:
        kind = layer[0]
        ### BEGIN SOLUTION
        if kind == "conv":
            _, filters, size, stride, padding = layer
            channels, height, width = shape
            parameters = filters * (channels * size * size + 1)
            shape = (filters, conv_output_size(height, size, stride, padding),
                     conv_output_size(width, size, stride, padding))
        elif kind == "pool":
            _, size, stride = layer
            channels, height, width = shape
            parameters = 0
            shape = (channels, conv_output_size(height, size, stride), conv_output_size(width, size, stride))
        elif kind == "relu":
            parameters = 0
        elif kind == "flatten":
            parameters = 0
            shape = (int(np.prod(shape)),)
        elif kind == "fc":
            _, units = layer
            parameters = units * (shape[0] + 1)
            shape = (units,)
        else:
            raise ValueError(f"unknown layer {layer!r}")
        ### END SOLUTION
        table.append((shape, parameters))
    return table


# %% nbgrader={"grade": true, "grade_id": "test_parameter_table", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_tiny = [("conv", 4, 3, 1, 1), ("relu",), ("pool", 2, 2), ("flatten",), ("fc", 10)]
_rows = parameter_table(_tiny, (1, 8, 8))
assert [tuple(s) for s, _ in _rows] == [(4, 8, 8), (4, 8, 8), (4, 4, 4), (64,), (10,)], f"output shapes {_rows}"
assert [p for _, p in _rows] == [4 * (1 * 9 + 1), 0, 0, 0, 10 * (64 + 1)], f"parameters {_rows}"
### BEGIN HIDDEN TESTS
# hint: LeNet-5 and a small network with stride, padding and overlapping pooling, layer by layer
# Against course.nn: build each layer, count its parameters and push a zero input through it.
def _module_for(layer, input_shape):
    kind = layer[0]
    if kind == "conv":
        return nn.Conv2d(input_shape[0], layer[1], layer[2], stride=layer[3], padding=layer[4])
    if kind == "pool":
        return nn.MaxPool2d(layer[1], layer[2])
    if kind == "relu":
        return nn.ReLU()
    if kind == "flatten":
        return nn.Flatten()
    return nn.Linear(input_shape[0], layer[1])


_nets = [
    ([("conv", 6, 5, 1, 0), ("relu",), ("pool", 2, 2), ("conv", 16, 5, 1, 0), ("relu",), ("pool", 2, 2),
      ("flatten",), ("fc", 120), ("relu",), ("fc", 84), ("relu",), ("fc", 10)], (1, 32, 32)),
    ([("conv", 5, 3, 2, 2), ("pool", 3, 2), ("conv", 7, 2, 1, 0), ("flatten",), ("fc", 3)], (3, 13, 11)),
]
for _layers, _input_shape in _nets:
    _rows = parameter_table(_layers, _input_shape)
    assert len(_rows) == len(_layers), f"{len(_rows)} rows for {len(_layers)} layers"
    _x = Tensor(np.zeros((1,) + _input_shape, dtype=np.float32))
    for _i, (_layer, (_shape, _parameters)) in enumerate(zip(_layers, _rows)):
        _module = _module_for(_layer, _x.shape[1:])
        _x = _module(_x)
        assert tuple(_shape) == _x.shape[1:], f"layer {_i} {_layer}: output shape {_shape}, expected {_x.shape[1:]}"
        assert _parameters == _module.num_parameters(), \
            f"layer {_i} {_layer}: {_parameters} parameters, expected {_module.num_parameters()}"
# hint: AlexNet's total and the length of its flattened features
# AlexNet (single-stream version, 227x227 input): 62,378,344 parameters, counted by hand.
_alexnet = [("conv", 96, 11, 4, 0), ("relu",), ("pool", 3, 2), ("conv", 256, 5, 1, 2), ("relu",), ("pool", 3, 2),
            ("conv", 384, 3, 1, 1), ("relu",), ("conv", 384, 3, 1, 1), ("relu",), ("conv", 256, 3, 1, 1),
            ("relu",), ("pool", 3, 2), ("flatten",), ("fc", 4096), ("relu",), ("fc", 4096), ("relu",), ("fc", 1000)]
_rows = parameter_table(_alexnet, (3, 227, 227))
assert sum(p for _, p in _rows) == 62_378_344, f"AlexNet: {sum(p for _, p in _rows):,} parameters"
assert tuple(_rows[13][0]) == (9216,), f"AlexNet flattens 256 x 6 x 6 = 9216 numbers, got {_rows[13][0]}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-alexnet", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **AlexNet** (Krizhevsky, Sutskever and Hinton, 2012), the network that won ImageNet by a wide
# margin, from its list of layers (the single-stream version with $227 \times 227$ colour input):

# %% nbgrader={"grade": false, "grade_id": "alexnet", "locked": true, "schema_version": 3, "solution": false, "task": false}
ALEXNET = [
    ("conv", 96, 11, 4, 0), ("relu",), ("pool", 3, 2),
    ("conv", 256, 5, 1, 2), ("relu",), ("pool", 3, 2),
    ("conv", 384, 3, 1, 1), ("relu",),
    ("conv", 384, 3, 1, 1), ("relu",),
    ("conv", 256, 3, 1, 1), ("relu",), ("pool", 3, 2),
    ("flatten",),
    ("fc", 4096), ("relu",),
    ("fc", 4096), ("relu",),
    ("fc", 1000),
]


def print_parameter_table(layers, input_shape):
    """Print parameter_table as a table; returns the total number of parameters."""
    rows = parameter_table(layers, input_shape)
    print(f"{'layer':<24} {'output shape':<18} {'parameters':>12}")
    print(f"{'input':<24} {str(tuple(input_shape)):<18} {'':>12}")
    for layer, (shape, parameters) in zip(layers, rows):
        print(f"{str(layer):<24} {str(tuple(shape)):<18} {parameters:>12,}")
    total = sum(parameters for _, parameters in rows)
    print(f"{'total':<24} {'':<18} {total:>12,}")
    return total


alexnet_total = print_parameter_table(ALEXNET, (3, 227, 227))
alexnet_rows = parameter_table(ALEXNET, (3, 227, 227))
dense_share = sum(p for layer, (_, p) in zip(ALEXNET, alexnet_rows) if layer[0] == "fc") / alexnet_total
print(f"\nabout {alexnet_total / 1e6:.0f} million parameters, {dense_share:.0%} of them in the three fully-connected layers")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-alexnet-groups", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Why "60 million", not 62.** The table counts the single-stream network, in which every filter
# sees all channels of the layer before. The network of the paper, and the lecture's picture of
# it, was trained on two GPUs of 3 GB each and is cut into two halves, one per GPU (48 of conv1's
# 96 filters on each, and so on). Conv2, conv4 and conv5 only see the maps of their own GPU: each
# of their filters has **half** the input channels (PyTorch would say `groups=2`), so
# $F \cdot (\tfrac{C}{2} K^2 + 1)$ parameters instead of $F \cdot (C K^2 + 1)$. Conv3 and the
# fully-connected layers take the maps of both GPUs. Counted from the table above:

# %% nbgrader={"grade": false, "grade_id": "alexnet-groups", "locked": true, "schema_version": 3, "solution": false, "task": false}
def grouped_parameter_counts(layers, input_shape, groups):
    """Parameters of every layer when the convolution at position i splits its inputs into groups[i]."""
    rows = parameter_table(layers, input_shape)
    input_shapes = [tuple(input_shape)] + [tuple(shape) for shape, _ in rows[:-1]]
    counts = []
    for position, (layer, shape_in, (_, parameters)) in enumerate(zip(layers, input_shapes, rows)):
        if position in groups:
            _, filters, size, _, _ = layer
            parameters = filters * (shape_in[0] // groups[position] * size * size + 1)
        counts.append(parameters)
    return counts


conv_positions = [position for position, layer in enumerate(ALEXNET) if layer[0] == "conv"]
two_gpu_groups = {conv_positions[k]: 2 for k in (1, 3, 4)}          # conv2, conv4 and conv5
two_gpu_counts = grouped_parameter_counts(ALEXNET, (3, 227, 227), two_gpu_groups)
print(f"{'layer':<8} {'single stream':>14} {'two GPUs':>12}")
for number, position in enumerate(conv_positions, start=1):
    print(f"{f'conv{number}':<8} {alexnet_rows[position][1]:>14,} {two_gpu_counts[position]:>12,}")
print(f"{'total':<8} {alexnet_total:>14,} {sum(two_gpu_counts):>12,}   "
      f"(the split saves {alexnet_total - sum(two_gpu_counts):,})")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-alexnet-neurons", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The paper also speaks of **650,000 neurons**: one per number that a convolution or a
# fully-connected layer outputs (the ReLU works on those numbers in place, pooling only picks among
# them). The caption of its Figure 2 lists them per layer, 253,440–186,624–64,896–64,896–43,264–4096–4096–1000;
# counted from the output shapes of the table:

# %% nbgrader={"grade": false, "grade_id": "alexnet-neurons", "locked": true, "schema_version": 3, "solution": false, "task": false}
PAPER_NEURONS = [253_440, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]     # Figure 2's caption
alexnet_neurons = [int(np.prod(shape)) for layer, (shape, _) in zip(ALEXNET, alexnet_rows) if layer[0] in ("conv", "fc")]
print(f"{'layer':<6} {'output shape':<16} {'neurons':>9} {'paper':>9}")
weighted_layers = [(layer, shape) for layer, (shape, _) in zip(ALEXNET, alexnet_rows) if layer[0] in ("conv", "fc")]
for number, ((layer, shape), neurons, paper) in enumerate(zip(weighted_layers, alexnet_neurons, PAPER_NEURONS), start=1):
    print(f"{f'{layer[0]}{number}':<6} {str(tuple(shape)):<16} {neurons:>9,} {paper:>9,}")
print(f"{'total':<6} {'':<16} {sum(alexnet_neurons):>9,} {sum(PAPER_NEURONS):>9,}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-alexnet-neurons-gap", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Every layer agrees except the first: 96 maps of $55 \times 55$ are 290,400 neurons, and the
# caption's 253,440 is not $96 \cdot n^2$ for any whole $n$ (the paper's $224 \times 224$ input
# would not give a whole number of positions either, $(224 - 11)/4 + 1 = 54.25$; with $227$ every
# size works out). Counted from the shapes, the network has about 660,000 neurons, close to the
# paper's round "650,000"; the caption's own numbers add up to about 620,000. (Splitting the network
# over two GPUs changes the number of weights, not the number of neurons.)

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-functions", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Most of AlexNet's parameters sit in its fully-connected layers; most of its *computation* is in
# the convolutions, where every weight is used at every position.
#
# ## 7. Your layers inside the autograd engine
#
# `course.autograd` records the operations on Tensors and runs the backward pass for you. A new
# operation joins by subclassing `Function`: a static `forward(ctx, ...)` gets NumPy arrays (other
# arguments, like ints, as they are) and returns an array; a static `backward(ctx, grad)` gets the
# upstream gradient as an array and returns **one gradient per argument of forward**, `None` for
# the arguments that have none (such as `stride`). `ctx.save_for_backward(...)` keeps arrays for
# the backward pass, `ctx.saved_tensors` gives them back, and other values can be stored as
# attributes, `ctx.stride = stride`. Call it as `Conv2dFunction.apply(x, w, b, stride, padding)`.
#
# ### Exercise 12 (2 points): the convolution as a `Function`
#
# Call your `conv2d_forward` and the three backward functions. (The tests put course's versions
# in their place, so that a mistake in an earlier exercise does not cost points here.)
#
# *What you may use:* your functions above, NumPy and `ctx`. Not `F.conv2d` or `nn.Conv2d`.

# %% nbgrader={"grade": false, "grade_id": "conv_function", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Conv2dFunction(Function):
    """Your convolution in the autograd engine: Conv2dFunction.apply(x, w, b, stride, padding).

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) Tensors; stride, padding: ints.
    Returns a Tensor (N, F, OH, OW); backward gives x, w and b their gradients.
    """

    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        ### BEGIN SOLUTION
        out, cache = conv2d_forward(x, w, b, stride, padding)
        ctx.save_for_backward(x, w, b)
        ctx.stride, ctx.padding = stride, padding
        ### END SOLUTION
        return out

    @staticmethod
    def backward(ctx, dout):
        ### BEGIN SOLUTION
        x, w, b = ctx.saved_tensors
        cache = (x, w, b, ctx.stride, ctx.padding)
        return (conv2d_backward_input(dout, cache), conv2d_backward_weight(dout, cache),
                conv2d_backward_bias(dout, cache), None, None)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_conv_function", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# So that this exercise does not depend on the earlier ones, your conv2d_forward and backward
# functions are replaced by course's for this test (and put back at the end).
def _reference_conv2d_gradients(dout, cache):
    x, w, b, stride, padding = cache
    x, w, b = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
    with enable_grad():             # backward passes run without recording; this one must record
        F.conv2d(x, w, b, stride=stride, padding=padding).backward(Tensor(dout))
    return x.grad.data, w.grad.data, b.grad.data


_yours = (conv2d_forward, conv2d_backward_input, conv2d_backward_weight, conv2d_backward_bias)
conv2d_forward = reference_conv2d_forward
conv2d_backward_input = lambda dout, cache: _reference_conv2d_gradients(dout, cache)[0]
conv2d_backward_weight = lambda dout, cache: _reference_conv2d_gradients(dout, cache)[1]
conv2d_backward_bias = lambda dout, cache: _reference_conv2d_gradients(dout, cache)[2]
try:
    _rng = np.random.default_rng(11)
    _x = Tensor(_rng.standard_normal((2, 3, 5, 6)), requires_grad=True)
    _w = Tensor(_rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    _b = Tensor(_rng.standard_normal(4), requires_grad=True)
    _out = Conv2dFunction.apply(_x, _w, _b, 2, 1)
    assert isinstance(_out, Tensor), f"Conv2dFunction.apply should return a Tensor, got {type(_out).__name__}"
    _cache = (_x.data, _w.data, _b.data, 2, 1)
    assert_close(_out, reference_conv2d_forward(*_cache)[0], name="Conv2dFunction.apply(x, w, b, 2, 1)")
    _dout = _rng.standard_normal(_out.shape)
    _out.backward(Tensor(_dout))
    _dx, _dw, _db = _reference_conv2d_gradients(_dout, _cache)
    assert_close(_x.grad, _dx, name="x.grad")
    assert_close(_w.grad, _dw, name="w.grad")
    assert_close(_b.grad, _db, name="b.grad")
    ### BEGIN HIDDEN TESTS
    # hint: inside a larger graph, stride 1 without padding, a bias that needs no gradient
    # Inside a larger graph, with stride 1 and no padding, and a bias that is a constant.
    _x = Tensor(_rng.standard_normal((3, 2, 6, 6)), requires_grad=True)
    _w = Tensor(_rng.standard_normal((2, 2, 2, 2)), requires_grad=True)
    _b = Tensor(_rng.standard_normal(2))
    _out = Conv2dFunction.apply(_x, _w, _b, 1, 0)
    (_out * _out * 0.5).sum().backward()
    _cache = (_x.data, _w.data, _b.data, 1, 0)
    _dx, _dw, _ = _reference_conv2d_gradients(reference_conv2d_forward(*_cache)[0], _cache)
    assert_close(_x.grad, _dx, name="x.grad through 0.5 * sum(out**2)")
    assert_close(_w.grad, _dw, name="w.grad through 0.5 * sum(out**2)")
    assert _b.grad is None, "b does not require a gradient, so it must not get one"
    # hint: two calls with different stride and padding, sharing w (each call keeps its own saved values)
    # Two calls with different settings keep their own saved values; w collects both gradients.
    _x1 = Tensor(_rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    _x2 = Tensor(_rng.standard_normal((1, 1, 5, 5)), requires_grad=True)
    _w = Tensor(_rng.standard_normal((1, 1, 2, 2)), requires_grad=True)
    _b = Tensor(np.zeros(1), requires_grad=True)
    _out1, _out2 = Conv2dFunction.apply(_x1, _w, _b, 1, 0), Conv2dFunction.apply(_x2, _w, _b, 2, 1)
    (_out1.sum() + _out2.sum()).backward()
    _, _dw1, _ = _reference_conv2d_gradients(np.ones(_out1.shape), (_x1.data, _w.data, _b.data, 1, 0))
    _dx2, _dw2, _ = _reference_conv2d_gradients(np.ones(_out2.shape), (_x2.data, _w.data, _b.data, 2, 1))
    assert_close(_x2.grad, _dx2, name="x2.grad (stride 2, padding 1)")
    assert_close(_w.grad, _dw1 + _dw2, name="w.grad, w used in two calls")
    ### END HIDDEN TESTS
finally:
    conv2d_forward, conv2d_backward_input, conv2d_backward_weight, conv2d_backward_bias = _yours

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-ex12", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 13 (1 point): max pooling as a `Function`
#
# *What you may use:* your `max_pool_forward` and `max_pool_backward`, NumPy and `ctx`. Not
# `F.max_pool2d` or `nn.MaxPool2d`.

# %% nbgrader={"grade": false, "grade_id": "pool_function", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MaxPool2dFunction(Function):
    """Your max pooling in the autograd engine: MaxPool2dFunction.apply(x, size, stride).

    x: (N, C, H, W) Tensor; size, stride: ints. Returns a Tensor (N, C, OH, OW).
    """

    @staticmethod
    def forward(ctx, x, size, stride):
        ### BEGIN SOLUTION
        out, cache = max_pool_forward(x, size, stride)
        ctx.cache = cache
        ### END SOLUTION
        return out

    @staticmethod
    def backward(ctx, dout):
        ### BEGIN SOLUTION
        dx = max_pool_backward(dout, ctx.cache)
        return dx, None, None
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pool_function", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# As above: course's max pooling stands in for your max_pool_forward and max_pool_backward.
def _reference_pool_gradient(dout, cache):
    x, size, stride = cache
    x = Tensor(x, requires_grad=True)
    with enable_grad():
        F.max_pool2d(x, size, stride).backward(Tensor(dout))
    return x.grad.data


_yours = (max_pool_forward, max_pool_backward)
max_pool_forward, max_pool_backward = reference_max_pool_forward, _reference_pool_gradient
try:
    _rng = np.random.default_rng(12)
    _x = Tensor(_rng.standard_normal((2, 3, 6, 4)), requires_grad=True)
    _out = MaxPool2dFunction.apply(_x, 2, 2)
    assert isinstance(_out, Tensor), f"MaxPool2dFunction.apply should return a Tensor, got {type(_out).__name__}"
    assert_close(_out, reference_max_pool_forward(_x.data, 2, 2)[0], name="MaxPool2dFunction.apply(x, 2, 2)")
    _dout = _rng.standard_normal(_out.shape)
    _out.backward(Tensor(_dout))
    assert_close(_x.grad, _reference_pool_gradient(_dout, (_x.data, 2, 2)), name="x.grad")
    ### BEGIN HIDDEN TESTS
    # hint: overlapping windows (size 3, stride 1) inside a larger graph
    _x = Tensor(_rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    _out = MaxPool2dFunction.apply(_x, 3, 1)
    (_out * 3.0).sum().backward()
    assert_close(_out, reference_max_pool_forward(_x.data, 3, 1)[0], name="MaxPool2dFunction.apply(x, 3, 1)")
    assert_close(_x.grad, _reference_pool_gradient(np.full(_out.shape, 3.0), (_x.data, 3, 1)),
                 name="x.grad through 3 * sum(out), overlapping windows")
    ### END HIDDEN TESTS
finally:
    max_pool_forward, max_pool_backward = _yours

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-train", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 8. Training a CNN on handwritten digits
#
# From here on we use `course.nn`, the library's layers (they do what you just wrote, with more
# care for speed). The network: convolution, ReLU, max pooling, twice, then one fully-connected
# layer, on scikit-learn's 1,797 digits of $8 \times 8$ pixels:
#
# `(1, 8, 8)` → conv 16 filters $3 \times 3$, padding 1 → ReLU → pool → `(16, 4, 4)` → conv 32
# filters $3 \times 3$, padding 1 → ReLU → pool → `(32, 2, 2)` → flatten → fully connected → 10 scores.
#
# Training: the cross-entropy loss, SGD with momentum 0.9 and a little weight decay, mini-batches
# of 32, a learning rate that decays along a half cosine, and inputs standardised with the mean and
# standard deviation of the training pixels.

# %% nbgrader={"grade": false, "grade_id": "train-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
CNN_LAYERS = [("conv", 16, 3, 1, 1), ("relu",), ("pool", 2, 2),
              ("conv", 32, 3, 1, 1), ("relu",), ("pool", 2, 2), ("flatten",), ("fc", 10)]


def make_cnn(image_size=8, conv=nn.Conv2d, pool=nn.MaxPool2d):
    """CNN_LAYERS as a network: (N, 1, S, S) -> (N, 10) scores, for S divisible by 4."""
    return nn.Sequential(
        conv(1, 16, 3, padding=1), nn.ReLU(), pool(2),
        conv(16, 32, 3, padding=1), nn.ReLU(), pool(2),
        nn.Flatten(), nn.Linear(32 * (image_size // 4) ** 2, 10))


def make_mlp(hidden=80):
    """flatten, one hidden ReLU layer, linear: (N, 1, 8, 8) -> (N, 10) scores."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train_classifier(model, x, y, epochs, lr=0.1, batch_size=32, seed=0):
    """Minimise the cross-entropy of model on (x, y); returns the loss of every mini-batch."""
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
    loader = DataLoader(x, y, batch_size, shuffle=True, seed=seed)
    losses = []
    for epoch in range(epochs):
        optimizer.lr = lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        for x_batch, y_batch in loader:
            loss = F.cross_entropy(model(Tensor(x_batch)), y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def predict(model, x, batch_size=1000):
    """The class with the highest score, for every example of x."""
    with no_grad():
        return np.concatenate([model(Tensor(x[i:i + batch_size])).data.argmax(axis=1)
                               for i in range(0, len(x), batch_size)])


pixel_mean, pixel_std = data.x_train.mean(), data.x_train.std()
x_train = (data.x_train - pixel_mean) / pixel_std
x_test = (data.x_test - pixel_mean) / pixel_std
y_train, y_test = data.y_train, data.y_test
EPOCHS = 1 if GRADING else 15

# %% nbgrader={"grade": false, "grade_id": "train-cnn", "locked": true, "schema_version": 3, "solution": false, "task": false}
manual_seed(0)
cnn = make_cnn()
cnn_initial_state = cnn.state_dict()
started = time.perf_counter()
cnn_losses = train_classifier(cnn, x_train, y_train, EPOCHS)
cnn_seconds = time.perf_counter() - started
cnn_accuracy = (predict(cnn, x_test) == y_test).mean()
print(f"CNN: {cnn.num_parameters():,} parameters, test accuracy {cnn_accuracy:.1%} "
      f"after {EPOCHS} epochs in {cnn_seconds:.1f} s")
print(f"your parameter_table counts {sum(p for _, p in parameter_table(CNN_LAYERS, (1, 8, 8))):,}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-mlp", "locked": true, "schema_version": 3, "solution": false, "task": false}
# An MLP with one hidden layer of 80 units has about as many parameters. The same training:

# %% nbgrader={"grade": false, "grade_id": "train-mlp", "locked": true, "schema_version": 3, "solution": false, "task": false}
manual_seed(0)
mlp = make_mlp()
mlp_initial_state = mlp.state_dict()
started = time.perf_counter()
mlp_losses = train_classifier(mlp, x_train, y_train, EPOCHS)
mlp_seconds = time.perf_counter() - started
mlp_accuracy = (predict(mlp, x_test) == y_test).mean()
print(f"{'':5} {'parameters':>10} {'test accuracy':>14} {'training time':>14}")
print(f"{'CNN':5} {cnn.num_parameters():>10,} {cnn_accuracy:>14.1%} {cnn_seconds:>12.1f} s")
print(f"{'MLP':5} {mlp.num_parameters():>10,} {mlp_accuracy:>14.1%} {mlp_seconds:>12.1f} s")

fig, ax = plt.subplots(figsize=(7, 3.5))
batches_per_epoch = len(cnn_losses) / EPOCHS
ax.plot(np.arange(len(cnn_losses)) / batches_per_epoch, cnn_losses, lw=0.8, label="CNN")
ax.plot(np.arange(len(mlp_losses)) / batches_per_epoch, mlp_losses, lw=0.8, label="MLP")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("mini-batch loss")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-shuffle", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **The MLP cannot see the image.** Shuffle the 64 pixels of every image with one fixed
# permutation, and shuffle the columns of the MLP's first weight matrix the same way. Then every
# first-layer unit adds up exactly the same 64 products $W_{kj} x_j$ (each the same float32
# number as before), only in another order. With real numbers the sums would be equal; in float32
# a sum taken in another order can differ in its last bits, so the shuffled MLP computes the same
# function *up to rounding* (measured below, before training). Training feeds these differences
# of about $10^{-7}$ back into the weights for hundreds of steps, so the two trained MLPs are
# close but not bit for bit equal (their weights are compared below, with the shuffle undone);
# here they make the same predictions. The CNN, which relies on neighbouring pixels being
# neighbours, loses accuracy on shuffled images.

# %% nbgrader={"grade": false, "grade_id": "shuffle", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("skipped while grading")
else:
    permutation = np.random.default_rng(0).permutation(64)

    def shuffle_pixels(images):
        return images.reshape(len(images), 64)[:, permutation].reshape(images.shape)

    shuffled_mlp = make_mlp()
    shuffled_state = dict(mlp_initial_state)
    shuffled_state["1.weight"] = mlp_initial_state["1.weight"][:, permutation]
    shuffled_mlp.load_state_dict(shuffled_state)
    untrained_mlp = make_mlp()
    untrained_mlp.load_state_dict(mlp_initial_state)
    with no_grad():
        scores_in_place = untrained_mlp(Tensor(x_test)).data
        scores_shuffled = shuffled_mlp(Tensor(shuffle_pixels(x_test))).data
    print(f"before training, on {len(x_test)} test images: {np.mean(scores_in_place == scores_shuffled):.1%} of the "
          f"scores are bit for bit equal, the largest difference is {np.abs(scores_in_place - scores_shuffled).max():.1e} "
          f"(scores up to {np.abs(scores_in_place).max():.1f})")
    train_classifier(shuffled_mlp, shuffle_pixels(x_train), y_train, EPOCHS)
    shuffled_mlp_accuracy = (predict(shuffled_mlp, shuffle_pixels(x_test)) == y_test).mean()

    shuffled_cnn = make_cnn()
    shuffled_cnn.load_state_dict(cnn_initial_state)
    train_classifier(shuffled_cnn, shuffle_pixels(x_train), y_train, EPOCHS)
    shuffled_cnn_accuracy = (predict(shuffled_cnn, shuffle_pixels(x_test)) == y_test).mean()
    same_predictions = np.mean(predict(mlp, x_test) == predict(shuffled_mlp, shuffle_pixels(x_test)))
    unshuffled_weight = np.empty_like(mlp[1].weight.data)
    unshuffled_weight[:, permutation] = shuffled_mlp[1].weight.data
    print(f"after training: first-layer weights differ by up to {np.abs(unshuffled_weight - mlp[1].weight.data).max():.1e}; "
          f"the two MLPs predict the same digit for {same_predictions:.1%} of the test images")
    print(f"{'':5} {'pixels in place':>16} {'pixels shuffled':>16}")
    print(f"{'MLP':5} {mlp_accuracy:>16.1%} {shuffled_mlp_accuracy:>16.1%}")
    print(f"{'CNN':5} {cnn_accuracy:>16.1%} {shuffled_cnn_accuracy:>16.1%}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-inside", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 9. What the network learned
#
# **First-layer filters.** Each of the 16 filters of the first layer is a $3 \times 3$ pattern that
# the layer looks for everywhere. Many resemble edge detectors (a positive side next to a
# negative side): the same kind of filter that networks trained on photographs learn in their
# first layer.

# %% nbgrader={"grade": false, "grade_id": "filters", "locked": true, "schema_version": 3, "solution": false, "task": false}
first_filters = cnn[0].weight.data[:, 0]                     # (16, 3, 3)
fig, axes = plt.subplots(2, 8, figsize=(10, 2.8))
for ax, kernel in zip(axes.ravel(), first_filters):
    limit = np.abs(kernel).max()
    ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.axis("off")
fig.suptitle("the 16 learned filters of the first layer (red positive, blue negative)")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-feature-maps", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Feature maps of one digit.** The outputs of the first layer (after the ReLU) for one test
# image: each map lights up where its filter's pattern occurs.

# %% nbgrader={"grade": false, "grade_id": "feature-maps", "locked": true, "schema_version": 3, "solution": false, "task": false}
digit_index = 0
with no_grad():
    feature_maps = cnn[1](cnn[0](Tensor(x_test[digit_index:digit_index + 1]))).data[0]   # (16, 8, 8)
fig, axes = plt.subplots(2, 9, figsize=(11, 2.8))
axes[0, 0].imshow(data.x_test[digit_index, 0], cmap="gray_r")
axes[0, 0].set_title(f"digit {y_test[digit_index]}", fontsize=9)
axes[1, 0].axis("off")
for ax, feature_map in zip(np.concatenate([axes[0, 1:], axes[1, 1:]]), feature_maps):
    ax.imshow(feature_map, cmap="magma")
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("first-layer feature maps after the ReLU")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-mistakes", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Mistakes.** The test digits the CNN gets wrong, and the confusion matrix: row = true digit,
# column = predicted digit, so everything off the diagonal is a mistake.

# %% nbgrader={"grade": false, "grade_id": "mistakes", "locked": true, "schema_version": 3, "solution": false, "task": false}
cnn_predictions = predict(cnn, x_test)
wrong = np.flatnonzero(cnn_predictions != y_test)
confusion = np.bincount(10 * y_test + cnn_predictions, minlength=100).reshape(10, 10)

fig = plt.figure(figsize=(12, 4.2))
shown = wrong[:12]
for k, index in enumerate(shown):
    ax = fig.add_subplot(3, 8, 8 * (k // 4) + k % 4 + 1)
    ax.imshow(data.x_test[index, 0], cmap="gray_r")
    ax.set_title(f"{y_test[index]} taken for {cnn_predictions[index]}", fontsize=8)
    ax.axis("off")
ax = fig.add_subplot(1, 2, 2)
ax.imshow(confusion, cmap="Blues")
for i in range(10):
    for j in range(10):
        if confusion[i, j]:
            ax.text(j, i, confusion[i, j], ha="center", va="center",
                    color="white" if confusion[i, j] > confusion.max() / 2 else "black", fontsize=8)
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_title(f"confusion matrix ({len(wrong)} mistakes out of {len(y_test)})")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-templates", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **A linear classifier's templates.** Before convolutions, recall the lecture's picture of the
# simplest classifier, scores $= W x + b$: row $k$ of $W$ is multiplied with the image, so it is a
# **template** of class $k$, and the score measures how well the image matches it. Red pixels
# raise the class's score where the image has ink, blue ones lower it: the 0 is a red ring around
# a blue centre. The templates stress what tells the classes apart rather than draw average
# digits, and one template per class must cover every way of writing that digit; the CNN
# instead composes many small patterns found anywhere in the image.

# %% nbgrader={"grade": false, "grade_id": "templates", "locked": true, "schema_version": 3, "solution": false, "task": false}
manual_seed(0)
linear_classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
train_classifier(linear_classifier, x_train, y_train, EPOCHS, lr=0.05)
linear_accuracy = (predict(linear_classifier, x_test) == y_test).mean()
templates = linear_classifier[1].weight.data.reshape(10, 8, 8)
fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
for digit, (ax, template) in enumerate(zip(axes, templates)):
    limit = np.abs(template).max()
    ax.imshow(template, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(str(digit))
    ax.axis("off")
fig.suptitle(f"rows of W of a linear classifier (test accuracy {linear_accuracy:.1%})", y=1.08)
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-yours", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 10. The same CNN with your layers
#
# Now the CNN again, with your `Conv2dFunction` and `MaxPool2dFunction` in place of the library's
# layers: same initial weights, same mini-batches. If your layers are right, the two runs start
# out the same up to float32 rounding (sums taken in another order differ in the last digits).
# Over hundreds of steps these tiny differences grow, as they do between any two implementations,
# but both networks end up about equally good.

# %% nbgrader={"grade": false, "grade_id": "yours", "locked": true, "schema_version": 3, "solution": false, "task": false}
class MyConv2d(nn.Conv2d):
    """nn.Conv2d's parameters, your convolution."""

    def forward(self, x):
        return Conv2dFunction.apply(x, self.weight, self.bias, self.stride, self.padding)


class MyMaxPool2d(nn.MaxPool2d):
    """nn.MaxPool2d's settings, your pooling."""

    def forward(self, x):
        return MaxPool2dFunction.apply(x, self.kernel_size, self.stride or self.kernel_size)


my_cnn = make_cnn(conv=MyConv2d, pool=MyMaxPool2d)
my_cnn.load_state_dict(cnn_initial_state)
started = time.perf_counter()
my_losses = train_classifier(my_cnn, x_train, y_train, EPOCHS)
my_seconds = time.perf_counter() - started
my_accuracy = (predict(my_cnn, x_test) == y_test).mean()
print(f"your layers: test accuracy {my_accuracy:.1%} in {my_seconds:.1f} s "
      f"(course.nn: {cnn_accuracy:.1%} in {cnn_seconds:.1f} s)")
first_steps = min(10, len(my_losses))
print(f"largest difference of the losses in the first {first_steps} mini-batches: "
      f"{np.max(np.abs(np.subtract(my_losses[:first_steps], cnn_losses[:first_steps]))):.1e}")

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(np.arange(len(cnn_losses)) / batches_per_epoch, cnn_losses, lw=0.8, label="course.nn")
ax.plot(np.arange(len(my_losses)) / batches_per_epoch, my_losses, lw=0.8, ls="--", label="your layers")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("mini-batch loss")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-inpainting", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 11. Filling in missing pixels
#
# The lecture's inpainting example: hide a $4 \times 4$ square of every digit, and train a network
# to output the **complete** digit, with the squared loss between its output and the true image.
# The training pairs are free: any image, with a random square removed, and the image itself.
# The input is the masked image together with the mask (1 = pixel seen, 0 = hidden), so that the
# network knows which pixels are missing; here the network is an MLP with one hidden layer.
#
# Two things differ from the lecture. The lecture minimises $\tfrac12 \lVert \text{output} -
# \text{image} \rVert^2$ summed over the batch; `F.mse_loss` takes the **mean** over the batch's
# $64 B$ pixels, which is the same loss divided by the constant $64 B / 2$ (checked below): the same
# minimum, and gradients scaled by that constant. And the lecture takes plain SGD steps, while
# this cell uses **Adam**, which is insensitive to that constant (it divides each gradient by its
# running size) and gets a good inpainter in 30 epochs without tuning a learning rate.

# %% nbgrader={"grade": false, "grade_id": "inpainting", "locked": true, "schema_version": 3, "solution": false, "task": false}
def random_square_masks(count, size, rng):
    """count masks of shape (8, 8): 1 everywhere except a size x size square of 0 at a random place."""
    masks = np.ones((count, 8, 8), dtype=np.float32)
    tops, lefts = rng.integers(0, 8 - size + 1, count), rng.integers(0, 8 - size + 1, count)
    for mask, top, left in zip(masks, tops, lefts):
        mask[top:top + size, left:left + size] = 0
    return masks


def inpainting_inputs(images, masks):
    """(N, 8, 8) images and masks -> (N, 128): the masked image and the mask, side by side."""
    return np.concatenate([(images * masks).reshape(len(images), 64), masks.reshape(len(masks), 64)], axis=1)


clean_train, clean_test = data.x_train[:, 0], data.x_test[:, 0]        # (N, 8, 8) in [0, 1]
mask_rng = np.random.default_rng(0)
manual_seed(0)
inpainter = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 64))
inpainting_optimizer = optim.Adam(inpainter.parameters(), lr=3e-3)
for epoch in range(2 if GRADING else 30):
    masks = random_square_masks(len(clean_train), 4, mask_rng)      # new holes in every epoch
    loader = DataLoader(inpainting_inputs(clean_train, masks), clean_train.reshape(-1, 64), 128, seed=epoch)
    for inputs, targets in loader:
        loss = F.mse_loss(inpainter(Tensor(inputs)), Tensor(targets))
        inpainting_optimizer.zero_grad()
        loss.backward()
        inpainting_optimizer.step()

batch_size = len(targets)
with no_grad():
    residual = inpainter(Tensor(inputs)) - Tensor(targets)
    half_squared = 0.5 * (residual * residual).sum().item()
    mean_squared = F.mse_loss(inpainter(Tensor(inputs)), Tensor(targets)).item()
print(f"last batch: ½‖output − image‖² = {half_squared:.4f}, mse_loss · 64·B/2 = {mean_squared * 64 * batch_size / 2:.4f}")

test_masks = random_square_masks(len(clean_test), 4, np.random.default_rng(1))
with no_grad():
    outputs = inpainter(Tensor(inpainting_inputs(clean_test, test_masks))).data.reshape(-1, 8, 8)
filled = test_masks * clean_test + (1 - test_masks) * np.clip(outputs, 0, 1)   # keep the pixels we saw
hidden = test_masks == 0
mean_image_error = np.mean((np.broadcast_to(clean_train.mean(axis=0), clean_test.shape) - clean_test)[hidden] ** 2)
print(f"squared error on the hidden pixels: network {np.mean((filled - clean_test)[hidden] ** 2):.4f}, "
      f"average training digit {mean_image_error:.4f}")

fig, axes = plt.subplots(3, 10, figsize=(11, 3.6))
for k in range(10):
    for row, image in enumerate([clean_test[k] * test_masks[k], filled[k], clean_test[k]]):
        axes[row, k].imshow(image, cmap="gray_r", vmin=0, vmax=1)
        axes[row, k].set_xticks([])
        axes[row, k].set_yticks([])
for row, label in enumerate(["input", "filled in", "truth"]):
    axes[row, 0].set_ylabel(label)
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-mnist", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 12. The real thing: MNIST
#
# MNIST has 60,000 training and 10,000 test digits of $28 \times 28$ pixels. If it is on this
# machine (or, in Colab, downloadable), the same CNN, now with a $7 \times 7$ map before the last
# layer, trains on a part of it for one epoch. Elsewhere `mnist()` says where it looked and how to
# get the files.

# %% nbgrader={"grade": false, "grade_id": "mnist", "locked": true, "schema_version": 3, "solution": false, "task": false}
MNIST_TRAIN_IMAGES = 20_000
if GRADING:
    print("skipped while grading")
else:
    try:
        mnist_data = mnist(download=IN_COLAB)
    except MNISTNotFoundError as error:
        mnist_data = None
        print("MNIST is not available here, so this part is skipped. What mnist() said:\n")
        print(error)
    if mnist_data is not None:
        mnist_mean, mnist_std = mnist_data.x_train.mean(), mnist_data.x_train.std()
        mnist_x_train = (mnist_data.x_train[:MNIST_TRAIN_IMAGES] - mnist_mean) / mnist_std
        mnist_y_train = mnist_data.y_train[:MNIST_TRAIN_IMAGES]
        mnist_x_test = (mnist_data.x_test - mnist_mean) / mnist_std
        manual_seed(0)
        mnist_cnn = make_cnn(image_size=28)
        started = time.perf_counter()
        train_classifier(mnist_cnn, mnist_x_train, mnist_y_train, epochs=1, lr=0.05, batch_size=64)
        mnist_seconds = time.perf_counter() - started
        mnist_accuracy = (predict(mnist_cnn, mnist_x_test) == mnist_data.y_test).mean()
        print(f"MNIST: trained on {len(mnist_x_train):,} images in {mnist_seconds:.1f} s, "
              f"test accuracy {mnist_accuracy:.1%} on {len(mnist_x_test):,} images")

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-explorer", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## 13. Explore convolutions yourself (not graded)
#
# Pick a digit and a $3 \times 3$ filter (or type your own), and watch the feature map after the
# convolution, after the ReLU and after pooling. The stride and padding sliders change the output
# size; the formula above is evaluated as you move them.

# %% nbgrader={"grade": false, "grade_id": "explorer", "locked": true, "schema_version": 3, "solution": false, "task": false}
if GRADING:
    print("The explorer is skipped while grading.")
else:
    from course.widgets import conv_explorer
    conv_explorer()

# %% [markdown] nbgrader={"grade": false, "grade_id": "md-summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Summary
#
# - A convolutional layer slides small filters over the image (local connectivity, weight
#   sharing): its parameters do not depend on the image size, and its outputs are feature maps.
#   Deep learning's "convolution" is a correlation (no flip).
# - Output size along an axis: $\lfloor (N + 2P - K) / S \rfloor + 1$.
# - im2col turns a convolution into one matrix product.
# - Backward: the bias and weight gradients **sum over all positions** (the weights are shared);
#   the input gradient sends each output's gradient back to its window, and the padding is cut off.
#   Equivalently, it is the correlation of dout, padded with $K - 1$ zeros, with the flipped filters
#   (a true, "full" convolution); stride 2 (down2) puts zeros between dout's entries first.
# - Max pooling's gradient goes to one position per window, the first maximum (ties included).
# - Parameter counts: $F (C K^2 + 1)$ per convolution, $M (D + 1)$ per fully-connected layer;
#   single-stream AlexNet has 62,378,344, most of them in its fully-connected layers; the
#   two-GPU network of the paper, whose conv2, conv4 and conv5 see only half the channels, has
#   60,965,224, the "60 million".
# - A small CNN beats an MLP of the same size on digits, because it uses the image's layout.
