# Floor division written with math.floor, im2col followed literally but finished with einsum,
# the input gradient with einsum per filter offset (also where the full convolution is asked for:
# the sum over outputs, no flip), pooling's backward with np.add.at, `match`.

# %% output_size
import math


def conv_output_size(n, k, stride=1, padding=0):
    padded = n + 2 * padding
    if padded < k:
        raise ValueError(f"the window ({k}) is larger than the padded input ({padded})")
    return math.floor((padded - k) / stride) + 1

# %% conv_loops
def conv2d_forward_loops(x, w, b, stride=1, padding=0):
    x_pad = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)], mode="constant")
    N, F_, KH, KW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    OH = (x_pad.shape[2] - KH) // stride + 1
    OW = (x_pad.shape[3] - KW) // stride + 1
    out = np.empty((N, F_, OH, OW))
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                window = x_pad[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
                out[n, :, i, j] = (window[None] * w).sum(axis=(1, 2, 3)) + b    # every filter at once
    return out

# %% conv_forward
def conv2d_forward(x, w, b, stride=1, padding=0):
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x_pad, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwpq,fcpq->nfhw", windows, w) + b[None, :, None, None]
    cache = (x, w, b, stride, padding)
    return out, cache

# %% conv_backward_input
def conv2d_backward_input(dout, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    KH, KW = w.shape[2:]
    OH, OW = dout.shape[2:]
    dx_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p:p + stride * OH:stride, q:q + stride * OW:stride] += \
                np.einsum("nfhw,fc->nchw", dout, w[:, :, p, q])
    return dx_pad[:, :, padding:padding + H, padding:padding + W]

# %% conv_backward_weight
def conv2d_backward_weight(dout, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    n_filters, _, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    OH, OW = windows.shape[2], windows.shape[3]
    rows = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * KH * KW)
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(N * OH * OW, n_filters)
    dw = (dout_rows.T @ rows).reshape(n_filters, C, KH, KW)      # the hint, as written
    return dw

# %% conv_backward_bias
def conv2d_backward_bias(dout, cache):
    return np.einsum("nfhw->f", dout)

# %% conv_input_full
def conv_input_grad_full(dout, w):
    # The sum over outputs (each output's gradient back to its window) instead of the flip: the same numbers.
    N, F_, OH, OW = dout.shape
    _, C, KH, KW = w.shape
    dx = np.zeros((N, C, OH + KH - 1, OW + KW - 1), dtype=np.result_type(dout, w))
    for p in range(KH):
        for q in range(KW):
            dx[:, :, p:p + OH, q:q + OW] += np.einsum("nfij,fc->ncij", dout, w[:, :, p, q])
    return dx

# %% pool_forward
def max_pool_forward(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    N, C, OH, OW = windows.shape[:4]
    out = windows.reshape(N, C, OH, OW, size * size).max(axis=-1)
    return out, (x, size, stride)

# %% pool_backward
def max_pool_backward(dout, cache):
    x, size, stride = cache
    N, C, OH, OW = dout.shape
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    first = windows.reshape(N, C, OH, OW, size * size).argmax(axis=-1)
    p, q = np.divmod(first, size)
    rows = np.arange(OH)[None, None, :, None] * stride + p
    cols = np.arange(OW)[None, None, None, :] * stride + q
    n_index = np.arange(N)[:, None, None, None]
    c_index = np.arange(C)[None, :, None, None]
    dx = np.zeros(x.shape)
    np.add.at(dx, (n_index, c_index, rows, cols), dout)      # overlapping windows add up
    return dx

# %% flatten
def flatten_forward(x):
    out = np.stack([example.ravel() for example in x])
    return out, x.shape


def flatten_backward(dout, cache):
    return np.reshape(dout, cache)

# %% parameter_table
def parameter_table(layers, input_shape):
    table = []
    shape = tuple(input_shape)
    for layer in layers:
        match layer:
            case ("conv", filters, size, stride, padding):
                c, h, w = shape
                parameters = (c * size * size + 1) * filters
                shape = (filters, conv_output_size(h, size, stride, padding), conv_output_size(w, size, stride, padding))
            case ("pool", size, stride):
                c, h, w = shape
                parameters = 0
                shape = (c, (h - size) // stride + 1, (w - size) // stride + 1)
            case ("relu",):
                parameters = 0
            case ("flatten",):
                parameters = 0
                shape = (math.prod(shape),)
            case ("fc", units):
                parameters = (shape[0] + 1) * units
                shape = (units,)
        table.append((shape, parameters))
    return table

# %% conv_function
class Conv2dFunction(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        ctx.save_for_backward(x, w, b)
        ctx.settings = (stride, padding)
        return conv2d_forward(x, w, b, stride, padding)[0]

    @staticmethod
    def backward(ctx, dout):
        cache = (*ctx.saved_tensors, *ctx.settings)
        grads = [gradient_of(dout, cache) for gradient_of in
                 (conv2d_backward_input, conv2d_backward_weight, conv2d_backward_bias)]
        return (*grads, None, None)

# %% pool_function
class MaxPool2dFunction(Function):
    @staticmethod
    def forward(ctx, x, size, stride):
        out, ctx.cache = max_pool_forward(x, size, stride)
        return out

    @staticmethod
    def backward(ctx, dout):
        return max_pool_backward(dout, ctx.cache), None, None
