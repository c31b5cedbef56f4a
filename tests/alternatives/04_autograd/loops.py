# Index loops for the VJPs, a Jacobian column by column in a float64 copy, Kahn's algorithm,
# an Exp that saves its input, and the second derivative through .backward(create_graph=True).

# %% dag_backward
def dag_backward(d3, cache):
    x0, W1, W2, x1, u, x2 = cache
    n = len(x0)
    d2, d1 = np.zeros(n), np.array(d3, dtype=float)
    dW1, dW2 = np.zeros((n, n)), np.zeros((n, n))
    for i in range(n):                 # x3 = W1 x2 + x1
        for j in range(n):
            d2[j] += W1[i, j] * d3[i]
            dW1[i, j] += d3[i] * x2[j]
    du = d2 * x0                       # x2 = x0 * u
    dx0 = d2 * u
    for i in range(n):                 # u = W2 x1
        for j in range(n):
            d1[j] += W2[i, j] * du[i]
            dW2[i, j] = du[i] * x1[j]
    da = d1 * (1 - x1 * x1)            # x1 = tanh(a), a = W1 x0
    for i in range(n):
        for j in range(n):
            dx0[j] += W1[i, j] * da[i]
            dW1[i, j] += da[i] * x0[j]
    return dx0, dW1, dW2

# %% numerical_jacobian
def numerical_jacobian(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float64)          # a copy: the caller's x stays as it is
    columns = []
    for j in range(x.size):
        old = x[j]
        x[j] = old + eps
        up = np.array(f(x), dtype=np.float64)
        x[j] = old - eps
        down = np.array(f(x), dtype=np.float64)
        x[j] = old
        columns.append((up - down) / (2 * eps))
    J = np.array(columns).T
    return J

# %% topological_order
def topological_order(root):
    nodes, todo = {root}, [root]
    while todo:
        for parent in todo.pop().parents:
            if parent not in nodes:
                nodes.add(parent)
                todo.append(parent)
    users = {node: 0 for node in nodes}
    for node in nodes:
        for parent in set(node.parents):
            users[parent] += 1
    ready, backwards = [root], []
    while ready:
        node = ready.pop()
        backwards.append(node)
        for parent in set(node.parents):
            users[parent] -= 1
            if users[parent] == 0:
                ready.append(parent)
    return backwards[::-1]

# %% backward
def backward(root, order=None):
    if order is None:
        order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for i in range(len(order) - 1, -1, -1):
        node = order[i]
        for k in range(len(node.parents)):
            node.parents[k].grad += node.local_grads[k] * node.grad

# %% multiply
class Multiply(Function):
    """Elementwise product of two arrays of the same shape."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.multiply(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return np.multiply(grad, y), np.multiply(grad, x)

# %% exp
class Exp(Function):
    """Elementwise exponential."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.exp(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * np.exp(x)

# %% matmul
class MatMul(Function):
    """Matrix product of a (N, K) and a (K, M) array."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.dot(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return np.dot(grad, b.T), np.dot(a.T, grad)

# %% maximum
class Maximum(Function):
    """Elementwise maximum of two arrays of the same shape; ties go to the first argument."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * (a >= b), grad * (a < b)

# %% second_derivative
def second_derivative(f, x):
    x_t = Tensor(np.float64(x), requires_grad=True)
    f(x_t).backward(create_graph=True)
    first = x_t.grad
    if not first.requires_grad:
        return 0.0
    x_t.grad = None
    first.backward()
    return float(x_t.grad.item())
