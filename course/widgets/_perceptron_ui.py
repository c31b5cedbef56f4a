"""perceptron_playground: move a perceptron's boundary line by hand or by the perceptron rule."""

import ipywidgets as widgets
import numpy as np

from course import data
from course import perceptron
from ._ui import (CLASS_COLORS, Playground, class_colormap, display_if_in_notebook, float_slider, grid,
                  new_figure, widen_to)

PERCEPTRON_DATASETS = ("AND", "OR", "XOR", "blobs")
_CLASS_COLORS = np.array(CLASS_COLORS)


class PerceptronPlayground(Playground):
    """The UI of perceptron_playground; see that function for the controls.

    State: X (N, 2), y (N,), w (2,), b, last_index (the point of the last perceptron step).
    Artists: "points", "mistakes" (crosses on misclassified points), "boundary" (the line
    w^T x + b = 0), "regions" (the predicted class on a grid), "last" (ring around the
    point of the last step), "title".
    """

    def __init__(self, dataset="AND", n_points=40, noise=0.3, w=(1.0, 1.0), b=0.0, lr=1.0, seed=0):
        super().__init__()
        if dataset not in PERCEPTRON_DATASETS:
            raise ValueError(f"unknown data set {dataset!r}; choose one of {', '.join(PERCEPTRON_DATASETS)}")
        self.n_points, self.seed, self.lr = n_points, seed, lr
        self.initial_w, self.initial_b = np.array(w, dtype=np.float64), float(b)
        self.w, self.b = self.initial_w.copy(), self.initial_b
        self.last_index = None
        self._next_start = 0
        self.X, self.y = data.make_dataset(dataset, n_points, noise, seed)
        self.grid_points, self.grid_axis = grid(40)
        self._build_controls(dataset, noise)
        self._build_figure()
        self.redraw()

    def step(self):
        """One perceptron step (on the next misclassified point); returns its index or None."""
        w, b, i = perceptron.perceptron_step(self.X, self.y, self.w, self.b, self.lr, self._next_start)
        self.last_index = i
        if i is not None:
            self._next_start = i + 1
            self.w, self.b = w, b
        self._state_to_sliders()
        return i

    def reset(self):
        """Back to the initial weights."""
        self.w, self.b = self.initial_w.copy(), self.initial_b
        self.last_index, self._next_start = None, 0
        self._state_to_sliders()

    def mistakes(self):
        return perceptron.mistakes(self.X, self.y, self.w, self.b)

    # ---- controls ----------------------------------------------------------
    def _build_controls(self, dataset, noise):
        c = self.controls = {}
        c["dataset"] = widgets.Dropdown(options=list(PERCEPTRON_DATASETS), value=dataset,
                                        description="data", layout=widgets.Layout(width="200px"))
        c["noise"] = float_slider("noise", noise, 0.0, 1.0, 0.05, width="240px")
        c["w1"] = float_slider("w1", self.w[0], -4.0, 4.0, 0.05)
        c["w2"] = float_slider("w2", self.w[1], -4.0, 4.0, 0.05)
        c["b"] = float_slider("b", self.b, -4.0, 4.0, 0.05)
        c["step"] = widgets.Button(description="perceptron step", button_style="primary")
        c["reset"] = widgets.Button(description="reset weights")

        c["dataset"].observe(self._on_data, names="value")
        c["noise"].observe(self._on_data, names="value")
        c["w1"].observe(self._on_weight, names="value")
        c["w2"].observe(self._on_weight, names="value")
        c["b"].observe(self._on_weight, names="value")
        c["step"].on_click(lambda button: self.step())
        c["reset"].on_click(lambda button: self.reset())

        self.status = widgets.HTML()
        self.image = self._image_widget()
        self.widget = widgets.HBox([
            self.image,
            widgets.VBox([c["dataset"], c["noise"], c["w1"], c["w2"], c["b"],
                          widgets.HBox([c["step"], c["reset"]]), self.status]),
        ])

    def _on_data(self, change):
        self.X, self.y = data.make_dataset(self.controls["dataset"].value, self.n_points,
                                           self.controls["noise"].value, self.seed)
        self.last_index, self._next_start = None, 0
        self.redraw()

    def _on_weight(self, change):
        self.w = np.array([self.controls["w1"].value, self.controls["w2"].value])
        self.b = float(self.controls["b"].value)
        self.last_index = None
        self.redraw()

    def _state_to_sliders(self):
        # Each slider's callback reads all three sliders, so take the values before moving any.
        w1, w2, b, last = float(self.w[0]), float(self.w[1]), float(self.b), self.last_index
        with self.hold():
            widen_to(self.controls["w1"], w1)
            widen_to(self.controls["w2"], w2)
            widen_to(self.controls["b"], b)
            self.last_index = last  # the slider callbacks cleared it

    # ---- figure ------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure = new_figure(4.4, 4.2)
        ax = fig.add_subplot(1, 1, 1)
        box = data.BOX
        n = len(self.grid_axis)
        regions = ax.imshow(np.zeros((n, n)), extent=(-box, box, -box, box), origin="lower",
                            cmap=class_colormap(), vmin=-2.0, vmax=2.0, interpolation="nearest")
        points = ax.scatter(self.X[:, 0], self.X[:, 1], s=28, edgecolors="black", linewidths=0.5)
        mistakes = ax.scatter([], [], marker="x", s=90, c="red", linewidths=2.0)
        last = ax.scatter([], [], s=260, facecolors="none", edgecolors="red", linewidths=1.5)
        boundary, = ax.plot([], [], color="black", lw=2.0)
        ax.set_xlim(-box, box)
        ax.set_ylim(-box, box)
        ax.set_xlabel("x1", fontsize=9)
        ax.set_ylabel("x2", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.locator_params(nbins=5)
        title = ax.set_title("0 of 0 points misclassified", fontsize=10)
        fig.tight_layout()
        self.artists = {"regions": regions, "points": points, "mistakes": mistakes, "last": last,
                        "boundary": boundary, "title": title}
        self._changes(ax, regions, points, mistakes, last, boundary, title)

    def _update_artists(self):
        n = len(self.grid_axis)
        predicted = perceptron.classify(self.grid_points, self.w, self.b)
        self.artists["regions"].set_data((2.0 * predicted - 1.0).reshape(n, n))
        self.artists["points"].set_offsets(self.X)
        self.artists["points"].set_facecolors(_CLASS_COLORS[self.y])
        wrong = self.mistakes()
        self.artists["mistakes"].set_offsets(self.X[wrong].reshape(-1, 2))
        last = [] if self.last_index is None else [self.last_index]
        self.artists["last"].set_offsets(self.X[last].reshape(-1, 2))
        self.artists["boundary"].set_data(*perceptron.boundary_segment(self.w, self.b, data.BOX))
        self.artists["title"].set_text(f"{len(wrong)} of {len(self.y)} points misclassified")
        text = (f"w = ({self.w[0]:.2f}, {self.w[1]:.2f}), b = {self.b:.2f}<br>"
                f"<b>{len(wrong)}</b> mistakes (red crosses)")
        if self.last_index is not None:
            text += f"<br>last step used point {self.last_index} (ringed)"
        elif len(wrong) == 0:
            text += "<br>every point is classified correctly"
        self.status.value = text


def perceptron_playground(dataset="AND", n_points=40, noise=0.3, w=(1.0, 1.0), b=0.0, lr=1.0,
                          seed=0, show=True):
    """Interactive perceptron on 2-d points with labels 0 (orange) and 1 (blue).

    Controls: the data set (AND, OR, XOR, blobs) and its noise, sliders for w1, w2 and b,
    a "perceptron step" button (one update w += lr (y_i - yhat_i) x_i, b += lr (y_i - yhat_i)
    on the next misclassified point i) and "reset weights". The figure shows the line
    w1 x1 + w2 x2 + b = 0, the region predicted as class 1 (w^T x + b > 0), and red
    crosses on the misclassified points.

    Inputs:
    - dataset, n_points, noise, seed: the data (see course.data.make_dataset).
    - w: (w1, w2) and b: the starting weights and bias; lr: the perceptron's learning rate.
    - show: display the playground when called in a notebook.

    Returns the PerceptronPlayground (its .controls, .figure, .artists, .redraw() drive it).
    """
    return display_if_in_notebook(PerceptronPlayground(dataset, n_points, noise, w, b, lr, seed), show)
