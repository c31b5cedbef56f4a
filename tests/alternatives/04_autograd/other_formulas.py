# Jacobians as diagonal matrices, columns from the identity, an iterative DFS with iterators,
# gradients gathered in a dict, einsum, ctx attributes, a float mask for the tie rule.

# %% dag_backward
def dag_backward(d3, cache):
    x0, W1, W2, x1, u, x2 = cache
    d2 = W1.T @ d3
    du = np.diag(x0) @ d2
    d1 = d3 + W2.T @ du                       # both paths into x1 add up
    da = np.diag(1.0 - x1 ** 2) @ d1
    dx0 = np.diag(u) @ d2 + W1.T @ da         # x0 is used twice
    dW1 = d3[:, None] * x2[None, :] + da[:, None] * x0[None, :]
    dW2 = du[:, None] * x1[None, :]
    return dx0, dW1, dW2

# %% numerical_jacobian
def numerical_jacobian(f, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64).copy()
    steps = np.eye(x.size) * eps
    J = np.column_stack([(np.asarray(f(x + e), dtype=np.float64) - np.asarray(f(x - e), dtype=np.float64))
                         / (2 * eps) for e in steps])
    return J

# %% topological_order
def topological_order(root):
    order, visited = [], {root}
    stack = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in visited:
                visited.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:                                   # all parents placed: the node can follow them
            stack.pop()
            order.append(node)
    return order

# %% backward
def backward(root, order=None):
    if order is None:
        order = topological_order(root)
    grads = {node: 0.0 for node in order}
    grads[root] = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads):
            grads[parent] += local * grads[node]
    for node in order:
        node.grad = grads[node]

# %% multiply
class Multiply(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.x, ctx.y = x, y
        return x * y

    @staticmethod
    def backward(ctx, grad):
        return ctx.y * grad, ctx.x * grad

# %% exp
class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.out = np.exp(x)
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        return np.multiply(grad, ctx.out)

# %% matmul
class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.einsum("nk,km->nm", a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return np.einsum("nm,km->nk", grad, b), np.einsum("nk,nm->km", a, grad)

# %% maximum
class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        first = (a >= b).astype(a.dtype)
        ctx.save_for_backward(first)
        return first * a + (1 - first) * b

    @staticmethod
    def backward(ctx, grad):
        (first,) = ctx.saved_tensors
        return grad * first, grad * (1 - first)

# %% second_derivative
def second_derivative(f, x):
    point = Tensor(np.array([x], dtype=np.float64).reshape(()), requires_grad=True)
    slope = grad(f(point), point, create_graph=True)[0]
    if not slope.requires_grad:
        return 0.0
    return grad(slope, point)[0].item() * 1.0
