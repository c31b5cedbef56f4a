"""Modules, initialisation, optimisers; PyTorch as the oracle where installed."""
import numpy as np
import pytest

import course
from course import nn
from course.autograd import Tensor, use_kernels
from course.autograd.kernels import KERNELS
from course.nn import functional as F
from course.optim import SGD, Adam


@pytest.fixture(params=KERNELS)
def kernels(request):
    """Runs a test with the reference kernels and with the fast ones."""
    with use_kernels(request.param):
        yield request.param


def test_linear_init_is_kaiming_uniform():
    course.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w = layer.weight.data
    assert w.shape == (300, 400) and w.dtype == np.float32
    assert np.abs(w).max() <= bound
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=0.02)
    assert np.abs(layer.bias.data).max() <= bound


def test_conv_init_uses_fan_in_of_the_kernel():
    conv = nn.Conv2d(8, 16, 3)
    bound = 1 / np.sqrt(8 * 9)
    assert conv.weight.shape == (16, 8, 3, 3)
    assert np.abs(conv.weight.data).max() <= bound
    np.testing.assert_allclose(conv.weight.data.std(), bound / np.sqrt(3), rtol=0.1)


def test_manual_seed_makes_init_reproducible():
    course.manual_seed(5)
    a = nn.Linear(3, 2).weight.data.copy()
    course.manual_seed(5)
    np.testing.assert_array_equal(a, nn.Linear(3, 2).weight.data)


def test_parameters_state_dict_and_modes(kernels):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert model.num_parameters() == 2 * 9 + 2 + 32 * 3 + 3
    state = model.state_dict()
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    other.load_state_dict(state)
    x = np.random.default_rng(0).random((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(model(x).data, other(x).data)
    model.eval()
    assert not model.training and not model[3].training
    model.train()
    assert model[0].training
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict({**state, "3.bias": np.zeros(4)})


def test_zero_grad():
    model = nn.Linear(2, 1)
    model(np.ones((1, 2), dtype=np.float32)).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad()
    assert model.weight.grad is None


def test_sgd_momentum_weight_decay_by_hand():
    p = nn.Parameter(np.array([1.0, -2.0], dtype=np.float64))
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    expected, v = p.data.copy(), None
    for _ in range(3):
        opt.zero_grad()
        (p * p).sum().backward()
        g = 2 * expected + 0.01 * expected
        v = g if v is None else 0.9 * v + g
        expected = expected - 0.1 * v
        opt.step()
    np.testing.assert_allclose(p.data, expected)


@pytest.mark.torch
@pytest.mark.parametrize("make", [
    lambda lib, ps: lib.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    lambda lib, ps: lib.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3),
])
def test_optimisers_match_pytorch(make, kernels):
    torch = pytest.importorskip("torch")
    import course.optim as ours
    rng = np.random.default_rng(0)
    w0, x, y = rng.standard_normal((3, 4)), rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    w = nn.Parameter(w0.copy())
    tw = torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = make(ours, [w]), make(torch.optim, [tw])
    for _ in range(5):
        opt.zero_grad()
        F.mse_loss(Tensor(x) @ w.T, y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(torch.tensor(x) @ tw.T, torch.tensor(y)).backward()
        topt.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6, atol=1e-9)


def test_mlp_learns_xor(kernels):
    course.manual_seed(1)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(x).data.argmax(axis=1) == y).all()


def test_small_cnn_learns_digits_quickly(kernels):
    from course.data import digits
    course.manual_seed(0)
    data = digits()
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(3):
        for idx in np.array_split(rng.permutation(len(data.y_train)), 45):
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    accuracy = (model(data.x_test).data.argmax(axis=1) == data.y_test).mean()
    assert accuracy > 0.9


def test_training_steps_reuse_freed_memory():
    """After a warm-up, a conv step should not fault in fresh pages (see course.autograd.fast_kernels)."""
    import platform
    import resource
    from course.autograd import keep_freed_memory
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc: the allocator is left alone")
    assert keep_freed_memory()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    conv = nn.Conv2d(1, 32, 5)

    def step():
        conv.zero_grad()
        F.relu(conv(x)).sum().backward()

    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
    assert faults < 100, f"{faults} page faults per step: freed arrays go back to the kernel"
