"""Pictures of what the library computes.

- draw_graph(tensor): the autograd graph behind a tensor, drawn with graphviz (op nodes,
  tensor nodes with names, shapes, values and gradients).

`import course.viz` imports neither graphviz nor matplotlib; they are imported when a
drawing is asked for.
"""
from course.viz.graph import draw_graph

__all__ = ["draw_graph"]
