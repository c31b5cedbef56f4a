"""The backward engine: visit the graph in reverse topological order, once per node.

Every tensor's gradient is complete before its op's backward runs, because all the ops
that used it come earlier in reverse topological order. Gradients arriving along several
paths (a tensor used twice, a shared weight) are added up. The order is computed with an
explicit stack, so deep graphs cause no recursion error and shared nodes are visited once.
"""
import numpy as np

from course.autograd.function import FREED_MESSAGE, input_gradients
from course.autograd.grad_mode import is_grad_enabled, set_grad_enabled
from course.autograd.tensor import Tensor

__all__ = ["topological_order", "backward_steps", "input_gradients", "run_backward", "grad",
           "FREED_MESSAGE"]


def topological_order(roots, include_constants=False):
    """Tensors that need a gradient, each after all of its inputs (roots last).

    include_constants: also list the inputs that need no gradient (for drawing the graph).
    An op's inputs are visited first to last, so the order reads like the code. A depth-first
    search with an explicit stack: each entry is a tensor and what is left of its inputs.
    """
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, _inputs(root))]
        while stack:
            t, inputs = stack[-1]
            for x in inputs:
                if id(x) not in seen and (include_constants or x.requires_grad):
                    seen.add(id(x))
                    stack.append((x, _inputs(x)))
                    break
            else:                      # every input is in the order: t can follow them
                stack.pop()
                order.append(t)
    return order


def _inputs(t):
    return iter(t.grad_fn.inputs if t.grad_fn is not None else ())


def _root_gradient(root, gradient):
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient works only on a one-element tensor (a scalar "
                f"loss), but this tensor has shape {root.shape}. Reduce it first (e.g. "
                f".sum() or .mean()), or pass the gradient of the loss with respect to it: "
                f"t.backward(gradient) with gradient of shape {root.shape}.")
        return Tensor._wrap(np.ones_like(root.data))
    gradient = gradient if isinstance(gradient, Tensor) else Tensor(gradient, dtype=root.dtype)
    if gradient.shape != root.shape:
        raise RuntimeError(
            f"backward(): the gradient has shape {gradient.shape} but the tensor has shape "
            f"{root.shape}; they must match.")
    return gradient


def _accumulate(grads, t, g):
    key = id(t)
    if key not in grads:
        grads[key] = g
    elif is_grad_enabled():          # create_graph: the sum is part of the recorded graph
        grads[key] = grads[key] + g
    else:                            # a plain sum, without an op's bookkeeping
        grads[key] = Tensor._wrap(grads[key].data + g.data)


def _store(t, g, create_graph, taken):
    """Add g into t.grad. Recording (create_graph), g itself joins the graph.

    Otherwise a new .grad is an array of its own, laid out in memory like t (an optimizer's
    update `p -= lr * p.grad` runs several times slower when the two layouts differ). g's own
    array is kept when nothing else holds it: it is not a view, not an array in `taken` (the
    graph's tensors, the caller's gradients, the .grads kept so far in this pass), and laid out
    like t. Else it is copied; for a large layer the copy costs as much as its matrix product.
    """
    if g.dtype != t.dtype:
        g = g.astype(t.dtype) if create_graph else Tensor._wrap(g.data.astype(t.dtype))
    if create_graph or t.grad is not None:
        t.grad = g if t.grad is None else t.grad + g
        return
    array = g.data
    if array.base is not None or id(array) in taken or array.strides != t.data.strides:
        array = np.empty_like(t.data)
        array[...] = g.data
    taken.add(id(array))
    t.grad = Tensor._wrap(array)


def backward_steps(roots, gradients, order=None):
    """The backward pass, one step per tensor that receives a gradient, in the engine's order.

    roots: tensors that require grad; gradients: d(loss)/d(root) for each (None for a
    one-element root). Yields (tensor, gradient, input_gradients): the tensor's complete
    gradient (a Tensor of its shape), then what its op passes back to each of
    tensor.grad_fn.inputs (a Tensor or None each; () for a leaf). Nothing is stored in any
    `.grad` and the graph is not released: `run_backward` does that, and
    course.widgets.backward_stepper shows these steps one at a time. Recording follows the
    grad mode of the caller (on for create_graph). order: topological_order(roots), if known.
    """
    for root in roots:
        if not root.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn, so there is "
                "nothing to differentiate. Create the leaves with requires_grad=True and make "
                "sure the computation did not run under no_grad() or on .detach()ed tensors.")
    grads = {}
    for root, gradient in zip(roots, gradients):
        _accumulate(grads, root, _root_gradient(root, gradient))
    for t in reversed(order if order is not None else topological_order(roots)):
        g = grads.pop(id(t), None)
        if g is None:                  # no path from a root: nothing to pass on
            continue
        node = t.grad_fn
        if node is None:
            yield t, g, ()
            continue
        input_grads = input_gradients(node, g)
        yield t, g, input_grads
        for x, gx in zip(node.inputs, input_grads):
            if gx is not None:
                _accumulate(grads, x, gx)


def run_backward(roots, gradients, retain_graph=None, create_graph=False, inputs=None):
    """Back-propagate from `roots`.

    With inputs=None, gradients are accumulated into the `.grad` of leaves (and of tensors
    that called retain_grad()). With a list of inputs, their gradients are returned instead
    and no `.grad` is touched (this is `grad()`).
    """
    if retain_graph is None:
        retain_graph = create_graph
    wanted = None if inputs is None else {id(x): None for x in inputs}
    order = topological_order(roots)
    taken = None        # the arrays a new .grad must not share (only _store's copy-free path needs them)
    if wanted is None and not create_graph:
        taken = {id(t.data) for t in order}
        taken.update(id(getattr(g, "data", g)) for g in gradients if g is not None)
    with set_grad_enabled(create_graph):
        for t, g, _ in backward_steps(roots, gradients, order):
            if wanted is not None:
                if id(t) in wanted:
                    wanted[id(t)] = g
            elif t.grad_fn is None or t._retains_grad:
                _store(t, g, create_graph, taken)
    if not retain_graph:
        for t in order:
            if t.grad_fn is not None:
                t.grad_fn.release()
    return None if wanted is None else [wanted[id(x)] for x in inputs]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of `outputs` with respect to `inputs`, returned (no `.grad` is changed).

    outputs: a tensor or a sequence of tensors; inputs: likewise.
    grad_outputs: d(loss)/d(output) for each output (None for one-element outputs).
    create_graph: record the computation, so the result can be differentiated again.
    allow_unused: return None for an input the outputs do not depend on (otherwise raise).
    """
    single_output = isinstance(outputs, Tensor)
    outputs = (outputs,) if single_output else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(outputs)} outputs but {len(grad_outputs)} grad_outputs.")
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("grad(): one of the inputs does not require grad.")
    result = run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad(): input {i} (shape {inputs[i].shape}) was not used to compute the "
                f"outputs, so it has no gradient. Pass allow_unused=True to get None for it.")
    return tuple(result)
