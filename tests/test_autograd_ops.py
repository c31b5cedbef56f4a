"""Every op's gradient against central finite differences in float64, on generated shapes
(broadcasting included), and against PyTorch when it is installed.

Every test runs twice: with the reference kernels and with the fast ones (see
course.autograd.kernels); the fixture below switches them for the whole module."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from course.autograd import Tensor, use_kernels
from course.autograd.kernels import KERNELS
from course.nn import functional as F

SETTINGS = settings(max_examples=20, deadline=None)


@pytest.fixture(autouse=True, scope="module", params=KERNELS)
def kernels(request):
    """Module-scoped (hypothesis refuses function-scoped fixtures around @given)."""
    with use_kernels(request.param):
        yield request.param


def test_the_kernels_fixture_switches_the_conv_implementation(kernels):
    from course.autograd import active_kernels
    assert active_kernels() == kernels
    out = F.conv2d(Tensor(np.ones((1, 1, 3, 3)), requires_grad=True), Tensor(np.ones((1, 1, 2, 2))))
    made_by = {"fast": "Conv2d", "reference": "Transpose"}[kernels]
    assert out.grad_fn.name == made_by


def finite_differences(fn, arrays, cotangent, eps=1e-6):
    """d(sum(fn(*arrays) * cotangent))/d(each array), by central differences (float64)."""
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            plus = np.sum(fn(*arrays) * cotangent)
            a[idx] = old - eps
            minus = np.sum(fn(*arrays) * cotangent)
            a[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def analytic(fn_t, arrays, cotangent):
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn_t(*tensors)
    out.backward(Tensor(cotangent))
    return out.data, [t.grad.data if t.grad is not None else np.zeros_like(t.data) for t in tensors]


def check(fn_t, *arrays, seed=0, rtol=1e-5, atol=1e-7):
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def fn_np(*xs):
        return fn_t(*[Tensor(x) for x in xs]).data

    out = fn_np(*arrays)
    cotangent = np.random.default_rng(seed).standard_normal(np.shape(out))
    value, got = analytic(fn_t, arrays, cotangent)
    assert value.dtype == np.float64
    expected = finite_differences(fn_np, arrays, cotangent)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == arrays[i].shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"input {i}")


def values(shape, low=-3.0, high=3.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64))


def away_from_zero(shape, low=0.3, high=3.0):
    return values(shape, low, high).map(lambda a: np.where(np.arange(a.size).reshape(a.shape) % 2, a, -a)
                                        if a.size else a)


def grid(offset):
    """Values k + offset for integers k: two grids with different offsets never tie."""
    return lambda shape: hnp.arrays(np.float64, shape, elements=st.integers(-3, 3).map(lambda k: k + offset))


def two_broadcastable(draw, elements):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    a, b = shapes.input_shapes
    first, second = elements if isinstance(elements, tuple) else (elements, elements)
    return draw(first(a)), draw(second(b))


def checkerboard(shape):
    return np.arange(int(np.prod(shape))).reshape(shape) % 2 == 0


BINARY = {
    "add": (lambda a, b: a + b, values),
    "sub": (lambda a, b: a - b, values),
    "mul": (lambda a, b: a * b, values),
    "div": (lambda a, b: a / b, away_from_zero),
    "pow": (lambda a, b: a ** b, lambda s: values(s, 0.5, 2.0)),
    "maximum": (F.maximum, (grid(0.25), grid(0.75))),
    "where": (lambda a, b: F.where(checkerboard(np.broadcast_shapes(a.shape, b.shape)), a, b), values),
}


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_ops_with_broadcasting(name, data):
    fn, elements = BINARY[name]
    check(fn, *two_broadcastable(data.draw, elements))


UNARY = {
    "neg": (lambda x: -x, values),
    "exp": (lambda x: x.exp(), values),
    "log": (lambda x: x.log(), lambda s: values(s, 0.2, 4.0)),
    "sqrt": (lambda x: x.sqrt(), lambda s: values(s, 0.2, 4.0)),
    "abs": (lambda x: x.abs(), away_from_zero),
    "tanh": (lambda x: x.tanh(), values),
    "sigmoid": (lambda x: x.sigmoid(), values),
    "relu": (lambda x: x.relu(), away_from_zero),
    "pow_scalar": (lambda x: x ** 3, values),
    "pow_fraction": (lambda x: x ** 1.5, lambda s: values(s, 0.2, 3.0)),
    "rpow": (lambda x: 2.0 ** x, values),
    "scalar_arith": (lambda x: (3 - x) * 2 / (x * x + 1) + 1, values),
    "softmax": (lambda x: F.softmax(x, axis=-1), values),
    "log_softmax": (lambda x: F.log_softmax(x, axis=-1), values),
    "T": (lambda x: x.T * 1.0, values),
    "flatten": (lambda x: x.flatten(), values),
}


@pytest.mark.parametrize("name", list(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary_ops(name, data):
    fn, elements = UNARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    check(fn, data.draw(elements(shape)))


@SETTINGS
@given(data=st.data(), op=st.sampled_from(["sum", "mean", "max", "min"]), keepdims=st.booleans())
def test_reductions(data, op, keepdims):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1)
                     | st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple))
    # distinct values, so that max/min have no ties (finite differences break at ties)
    x = np.array(data.draw(st.permutations(np.linspace(-3, 3, int(np.prod(shape)))))).reshape(shape)
    check(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), x)


@SETTINGS
@given(data=st.data())
def test_reshape_transpose_getitem(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=3, max_side=4))
    x = data.draw(values(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check(lambda t: t.transpose(*perm) * 2, x)
    check(lambda t: t.reshape(-1, shape[-1]) * 2, x)
    check(lambda t: t[1:, ..., ::2] * 2, x)
    rows = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=5)))
    check(lambda t: t[rows] * 3, x)          # advanced indexing: repeated rows add up


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (1, 3, 4))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_matmul(shapes, data):
    check(lambda a, b: a @ b, data.draw(values(shapes[0])), data.draw(values(shapes[1])))


@SETTINGS
@given(data=st.data())
def test_losses_and_linear(data):
    n, k = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 5))
    logits = data.draw(values((n, k)))
    targets = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    for reduction in ("mean", "sum", "none"):
        check(lambda z: F.cross_entropy(z, targets, reduction=reduction), logits)
    check(lambda p, t: F.mse_loss(p, t), logits, data.draw(values((n, k))))
    check(lambda x, w, b: F.linear(x, w, b), logits, data.draw(values((3, k))), data.draw(values((3,))))


@settings(max_examples=10, deadline=None)
@given(data=st.data(), stride=st.integers(1, 2), padding=st.integers(0, 2))
def test_conv2d(data, stride, padding):
    # up to 5 channels: im2col has one path for fewer than 4 channels and one for more
    n, c, f = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(kh, 6)), data.draw(st.integers(kw, 6))
    check(lambda x, wt, b: F.conv2d(x, wt, b, stride=stride, padding=padding),
          data.draw(values((n, c, h, w))), data.draw(values((f, c, kh, kw))), data.draw(values((f,))))


@settings(max_examples=10, deadline=None)
@given(data=st.data(), kernel=st.integers(1, 3), stride=st.integers(1, 3))
def test_pooling(data, kernel, stride):
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(kernel, 7)), data.draw(st.integers(kernel, 7))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).permutation(n * c * h * w)
    x = x.reshape(n, c, h, w) / 10.0                    # distinct values: no ties
    check(lambda t: F.max_pool2d(t, kernel, stride), x)
    check(lambda t: F.avg_pool2d(t, kernel, stride), x)


def reference_conv2d(x, w, b, stride, padding):
    """Plain loops: out[n, f, i, j] = sum_{c,u,v} xpad[n, c, i*s+u, j*s+v] w[f, c, u, v] + b[f]."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, c, h, wd = xp.shape
    f, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (3, 2)])
def test_conv2d_is_cross_correlation(stride, padding):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    got = F.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding).data
    np.testing.assert_allclose(got, reference_conv2d(x, w, b, stride, padding), rtol=1e-10, atol=1e-12)


# ---- against PyTorch ---------------------------------------------------------------------
TORCH_CASES = {
    "mul_broadcast": (lambda a, b: a * b, lambda t, a, b: a * b, [(2, 3), (3,)]),
    "div": (lambda a, b: a / (b * b + 1), lambda t, a, b: a / (b * b + 1), [(2, 3), (2, 1)]),
    "matmul_batched": (lambda a, b: a @ b, lambda t, a, b: a @ b, [(4, 2, 3), (3, 5)]),
    "tanh_sigmoid_exp": (lambda a: a.tanh() + a.sigmoid() * a.exp(),
                         lambda t, a: a.tanh() + a.sigmoid() * a.exp(), [(3, 4)]),
    "log_softmax": (lambda a: F.log_softmax(a, axis=1), lambda t, a: t.log_softmax(a, 1), [(3, 5)]),
    "cross_entropy": (lambda a: F.cross_entropy(a, np.array([0, 2, 1])),
                      lambda t, a: t.nn.functional.cross_entropy(a, t.tensor([0, 2, 1])), [(3, 4)]),
    "mean_keepdims": (lambda a: a.mean(axis=(0, 2), keepdims=True) * a,
                      lambda t, a: a.mean(dim=(0, 2), keepdim=True) * a, [(2, 3, 4)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
               lambda t, x, w, b: t.nn.functional.conv2d(x, w, b, stride=2, padding=1),
               [(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    "conv2d_many_channels": (lambda x, w, b: F.conv2d(x, w, b, padding=1),
                             lambda t, x, w, b: t.nn.functional.conv2d(x, w, b, padding=1),
                             [(2, 6, 5, 5), (3, 6, 3, 3), (3,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), lambda t, x: t.nn.functional.max_pool2d(x, 2), [(2, 3, 6, 5)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2), lambda t, x: t.nn.functional.avg_pool2d(x, 3, 2), [(2, 3, 7, 7)]),
    "getitem": (lambda x: x[np.array([0, 2, 0]), 1:], lambda t, x: x[t.tensor([0, 2, 0]), 1:], [(3, 4)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), lambda t, x, w, b: t.nn.functional.linear(x, w, b),
               [(5, 3), (2, 3), (2,)]),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_against_pytorch(name):
    torch = pytest.importorskip("torch")
    ours_fn, torch_fn, shapes = TORCH_CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours_fn(*ours), torch_fn(torch, *theirs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(ref.shape)
    out.backward(Tensor(cot))
    ref.backward(torch.tensor(cot))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.torch
def test_second_derivatives_against_pytorch():
    torch = pytest.importorskip("torch")
    from course.autograd import grad
    rng = np.random.default_rng(3)
    x0, w0, v0 = rng.standard_normal(4), rng.standard_normal((3, 4)), rng.standard_normal(4)

    def f(lib, x, w):
        return ((w @ x).tanh() ** 2).sum() + (x.exp() * x).sum()

    x, w = Tensor(x0.copy(), requires_grad=True), Tensor(w0.copy(), requires_grad=True)
    (gx,) = grad(f(None, x, w), x, create_graph=True)
    (hv,) = grad((gx * Tensor(v0)).sum(), x)                      # Hessian-vector product
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    (tgx,) = torch.autograd.grad(f(torch, tx, tw), tx, create_graph=True)
    (thv,) = torch.autograd.grad((tgx * torch.tensor(v0)).sum(), tx)
    np.testing.assert_allclose(gx.data, tgx.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(hv.data, thv.numpy(), rtol=1e-9)


def torch_version_of(name, torch):
    """The same function written for torch tensors (most lambdas above already are)."""
    special = {
        "maximum": lambda a, b: torch.maximum(a, b),
        "where": lambda a, b: torch.where(
            torch.tensor(checkerboard(tuple(torch.broadcast_shapes(a.shape, b.shape)))), a, b),
        "softmax": lambda x: torch.softmax(x, -1),
        "log_softmax": lambda x: torch.log_softmax(x, -1),
    }
    return special.get(name, {**BINARY, **UNARY}[name][0])


@pytest.mark.torch
@pytest.mark.parametrize("name", [n for n in {**BINARY, **UNARY} if n != "T"])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_ops_match_pytorch(name, data):
    torch = pytest.importorskip("torch")
    if name in BINARY:
        arrays = two_broadcastable(data.draw, BINARY[name][1])
    else:
        shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
        arrays = [data.draw(UNARY[name][1](shape))]
    ours = [Tensor(np.array(a), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    out = {**BINARY, **UNARY}[name][0](*ours)
    ref = torch_version_of(name, torch)(*theirs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = np.random.default_rng(0).standard_normal(ref.shape)
    out.backward(Tensor(cot))
    ref.backward(torch.tensor(cot))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)     # all-zero windows, as after ReLU
    F.max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0                                      # the top-left of each window
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)


@pytest.mark.torch
def test_max_pool_ties_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.maximum(np.random.default_rng(0).standard_normal((2, 3, 6, 6)), 0).round(1)
    ours = Tensor(x.copy(), requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    F.max_pool2d(ours, 2).sum().backward()
    torch.nn.functional.max_pool2d(theirs, 2).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


def unfold_fold_pairs(kernel, stride, padding):
    """(name, unfold, fold) of the column layouts: the reference's (C, KH, KW) rows, the fast
    kernels' (KH, KW, C) rows and their by-offset layout."""
    from course.autograd.convolution import Fold, Unfold
    from course.autograd.fast_kernels import FoldNHWC, UnfoldNHWC
    yield ("reference", lambda x: Unfold.apply(x, kernel, stride, padding),
           lambda y, shape: Fold.apply(y, shape, kernel, stride, padding))
    for by_offset in (False, True):
        yield (f"nhwc by_offset={by_offset}", lambda x, b=by_offset: UnfoldNHWC.apply(x, kernel, stride, padding, b),
               lambda y, shape, b=by_offset: FoldNHWC.apply(y, shape, kernel, stride, padding, b))


@pytest.mark.parametrize("channels,stride,padding", [(2, 1, 0), (5, 2, 1), (4, 1, 2)])
def test_unfold_and_fold_are_adjoint(channels, stride, padding):
    """<Unfold(x), y> = <x, Fold(y)> in every column layout: each is the other's backward."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, channels, 7, 6))
    for name, unfold, fold in unfold_fold_pairs((3, 2), (stride, stride), (padding, padding)):
        cols = unfold(Tensor(x)).data
        y = rng.standard_normal(cols.shape)
        folded = fold(Tensor(y), x.shape).data
        assert folded.shape == x.shape, name
        np.testing.assert_allclose(np.sum(cols * y), np.sum(x * folded), rtol=1e-12, err_msg=name)


def test_first_layer_weight_gradient_over_a_long_batch():
    """A first layer's weight gradient sums over thousands of positions (computed in chunks
    with a remainder here): compare with the plain sum over windows."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((9, 1, 28, 28)), rng.standard_normal((4, 1, 5, 5)), rng.standard_normal(4)
    g = rng.standard_normal((9, 4, 24, 24))
    wt, bt = Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
    F.conv2d(Tensor(x), wt, bt).backward(Tensor(g))
    windows = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(2, 3))   # (9, 1, 24, 24, 5, 5)
    np.testing.assert_allclose(wt.grad.data, np.einsum("nfij,ncijuv->fcuv", g, windows), rtol=1e-10)
    np.testing.assert_allclose(bt.grad.data, g.sum(axis=(0, 2, 3)), rtol=1e-10)


def test_pooling_keeps_the_memory_layout_it_is_given():
    """A conv's output is laid out channels-last; pooling it (and its gradient, whatever the
    gradient's own layout) gives the same numbers as pooling a C-ordered copy."""
    rng = np.random.default_rng(4)
    nhwc = np.maximum(rng.standard_normal((2, 6, 6, 3)), 0).round(1)      # ReLU-like: ties
    channels_last = nhwc.transpose(0, 3, 1, 2)
    g = rng.standard_normal((2, 3, 3, 3))
    results = []
    for x in (channels_last, np.ascontiguousarray(channels_last)):
        t = Tensor(x, requires_grad=True)
        out = F.max_pool2d(t, 2)
        out.backward(Tensor(g))
        results.append((out.data, t.grad.data))
        assert t.grad.data.strides == x.strides        # the gradient is laid out as the input
    for ours, reference in zip(*results):
        np.testing.assert_array_equal(ours, reference)


def test_cross_entropy_second_derivatives():
    """The Hessian of the loss times a vector, by the engine (create_graph) and by finite
    differences of the first derivative."""
    from course.autograd import grad
    rng = np.random.default_rng(8)
    z0, v, targets = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])

    def first_derivative_dot_v(z):
        (gz,) = grad(F.cross_entropy(z, targets), [z], create_graph=True)
        return (gz * Tensor(v)).sum()

    z = Tensor(z0.copy(), requires_grad=True)
    (hz,) = grad(first_derivative_dot_v(z), [z])
    (numeric,) = finite_differences(
        lambda za: first_derivative_dot_v(Tensor(za, requires_grad=True)).data, [z0.copy()], np.array(1.0))
    np.testing.assert_allclose(hz.data, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0), (1, 3)])
def test_conv2d_second_derivatives(stride, padding):
    """d/d(x, w) of <dL/dx, v> with L = sum(conv(x, w)^2): by the engine (create_graph) and by
    finite differences of the first derivative, which the tests above check."""
    from course.autograd import grad
    rng = np.random.default_rng(7)
    x0, w0 = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    v = rng.standard_normal(x0.shape)

    vw = rng.standard_normal(w0.shape)

    def first_derivative_dot_v(x, w):
        gx, gw = grad((F.conv2d(x, w, stride=stride, padding=padding) ** 2).sum(), [x, w],
                      create_graph=True)
        return (gx * Tensor(v)).sum() + (gw * Tensor(vw)).sum()

    x, w = Tensor(x0.copy(), requires_grad=True), Tensor(w0.copy(), requires_grad=True)
    hx, hw = grad(first_derivative_dot_v(x, w), [x, w])

    def h(xa, wa):
        return first_derivative_dot_v(Tensor(xa, requires_grad=True), Tensor(wa, requires_grad=True)).data

    numeric_x, numeric_w = finite_differences(h, [x0.copy(), w0.copy()], np.array(1.0), eps=1e-5)
    np.testing.assert_allclose(hx.data, numeric_x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hw.data, numeric_w, rtol=1e-5, atol=1e-6)


def test_saved_values_are_dropped_after_backward():
    """Without retain_graph, every node of a conv net's graph keeps nothing but its edges."""
    from course.autograd import topological_order
    rng = np.random.default_rng(9)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w, b = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True), Tensor(np.zeros(4), requires_grad=True)
    loss = F.cross_entropy(F.max_pool2d(F.conv2d(x, w, b, padding=1).relu(), 2).reshape(2, -1), [1, 0])
    nodes = [t.grad_fn for t in topological_order([loss]) if t.grad_fn is not None]
    assert any(vars(node) or node._saved for node in nodes)       # forward kept something
    loss.backward()
    for node in nodes:
        assert node.freed
        assert vars(node) == {} and node._saved == () and node._output is None, node.name
        with pytest.raises(RuntimeError, match="retain_graph"):
            node.saved_tensors


@pytest.mark.parametrize("name,f,second", [
    ("tanh", lambda t: t.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    ("exp", lambda t: t.exp(), np.exp),
    ("sigmoid", lambda t: t.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    ("pow", lambda t: t ** 3, lambda x: 6 * x),
])
@pytest.mark.parametrize("shape", [(), (3,)])
def test_second_derivatives_of_ops_that_save_their_output(name, f, second, shape):
    """Ops whose backward reuses their output (a numpy scalar for 0-d input) stay in the graph."""
    from course.autograd import grad
    x0 = np.linspace(0.3, 0.9, int(np.prod(shape))).reshape(shape)
    x = Tensor(x0.copy(), requires_grad=True)
    (g,) = grad(f(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.data, second(x0), rtol=1e-10, err_msg=name)
