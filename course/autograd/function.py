"""Functions: every differentiable op, the library's and the student's, is written this way.

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):               # numpy arrays in, an array out
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):           # one gradient per argument of forward
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    z = Cube.apply(a)

`forward` always works on arrays. What `backward` receives depends on the class:

- a Function of your own (the default, `differentiable_backward = False`): backward gets the
  upstream gradient as an array, `saved_tensors` gives the arrays that forward saved, and it
  returns arrays. Its gradient is computed outside the graph, so it can be used once: with
  `create_graph=True` the gradients it returns are marked, and differentiating them again
  raises an error that names the Function (as PyTorch's `@once_differentiable` does), instead
  of silently treating them as constants.
- the library's ops (`differentiable_backward = True`): backward gets a Tensor and
  `saved_tensors` gives Tensors (an input's own Tensor for an input's array, the output's
  Tensor for the output array, a constant for anything else), and it computes the gradient
  with Tensor operations. With `create_graph=True` that computation is recorded, so it can be
  differentiated again.

In both cases backward returns one gradient per argument of forward, `None` for an argument
that has none (an int, an axis, a constant). A library op may return a gradient of the shape
its input had before broadcasting (say (3, 4) for an input of shape (4,)): the engine sums it
back to the input's shape.
"""
import weakref

import numpy as np

from course.autograd.grad_mode import _state as grad_mode
from course.autograd.tensor import Tensor


class Context:
    """One call of a Function: what forward leaves for backward, and the node of the graph.

    - save_for_backward(*arrays) / saved_tensors: values backward needs; released (really
      dropped) after a backward pass unless retain_graph=True, as is every attribute that
      forward set on ctx (`ctx.stride = ...`).
    - needs_input_grad: one bool per argument of forward.
    - inputs: the Tensor arguments, in order (the graph's edges); name: the Function's name.
    """

    # Bookkeeping in slots; what a Function sets on ctx goes to __dict__ (dropped on release).
    __slots__ = ("_fn", "needs_input_grad", "freed", "_saved", "inputs", "tensor_positions",
                 "_output", "__dict__")

    def __init__(self, needs_input_grad, fn=None):
        self._fn = fn                # None for a ctx made by hand, as the grader does
        self.needs_input_grad = needs_input_grad
        self.freed = False
        self._saved = ()
        # Set by Function.apply when the call is recorded: inputs (the Tensor arguments),
        # tensor_positions (where they sit among the arguments, None if all are Tensors) and
        # _output (a weak reference to the output, if forward saved it).

    @property
    def name(self):
        return "Context" if self._fn is None else self._fn.label or self._fn.__name__

    def save_for_backward(self, *values):
        self._saved = values

    @property
    def saved_tensors(self):
        if self.freed:
            raise RuntimeError(
                "saved_tensors were released after the first backward pass; pass "
                "retain_graph=True to backward() to use them again.")
        if self._fn is None or not self._fn.differentiable_backward:
            return tuple(v.data if isinstance(v, Tensor) else v for v in self._saved)
        return tuple([self._as_tensor(v) for v in self._saved])

    def _as_tensor(self, value):
        """A saved array as a Tensor of the graph: the input or output it is, else a constant."""
        for t in self.inputs:
            if t.data is value:
                return t
        if not isinstance(value, np.ndarray):
            return value             # a Tensor already, or not an array
        output = None if self._output is None else self._output()
        if output is not None and output.data is value:
            return output
        return Tensor._wrap(value)

    def release(self):
        """Drop what forward kept (after a backward pass without retain_graph): the saved
        values and every attribute forward set on ctx."""
        self.__dict__.clear()
        self._saved = ()
        self._output = None
        self.freed = True

    def __repr__(self):
        return f"<{self.name}>"


class Function:
    """Base class of differentiable functions (see the module docstring)."""

    differentiable_backward = False
    label = None           # a shorter name for graphs and grad_fn (default: the class name)

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function needs a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("a Function needs a static backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        arrays, needs_grad = [], []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                needs_grad.append(a.requires_grad)
            else:
                arrays.append(a)
                needs_grad.append(False)
        ctx = Context(tuple(needs_grad), cls)
        try:
            out = cls.forward(ctx, *arrays)
        except (ValueError, IndexError) as err:
            shapes = " and ".join(str(a.shape) for a in args if isinstance(a, Tensor))
            raise type(err)(f"{cls.__name__}: cannot apply to shapes {shapes}: {err}") from None
        if type(out) is not np.ndarray:      # a numpy scalar (0-d results), a Tensor, a list
            raw, out = out, out.data if isinstance(out, Tensor) else np.asarray(out)
            ctx._saved = tuple(out if v is raw else v for v in ctx._saved)
        if not (grad_mode.enabled and True in needs_grad):
            return Tensor._wrap(out)
        result = Tensor._wrap(out, True)                 # recorded: ctx becomes its grad_fn
        ctx.inputs = tensors = tuple([a for a in args if isinstance(a, Tensor)])
        ctx.tensor_positions = None
        if len(tensors) < len(args):
            ctx.tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        ctx._output = None
        for v in ctx._saved:
            if v is out:          # a weak reference: no cycle between a tensor and its node
                ctx._output = weakref.ref(result)
                break
        result.grad_fn = ctx
        return result


class DifferentiableFunction(Function):
    """A Function whose backward computes with Tensor operations (all the library's ops)."""

    differentiable_backward = True


def input_gradients(ctx, grad):
    """The Function's backward applied to `grad` (a Tensor): one Tensor (or None) per Tensor
    input of the call, each of that input's shape. This is what the engine runs at a node."""
    fn = ctx._fn
    if ctx.freed:
        raise RuntimeError(FREED_MESSAGE)
    grads = fn.backward(ctx, grad if fn.differentiable_backward else grad.data)
    if not isinstance(grads, tuple):
        grads = (grads,)
    n_args = len(ctx.needs_input_grad)
    if len(grads) != n_args:
        raise RuntimeError(
            f"{ctx.name}.backward returned {len(grads)} gradient(s), but forward took "
            f"{n_args} argument(s): return one per argument (None for those that need none).")
    if ctx.tensor_positions is not None:
        grads = tuple(grads[i] for i in ctx.tensor_positions)
    if fn.differentiable_backward:
        out = []
        for x, gx in zip(ctx.inputs, grads):
            if gx is None or not x.requires_grad:
                out.append(None)
            elif type(gx) is Tensor and gx.data.shape == x.data.shape:     # the usual case
                out.append(gx)
            else:
                out.append(_sum_to_input(ctx, gx, x))
        return out
    return [None if gx is None or not x.requires_grad else _array_gradient(ctx, k, gx, x, grad)
            for k, (x, gx) in enumerate(zip(ctx.inputs, grads))]


FREED_MESSAGE = (
    "Trying to run backward through a part of the graph a second time, but its saved values "
    "were released after the first backward pass. Pass retain_graph=True to the first "
    ".backward() (or grad()) call if you need to go through the graph again; otherwise "
    "recompute the forward pass.")


def _sum_to_input(ctx, gx, x):
    """gx, summed over the axes along which x was broadcast in forward."""
    if not isinstance(gx, Tensor):
        raise TypeError(
            f"{ctx.name}.backward returned a {type(gx).__name__}: a Function with "
            f"differentiable_backward = True computes its gradients with Tensor operations.")
    if gx.shape == x.shape:
        return gx
    try:
        broadcast = np.broadcast_shapes(x.shape, gx.shape) == gx.shape
    except ValueError:
        broadcast = False
    if not broadcast:
        raise RuntimeError(f"{ctx.name}.backward returned a gradient of shape {gx.shape} for an "
                           f"input of shape {x.shape}.")
    from course.autograd.shape import sum_to       # shape ops are Functions themselves
    return sum_to(gx, x.shape)


def _array_gradient(ctx, position, gx, x, upstream):
    """A gradient computed with numpy, as a Tensor of the input's shape and dtype."""
    gx = np.asarray(gx.data if isinstance(gx, Tensor) else gx)
    if gx.shape != x.shape:
        raise RuntimeError(
            f"{ctx.name}.backward returned a gradient of shape {gx.shape} for argument "
            f"{position}, which has shape {x.shape}: the gradient of an input has the input's shape.")
    gx = gx.astype(x.dtype)       # a copy: backward may have returned an array it keeps on ctx
    if not grad_mode.enabled:
        return Tensor._wrap(gx)
    # Recording (create_graph): the array is not a function of anything in the graph, but it
    # does depend on the inputs and the upstream gradient. Mark it, so that differentiating it
    # again raises instead of returning zeros.
    return _NotDifferentiableAgain.apply(gx, ctx.name, upstream, *ctx.inputs)


class _NotDifferentiableAgain(DifferentiableFunction):
    """Stands for a gradient computed by a Function's numpy backward; cannot be differentiated."""

    @staticmethod
    def forward(ctx, gx, name, *depends_on):
        ctx.function_name = name
        return gx

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(
            f"Differentiating a gradient of the custom Function {ctx.function_name} again: its "
            f"backward computes with numpy arrays, outside the graph, so its gradient has no "
            f"derivative here (this would be a silent zero). Write backward with Tensor "
            f"operations and set `differentiable_backward = True` on the class, or leave "
            f"{ctx.function_name} out of the part you differentiate twice.")

