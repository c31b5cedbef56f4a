"""The computation behind conv_gradient_explorer: which inputs an output's gradient reaches, which
outputs an input feeds, and where max pooling sends its gradient.

Every number comes from the library's own ops (course.nn.functional.conv2d and max_pool2d, and
the autograd engine's backward pass), on one image and one filter, so the explorer shows what
the library computes. numpy and course.autograd only; no widgets.
"""

import numpy as np

import course.nn.functional as F
from course.autograd import Tensor, enable_grad


def _as_image(image):
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"image must be one 2-d array (H, W), got shape {image.shape}")
    return image


def _check_position(name, position, shape):
    row, col = position
    if not (0 <= row < shape[0] and 0 <= col < shape[1]):
        raise ValueError(f"{name} {tuple(position)} lies outside the {shape[0]}x{shape[1]} grid; "
                         f"rows go from 0 to {shape[0] - 1}, columns from 0 to {shape[1] - 1}")


def output_shape(image_shape, kernel_shape, stride=1, padding=0):
    """(OH, OW) of the convolution, from the library's conv2d itself (raises if the filter does not fit)."""
    probe = F.conv2d(Tensor(np.zeros((1, 1) + tuple(image_shape))), Tensor(np.zeros((1, 1) + tuple(kernel_shape))),
                     stride=stride, padding=padding)
    return probe.shape[2:]


def feature_map(image, kernel, stride=1, padding=0):
    """The library's conv2d of one image (H, W) with one filter (KH, KW): an (OH, OW) array."""
    image, kernel = _as_image(image), np.asarray(kernel, dtype=float)
    return F.conv2d(Tensor(image[None, None]), Tensor(kernel[None, None]), stride=stride, padding=padding).data[0, 0]


def output_gradient(image, kernel, output, stride=1, padding=0):
    """d out[i, j] / d image: what the backward pass sends to the input for dout = one at `output`.

    Inputs: image (H, W), kernel (KH, KW), output (i, j), stride, padding.
    Returns an (H, W) array: the filter's weights on the window out[i, j] looked at (the part of
    the window over padding is cut off), 0 everywhere else.
    """
    image = _as_image(image)
    kernel = np.asarray(kernel, dtype=float)
    x = Tensor(image[None, None], requires_grad=True)
    with enable_grad():
        out = F.conv2d(x, Tensor(kernel[None, None]), stride=stride, padding=padding)
        _check_position("output", output, out.shape[2:])
        dout = np.zeros(out.shape)
        dout[0, 0][tuple(output)] = 1.0
        out.backward(Tensor(dout))
    return x.grad.data[0, 0]


def window_of(output, kernel_shape, stride=1, padding=0):
    """The window out[i, j] looks at, in the image's coordinates: (top, left, bottom, right), ends excluded.

    The window starts at (i * stride - padding, j * stride - padding); it may reach into the padding
    (negative or too large indices), which holds zeros.
    """
    top, left = output[0] * stride - padding, output[1] * stride - padding
    return top, left, top + kernel_shape[0], left + kernel_shape[1]


def input_reach(image_shape, kernel, pixel, stride=1, padding=0):
    """The outputs that input pixel x[r, s] feeds, and through which weight.

    The convolution is linear in its input, so convolving the image that is 1 at `pixel` and 0
    elsewhere gives, at every output, d out[i, j] / d x[r, s]: the weight that links them.
    Convolving the same one-pixel image with the filter of the weights' numbers 1, 2, ... tells
    which weight it is.

    Returns (weights, which): two (OH, OW) arrays; weights[i, j] = d out[i, j] / d x[r, s], and
    which[i, j] = p * KW + q for the weight w[p, q] linking them, -1 for outputs that do not see
    the pixel.
    """
    kernel = np.asarray(kernel, dtype=float)
    _check_position("input pixel", pixel, image_shape)
    one_pixel = np.zeros((1, 1) + tuple(image_shape))
    one_pixel[0, 0][tuple(pixel)] = 1.0
    numbers = np.arange(1.0, kernel.size + 1).reshape((1, 1) + kernel.shape)
    weights = F.conv2d(Tensor(one_pixel), Tensor(kernel[None, None]), stride=stride, padding=padding).data[0, 0]
    labels = F.conv2d(Tensor(one_pixel), Tensor(numbers), stride=stride, padding=padding).data[0, 0]
    return weights, np.rint(labels).astype(int) - 1


def pool_routing(feature_map, size=2):
    """Where size x size max pooling (stride size) sends each window's gradient, and the ties.

    The gradient comes from the library's backward pass of max_pool2d with every upstream
    gradient 1. Returns (routed, tied): two boolean arrays of the map's shape; routed marks the
    one position per window that gets the window's gradient (the first maximum in reading
    order), tied marks the other positions that equal their window's maximum and get nothing.
    Rows and columns beyond the last whole window are in no window (both False there).
    """
    feature_map = _as_image(feature_map)
    x = Tensor(feature_map[None, None], requires_grad=True)
    with enable_grad():
        pooled = F.max_pool2d(x, size, size)
        pooled.backward(Tensor(np.ones(pooled.shape)))
    routed = x.grad.data[0, 0] != 0
    oh, ow = pooled.shape[2:]
    window_max = np.full(feature_map.shape, np.nan)
    window_max[:oh * size, :ow * size] = np.kron(pooled.data[0, 0], np.ones((size, size)))
    tied = (feature_map == window_max) & ~routed
    return routed, tied
