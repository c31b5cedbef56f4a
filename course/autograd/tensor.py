"""The Tensor: an ndarray, plus the record of how it was computed.

A tensor made by the user is a *leaf*; a tensor made by an op remembers that op in
`grad_fn`, and the op remembers its inputs. `backward()` walks this graph from the output
back to the leaves and accumulates gradients in their `.grad`.
"""
import numpy as np

from course.autograd.grad_mode import is_grad_enabled


_rng = np.random.default_rng(0)


def manual_seed(seed):
    """Seed the generator used by `randn`, `rand` and the layers' initialisation."""
    global _rng
    _rng = np.random.default_rng(seed)


def default_rng():
    return _rng


def _as_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype.kind in "iuf":      # Python numbers and lists: float32, as in PyTorch
        arr = arr.astype(np.float32)
    return arr


def _axis(axis, dim):
    return dim if axis is None else axis


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Tensor(data, requires_grad=False, dtype=None, name=None)
    - data: ndarray (used as is, not copied), or Python numbers / lists (become float32).
    - requires_grad: record operations on this tensor so that gradients reach it.
    - name: a label shown by `course.viz.draw_graph`.
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "name", "_retains_grad", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None           # `ndarray * Tensor` calls Tensor.__rmul__ and keeps the graph

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self.name = name
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A tensor around an op's result, without the constructor's conversions."""
        t = object.__new__(Tensor)
        t.data = array
        t.grad = None
        t.grad_fn = None
        t.name = None
        t._retains_grad = False
        t.requires_grad = requires_grad
        return t

    # ---- autograd ----------------------------------------------------------------
    @property
    def is_leaf(self):
        return self.grad_fn is None

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf and not requires_grad:
            raise RuntimeError(
                "requires_grad_(False) on a tensor computed by an op: use .detach() to get a "
                "tensor without history instead.")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating point tensors can require gradients, this one is {self.data.dtype}; "
                "convert first, e.g. Tensor(x, dtype=np.float32, requires_grad=True).")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad.")
        if not self.is_leaf:
            self._retains_grad = True
        return self

    def detach(self):
        """The same data, cut from the graph: no grad_fn, no requires_grad."""
        return Tensor._wrap(self.data)

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`.

        gradient: d(loss)/d(self), same shape as self; may be omitted for a one-element tensor.
        retain_graph: keep the graph so that backward can run through it again
            (default: the value of create_graph, as in PyTorch).
        create_graph: record the backward pass too, for second derivatives.
        """
        from course.autograd.engine import run_backward
        run_backward((self,), (gradient,), retain_graph, create_graph)

    # ---- plain properties ------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def size(self, dim=None):
        """The shape (PyTorch's name); size(d) is the length of dimension d."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    def item(self):
        return self.data.item()

    def numpy(self):
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    # ---- operators -------------------------------------------------------------------
    def _lift(self, other):
        """A constant operand as a tensor; Python scalars take this tensor's float dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, bool, np.generic)) and self.data.dtype.kind == "f":
            return Tensor._wrap(np.asarray(other, dtype=self.data.dtype))
        return Tensor._wrap(_as_array(other))

    def __add__(self, other):
        return Add.apply(self, self._lift(other))

    def __radd__(self, other):
        return Add.apply(self._lift(other), self)

    def __sub__(self, other):
        return Sub.apply(self, self._lift(other))

    def __rsub__(self, other):
        return Sub.apply(self._lift(other), self)

    def __mul__(self, other):
        return Mul.apply(self, self._lift(other))

    def __rmul__(self, other):
        return Mul.apply(self._lift(other), self)

    def __truediv__(self, other):
        return Div.apply(self, self._lift(other))

    def __rtruediv__(self, other):
        return Div.apply(self._lift(other), self)

    def __pow__(self, other):
        if isinstance(other, Tensor):
            return Pow.apply(self, other)
        return PowConstant.apply(self, float(other))

    def __rpow__(self, other):
        return Pow.apply(self._lift(other), self)

    def __matmul__(self, other):
        return _matrix_product().apply(self, self._lift(other))

    def __rmatmul__(self, other):
        return _matrix_product().apply(self._lift(other), self)

    def __neg__(self):
        return Neg.apply(self)

    def __pos__(self):
        return self

    def _compare(self, other, fn):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(fn(self.data, other))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    # ---- in place: only where no graph can see it (as PyTorch: not on a leaf that requires grad) --
    def _in_place(self, other, ufunc, out_of_place, symbol):
        other_requires_grad = isinstance(other, Tensor) and other.requires_grad
        if is_grad_enabled() and (self.requires_grad or other_requires_grad):
            if self.is_leaf and self.requires_grad:
                raise RuntimeError(
                    f"in-place `{symbol}=` on a leaf tensor that requires grad: the graph would lose "
                    f"its old value. Update parameters inside `with no_grad():`, e.g. "
                    f"`with no_grad(): w -= lr * w.grad`.")
            return out_of_place(self, other)        # recorded as a new tensor; the name is rebound
        ufunc(self.data, other.data if isinstance(other, Tensor) else other, out=self.data,
              casting="same_kind")
        return self

    def __iadd__(self, other):
        return self._in_place(other, np.add, Tensor.__add__, "+")

    def __isub__(self, other):
        return self._in_place(other, np.subtract, Tensor.__sub__, "-")

    def __imul__(self, other):
        return self._in_place(other, np.multiply, Tensor.__mul__, "*")

    def __itruediv__(self, other):
        return self._in_place(other, np.true_divide, Tensor.__truediv__, "/")

    def zero_(self):
        """Set every element to 0 in place (e.g. `x.grad.zero_()`)."""
        self.data[...] = 0
        return self

    def __setitem__(self, index, value):
        if is_grad_enabled() and self.requires_grad:
            raise RuntimeError("assigning into a tensor that requires grad would hide the change from "
                               "autograd; do it inside `with no_grad():` or on a detached copy.")
        self.data[index] = value.data if isinstance(value, Tensor) else value

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return GetItem.apply(self, index)

    # PyTorch's method names for the operators
    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        return self @ other

    def neg(self):
        return -self

    def t(self):
        return self.T

    def clone(self):
        """A copy that stays in the graph (its gradient flows back to self)."""
        return self * 1

    # ---- elementwise functions -------------------------------------------------------
    def exp(self):
        return Exponential.apply(self)

    def log(self):
        return Log.apply(self)

    def sqrt(self):
        return PowConstant.apply(self, 0.5)

    def abs(self):
        return Abs.apply(self)

    def tanh(self):
        return HyperbolicTangent.apply(self)

    def sigmoid(self):
        return Logistic.apply(self)

    def relu(self):
        return Rectifier.apply(self)

    # ---- reductions ------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return Sum.apply(self, _axis(axis, dim), keepdims if keepdim is None else keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return Mean.apply(self, _axis(axis, dim), keepdims if keepdim is None else keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return Max.apply(self, _axis(axis, dim), keepdims if keepdim is None else keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return -Max.apply(-self, _axis(axis, dim), keepdims if keepdim is None else keepdim)

    # ---- shapes ----------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, tuple(shape))

    view = reshape

    def unsqueeze(self, dim):
        dim = dim if dim >= 0 else self.ndim + 1 + dim
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        return self.reshape(self.shape[:dim] + self.shape[dim:][1:]) if self.shape[dim] == 1 else self

    def flatten(self, start_dim=0):
        return self.reshape(self.shape[:start_dim] + (-1,))

    def transpose(self, *axes):
        """numpy's transpose: no axes reverses them; a full permutation reorders them.

        Two axes on a tensor of more than two dimensions swap those two (as in PyTorch).
        """
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if len(axes) == 2 and self.ndim > 2:
            perm = list(range(self.ndim))
            perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
            axes = tuple(perm)
        return Transpose.apply(self, axes or None)

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose.apply(self, axes)

    @property
    def T(self):
        return Transpose.apply(self, None)

    def astype(self, dtype):
        return Cast.apply(self, np.dtype(dtype))

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)


def tensor(data, requires_grad=False, dtype=None, name=None):
    """A new leaf tensor; unlike `Tensor(ndarray)`, this copies the data."""
    return Tensor(np.array(_as_array(data, dtype)), requires_grad=requires_grad, name=name)


def zeros(*shape, dtype=np.float32, requires_grad=False):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, requires_grad=False):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(_rng.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, requires_grad=False):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(_rng.random(shape).astype(dtype), requires_grad=requires_grad)


def _matrix_product():
    return BlasMatrixProduct if kernels.active.fast else MatrixProduct


# The ops need Tensor, and Tensor's methods need the ops.
from course.autograd import kernels  # noqa: E402
from course.autograd.elementwise import (Abs, Add, Div, Exponential, HyperbolicTangent, Log,  # noqa: E402
                                         Logistic, Mul, Neg, Pow, PowConstant, Rectifier, Sub)
from course.autograd.fast_kernels import BlasMatrixProduct  # noqa: E402
from course.autograd.linalg import MatrixProduct  # noqa: E402
from course.autograd.reductions import Max, Mean, Sum  # noqa: E402
from course.autograd.shape import Cast, GetItem, Reshape, Transpose  # noqa: E402
