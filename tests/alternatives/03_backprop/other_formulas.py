# einsum, sigmoid through tanh, the loss as log-sum-exp, caches of the inputs. init_weights with math.sqrt and a table of variances.

# %% linear
def linear_forward(x, W, b):
    out = np.einsum("nd,od->no", x, W) + b
    cache = (x, W)
    return out, cache


def linear_backward(dout, cache):
    x, W = cache
    dx = np.einsum("no,od->nd", dout, W)
    dW = np.einsum("no,nd->od", dout, x)
    db = np.einsum("no->o", dout)
    return dx, dW, db

# %% relu
def relu_forward(s):
    out = s * (s > 0)
    cache = s
    return out, cache


def relu_backward(dout, cache):
    s = cache
    return np.where(s < 0, 0.0, dout)

# %% sigmoid
def sigmoid_forward(s):
    out = 0.5 * (1.0 + np.tanh(0.5 * s))            # the same function, and nothing overflows
    cache = s
    return out, cache


def sigmoid_backward(dout, cache):
    sig = 0.5 * (1.0 + np.tanh(0.5 * cache))
    return dout * sig * (1.0 - sig)

# %% tanh
def tanh_forward(s):
    return np.tanh(s), s


def tanh_backward(dout, cache):
    return dout / np.cosh(cache) ** 2

# %% mse
def mse_forward(y_hat, y):
    loss = np.mean(np.sum((y_hat - y) ** 2, axis=1)) / 2
    cache = (y_hat, y)
    return loss, cache


def mse_backward(dout, cache):
    y_hat, y = cache
    return dout * (y_hat - y) / len(y_hat)

# %% softmax_ce
def softmax_cross_entropy_forward(scores, y):
    m = scores.max(axis=1, keepdims=True)
    log_sum_exp = m[:, 0] + np.log(np.exp(scores - m).sum(axis=1))
    loss = np.mean(log_sum_exp - scores[np.arange(len(y)), y])
    cache = (scores, y)
    return loss, cache


def softmax_cross_entropy_backward(dout, cache):
    scores, y = cache
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    one_hot = np.eye(scores.shape[1])[y]
    return dout * (p - one_hot) / scores.shape[0]

# %% mlp_backward
def mlp_backward(dscores, cache, sigma_prime):
    grads = []
    dx = dscores
    for l in range(len(cache) - 1, -1, -1):
        x_prev, s, W = cache[l]
        ds = dx if l == len(cache) - 1 else sigma_prime(s) * dx
        grads.insert(0, (np.einsum("ni,nj->ij", ds, x_prev), np.sum(ds, axis=0)))
        dx = np.einsum("ni,ij->nj", ds, W)
    return dx, grads

# %% train_mlp
def sgd_step(params, grads, lr):
    for (W, b), (dW, db) in zip(params, grads):
        W -= lr * dW
        b -= lr * db


def train_mlp(params, loss_and_grads, x, y, lr, epochs, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    losses = []
    n_batches = int(np.ceil(len(x) / batch_size))
    for _ in range(epochs):
        shuffled = rng.permutation(len(x))
        for k in range(n_batches):
            batch = shuffled[k * batch_size:(k + 1) * batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])
            losses.append(float(loss))
            sgd_step(params, grads, lr)
    return losses

# %% init_weights
import math

VARIANCE = {"xavier": lambda n_in, n_out: 2 / (n_in + n_out), "he": lambda n_in, n_out: 2 / n_in}


def init_weights(sizes, scheme, rng):
    if scheme not in VARIANCE:
        raise ValueError(f"unknown initialisation {scheme!r}, use one of {list(VARIANCE)}")
    params = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        W = math.sqrt(VARIANCE[scheme](n_in, n_out)) * rng.standard_normal(size=(n_out, n_in))
        params.append((W, np.zeros_like(W[:, 0])))
    return params
