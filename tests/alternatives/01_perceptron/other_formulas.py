# Other NumPy spellings; XOR weights reasoned out with a plane through the corner (1, 1).

# %% predict
def predict(X, w, b):
    return np.heaviside(X.dot(w) + b, 0.0)      # heaviside(0, 0) = 0: on the plane gives 0

# %% train_perceptron
def train_perceptron(X, y, epochs=20, lr=1.0):
    w, b = np.zeros(X.shape[1]), 0.0
    mistakes = []
    while len(mistakes) < epochs:
        wrong = 0
        for x_i, y_i in zip(X, y):
            score = np.dot(w, x_i) + b
            if y_i == 1 and score <= 0:
                w, b = w + lr * x_i, b + lr
                wrong += 1
            elif y_i == 0 and score > 0:
                w, b = w - lr * x_i, b - lr
                wrong += 1
        mistakes.append(wrong)
        if wrong == 0:
            break
    return w, b, mistakes

# %% xor_features
def xor_features(X):
    return np.hstack([X, X.prod(axis=1, keepdims=True)])

# %% xor_weights
# (0,0) -> b <= 0; (0,1), (1,0) -> w1 + b > 0, w2 + b > 0; (1,1) -> w1 + w2 + w3 + b <= 0.
b_xor = 0.0
w_xor = np.array([1.0, 1.0, -2.0])             # (1, 1) sits on the plane: score 0, label 0

# %% xor_mlp
def make_xor_mlp(hidden=8):
    model = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    return model


def train_xor_mlp(model, X, y, steps=300, lr=0.05):
    optimiser = optim.Adam(model.parameters(), lr=lr)
    inputs = Tensor(X.astype(np.float32))
    losses = []
    for _ in range(steps):
        scores = model(inputs)
        loss = F.cross_entropy(scores, y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses

# %% collapse_linear_layers
def collapse_linear_layers(W1, b1, W2, b2):
    W = np.einsum("kh,hd->kd", W2, W1)
    b = np.einsum("kh,h->k", W2, b1) + b2
    return W, b
