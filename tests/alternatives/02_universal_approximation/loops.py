# One neuron at a time; knots and slopes in Python loops; the loss written out by hand.

# %% relu_sum
def relu_sum(x, slopes, offsets, weights):
    g = np.zeros(len(x))
    for w_i, b_i, v_i in zip(slopes, offsets, weights):
        g += v_i * np.maximum(0.0, w_i * x + b_i)
    return g

# %% relu_interpolant
def relu_interpolant(f, a, b, n):
    h = (b - a) / n
    points = np.array([a + k * h for k in range(n + 1)])
    values = f(points)
    slopes = [(values[k + 1] - values[k]) / h for k in range(n)]
    coefficients = [slopes[0]] + [slopes[k] - slopes[k - 1] for k in range(1, n)]
    return points[:n], np.array(coefficients), values[0]

# %% fit_relu_network
def fit_relu_network(x, y, width, steps=1000, lr=0.01, seed=0):
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1))
    opt = optim.Adam(model.parameters(), lr=lr)
    inputs = Tensor(np.reshape(x, (len(x), 1)))            # float64
    targets = Tensor(np.reshape(y, (len(y), 1)))
    losses = []
    for step in range(steps):
        error = model(inputs) - targets
        loss = (error * error).mean()
        losses.append(float(loss.item()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, losses
