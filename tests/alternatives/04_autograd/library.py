# expect-flags: dag_backward
# A correct answer that lets course.autograd compute the DAG's gradients.

# %% dag_backward
def dag_backward(d3, cache):
    x0, W1, W2 = (Tensor(a.copy(), requires_grad=True) for a in cache[:3])
    x1 = (W1 @ x0).tanh()
    x3 = W1 @ (x0 * (W2 @ x1)) + x1
    x3.backward(Tensor(d3))
    return x0.grad.data, W1.grad.data, W2.grad.data
