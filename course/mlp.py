"""A small classifier of 2-d points: a multilayer perceptron built and trained with course.nn/optim.

The network maps the chosen input features of a point (x1, x2) through hidden layers to two
logits (class 0, class 1) and is trained on the cross-entropy loss with plain SGD on
mini-batches. One `step()` is one epoch: one pass over the training points.
decision_boundary_playground trains one of these. Its initial weights and its shuffling come
from generators of its own, seeded by `seed` alone: it never reseeds course.autograd's generator
(course.autograd.manual_seed), and that generator does not change what it does.
"""

import numpy as np

from course import nn, optim
from course.autograd import Tensor, no_grad
from course.data import features
from course.nn import functional as F

ACTIVATIONS = ("ReLU", "tanh", "sigmoid", "linear")
MAX_LAYERS = 6
MAX_WIDTH = 64


def parse_hidden(text):
    """Read hidden-layer widths from text such as "8,8" (two layers of 8 units).

    An empty text means no hidden layer (the network is then a linear classifier).
    Returns a tuple of positive ints; raises ValueError naming the problem otherwise.
    """
    parts = [part.strip() for part in str(text).replace(";", ",").split(",")]
    if parts == [""]:
        return ()
    widths = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= MAX_WIDTH:
            raise ValueError(
                f"hidden layers: {part!r} is not a width; write comma-separated integers "
                f"from 1 to {MAX_WIDTH}, like '8,8' (empty for no hidden layer)"
            )
        widths.append(int(part))
    if len(widths) > MAX_LAYERS:
        raise ValueError(f"hidden layers: at most {MAX_LAYERS} layers, got {len(widths)}")
    return tuple(widths)


def build_mlp(n_inputs, hidden=(4,), activation="tanh", n_outputs=2, seed=0):
    """A multilayer perceptron as a course.nn.Sequential.

    Inputs:
    - n_inputs: number of input features D.
    - hidden: widths of the hidden layers, e.g. (8, 8); () gives a single Linear layer.
    - activation: one of ACTIVATIONS ("ReLU", "tanh", "sigmoid", "linear" = none).
    - n_outputs: number of outputs (logits).
    - seed: seed of the weight initialisation.

    Returns a course.nn.Sequential mapping (N, D) to (N, n_outputs).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    make_activation = {"ReLU": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": None}[activation]
    rng = np.random.default_rng(seed)
    widths = [n_inputs, *hidden, n_outputs]
    layers = []
    for width_in, width_out in zip(widths, widths[1:]):
        if layers and make_activation is not None:
            layers.append(make_activation())
        layer = nn.Linear(width_in, width_out)
        # nn.Linear's initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from our generator
        bound = 1.0 / np.sqrt(width_in)
        for parameter in layer.parameters():
            parameter.data[...] = rng.uniform(-bound, bound, size=parameter.shape)
        layers.append(layer)
    return nn.Sequential(*layers)


class BoundaryTrainer:
    """Trains a build_mlp network to classify 2-d points; keeps the loss history.

    Inputs:
    - X_train, X_test: arrays of shape (N_train, 2) and (N_test, 2), the points.
    - y_train, y_test: int arrays of shape (N_train,) and (N_test,), labels 0 or 1.
    - feature_names: input features (keys of course.data.FEATURES).
    - hidden, activation, seed: as in build_mlp.
    - lr: learning rate of SGD; batch_size: points per update.

    Attributes: model, train_losses and test_losses (lists; entry e is the loss after e epochs),
    epoch (number of epochs trained).
    """

    def __init__(self, X_train, y_train, X_test, y_test, feature_names=("x1", "x2"),
                 hidden=(4,), activation="tanh", lr=0.03, batch_size=10, seed=0):
        self.feature_names = tuple(feature_names)
        self.inputs_train = features(X_train, self.feature_names).astype(np.float32)
        self.inputs_test = features(X_test, self.feature_names).astype(np.float32)
        self.y_train = np.asarray(y_train, dtype=np.int64)
        self.y_test = np.asarray(y_test, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.seed = seed
        self.model = build_mlp(len(self.feature_names), hidden, activation, seed=seed)
        self._initial = [p.data.copy() for p in self.model.parameters()]
        self.lr = lr
        self.reset()

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        if not value > 0:
            raise ValueError(f"the learning rate must be > 0, got {value!r}")
        self._lr = float(value)
        self.optimizer = optim.SGD(self.model.parameters(), lr=self._lr)

    def reset(self):
        """Restore the initial weights and forget the training history."""
        for parameter, initial in zip(self.model.parameters(), self._initial):
            parameter.data[...] = initial
        self._shuffle = np.random.default_rng(self.seed)
        self.epoch = 0
        self.train_losses = [self.loss(self.inputs_train, self.y_train)]
        self.test_losses = [self.loss(self.inputs_test, self.y_test)]

    def loss(self, inputs, labels):
        """Mean cross-entropy of the model on inputs (N, D) with labels (N,), as a float."""
        with no_grad():
            return F.cross_entropy(self.model(Tensor(inputs)), labels).item()

    def step(self):
        """Train one epoch (shuffled mini-batches, one SGD update each); returns the train loss after it."""
        order = self._shuffle.permutation(len(self.y_train))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            loss = F.cross_entropy(self.model(Tensor(self.inputs_train[batch])), self.y_train[batch])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.epoch += 1
        self.train_losses.append(self.loss(self.inputs_train, self.y_train))
        self.test_losses.append(self.loss(self.inputs_test, self.y_test))
        return self.train_losses[-1]

    def train(self, epochs):
        """Train `epochs` epochs; returns the train loss after the last one."""
        for _ in range(int(epochs)):
            self.step()
        return self.train_losses[-1]

    def predict_proba(self, X):
        """Probability of class 1 for points X of shape (N, 2); returns an array of shape (N,)."""
        inputs = features(X, self.feature_names).astype(np.float32)
        with no_grad():
            probabilities = F.softmax(self.model(Tensor(inputs)), axis=-1)
        return probabilities.data[:, 1].astype(np.float64)

    def accuracy(self, X, y):
        """Share of the points X (N, 2) whose predicted class (p >= 0.5) equals y (N,)."""
        return float(np.mean((self.predict_proba(X) >= 0.5) == np.asarray(y)))
