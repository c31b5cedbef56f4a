"""What the three playgrounds share: a figure drawn off screen and shown as a PNG in an Image widget.

Why PNG in an Image widget: it behaves the same in ipywidgets 7.7.1 (Colab) and 8.x
(JupyterLab), needs no ipympl, and tests can drive it without a browser. The figure is a
matplotlib Figure on the Agg canvas, never registered with pyplot, so the inline backend
does not show a second copy of it.

Why it is fast: each redraw updates the artists' data in place (set_data, set_offsets, ...)
instead of plotting anew, and most of the drawing time goes to the parts that do not change
(axes, ticks, labels). So the changing artists are marked "animated": a full draw leaves them
out and is kept as a background picture; a redraw pastes the background and draws only the
changing artists on it (blitting). The background is drawn anew only when an axis range
changes. A consequence: `figure.savefig` would leave the changing artists out; use
`playground.save_png(path)` to keep a picture.
"""

import contextlib
import io
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course.data import BOX
from course.widgets._display import ShowsOnce


# Class 0 orange, class 1 blue (as in TensorFlow Playground); the maps use paler versions.
CLASS_COLORS = ((0.90, 0.55, 0.10, 1.0), (0.15, 0.40, 0.75, 1.0))


def class_colormap():
    """A colour map from pale orange (class 0) through white to pale blue (class 1)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "course_classes", [(0.98, 0.72, 0.42), (1.0, 1.0, 1.0), (0.55, 0.72, 0.95)]
    )


def grid(n_cells=60, box=BOX):
    """Points of a regular grid over the square [-box, box]^2, for drawing heat maps.

    Returns a tuple of:
    - points: array of shape (n_cells * n_cells, 2); row r * n_cells + c has x2 from row r
      and x1 from column c, so values.reshape(n_cells, n_cells) is an image with x2 going up
      when drawn with origin="lower".
    - axis: array of shape (n_cells,), the coordinates along each axis.
    """
    axis = np.linspace(-box, box, n_cells)
    x1, x2 = np.meshgrid(axis, axis)
    return np.stack([x1.ravel(), x2.ravel()], axis=1), axis


def new_figure(width, height, dpi=80):
    """A Figure of width x height inches attached to an Agg canvas (not to pyplot)."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def canvas_png(canvas):
    """The canvas's current pixels as PNG bytes (light compression: speed matters more than size)."""
    from PIL import Image

    width, height = canvas.get_width_height()
    picture = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def nice_ceiling(value, steps=(1.0, 2.0, 2.5, 5.0)):
    """The smallest number step * 10^k (k an integer) that is >= value > 0: stable axis limits."""
    value = float(value)
    if not value > 0 or value != value or value == float("inf"):
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    for step in steps + (10.0,):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


def in_notebook_kernel():
    """True when running inside a Jupyter kernel (where widgets can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Playground(ShowsOnce):
    """Base of the playgrounds.

    Subclasses build `self.figure`, `self.controls` (name -> widget) and `self.widget`
    (the whole UI), and implement `_update_artists()`, which moves the current state into
    the figure's artists. Attributes useful to tests and curious students:
    - controls: dict of the input widgets, by name.
    - figure: the matplotlib Figure; artists: dict of its changing artists, by name.
    - image: the Image widget showing the figure; status: an HTML widget with text.
    - redraws: how many times the figure was redrawn so far.
    - redraw_seconds: durations of all redraws so far (benchmarks/bench_budgets.py reports them).
    - background_draws: how many redraws drew the whole figure (the others pasted the background
      and drew only the changing artists).
    """

    def __init__(self):
        self.redraw_seconds = []
        self.background_draws = 0
        self._holding = 0
        self._changing = []  # (axes, artist) pairs drawn on every redraw
        self._background = None
        self._background_key = None

    @property
    def redraws(self):
        return len(self.redraw_seconds)

    def _changes(self, axes, *artists):
        """Mark artists of `axes` as changing: they are drawn on every redraw, over the background."""
        for artist in artists:
            artist.set_animated(True)
            self._changing.append((axes, artist))

    def redraw(self):
        """Move the state into the figure and show it; returns the PNG bytes."""
        if self._holding:
            return self.image.value
        started = time.perf_counter()
        self._update_artists()
        self.image.value = self._render()
        self.redraw_seconds.append(time.perf_counter() - started)
        return self.image.value

    def _render(self):
        canvas = self.figure.canvas
        key = tuple((ax.get_xlim(), ax.get_ylim()) for ax in self.figure.axes)
        if key != self._background_key:
            canvas.draw()  # everything that is not animated
            self.background_draws += 1
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._background_key = key
        else:
            canvas.restore_region(self._background)
        for axes, artist in self._changing:
            axes.draw_artist(artist)
        for axes in {id(ax): ax for ax, _ in self._changing}.values():
            for spine in axes.spines.values():  # keep the frame above images that fill the axes
                axes.draw_artist(spine)
        return canvas_png(canvas)

    def save_png(self, path):
        """Write the picture shown now to a PNG file."""
        with open(path, "wb") as file:
            file.write(self.image.value)

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
