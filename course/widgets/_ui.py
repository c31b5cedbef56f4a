"""What the three playgrounds share: a figure drawn off screen and shown as a PNG in an Image widget.

Why PNG in an Image widget: it behaves the same in ipywidgets 7.7.1 (Colab) and 8.x
(JupyterLab), needs no ipympl, and tests can drive it without a browser. The figure is a
matplotlib Figure on the Agg canvas, never registered with pyplot, so the inline backend
does not show a second copy of it. Each redraw updates the artists' data in place and
renders once.
"""

import contextlib
import io
import time

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


# Class 0 orange, class 1 blue (as in TensorFlow Playground); the maps use paler versions.
CLASS_COLORS = ((0.90, 0.55, 0.10, 1.0), (0.15, 0.40, 0.75, 1.0))


def class_colormap():
    """A colour map from pale orange (class 0) through white to pale blue (class 1)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "course_classes", [(0.98, 0.72, 0.42), (1.0, 1.0, 1.0), (0.55, 0.72, 0.95)]
    )


def new_figure(width, height, dpi=80):
    """A Figure of width x height inches attached to an Agg canvas (not to pyplot)."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def render_png(figure):
    """Draw the figure and return it as PNG bytes (light compression: speed matters more than size)."""
    buffer = io.BytesIO()
    figure.canvas.print_png(buffer, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def in_notebook_kernel():
    """True when running inside a Jupyter kernel (where widgets can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Playground:
    """Base of the playgrounds.

    Subclasses build `self.figure`, `self.controls` (name -> widget) and `self.widget`
    (the whole UI), and implement `_update_artists()`, which moves the current state into
    the figure's artists. Attributes useful to tests and curious students:
    - controls: dict of the input widgets, by name.
    - figure: the matplotlib Figure; artists: dict of its changing artists, by name.
    - image: the Image widget showing the figure; status: an HTML widget with text.
    - redraw_seconds: durations of all redraws so far.
    """

    def __init__(self):
        self.redraw_seconds = []
        self._holding = 0
        self._shown_in = None

    def redraw(self):
        """Move the state into the figure and show it; returns the PNG bytes."""
        if self._holding:
            return self.image.value
        started = time.perf_counter()
        self._update_artists()
        self.image.value = render_png(self.figure)
        self.redraw_seconds.append(time.perf_counter() - started)
        return self.image.value

    @contextlib.contextmanager
    def hold(self):
        """Within this block, redraws are skipped; one redraw follows at its end."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if not self._holding:
            self.redraw()

    def _image_widget(self):
        return widgets.Image(value=b"", format="png")

    def show(self):
        """Display the playground in the notebook."""
        from IPython.display import display

        display(self.widget)

    def _ipython_display_(self):
        # The playground functions display their result once; when that result is also the
        # cell's value, IPython would show it a second time, which this skips.
        count = _execution_count()
        if self._shown_in is not None and self._shown_in == count:
            return
        self._shown_in = count
        self.show()


def _execution_count():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.execution_count


def display_if_in_notebook(playground, show=True):
    """Show the playground when called from a notebook cell; return it either way."""
    if show and in_notebook_kernel():
        from IPython.display import display

        display(playground)
    return playground


def float_slider(description, value, low, high, step, width="300px"):
    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description,
        continuous_update=True, readout_format=".2f",
        style={"description_width": "initial"}, layout=widgets.Layout(width=width),
    )


def widen_to(slider, value):
    """Set a slider's value, first widening its range if the value lies outside (sliders clip)."""
    if value > slider.max:
        slider.max = value
    if value < slider.min:
        slider.min = value
    slider.value = value
