"""Watch the backward pass one node at a time.

- backward_trace(tensor): the steps the engine takes, as data (no UI): for each node in
  reverse topological order, its complete upstream gradient, the local Jacobian of its op
  with respect to each input, what it passes back to each input, and the running sums.
- backward_stepper(tensor): the same steps in a widget: the graph drawn with graphviz, the
  node being processed highlighted, Next / Back / Reset buttons.

Neither touches the `.grad` of any tensor: the trace keeps its own running sums. The
steps are the engine's own (course.autograd.backward_steps, the loop `backward()` runs), so
the numbers shown are the numbers `backward()` produces.

ipywidgets and graphviz are imported when a stepper is built, not by `backward_trace`.
"""
import html
import time
from dataclasses import dataclass

import numpy as np

from course.widgets._display import ShowsOnce
from course.autograd import Tensor, backward_steps, input_gradients, no_grad
from course.viz.graph import RANKDIRS, build_graph, format_array, graph_tensors


@dataclass
class BackwardStep:
    """What the engine does at one node of the backward pass.

    - node: the tensor processed. Every op that used it came earlier, so its gradient is complete.
    - op: node.grad_fn, the op that made it; None for a leaf (nothing left to pass back).
    - upstream: d(root)/d(node), an array of node.shape.
    - inputs: op.inputs (constants included, a tensor used twice appears twice); () for a leaf.
    - jacobians: one per input, the local Jacobian as a matrix of shape (node.numel(), input.numel()),
      J[i, j] = d node_i / d input_j (flattened in C order); None for a constant, or for sizes
      above the trace's jacobian_limit.
    - contributions: one per input, what this step adds to the input's gradient:
      upstream.ravel() @ J, as an array of input.shape; None for a constant.
    - accumulated: the running sums after this step, a dict id(tensor) -> array
      (use grad_of(tensor) to read it).
    """

    node: Tensor
    op: object
    upstream: np.ndarray
    inputs: tuple
    jacobians: tuple
    contributions: tuple
    accumulated: dict

    def grad_of(self, tensor):
        """The gradient of `tensor` summed so far (after this step), or None if none yet."""
        return self.accumulated.get(id(tensor))


FREED_MESSAGE = (
    "backward_trace: the graph behind this tensor was freed by an earlier backward() call, so "
    "a custom Function can no longer replay its backward. Step through the graph before calling "
    "backward(), or call backward(retain_graph=True).")


def _pull_back(op, g):
    """The op's own backward applied to the array g (as the engine runs it): one array (or
    None) per input."""
    try:
        grads = input_gradients(op, Tensor(g))
    except RuntimeError as err:
        if op.freed:
            raise RuntimeError(FREED_MESSAGE) from err
        raise
    return [None if gx is None else np.asarray(gx.data) for gx in grads]


def local_jacobians(op, node, jacobian_limit=64):
    """d(node)/d(input) for each of op's inputs, each of shape (node.numel(), input.numel()).

    Row i is the op's backward applied to the i-th basis vector: the VJP with e_i is
    e_i^T J, the i-th row of J. None for constants and for sizes above jacobian_limit.
    """
    wanted = [x.requires_grad and node.data.size <= jacobian_limit and x.data.size <= jacobian_limit
              for x in op.inputs]
    if not any(wanted):
        return tuple(None for _ in op.inputs)
    rows = [[] for _ in op.inputs]
    for i in range(node.data.size):
        basis = np.zeros(node.data.size, dtype=node.dtype)
        basis[i] = 1
        for k, gx in enumerate(_pull_back(op, basis.reshape(node.shape))):
            if wanted[k]:
                rows[k].append(np.zeros(op.inputs[k].data.size) if gx is None else gx.ravel())
    return tuple(np.stack(r) if w else None for r, w in zip(rows, wanted))


def _seed(tensor, gradient):
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"backward_trace expects a Tensor, got {type(tensor).__name__}: pass the output of a "
            f"computation on tensors that require grad, e.g. (x * y + z).")
    if not tensor.requires_grad:
        raise ValueError(
            "backward_trace: this tensor does not require grad, so there is no backward pass to "
            "step through. Build it from leaves created with requires_grad=True.")
    if gradient is None:
        if tensor.data.size != 1:
            raise ValueError(
                f"backward_trace: the tensor has shape {tensor.shape}, not one element. Reduce it "
                f"(e.g. .sum()) or pass gradient= (d loss/d tensor, an array of shape {tensor.shape}).")
        return np.ones_like(tensor.data)
    gradient = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient,
                          dtype=tensor.dtype)
    if gradient.shape != tensor.shape:
        raise ValueError(
            f"backward_trace: gradient has shape {gradient.shape} but the tensor has shape "
            f"{tensor.shape}; they must match.")
    return gradient


def backward_trace(tensor, gradient=None, jacobian_limit=64):
    """The backward pass from `tensor`, step by step, as the engine runs it.

    Inputs:
    - tensor: a Tensor that requires grad (the root, usually a scalar loss).
    - gradient: d(loss)/d(tensor), an array of tensor.shape; may be omitted for one element.
    - jacobian_limit: local Jacobians are computed (one backward call per output element)
      only when the node and the input each have at most this many elements.

    Returns a list of BackwardStep, one per node that receives a gradient, in the engine's
    order (reverse topological: root first, each node after every node that used it).
    No tensor's .grad is read or changed.
    """
    running = {}
    steps = []
    with no_grad():
        try:
            for node, upstream, input_grads in backward_steps([tensor], [Tensor(_seed(tensor, gradient))]):
                op = node.grad_fn
                inputs = () if op is None else tuple(op.inputs)
                contributions = tuple(None if g is None else np.asarray(g.data) for g in input_grads)
                jacobians = () if op is None else local_jacobians(op, node, jacobian_limit)
                running = dict(running)          # each step keeps its own snapshot
                running.setdefault(id(node), np.asarray(upstream.data))
                for x, c in zip(inputs, contributions):
                    if c is not None:
                        running[id(x)] = c if id(x) not in running else running[id(x)] + c
                steps.append(BackwardStep(node, op, np.asarray(upstream.data), inputs, jacobians,
                                          contributions, running))
        except RuntimeError as err:
            if "released" in str(err):
                raise RuntimeError(FREED_MESSAGE) from err
            raise
    return steps


def node_labels(root):
    """Labels for the tensors of root's graph: the user's .name, else op name + number
    (mul1, add2, ...), the value of a scalar constant, leaf1 / const1 for other leaves."""
    labels, counts = {}, {}
    for t in graph_tensors(root):
        if t.name is not None:
            labels[id(t)] = t.name
            continue
        if t.grad_fn is None and not t.requires_grad and t.data.size == 1:
            labels[id(t)] = format_array(t.data.reshape(()), 1)
            continue
        base = t.grad_fn.name.lower() if t.grad_fn is not None else (
            "leaf" if t.requires_grad else "const")
        counts[base] = counts.get(base, 0) + 1
        labels[id(t)] = f"{base}{counts[base]}"
    return labels


# ---- the widget ---------------------------------------------------------------------------
def _code(a, max_elements):
    text = format_array(a, max_elements)
    if text is None:
        return f"<i>shape {np.shape(a)}: too many elements to show</i>"
    return f"<code style='white-space: pre'>{html.escape(text)}</code>"


class BackwardStepper(ShowsOnce):
    """The backward pass of a small graph, one node per click (see backward_stepper).

    Attributes useful to tests and curious students:
    - steps: the BackwardStep list; position: 0 before the first step, k after step k.
    - highlighted: the tensor being processed (None at position 0).
    - buttons: dict "back" / "next" / "reset" of Buttons; graph, explanation, status: HTML widgets.
    - svg_or_source(position): what the graph widget shows at a position (cached).
    - redraws: how many times it was redrawn so far; redraw_seconds: their durations.
    """

    def __init__(self, tensor, gradient=None, max_elements=6, rankdir="LR", max_nodes=100):
        import ipywidgets as widgets

        if rankdir not in RANKDIRS:
            raise ValueError(f"backward_stepper: rankdir must be one of {RANKDIRS}, got {rankdir!r}.")
        self.root = tensor
        self.steps = backward_trace(tensor, gradient)
        if len(self.steps) > max_nodes:
            raise ValueError(
                f"backward_stepper is meant for small graphs: this one has {len(self.steps)} "
                f"nodes that receive a gradient (at most {max_nodes} allowed). Try a smaller "
                f"example, or raise max_nodes.")
        self.seed = _seed(tensor, gradient)
        self.max_elements = max_elements
        self.rankdir = rankdir
        self.labels = node_labels(tensor)
        self.position = 0
        self.redraw_seconds = []
        self._drawings = {}

        self.buttons = {name: widgets.Button(description=name.capitalize())
                        for name in ("back", "next", "reset")}
        self.buttons["back"].on_click(lambda _: self.back())
        self.buttons["next"].on_click(lambda _: self.next())
        self.buttons["reset"].on_click(lambda _: self.reset())
        self.status = widgets.HTML()
        self.graph = widgets.HTML()
        self.explanation = widgets.HTML()
        self.widget = widgets.VBox([
            widgets.HBox([self.buttons["back"], self.buttons["next"], self.buttons["reset"],
                          self.status]),
            self.graph, self.explanation])
        self.redraw()

    @property
    def redraws(self):
        return len(self.redraw_seconds)

    # -- navigation --
    def next(self):
        if self.position < len(self.steps):
            self.position += 1
            self.redraw()

    def back(self):
        if self.position > 0:
            self.position -= 1
            self.redraw()

    def reset(self):
        self.position = 0
        self.redraw()

    @property
    def current_step(self):
        return self.steps[self.position - 1] if self.position else None

    @property
    def highlighted(self):
        step = self.current_step
        return None if step is None else step.node

    def label(self, t):
        """The tensor's name in the drawing and the text (HTML-escaped)."""
        return html.escape(self.labels[id(t)])

    # -- drawing --
    def redraw(self):
        started = time.perf_counter()
        self.graph.value = self.svg_or_source(self.position)
        self.explanation.value = self.explain(self.position)
        self.status.value = (f"<b>step {self.position} of {len(self.steps)}</b>" if self.position
                             else f"<b>start</b> ({len(self.steps)} steps)")
        self.buttons["back"].disabled = self.position == 0
        self.buttons["next"].disabled = self.position == len(self.steps)
        self.redraw_seconds.append(time.perf_counter() - started)

    def drawing(self, position):
        """The graphviz drawing at a position: running gradient sums, the current node lit."""
        step = self.steps[position - 1] if position else None
        accumulated = step.accumulated if step else {id(self.root): self.seed}
        done = {id(s.node) for s in self.steps[:position]} | {id(self.root)}
        partial = [s.node for s in self.steps if id(s.node) not in done]
        highlight = () if step is None else (step.node, step.op)
        received = () if step is None else [x for x, c in zip(step.inputs, step.contributions)
                                            if c is not None]
        return build_graph(self.root, show_grad=True, show_values=True,
                           max_elements=self.max_elements, rankdir=self.rankdir,
                           highlight=highlight, received=received,
                           grad_of=lambda t: accumulated.get(id(t)), partial=partial,
                           labels=self.labels)

    def svg_or_source(self, position):
        """HTML for the graph widget: the SVG, or the DOT source where `dot` is missing."""
        if position not in self._drawings:
            from course.viz.graph import INSTALL_HINT, render_svg

            drawing = self.drawing(position)
            svg = render_svg(drawing)
            if svg is None:
                shown = (f"<p>{html.escape(INSTALL_HINT)}</p>"
                         f"<pre>{html.escape(drawing.source)}</pre>")
            else:
                shown = f"<div style='overflow-x: auto'>{svg}</div>"
            self._drawings[position] = shown
        return self._drawings[position]

    def explain(self, position):
        """HTML text for a position: upstream gradient, Jacobians, contributions, running sums."""
        root, n = self.label(self.root), self.max_elements
        if position == 0:
            return (f"<p>The forward pass is done. Backward starts at <b>{root}</b> with the seed "
                    f"d{root}/d{root} = {_code(self.seed, n)}. Press <b>Next</b>.</p>")
        step = self.steps[position - 1]
        name = self.label(step.node)
        parts = [f"<p>Upstream gradient d{root}/d{name} = {_code(step.upstream, n)} "
                 f"(complete: every op that used {name} has passed its share back).</p>"]
        if step.op is None:
            parts.append(f"<p><b>{name}</b> is a leaf: nothing left to pass back. backward() "
                         f"would add this gradient to {name}.grad.</p>")
        else:
            args = ", ".join(self.label(x) for x in step.inputs)
            parts.append(f"<p><b>{name} = {html.escape(step.op.name)}({args})</b>: each input "
                         f"receives upstream &middot; J, with J[i, j] = d{name}<sub>i</sub>/"
                         f"d(input)<sub>j</sub> (the ordinary Jacobian; the lecture's "
                         f"[d{name}/d(input)] is J<sup>T</sup>, and J<sup>T</sup> upstream holds "
                         f"the same numbers).</p>")
            parts.append(self._contribution_table(position, step))
        if position == len(self.steps):
            parts.append("<p>Backward pass done: every gradient in the graph is final.</p>")
        return "".join(parts)

    def _contribution_table(self, position, step):
        before = self.steps[position - 2].accumulated if position > 1 else {}
        running = dict(before)
        rows = ["<tr><th>input</th><th>local Jacobian</th><th>contribution</th>"
                "<th>gradient so far</th></tr>"]
        for x, jac, c in zip(step.inputs, step.jacobians, step.contributions):
            name = self.label(x)
            if c is None:
                why = "a constant" if not x.requires_grad else "backward returned None for it"
                rows.append(f"<tr><td>{name}</td><td colspan='3'>{why}: no gradient</td></tr>")
                continue
            old = running.get(id(x))
            running[id(x)] = c if old is None else old + c
            if old is None:
                total = _code(running[id(x)], self.max_elements)
            else:
                total = (f"{_code(old, self.max_elements)} + {_code(c, self.max_elements)} = "
                         f"{_code(running[id(x)], self.max_elements)} "
                         f"<b>fan-in: gradients from different paths add</b>")
            jac_text = "<i>not computed (large)</i>" if jac is None else _code(jac, 36)
            rows.append(f"<tr><td>{name}</td><td>{jac_text}</td>"
                        f"<td>{_code(c, self.max_elements)}</td><td>{total}</td></tr>")
        return "<table>" + "".join(rows) + "</table>"





def _in_notebook_kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def backward_stepper(tensor, gradient=None, max_elements=6, rankdir="LR", show=True):
    """Step through the backward pass of a small graph, one node per click.

    The graph is drawn with the node being processed highlighted (its op and the arrows
    the gradient flows along in orange, the inputs that just received a gradient in green);
    below it, the node's upstream gradient, the local Jacobian of its op for each input,
    the contribution upstream . J passed back, and each input's running sum, so the adding
    up at a tensor used several times (fan-in, shared weights) is visible.
    Next / Back / Reset buttons move through the steps. No tensor's .grad is changed.

    Inputs:
    - tensor: the root (usually a scalar loss) of a small graph that requires grad.
    - gradient: d(loss)/d(tensor) when the tensor has more than one element.
    - max_elements: values and gradients are shown for tensors of at most this many elements.
    - rankdir: the drawing's direction, "LR" (inputs on the left) or "TB".
    - show: display the stepper when called in a notebook.

    Returns the BackwardStepper (its .steps, .next(), .back(), .reset() drive it).
    """
    stepper = BackwardStepper(tensor, gradient, max_elements, rankdir)
    if show and _in_notebook_kernel():
        from IPython.display import display

        display(stepper)
    return stepper
