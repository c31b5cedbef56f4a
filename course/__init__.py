"""How neural networks learn: a compact NumPy autograd core and the course built on it.

`import course` is light: it imports numpy only. Plotting (`course.viz`) and widgets
(`course.widgets`) load matplotlib, ipywidgets and graphviz when they are used.
"""
from course.autograd import Tensor, manual_seed, no_grad, enable_grad

__version__ = "0.1.0"
__all__ = ["Tensor", "manual_seed", "no_grad", "enable_grad"]
