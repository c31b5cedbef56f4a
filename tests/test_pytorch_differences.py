"""The numbers modules 01 and 04 state for PyTorch where the library follows the lectures instead
(ReLU'(0), ties of maximum and max), checked against PyTorch when it is installed, and the
library's own choices checked without it."""
import numpy as np
import pytest

import course.nn.functional as F
from course.autograd import Tensor

UPSTREAM = np.array([10.0, 20.0, 30.0, 40.0])
A, B = np.array([1.0, 4.0, 2.0, -1.0]), np.array([3.0, 0.0, 2.0, -2.0])  # a tie at index 2
V = np.array([1.0, 3.0, 3.0, 2.0])                                          # two maxima


def course_gradients():
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().sum().backward()
    a, b = Tensor(A, requires_grad=True), Tensor(B, requires_grad=True)
    F.maximum(a, b).backward(Tensor(UPSTREAM))
    v = Tensor(V, requires_grad=True)
    v.max().backward()
    return {"relu": x.grad.data, "maximum a": a.grad.data, "maximum b": b.grad.data, "max": v.grad.data}


def test_the_library_follows_the_lectures():
    got = course_gradients()
    np.testing.assert_array_equal(got["relu"], [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(got["maximum a"], [0.0, 20.0, 30.0, 40.0])
    np.testing.assert_array_equal(got["maximum b"], [10.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(got["max"], [0.0, 1.0, 0.0, 0.0])


def test_pytorch_gives_the_numbers_the_notebooks_state():
    torch = pytest.importorskip("torch")
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])            # ReLU'(0) = 0
    a = torch.tensor(A, requires_grad=True)
    b = torch.tensor(B, requires_grad=True)
    torch.maximum(a, b).backward(torch.tensor(UPSTREAM))
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 20.0, 15.0, 40.0])   # a tie splits 15/15
    np.testing.assert_array_equal(b.grad.numpy(), [10.0, 0.0, 15.0, 0.0])
    for reduce in (lambda t: t.max(), lambda t: torch.amax(t, dim=0)):
        v = torch.tensor(V, requires_grad=True)
        reduce(v).backward()
        np.testing.assert_array_equal(v.grad.numpy(), [0.0, 0.5, 0.5, 0.0])  # spread evenly
    # Module 01's exact XOR network at the input (1, 0), where h2's pre-activation is 0.
    W = torch.ones((2, 2), dtype=torch.float64, requires_grad=True)
    bias = torch.tensor([0.0, -1.0], dtype=torch.float64, requires_grad=True)
    out = (torch.relu(W @ torch.tensor([1.0, 0.0], dtype=torch.float64) + bias)
           * torch.tensor([1.0, -2.0], dtype=torch.float64)).sum()
    out.backward()
    assert out.item() == 1.0
    np.testing.assert_array_equal(bias.grad.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(W.grad.numpy(), [[1.0, 0.0], [0.0, 0.0]])
