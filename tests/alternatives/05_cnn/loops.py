# Positions counted one by one, manual zero padding, every sum as a loop, max pooling and its
# backward window by window; the full convolution as six loops over padded dout and the flipped
# filter; the Functions keep the forward's cache on ctx.

# %% output_size
def conv_output_size(n, k, stride=1, padding=0):
    count, start = 0, 0
    while start + k <= n + 2 * padding:
        count += 1
        start += stride
    if count == 0:
        raise ValueError(f"window {k} is larger than the padded input {n + 2 * padding}")
    return count

# %% conv_loops
def conv2d_forward_loops(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F_, _, KH, KW = w.shape
    x_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    x_pad[:, :, padding:padding + H, padding:padding + W] = x
    OH = conv_output_size(H, KH, stride, padding)
    OW = conv_output_size(W, KW, stride, padding)
    out = np.zeros((N, F_, OH, OW))
    for n in range(N):
        for f in range(F_):
            for i in range(OH):
                for j in range(OW):
                    total = b[f]
                    for c in range(C):
                        for p in range(KH):
                            for q in range(KW):
                                total += x_pad[n, c, i * stride + p, j * stride + q] * w[f, c, p, q]
                    out[n, f, i, j] = total
    return out

# %% conv_forward
def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F_, _, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH = (H + 2 * padding - KH) // stride + 1
    OW = (W + 2 * padding - KW) // stride + 1
    out = np.zeros((N, F_, OH, OW)) + b[None, :, None, None]      # float64 whatever the inputs
    for p in range(KH):                  # loops over the filter's offsets only, not over positions
        for q in range(KW):
            patch = x_pad[:, :, p:p + stride * OH:stride, q:q + stride * OW:stride]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, p, q])
    cache = (x, w, b, stride, padding)
    return out, cache

# %% conv_backward_input
def conv2d_backward_input(dout, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F_, _, KH, KW = w.shape
    dx_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    for n in range(N):
        for f in range(F_):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    dx_pad[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW] += dout[n, f, i, j] * w[f]
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    return dx

# %% conv_backward_weight
def conv2d_backward_weight(dout, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F_, _, KH, KW = w.shape
    x_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    x_pad[:, :, padding:padding + H, padding:padding + W] = x
    dw = np.zeros(w.shape)
    for n in range(N):
        for f in range(F_):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
    return dw

# %% conv_backward_bias
def conv2d_backward_bias(dout, cache):
    db = np.zeros(dout.shape[1])
    for f in range(dout.shape[1]):
        db[f] = np.sum(dout[:, f])
    return db

# %% conv_input_full
def conv_input_grad_full(dout, w):
    N, F_, OH, OW = dout.shape
    _, C, KH, KW = w.shape
    H, W = OH + KH - 1, OW + KW - 1
    dout_pad = np.zeros((N, F_, OH + 2 * (KH - 1), OW + 2 * (KW - 1)))      # zeros by hand
    dout_pad[:, :, KH - 1:KH - 1 + OH, KW - 1:KW - 1 + OW] = dout
    dx = np.zeros((N, C, H, W))
    for n in range(N):
        for c in range(C):
            for r in range(H):
                for s in range(W):
                    total = 0.0
                    for f in range(F_):
                        for p in range(KH):
                            for q in range(KW):
                                total += dout_pad[n, f, r + p, s + q] * w[f, c, KH - 1 - p, KW - 1 - q]
                    dx[n, c, r, s] = total
    return dx

# %% pool_forward
def max_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    cache = (x, size, stride)
    return out, cache

# %% pool_backward
def max_pool_backward(dout, cache):
    x, size, stride = cache
    N, C, OH, OW = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    p, q = divmod(int(np.argmax(window)), size)     # the first maximum, row by row
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx

# %% flatten
def flatten_forward(x):
    out = np.reshape(x, (x.shape[0], int(np.prod(x.shape[1:]))))
    cache = x
    return out, cache


def flatten_backward(dout, cache):
    dx = dout.reshape(cache.shape)
    return dx

# %% parameter_table
def parameter_table(layers, input_shape):
    table = []
    shape = tuple(input_shape)
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            filters, size, stride, padding = layer[1:]
            parameters = filters * shape[0] * size * size + filters
            shape = (filters, conv_output_size(shape[1], size, stride, padding),
                     conv_output_size(shape[2], size, stride, padding))
        elif kind == "pool":
            size, stride = layer[1:]
            parameters = 0
            shape = (shape[0], conv_output_size(shape[1], size, stride), conv_output_size(shape[2], size, stride))
        elif kind == "flatten":
            parameters = 0
            total = 1
            for d in shape:
                total *= d
            shape = (total,)
        elif kind == "fc":
            parameters = shape[0] * layer[1] + layer[1]
            shape = (layer[1],)
        else:
            parameters = 0
        table.append((shape, parameters))
    return table

# %% conv_function
class Conv2dFunction(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        out, cache = conv2d_forward(x, w, b, stride, padding)
        ctx.cache = cache
        return out

    @staticmethod
    def backward(ctx, dout):
        dx = conv2d_backward_input(dout, ctx.cache)
        dw = conv2d_backward_weight(dout, ctx.cache)
        db = conv2d_backward_bias(dout, ctx.cache)
        return dx, dw, db, None, None

# %% pool_function
class MaxPool2dFunction(Function):
    @staticmethod
    def forward(ctx, x, size, stride):
        ctx.save_for_backward(x)
        ctx.size, ctx.stride = size, stride
        out, _ = max_pool_forward(x, size, stride)
        return out

    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        return max_pool_backward(dout, (x, ctx.size, ctx.stride)), None, None
