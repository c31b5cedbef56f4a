"""draw_graph: the autograd graph behind a tensor, drawn with graphviz.

Tensors are boxes: the name the user gave, the shape, and for small tensors the values and
the gradient. Ops are ellipses named after the op. Arrows run from each input to the op
that used it and from the op to its result: the forward pass reads along the arrows,
backward runs against them. A tensor used twice has two arrows leaving it.
"""
import numpy as np

from course.autograd import Tensor, topological_order

RANKDIRS = ("LR", "RL", "TB", "BT")

# Fill colours: leaves that require grad, constants, highlighted nodes, nodes that just
# received a gradient (used by the backward stepper), op nodes.
LEAF_COLOR = "#dbeafe"
CONSTANT_COLOR = "#f3f4f6"
HIGHLIGHT_COLOR = "#fcd34d"
RECEIVED_COLOR = "#bbf7d0"
OP_COLOR = "#f5f5f5"
FLOW_COLOR = "#c2410c"

# Shown with the DOT source where the drawing cannot be made.
INSTALL_HINT = (
    "The graphviz program `dot` was not found, so the graph is shown as DOT source. To see the "
    "picture, install graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
    "`conda install -c conda-forge graphviz`, or `brew install graphviz` (macOS); Colab has it already.")


def render_svg(drawing):
    """A drawing made by build_graph as an SVG string, or None when graphviz's `dot` is missing."""
    from course.viz._graphviz import render_svg as render

    return render(drawing)


def graph_tensors(root):
    """Every tensor `root` was computed from (constants included), each after its inputs."""
    return topological_order([root], include_constants=True)


def format_array(a, max_elements):
    """Small arrays as text (one line per row); None for arrays above max_elements."""
    a = np.asarray(a)
    if a.size > max_elements:
        return None
    if a.ndim == 0:
        return f"{a.item():.4g}"
    return np.array2string(a, precision=4, separator=", ", suppress_small=True)


def _escape_record(text):
    """Text that graphviz shows literally inside a record field."""
    for ch in "\\{}|<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _field(caption, text):
    lines = _escape_record(f"{caption} {text}").split("\n")
    if len(lines) == 1:
        return lines[0]
    return "".join(line + "\\l" for line in lines)          # \l: left-aligned line break


def shape_text(t):
    text = f"shape {t.shape}"
    return text if t.dtype == np.float32 else f"{text} {t.dtype}"


def _tensor_label(t, name, grad, grad_caption, show_values, max_elements, rankdir):
    fields = [] if name is None else [_escape_record(name)]
    fields.append(_escape_record(shape_text(t)))
    if t.is_leaf:
        fields.append("requires_grad" if t.requires_grad else "constant")
    values = format_array(t.data, max_elements) if show_values else None
    if values is not None:
        fields.append(_field("data", values))
    grad_text = None if grad is None else format_array(grad, max_elements)
    if grad_text is not None:
        fields.append(_field(grad_caption, grad_text))
    label = " | ".join(fields)
    # Records lay fields out across the rank direction; braces turn them. Either way the
    # fields end up stacked vertically.
    return label if rankdir in ("LR", "RL") else "{" + label + "}"


def _leaf_grad(t):
    return None if t.grad is None else t.grad.data


def build_graph(root, show_grad=True, show_values=True, max_elements=6, rankdir="LR",
                highlight=(), received=(), grad_of=None, partial=(), labels=None):
    """The drawing behind draw_graph, with the extra knobs the backward stepper uses.

    received: tensors drawn as "just received a gradient".
    grad_of: function tensor -> array or None, the gradient to show (default: `.grad`).
    partial: tensors whose shown gradient is a running sum ("grad so far").
    labels: dict id(tensor) -> label for tensors without a name.
    """
    from course.viz._graphviz import GraphDrawing

    grad_of = _leaf_grad if grad_of is None else grad_of
    highlighted = {id(h) for h in highlight}
    received = {id(t) for t in received}
    partial = {id(t) for t in partial}
    labels = labels or {}

    dot = GraphDrawing(graph_attr={"rankdir": rankdir},
                       node_attr={"fontname": "Helvetica", "fontsize": "11"},
                       edge_attr={"arrowsize": "0.7", "fontname": "Helvetica", "fontsize": "9"})
    tensors = graph_tensors(root)
    ids = {id(t): f"t{i}" for i, t in enumerate(tensors)}
    for t in tensors:
        name = t.name if t.name is not None else labels.get(id(t))
        grad = grad_of(t) if show_grad else None
        caption = "grad so far" if id(t) in partial else "grad"
        style = {"shape": "record", "style": "filled", "fillcolor": "white"}
        if t.is_leaf:
            style["fillcolor"] = LEAF_COLOR if t.requires_grad else CONSTANT_COLOR
            if not t.requires_grad:
                style.update(style="filled,dashed", fontcolor="#4b5563")
        if id(t) in received:
            style.update(fillcolor=RECEIVED_COLOR, penwidth="2")
        if id(t) in highlighted:
            style.update(fillcolor=HIGHLIGHT_COLOR, penwidth="2.5")
        dot.node(ids[id(t)], _tensor_label(t, name, grad, caption, show_values, max_elements,
                                           rankdir), **style)

        op = t.grad_fn
        if op is None:
            continue
        op_id = ids[id(t)] + "_op"
        lit = id(op) in highlighted
        dot.node(op_id, _escape_record(op.name), shape="ellipse", style="filled",
                 fillcolor=HIGHLIGHT_COLOR if lit else OP_COLOR, penwidth="2.5" if lit else "1")
        edge_style = {"color": FLOW_COLOR, "penwidth": "2"} if lit else {}
        numbered = len(op.inputs) > 1 and op.name not in ("Add", "Mul")   # order matters
        for position, x in enumerate(op.inputs):
            extra = {"label": str(position)} if numbered else {}
            dot.edge(ids[id(x)], op_id, **extra, **edge_style)
        dot.edge(op_id, ids[id(t)], **edge_style)
    return dot


def draw_graph(tensor, show_grad=True, show_values=True, max_elements=6, rankdir="LR",
               highlight=None):
    """Draw the autograd graph behind `tensor` (micrograd's draw_dot, for tensors).

    Inputs:
    - tensor: a Tensor; everything it was computed from is drawn, constants included.
    - show_grad: show each tensor's .grad where it has one (leaves after backward(),
      non-leaves after retain_grad()).
    - show_values: show each tensor's values.
    - max_elements: values and gradients are shown for tensors of at most this many
      elements; larger tensors show their shape only.
    - rankdir: "LR" (inputs on the left), "TB" (inputs on top), "RL" or "BT".
    - highlight: tensors and op nodes (a tensor's .grad_fn) to draw highlighted.

    Returns a graphviz.Digraph: in Jupyter it shows as a picture; its `.source` is the
    DOT text. Where graphviz's `dot` program is not installed, it shows the DOT source and
    how to install graphviz instead of raising.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"draw_graph expects a Tensor, got {type(tensor).__name__}. Draw the result of a "
            f"computation on Tensors, e.g. x = Tensor(2.0, requires_grad=True); draw_graph(x * x).")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {RANKDIRS}, got {rankdir!r}.")
    if not isinstance(max_elements, (int, np.integer)) or max_elements < 0:
        raise ValueError(
            f"draw_graph: max_elements must be a whole number >= 0 (0 hides all values), "
            f"got {max_elements!r}.")
    return build_graph(tensor, show_grad, show_values, max_elements, rankdir,
                       highlight=() if highlight is None else highlight)
