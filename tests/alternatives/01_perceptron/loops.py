# Loops over points and weights; the XOR weights found by training, as the text offers.

# %% predict
def predict(X, w, b):
    y_hat = np.zeros(len(X))
    for n in range(len(X)):
        score = b
        for d in range(len(w)):
            score += X[n, d] * w[d]
        if score > 0:
            y_hat[n] = 1.0
    return y_hat

# %% train_perceptron
def train_perceptron(X, y, epochs=20, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    mistakes = []
    for epoch in range(epochs):
        count = 0
        for i in range(len(X)):
            error = y[i] - predict(X[i:i + 1], w, b)[0]
            if error != 0:
                w += lr * error * X[i]
                b += lr * error
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return w, b, mistakes

# %% xor_features
def xor_features(X):
    return np.array([[u, v, u * v] for u, v in X])

# %% xor_weights
w_xor, b_xor, _ = train_perceptron(xor_features(X_logic), y_xor, epochs=50)

# %% xor_mlp
def make_xor_mlp(hidden=8):
    layers = [nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 2)]
    return nn.Sequential(*layers)


def train_xor_mlp(model, X, y, steps=300, lr=0.05):
    opt = optim.Adam(model.parameters(), lr=lr)
    x = Tensor(X)                      # float64 inputs
    losses = []
    for step in range(steps):
        model.zero_grad()
        loss = F.cross_entropy(model(x), np.asarray(y))
        losses.append(float(loss.data))
        loss.backward()
        opt.step()
    return losses

# %% collapse_linear_layers
def collapse_linear_layers(W1, b1, W2, b2):
    K, H = W2.shape
    D = W1.shape[1]
    W = np.zeros((K, D))
    b = np.zeros(K)
    for k in range(K):
        b[k] = b2[k]
        for h in range(H):
            b[k] += W2[k, h] * b1[h]
            for d in range(D):
                W[k, d] += W2[k, h] * W1[h, d]
    return W, b
