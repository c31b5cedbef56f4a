# expect-flags: linear
# A correct answer that lets course.autograd do the linear layer's backward pass.

# %% linear
def linear_forward(x, W, b):
    return x @ W.T + b, (x, W, b)


def linear_backward(dout, cache):
    x, W, b = (Tensor(a, requires_grad=True) for a in cache)
    (x @ W.T + b).backward(Tensor(dout))
    return x.grad.data, W.grad.data, b.grad.data
