"""Laws every op must obey, one law per test, written against the public Tensor / functional API.

- A linear op's backward is its adjoint: <A x, y> = <x, A^T y>, where A^T y is what backward
  gives for the upstream gradient y; and where the library has both halves of an adjoint pair
  (broadcast / sum back, reshape / reshape back, transpose / inverse transpose, unfold / fold),
  the backward of one is the forward of the other.
- Backward is linear in the upstream gradient: vjp(a y1 + b y2) = a vjp(y1) + b vjp(y2).
- Backward agrees with central differences (course.checks.numerical_gradients, float64).
- softmax rows sum to 1; log_softmax does not change when a row is shifted by a constant.
- Ties: max sends the gradient to the first maximal element, maximum(x, y) to x where x >= y.

Each gradient law runs with create_graph off and on; with it on, the gradient is differentiated
once more where that states a law of its own (the adjoint of the adjoint is the op itself).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import course.nn.functional as F
from course.autograd import Tensor, grad
from course.checks import numerical_gradients

CREATE_GRAPH = pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
SEEDS = st.integers(0, 2**32 - 1)


def unfold(x, kernel, stride, padding):
    """The library's reference im2col (course.autograd.convolution; tests/test_autograd_ops.py
    checks the fast kernels' layouts against it)."""
    from course.autograd.convolution import Unfold, pair

    return Unfold.apply(x, pair(kernel), pair(stride), pair(padding))


def fold(cols, shape, kernel, stride, padding):
    """The library's reference col2im, adjoint of unfold."""
    from course.autograd.convolution import Fold, pair

    return Fold.apply(cols, shape, pair(kernel), pair(stride), pair(padding))


def inner(a, b):
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def vjp(f, x, y, create_graph):
    """x's gradient of f at x for the upstream gradient y, through the engine."""
    x = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    (g,) = grad(f(x), x, grad_outputs=Tensor(np.array(y, dtype=np.float64)), create_graph=create_graph)
    return g


# ---- linear ops: backward is the adjoint ------------------------------------------------------

def _broadcast_shapes(draw):
    big = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    small = [1 if draw(st.booleans()) else n for n in big][draw(st.integers(0, len(big) - 1)):]
    return tuple(small), big


@st.composite
def broadcast_case(draw):
    small, big = _broadcast_shapes(draw)
    return (f"broadcast {small} -> {big}", small, big,
            lambda x: x + Tensor(np.zeros(big)),
            lambda y: Tensor(y).sum(axis=tuple(range(len(big) - len(small))))
            .sum(axis=tuple(i for i, n in enumerate(small) if n == 1), keepdims=True))


@st.composite
def sum_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    axis = tuple(sorted(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    keepdims = draw(st.booleans())
    kept = tuple(1 if i in axis else n for i, n in enumerate(shape))
    out = kept if keepdims else tuple(n for i, n in enumerate(shape) if i not in axis)
    return (f"sum {shape} over {axis}", shape, out,
            lambda x: x.sum(axis=axis, keepdims=keepdims),
            lambda y: Tensor(y).reshape(kept) + Tensor(np.zeros(shape)))


@st.composite
def reshape_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    size = int(np.prod(shape))
    target = draw(st.sampled_from([(size,), (1, size), shape[::-1], (size, 1)]))
    return (f"reshape {shape} -> {target}", shape, target,
            lambda x: x.reshape(target), lambda y: Tensor(y).reshape(shape))


@st.composite
def transpose_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    axes = tuple(draw(st.permutations(range(len(shape)))))
    inverse = tuple(int(i) for i in np.argsort(axes))
    return (f"transpose {shape} by {axes}", shape, tuple(shape[i] for i in axes),
            lambda x: x.transpose(*axes), lambda y: Tensor(y).transpose(*inverse))


PAIRS = st.one_of(broadcast_case(), sum_case(), reshape_case(), transpose_case())


@settings(max_examples=60, deadline=None)
@given(case=PAIRS, seed=SEEDS)
def test_the_pairs_are_adjoint(case, seed):
    name, in_shape, out_shape, forward, adjoint = case
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(in_shape), rng.standard_normal(out_shape)
    assert inner(forward(Tensor(x)).data, y) == pytest.approx(inner(x, adjoint(y).data), rel=1e-10, abs=1e-12), name


@CREATE_GRAPH
@settings(max_examples=60, deadline=None)
@given(case=PAIRS, seed=SEEDS)
def test_the_backward_of_each_is_the_forward_of_the_other(case, seed, create_graph):
    name, in_shape, out_shape, forward, adjoint = case
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(in_shape), rng.standard_normal(out_shape)
    g = vjp(forward, x, y, create_graph)
    assert g.shape == in_shape, name
    np.testing.assert_allclose(g.data, adjoint(y).data, rtol=1e-12, atol=1e-12, err_msg=name)


# Indexing: the adjoint of reading x[index] adds each read value back where it was read from,
# repeats included (numpy's np.add.at is the reference).
INDICES = {
    "slice": np.s_[1:3],
    "step slice": np.s_[::2, 1:],
    "negative": np.s_[-1],
    "int array with repeats": (np.array([0, 2, 2, 0]),),
    "two int arrays": (np.array([0, 1, 1]), np.array([4, 0, 4])),
    "boolean mask": np.arange(20).reshape(4, 5) % 3 == 0,
    "new axis and ellipsis": np.s_[None, ..., 2],
}


@CREATE_GRAPH
@pytest.mark.parametrize("index", list(INDICES.values()), ids=list(INDICES))
def test_indexing_backward_is_its_adjoint_scatter_add(index, create_graph):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    y = rng.standard_normal(x[index].shape)
    g = vjp(lambda t: t[index], x, y, create_graph)
    expected = np.zeros_like(x)
    np.add.at(expected, index, y)
    np.testing.assert_allclose(g.data, expected, rtol=1e-12, atol=1e-12)
    assert inner(x[index], y) == pytest.approx(inner(x, g.data), rel=1e-10, abs=1e-12)


CONVOLUTIONS = [  # (N, C, H, W), kernel, stride, padding
    ((1, 1, 4, 4), (3, 3), (1, 1), (0, 0)),
    ((2, 3, 5, 6), (3, 2), (2, 1), (1, 0)),
    ((2, 5, 7, 7), (3, 3), (2, 2), (1, 1)),    # windows overlap, padding, more than 4 channels
    ((1, 2, 4, 4), (2, 2), (2, 2), (0, 0)),    # windows that do not overlap (pooling)
]


@CREATE_GRAPH
@pytest.mark.parametrize("shape, kernel, stride, padding", CONVOLUTIONS)
def test_unfold_and_fold_are_adjoint(shape, kernel, stride, padding, create_graph):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    cols = unfold(Tensor(x), kernel, stride, padding)
    y = rng.standard_normal(cols.shape)
    assert inner(cols.data, y) == pytest.approx(
        inner(x, fold(Tensor(y), shape, kernel, stride, padding).data), rel=1e-10)
    np.testing.assert_allclose(vjp(lambda t: unfold(t, kernel, stride, padding), x, y, create_graph).data,
                               fold(Tensor(y), shape, kernel, stride, padding).data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vjp(lambda t: fold(t, shape, kernel, stride, padding), y, x, create_graph).data,
                               cols.data, rtol=1e-12, atol=1e-12)


def test_the_gradient_of_the_gradient_of_a_linear_op_is_the_op():
    # With create_graph, x's gradient A^T y is itself recorded; as a function of y it is linear,
    # and its own adjoint is A again: d <x, A^T y> / d y = A x.
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    y = Tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    forward = lambda t: t.transpose(2, 1, 0) * 3.0    # noqa: E731
    (g,) = grad(forward(x), x, grad_outputs=y, create_graph=True)
    (gg,) = grad((g * x.detach()).sum(), y)
    np.testing.assert_allclose(gg.data, forward(x).data, rtol=1e-12)


# ---- backward is linear in the upstream gradient; and it is the derivative -----------------

NONLINEAR = {  # name: (function of one Tensor, input shape)
    "tanh": (lambda t: t.tanh(), (3, 4)),
    "exp": (lambda t: t.exp(), (5,)),
    "x * x + sigmoid": (lambda t: t * t + t.sigmoid(), (2, 3)),
    "matmul with itself": (lambda t: t @ t.T, (3, 2)),
    "relu of a sum": (lambda t: (t + 0.25).relu(), (4, 4)),
    "division": (lambda t: 1.0 / (t * t + 1.0), (3,)),
    "max over an axis": (lambda t: t.max(axis=1), (3, 4)),
    "softmax": (lambda t: F.softmax(t, axis=-1), (2, 5)),
    "log_softmax": (lambda t: F.log_softmax(t, axis=0), (4, 3)),
    "mean of a square": (lambda t: (t * t).mean(axis=0, keepdims=True), (3, 2)),
    "conv2d with itself as the image": (
        lambda t: F.conv2d(t.reshape(1, 1, 4, 4), t.reshape(1, 1, 4, 4)[:, :, :2, :2], padding=1),
        (16,)),
    "max_pool2d": (lambda t: F.max_pool2d(t, 2), (1, 2, 4, 4)),
}


def point_and_upstreams(name, count, seed):
    """The op called name, a random point x for it and `count` random upstream gradients."""
    f, shape = NONLINEAR[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    out_shape = f(Tensor(x)).shape
    return f, x, [rng.standard_normal(out_shape) for _ in range(count)]


@CREATE_GRAPH
@pytest.mark.parametrize("name", list(NONLINEAR))
def test_backward_is_linear_in_the_upstream_gradient(name, create_graph):
    f, x, (y1, y2) = point_and_upstreams(name, 2, seed=3)
    a, b = 1.5, -0.75
    combined = vjp(f, x, a * y1 + b * y2, create_graph).data
    separate = a * vjp(f, x, y1, create_graph).data + b * vjp(f, x, y2, create_graph).data
    np.testing.assert_allclose(combined, separate, rtol=1e-10, atol=1e-12)


@CREATE_GRAPH
@pytest.mark.parametrize("name", list(NONLINEAR))
def test_backward_agrees_with_central_differences(name, create_graph):
    f, x, (y,) = point_and_upstreams(name, 1, seed=4)
    (numeric,) = numerical_gradients(lambda v: inner(f(Tensor(v)).data, y), x)
    np.testing.assert_allclose(vjp(f, x, y, create_graph).data, numeric, rtol=1e-6, atol=1e-8)


# Their gradient is the upstream gradient through a mask that does not move with x (the second
# derivative is 0 where it exists): the library records nothing for it, where PyTorch records zeros.
PIECEWISE_LINEAR = {"relu of a sum", "max over an axis", "max_pool2d"}


@pytest.mark.parametrize("name", sorted(set(NONLINEAR) - PIECEWISE_LINEAR))
def test_create_graph_records_the_backward_pass(name):
    f, x, (y,) = point_and_upstreams(name, 1, seed=5)
    assert vjp(f, x, y, create_graph=True).requires_grad


@pytest.mark.parametrize("name", list(NONLINEAR))
def test_without_create_graph_the_gradient_has_no_graph(name):
    f, x, (y,) = point_and_upstreams(name, 1, seed=5)
    assert not vjp(f, x, y, create_graph=False).requires_grad


# ---- softmax ---------------------------------------------------------------------------------

ROWS = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=6)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(ROWS, min_size=1, max_size=4).filter(lambda r: len({len(row) for row in r}) == 1))
def test_softmax_rows_are_probabilities(rows):
    p = F.softmax(Tensor(np.array(rows)), axis=-1).data
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)


@settings(max_examples=80, deadline=None)
@given(row=ROWS, shift=st.floats(-1e3, 1e3, allow_nan=False))
def test_log_softmax_does_not_change_when_a_row_is_shifted(row, shift):
    x = np.array([row])
    np.testing.assert_allclose(F.log_softmax(Tensor(x + shift), axis=-1).data,
                               F.log_softmax(Tensor(x), axis=-1).data, rtol=1e-9, atol=1e-9)


# ---- ties ------------------------------------------------------------------------------------

@CREATE_GRAPH
@pytest.mark.parametrize("x, axis, expected", [
    ([1.0, 3.0, 3.0, 2.0], None, [0.0, 1.0, 0.0, 0.0]),
    ([[2.0, 2.0], [5.0, 1.0], [5.0, 5.0]], 0, [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
    ([[2.0, 2.0], [5.0, 1.0], [5.0, 5.0]], 1, [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]),
    ([[4.0, 4.0], [4.0, 4.0]], None, [[1.0, 0.0], [0.0, 0.0]]),
])
def test_max_sends_the_gradient_to_the_first_maximal_element(x, axis, expected, create_graph):
    x = np.array(x)
    y = np.ones(np.asarray(x.max(axis=axis)).shape)
    np.testing.assert_array_equal(vjp(lambda t: t.max(axis=axis), x, y, create_graph).data, expected)


@CREATE_GRAPH
def test_maximum_sends_the_gradient_of_a_tie_to_its_first_argument(create_graph):
    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([1.0, 5.0, 3.0]), requires_grad=True)
    ga, gb = grad(F.maximum(a, b), (a, b), grad_outputs=Tensor(np.ones(3)), create_graph=create_graph)
    np.testing.assert_array_equal(ga.data, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gb.data, [0.0, 1.0, 0.0])
