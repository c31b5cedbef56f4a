# One example at a time; sigmoid with boolean masks; softmax row by row. init_weights with rng.normal and a loop over the layers.

# %% linear
def linear_forward(x, W, b):
    out = np.array([W @ x_n + b for x_n in x])
    cache = (x, W, b)
    return out, cache


def linear_backward(dout, cache):
    x, W, b = cache
    dx = np.zeros(x.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(b.shape)
    for n in range(x.shape[0]):
        dx[n] = W.T @ dout[n]
        dW += np.outer(dout[n], x[n])
        db += dout[n]
    return dx, dW, db

# %% relu
def relu_forward(s):
    out = np.where(s > 0, s, 0.0)
    cache = s
    return out, cache


def relu_backward(dout, cache):
    s = cache
    ds = dout * np.where(s >= 0, 1.0, 0.0)
    return ds

# %% sigmoid
def sigmoid_forward(s):
    s = np.asarray(s, dtype=np.float64)
    out = np.empty_like(s)
    positive = s >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-s[positive]))
    e = np.exp(s[~positive])
    out[~positive] = e / (1.0 + e)
    cache = out
    return out, cache


def sigmoid_backward(dout, cache):
    out = cache
    ds = dout * out * (1.0 - out)
    return ds

# %% tanh
def tanh_forward(s):
    out = np.tanh(s)
    cache = s
    return out, cache


def tanh_backward(dout, cache):
    s = cache
    ds = dout * (1.0 - np.tanh(s) ** 2)
    return ds

# %% mse
def mse_forward(y_hat, y):
    n = y_hat.shape[0]
    loss = 0.0
    for i in range(n):
        loss += 0.5 * np.sum((y_hat[i] - y[i]) ** 2)
    loss = loss / n
    cache = (y_hat, y)
    return loss, cache


def mse_backward(dout, cache):
    y_hat, y = cache
    dy_hat = np.zeros(y_hat.shape)
    for i in range(y_hat.shape[0]):
        dy_hat[i] = dout * (y_hat[i] - y[i]) / y_hat.shape[0]
    return dy_hat

# %% softmax_ce
def softmax_cross_entropy_forward(scores, y):
    n = scores.shape[0]
    probs = np.zeros(scores.shape)
    loss = 0.0
    for i in range(n):
        row = scores[i] - np.max(scores[i])
        exps = np.exp(row)
        probs[i] = exps / exps.sum()
        loss -= row[y[i]] - np.log(exps.sum())
    loss /= n
    cache = (probs, y)
    return loss, cache


def softmax_cross_entropy_backward(dout, cache):
    probs, y = cache
    n = probs.shape[0]
    dscores = np.zeros(probs.shape)
    for i in range(n):
        dscores[i] = probs[i]
        dscores[i, y[i]] -= 1.0
    return dout * dscores / n

# %% mlp_backward
def mlp_backward(dscores, cache, sigma_prime):
    L = len(cache)
    grads = []
    x_prev, s, W = cache[L - 1]
    ds = dscores                                  # the last layer has no activation
    grads.append((ds.T @ x_prev, ds.sum(axis=0)))
    dx = ds @ W
    for l in range(L - 2, -1, -1):
        x_prev, s, W = cache[l]
        ds = dx * sigma_prime(s)
        grads.append((ds.T @ x_prev, ds.sum(axis=0)))
        dx = ds @ W
    grads.reverse()
    return dx, grads

# %% train_mlp
def sgd_step(params, grads, lr):
    for i in range(len(params)):
        W, b = params[i]
        dW, db = grads[i]
        W[...] = W - lr * dW
        np.subtract(b, lr * db, out=b)


def train_mlp(params, loss_and_grads, x, y, lr, epochs, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    N = len(x)
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(N)
        start = 0
        while start < N:
            idx = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[idx], y[idx])
            sgd_step(params, grads, lr)
            losses.append(float(loss))
            start += batch_size
    return losses

# %% init_weights
def init_weights(sizes, scheme, rng):
    if scheme != "xavier" and scheme != "he":
        raise ValueError("unknown scheme: " + str(scheme))
    params = []
    for l in range(1, len(sizes)):
        fan_in = sizes[l - 1]
        fan_out = sizes[l]
        if scheme == "xavier":
            variance = 2.0 / (fan_in + fan_out)
        else:
            variance = 2.0 / fan_in
        W = rng.normal(0.0, np.sqrt(variance), size=(fan_out, fan_in))
        b = np.zeros(fan_out)
        params.append((W, b))
    return params
