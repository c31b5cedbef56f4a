"""The one module of course.viz that imports graphviz (course.viz.graph imports it lazily).

A missing `dot` program must not break a notebook: a drawing then shows its DOT source and
one line on how to install graphviz, and nothing raises.
"""
import shutil

import graphviz

from course.viz.graph import INSTALL_HINT


def render_svg(graph):
    """The graph drawn as an SVG string, or None when the `dot` program is missing."""
    if shutil.which("dot") is None:
        return None
    try:
        svg = graph.pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        return None
    return svg[svg.find("<svg"):]          # without the XML prolog, so it can sit inside HTML


def source_bundle(source):
    """What Jupyter shows instead of a picture: the install hint, then the DOT source."""
    return {
        "text/plain": f"{INSTALL_HINT}\n\n{source}",
        "text/markdown": f"{INSTALL_HINT}\n\n```dot\n{source}```\n",
    }


class GraphDrawing(graphviz.Digraph):
    """A graphviz.Digraph that shows its DOT source when graphviz's `dot` program is missing."""

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        svg = render_svg(self)
        if svg is None:
            return source_bundle(self.source)
        return {"image/svg+xml": svg}

