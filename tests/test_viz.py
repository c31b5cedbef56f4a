"""course.viz.draw_graph: the DOT it writes, what it shows, and its behaviour without `dot`."""
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from course.autograd import Function, Tensor
from course.viz import draw_graph

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")


def parse_dot(source):
    """(labels, edges): node id -> label text, and a list of (tail id, head id)."""
    labels, edges = {}, []
    for line in source.splitlines():
        edge = re.match(r"\s*(\w+) -> (\w+)", line)
        if edge:
            edges.append(edge.groups())
            continue
        node = re.match(r'\s*(\w+) \[label=("(?:[^"\\]|\\.)*"|[^ \]]+)', line)
        if node and node.group(1) not in ("graph", "node", "edge"):
            labels[node.group(1)] = node.group(2).strip('"')
    return labels, edges


def fields(label):
    return [f.strip() for f in re.split(r"(?<!\\)\|", label.strip("{}"))]


def node_named(labels, name):
    found = [i for i, lab in labels.items() if fields(lab)[0] == name]
    assert len(found) == 1, f"expected one node named {name!r} in {labels}"
    return found[0]


def lecture_graph():
    x = Tensor(-2.0, requires_grad=True, name="x")
    y = Tensor(5.0, requires_grad=True, name="y")
    z = Tensor(-4.0, requires_grad=True, name="z")
    q = x * y
    f = q + z
    f.name = "f"
    return x, y, z, q, f


def test_lecture_graph_nodes_edges_values_and_grads():
    x, y, z, q, f = lecture_graph()
    f.backward()
    labels, edges = parse_dot(draw_graph(f).source)
    ids = {n: node_named(labels, n) for n in "xyzf"}
    ops = {labels[i]: i for i in labels if fields(labels[i])[0] in ("Mul", "Add")}
    assert set(ops) == {"Mul", "Add"}
    # q = x * y is unnamed: the one tensor node whose field list starts with its shape.
    (q_id,) = [i for i, lab in labels.items() if fields(lab)[0] == "shape ()"]
    assert sorted(edges) == sorted([
        (ids["x"], ops["Mul"]), (ids["y"], ops["Mul"]), (ops["Mul"], q_id),
        (q_id, ops["Add"]), (ids["z"], ops["Add"]), (ops["Add"], ids["f"])])
    # Forward values and df/dx = y, df/dy = x, df/dz = 1, worked out by hand.
    expected = {"x": ("-2", "5"), "y": ("5", "-2"), "z": ("-4", "1")}
    for name, (value, grad) in expected.items():
        assert f"data {value}" in fields(labels[ids[name]])
        assert f"grad {grad}" in fields(labels[ids[name]])
        assert "requires_grad" in fields(labels[ids[name]])
    assert "data -10" in fields(labels[q_id])
    assert "data -14" in fields(labels[ids["f"]])
    assert not any(fl.startswith("grad") for fl in fields(labels[ids["f"]]))  # non-leaf, no retain_grad


def test_no_grad_shown_before_backward_and_options_hide_fields():
    x, y, z, q, f = lecture_graph()
    labels, _ = parse_dot(draw_graph(f).source)
    assert not any(fl.startswith("grad") for lab in labels.values() for fl in fields(lab))
    f.backward()
    labels, _ = parse_dot(draw_graph(f, show_grad=False, show_values=False).source)
    assert not any(fl.startswith(("grad", "data")) for lab in labels.values() for fl in fields(lab))
    assert "shape ()" in fields(labels[node_named(labels, "x")])


def test_shapes_shown_and_large_values_left_out():
    W = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="W")
    v = Tensor(np.ones(7), requires_grad=True, name="v")          # 7 > max_elements
    out = (W.sum() * v).sum()
    out.backward()
    labels, _ = parse_dot(draw_graph(out, max_elements=6).source)
    w_fields, v_fields = fields(labels[node_named(labels, "W")]), fields(labels[node_named(labels, "v")])
    assert "shape (2, 3) float64" in w_fields
    assert any(fl.startswith("data [[0., 1., 2.],") for fl in w_fields)
    assert any(fl.startswith("grad [[7., 7., 7.],") for fl in w_fields)       # d out / dW = sum(v)
    assert "shape (7,) float64" in v_fields
    assert not any(fl.startswith(("data", "grad")) for fl in v_fields)
    labels, _ = parse_dot(draw_graph(out, max_elements=7).source)
    assert "grad [15., 15., 15., 15., 15., 15., 15.]" in fields(labels[node_named(labels, "v")])


def test_constants_marked_and_fan_in_drawn_as_two_edges():
    x = Tensor(3.0, requires_grad=True, name="x")
    y = x * x + 2.0
    labels, edges = parse_dot(draw_graph(y).source)
    x_id = node_named(labels, "x")
    (mul,) = [i for i, lab in labels.items() if lab == "Mul"]
    assert edges.count((x_id, mul)) == 2
    (const,) = [i for i, lab in labels.items() if "constant" in fields(lab)]
    assert "data 2" in fields(labels[const])


def test_highlight_marks_exactly_the_given_tensor_and_op():
    x, y, z, q, f = lecture_graph()
    source = draw_graph(f, highlight={q, f.grad_fn}).source
    lit = [line for line in source.splitlines() if "#fcd34d" in line]
    assert len(lit) == 2
    assert any("data -10" in line for line in lit) and any("label=Add" in line for line in lit)
    assert "#fcd34d" not in draw_graph(f).source


def test_custom_function_and_odd_names():
    class Square(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return 2 * a * grad

    a = Tensor([1.0, 2.0], requires_grad=True, name='a|b {c} <d> "e"')
    out = Square.apply(a).sum()
    source = draw_graph(out, rankdir="TB").source
    labels, _ = parse_dot(source)
    assert "Square" in labels.values()
    assert any(lab.startswith("{") and lab.endswith("}") for lab in labels.values())  # TB: braced records
    assert r"a\|b \{c\} \<d\>" in source
    if shutil.which("dot"):
        assert "Square" in draw_graph(out)._repr_mimebundle_()["image/svg+xml"]


def test_deep_graph_draws_without_recursion_error():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    labels, edges = parse_dot(draw_graph(y, show_values=False).source)
    assert sum(lab == "Mul" for lab in labels.values()) == 3000


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(TypeError, match="expects a Tensor, got ndarray"):
        draw_graph(np.ones(3))
    x = Tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(x * 2, rankdir="left")
    with pytest.raises(ValueError, match="max_elements"):
        draw_graph(x * 2, max_elements=-1)


@needs_dot
def test_renders_svg_when_dot_exists():
    x, y, z, q, f = lecture_graph()
    f.backward()
    bundle = draw_graph(f)._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    for text in ("Mul", "Add", "grad 5", "data &#45;14"):
        assert text in svg


def check_fallback(drawing, capsys):
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(drawing)
    assert "image/svg+xml" not in data
    for mimetype in ("text/markdown", "text/plain"):
        assert drawing.source in data[mimetype]
        assert "apt-get install graphviz" in data[mimetype] and "Colab" in data[mimetype]
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_without_dot_on_path_shows_source_and_install_hint(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("dot") is None
    x, y, z, q, f = lecture_graph()
    check_fallback(draw_graph(f), capsys)


def test_when_graphviz_cannot_run_dot_shows_source_and_install_hint(monkeypatch, capsys):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot", "-Kdot", "-Tsvg"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/" + name)
    x, y, z, q, f = lecture_graph()
    check_fallback(draw_graph(f), capsys)


def test_import_course_viz_imports_no_graphviz():
    code = "import sys, course.viz; print('graphviz' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"] and out.stderr == ""
