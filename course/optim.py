"""Optimisers: they update parameters in place from their `.grad`, outside the graph."""
import numpy as np


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list: pass model.parameters()")
        if lr is None or lr <= 0:
            raise ValueError(f"the learning rate must be positive, got {lr}")
        self.lr = lr

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else p.grad * 0

    def _grads(self):
        """(parameter, gradient array) for every parameter that received a gradient."""
        return [(p, p.grad.data) for p in self.params if p.grad is not None]


class SGD(Optimizer):
    """Stochastic gradient descent: v = momentum * v + (g + weight_decay * w); w -= lr * v."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity = {}

    def step(self):
        for p, g in self._grads():
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                v = self.velocity.get(id(p))
                v = g.copy() if v is None else self.momentum * v + g
                self.velocity[id(p)] = v
                g = v
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; weight_decay adds weight_decay * w to g."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.t = 0
        self.m, self.v = {}, {}

    def step(self):
        self.t += 1
        c1 = 1 - self.beta1 ** self.t
        c2 = 1 - self.beta2 ** self.t
        for p, g in self._grads():
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            m = self.m.get(id(p), 0.0) * self.beta1 + (1 - self.beta1) * g
            v = self.v.get(id(p), 0.0) * self.beta2 + (1 - self.beta2) * g * g
            self.m[id(p)], self.v[id(p)] = m, v
            step = (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
            p.data -= step.astype(p.data.dtype, copy=False)
