"""The engine's semantics, one test per rule; each fails when its rule is broken."""
import subprocess
import sys

import numpy as np
import pytest

from course.autograd import Function, Tensor, enable_grad, grad, is_grad_enabled, no_grad
from course.checks import CallCounter
from course.nn import functional as F


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_backward_accumulates_into_leaves():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2 + 3, 4 + 3])


def test_non_leaf_grad_only_with_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 2
    k = x * 3
    k.retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad.data, h.data)
    assert not h.is_leaf and x.is_leaf


def test_second_backward_needs_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_create_graph_gives_second_and_third_derivatives():
    x = leaf([0.5, -1.0, 2.0])
    y = (x ** 3).sum()
    (g,) = grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    (h,) = grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.data, 6 * x.data)
    (t,) = grad(h.sum(), x)
    np.testing.assert_allclose(t.data, [6.0, 6.0, 6.0])


def test_backward_with_create_graph_records_grad():
    x = leaf([1.0, 3.0])
    (x.tanh() * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    gx = x.grad.data.copy()
    x2 = x.data
    np.testing.assert_allclose(gx, np.tanh(x2) + x2 * (1 - np.tanh(x2) ** 2))
    second = x.grad.sum()
    x.grad = None
    second.backward()
    t = np.tanh(x2)
    np.testing.assert_allclose(x.grad.data, 2 * (1 - t ** 2) - 2 * x2 * t * (1 - t ** 2))


def test_hessian_vector_product():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = leaf([1.0, -1.0])
    y = 0.5 * (x @ Tensor(a) @ x)                 # Hessian = A
    (g,) = grad(y, x, create_graph=True)
    v = Tensor(np.array([1.0, 2.0]))
    (hv,) = grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.data, a @ v.data)


def test_grad_with_grad_outputs_and_leaves_untouched():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    (g,) = grad(y, x, grad_outputs=Tensor(np.array([1.0, 0.0, 2.0])))
    np.testing.assert_allclose(g.data, [2.0, 0.0, 12.0])
    assert x.grad is None


def test_grad_allow_unused():
    x, z = leaf([1.0]), leaf([2.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True)
    np.testing.assert_allclose(gx.data, [2.0])
    assert gz is None


def test_grad_wrt_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    (gh,) = grad(y, h)
    np.testing.assert_allclose(gh.data, 2 * h.data)


def test_no_grad_context_and_decorators():
    x = leaf([1.0])
    with no_grad():
        y = x * 2
        assert not is_grad_enabled()
        with enable_grad():
            z = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @no_grad()
    def f(t):
        return t * 2

    @no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_restored_after_exception():
    with pytest.raises(ValueError):
        with no_grad():
            raise ValueError("boom")
    assert is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.data, d.data)   # d is a constant: d(x*d)/dx = d


def test_backward_on_non_scalar_explains():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*\.sum\(\)"):
        (x * 2).backward()
    (x * 2).backward(Tensor(np.array([1.0, 1.0])))
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_backward_without_requires_grad_explains():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        Tensor([1.0]).sum().backward()


def test_broadcast_gradients_sum_back_to_input_shape():
    x = leaf(np.ones((4, 3)))
    b = leaf([1.0, 2.0, 3.0])
    c = leaf([[2.0], [3.0], [4.0], [5.0]])
    ((x + b) * c).sum().backward()
    np.testing.assert_allclose(b.grad.data, [14.0, 14.0, 14.0])
    np.testing.assert_allclose(c.grad.data, np.full((4, 1), 3 * 1.0 + (1 + 2 + 3)))
    assert b.grad.shape == (3,) and c.grad.shape == (4, 1)


def test_long_chain_has_no_recursion_error():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0])


def test_shared_node_visited_once():
    # 2^30 paths lead back from the output to x: each node's backward runs once, not once per path
    # (an engine that follows paths is stopped by the counter long before it would finish).
    counted = CallCounter(lambda g: g, limit=100, what="backward calls")

    class Visit(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad_out):
            return counted(grad_out)

    x = leaf([1.0])
    y = Visit.apply(x)
    for _ in range(30):
        y = Visit.apply(y + y)
    y.sum().backward()
    assert counted.calls == 31
    np.testing.assert_allclose(x.grad.data, [2.0 ** 30])


def test_fan_in_accumulates_over_paths():
    w = leaf([3.0])
    x1 = w * 2
    x2 = x1 * w + x1
    (x2 * w).sum().backward()
    # l = (2w*w + 2w) * w = 2w^3 + 2w^2 -> dl/dw = 6w^2 + 4w
    np.testing.assert_allclose(w.grad.data, [6 * 9 + 12])


class Multiply(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad_out):
        x, y = ctx.saved_tensors
        return grad_out * y, grad_out * x


class Scale(Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out * ctx.factor, None


def test_custom_function():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    z = Multiply.apply(a, b)
    assert z.grad_fn.name == "Multiply"
    Scale.apply(z, 2.0).sum().backward()
    np.testing.assert_allclose(a.grad.data, 2 * b.data)
    np.testing.assert_allclose(b.grad.data, 2 * a.data)


class Cube(Function):
    """A custom Function whose backward is numpy (the default: once differentiable)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2


def test_numpy_backward_gives_the_first_derivative_under_create_graph():
    x = leaf([2.0])
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, [12.0])


def test_differentiating_a_numpy_backward_again_raises_and_names_the_function():
    x = leaf([2.0])
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="Cube.*differentiable_backward = True"):
        grad(g.sum(), x)


def test_numpy_backward_is_fine_where_the_second_pass_does_not_reach_it():
    # d/dx of (x^3 + x^2)' = 6x + 2 needs Cube's gradient differentiated: raises; but a
    # second derivative that only goes through built-in ops does not touch Cube's gradient.
    x, w = leaf([2.0]), leaf([3.0])
    gx, gw = grad((Cube.apply(x) + w * w).sum(), [x, w], create_graph=True)
    (hw,) = grad(gw.sum(), w)
    np.testing.assert_allclose(hw.data, [2.0])


def test_a_custom_function_with_a_tensor_backward_can_be_differentiated_twice():
    class TensorCube(Function):
        differentiable_backward = True

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors          # the input Tensor itself
            return g * 3 * x ** 2

    x = leaf([2.0])
    (g,) = grad(TensorCube.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.data, [12.0])


def test_custom_function_errors_are_clear():
    class WrongCount(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return np.array([g, g, g])

    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="returned 1 gradient.*2 argument"):
        WrongCount.apply(a, a).sum().backward()
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):
        WrongShape.apply(a).backward()


def test_custom_function_saved_tensors_released():
    a, b = leaf([1.0]), leaf([2.0])
    z = Multiply.apply(a, b).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        z.backward()


def test_dtypes():
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor(3.0).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    x32 = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x32 * 2.5 + 1) / 3 - np.float64(2.0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x32.grad.dtype == np.float32
    x64 = leaf([1.0])
    (x64 * 2).sum().backward()
    assert x64.grad.dtype == np.float64


def test_only_float_tensors_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor(np.arange(3), requires_grad=True)


def test_lecture_conventions_relu_and_max():
    x = leaf([-1.0, 0.0, 2.0])
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])     # ReLU'(0) = 1
    m = leaf([3.0, 1.0, 3.0])
    m.max().backward()
    np.testing.assert_array_equal(m.grad.data, [1.0, 0.0, 0.0])     # ties: first maximum
    a, b = leaf([1.0, 2.0]), leaf([1.0, 3.0])
    F.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0])          # ties: first argument
    np.testing.assert_array_equal(b.grad.data, [0.0, 1.0])


def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\) @ \(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\) and \(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"conv2d.*3 channels"):
        F.conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"linear.*4 features"):
        F.linear(np.ones((2, 4)), np.ones((3, 5)))


def test_ndarray_on_the_left_keeps_the_graph():
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor) and y.requires_grad
    with pytest.raises(TypeError):
        np.exp(x)                     # numpy functions would silently drop the graph


def test_cross_entropy_stable_for_huge_logits():
    logits = leaf([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    loss = F.cross_entropy(logits, [0, 0])
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), 1e4 / 2)
    loss.backward()
    assert np.all(np.isfinite(logits.grad.data))


def test_importing_the_core_loads_no_plotting_or_widgets():
    code = ("import sys, course.autograd, course.nn, course.optim, course.gradcheck, course.data;"
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'graphviz', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_in_place_update_under_no_grad_keeps_the_leaf():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    same = w
    with no_grad():
        w -= 0.5 * w.grad
    assert w is same and w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.data, [0.0, 0.0])
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0])


def test_in_place_on_a_leaf_that_requires_grad_raises():
    w = leaf([1.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1
    with pytest.raises(RuntimeError, match="no_grad"):
        w[0] = 3.0


def test_in_place_on_a_graph_tensor_is_recorded():
    x = leaf([1.0, 2.0])
    h = x * 2
    h *= x                      # h = 2x * x
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


def test_pytorch_method_names():
    x = leaf([[1.0, 2.0, 3.0]])
    assert x.size() == (1, 3) and x.size(1) == 3 and x.numel() == 3
    y = x.add(1).mul(2).sub(x).div(2).pow(2).matmul(x.t()).squeeze().clone()
    y.backward()
    z = x.detach()
    assert x.grad.shape == (1, 3)
    # y = sum_i ((x_i + 2)/2)^2 x_i  ->  dy/dx_i = (x_i + 2)/2 * x_i + ((x_i + 2)/2)^2
    xi = z.data[0]
    np.testing.assert_allclose(x.grad.data[0], (xi + 2) / 2 * xi + ((xi + 2) / 2) ** 2)


class _ReturnsItsInputs(Function):
    """sum(a * b) whose numpy backward hands back the very arrays it saved (right for grad = 1)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.sum(a * b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return b, a


def _graph_passing_gradients_through():
    """Each case: (leaves and retained tensors, every other array in play, run backward)."""
    x, w, b = leaf(np.ones((3, 4))), leaf(np.ones((2, 4))), leaf(np.zeros(2))
    given = np.ones((3, 2))
    y = F.linear(x, w, b)
    yield [x, w, b], [given, x.data, w.data, b.data, y.data], lambda: y.backward(given)
    a, c = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    yield [a, c], [a.data, c.data], lambda: (a + c).sum().backward()         # Add passes its gradient on
    r = leaf(np.ones((2, 3)))
    g = np.arange(6.0).reshape(3, 2)
    yield [r], [r.data, g], lambda: r.reshape((3, 2)).backward(g)           # a view of the caller's array
    s = leaf([1.0, 2.0])
    u = s + 0.0
    u.retain_grad()
    yield [s, u], [s.data, u.data], lambda: (u * 1.0).sum().backward()     # a leaf and a retained tensor
    p, q = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    yield [p, q], [p.data, q.data], lambda: _ReturnsItsInputs.apply(p, q).backward()


@pytest.mark.parametrize("case", range(5))
def test_a_new_grad_shares_memory_with_no_other_array(case):
    """Law: after backward, each .grad is an array of its own: not another .grad, not the data of a
    tensor, not the gradient passed to backward (so `p.grad.zero_()` or an update in place touches
    nothing else)."""
    tensors, others, run = list(_graph_passing_gradients_through())[case]
    run()
    grads = [t.grad.data for t in tensors]
    for i, g in enumerate(grads):
        for other in grads[i + 1:] + others:
            assert not np.shares_memory(g, other), f"case {case}: tensor {i}'s .grad shares memory"


def test_leaf_gradients_are_fresh_arrays_laid_out_like_the_leaf():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()                     # Add hands the same gradient to both
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    # Linear's weight gradient comes out of BLAS transposed; .grad is still C-ordered
    x, w = Tensor(np.ones((5, 3))), leaf(np.ones((4, 3)))
    F.linear(x, w).sum().backward()
    assert w.grad.data.flags.c_contiguous
    fortran = Tensor(np.asfortranarray(np.ones((3, 4))), requires_grad=True)
    (fortran * 2).sum().backward()
    assert fortran.grad.data.flags.f_contiguous and not fortran.grad.data.flags.c_contiguous
