"""The computation behind conv_explorer: 3x3 filters, the feature maps of one image, the output size.

The convolution and the pooling are the library's (course.nn.functional), on one image and one
filter: a cross-correlation (the filter is not flipped), as in the lectures.
"""

import numpy as np

from course.autograd import Tensor
from course.nn import functional as F

KERNELS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "blur": [[1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9]],
    "sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}
KERNEL_LABELS = {
    "identity": "identity",
    "blur": "blur (mean of the window)",
    "sobel x": "Sobel x (vertical edges)",
    "sobel y": "Sobel y (horizontal edges)",
    "sharpen": "sharpen",
    "custom": "custom (edit the boxes)",
}
POOLINGS = ("max", "average", "none")


def kernel_named(name):
    """A copy of a preset filter: float array of shape (3, 3). Raises ValueError for unknown names."""
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; choose one of {', '.join(KERNELS)} "
                         "or pass a 3x3 array of numbers")
    return np.array(KERNELS[name], dtype=float)


def preset_of(kernel):
    """The name of the preset equal to kernel (up to rounding), or "custom"."""
    kernel = np.asarray(kernel, dtype=float)
    for name, values in KERNELS.items():
        if kernel.shape == (3, 3) and np.allclose(kernel, values, rtol=0, atol=1e-9):
            return name
    return "custom"


def as_kernel(kernel):
    """A preset name or a 3x3 array-like -> float array of shape (3, 3), with a clear error otherwise."""
    if isinstance(kernel, str):
        return kernel_named(kernel)
    values = np.array(kernel, dtype=float)
    if values.shape != (3, 3) or not np.all(np.isfinite(values)):
        raise ValueError(f"a kernel must be a preset name or 3x3 finite numbers, got shape {values.shape}")
    return values


def window_count(n, k, stride=1, padding=0):
    """Number of places a k-wide window fits along an axis of n pixels padded on both sides.

    Counted directly: the window's first pixel can sit at 0, stride, 2 * stride, ... as long as
    the window still ends inside the padded axis. Raises ValueError when it never fits.
    """
    if stride < 1 or padding < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    last_start = n + 2 * padding - k
    if last_start < 0:
        raise ValueError(f"a {k}-wide window does not fit in {n} pixels with padding {padding}")
    return len(range(0, last_start + 1, stride))


def output_size_formula(n, k, stride=1, padding=0):
    """The output-size formula with the numbers filled in, e.g. "⌊(8 + 2·1 − 3) / 1⌋ + 1 = 8"."""
    return f"⌊({n} + 2·{padding} − {k}) / {stride}⌋ + 1 = {window_count(n, k, stride, padding)}"


def convolve(image, kernel, stride=1, padding=0):
    """Cross-correlation of one image with one filter.

    Inputs:
    - image: array of shape (H, W).
    - kernel: array of shape (KH, KW).
    - stride, padding: ints (zero padding on every side).

    Returns an array of shape (OH, OW), OH = window_count(H, KH, stride, padding), likewise OW:
    out[i, j] = sum over p, q of padded[i*stride + p, j*stride + q] * kernel[p, q].
    """
    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    window_count(image.shape[0], kernel.shape[0], stride, padding)   # raises if it does not fit
    window_count(image.shape[1], kernel.shape[1], stride, padding)
    out = F.conv2d(Tensor(image[None, None]), Tensor(kernel[None, None]), stride=stride, padding=padding)
    return out.data[0, 0]


def pool(feature_map, kind="max", size=2):
    """size x size pooling with stride size of a (H, W) map: "max", "average", or "none" (unchanged).

    Returns the pooled map, (H // size, W // size), or None when the map is smaller than one window.
    """
    if kind not in POOLINGS:
        raise ValueError(f"unknown pooling {kind!r}; choose one of {', '.join(POOLINGS)}")
    if kind == "none":
        return feature_map
    height, width = feature_map.shape
    if height < size or width < size:
        return None
    pooling = F.max_pool2d if kind == "max" else F.avg_pool2d
    return pooling(Tensor(np.asarray(feature_map, dtype=float)[None, None]), size).data[0, 0]


def feature_maps(image, kernel, stride=1, padding=0, pooling="max", pool_size=2):
    """One image through conv -> ReLU -> pooling.

    Inputs:
    - image: (H, W); kernel: (KH, KW); stride, padding: ints; pooling: "max", "average" or "none".

    Returns a dict of arrays: "padded" (H + 2p, W + 2p), "conv" (OH, OW), "relu" (OH, OW) and
    "pooled" (OH // pool_size, OW // pool_size), None when the map is smaller than a window.
    """
    image = np.asarray(image, dtype=float)
    conv = convolve(image, kernel, stride, padding)
    relu = np.maximum(conv, 0.0)
    return {"padded": np.pad(image, padding), "conv": conv, "relu": relu,
            "pooled": pool(relu, pooling, pool_size)}
