"""relu_sum_playground: build a function out of ReLUs by hand, fit it, take the challenge."""

import ipywidgets as widgets
import numpy as np

from course import relu_sums as rs
from ._ui import Playground, display_if_in_notebook, float_slider, new_figure, nice_ceiling, widen_to

FIT_METHODS = {
    "least squares (output weights)": "lstsq",
    "gradient descent (all parameters)": "gd",
}


class ReluSumPlayground(Playground):
    """The UI of relu_sum_playground; see that function for the controls.

    State: slopes, offsets, weights (arrays of shape (max_relus,); the first n_relus are used)
    and bias. Artists: "target", "sum", "pieces" (list of max_relus lines, weighted pieces
    v_i * ReLU(w_i x + b_i)), "error_text".
    """

    def __init__(self, target="lecture", n_relus=6, max_relus=12, challenge_k=4, n_points=401):
        super().__init__()
        self.x = np.linspace(*rs.INTERVAL, n_points)
        self.targets = dict(rs.TARGETS)
        labels = dict(rs.TARGET_LABELS)
        if callable(target):
            name = getattr(target, "__name__", "f")
            self.targets["custom"] = target
            labels["custom"] = f"custom: {name}"
            target = "custom"
        if target not in self.targets:
            raise ValueError(
                f"unknown target {target!r}; choose one of {', '.join(rs.TARGETS)} or pass a function of x"
            )
        if not 1 <= n_relus <= max_relus:
            raise ValueError(f"n_relus must lie between 1 and max_relus={max_relus}, got {n_relus}")
        self.max_relus = max_relus
        self.n_relus = n_relus
        self.slopes, self.offsets = rs.spread_knots(max_relus)
        self.weights = np.zeros(max_relus)
        self.bias = 0.0
        if target == "lecture":
            six = min(6, max_relus)
            self.slopes[:six] = rs.LECTURE_SLOPES[:six]
            self.offsets[:six] = rs.LECTURE_OFFSETS[:six]
            self.weights[:six] = rs.LECTURE_WEIGHTS[:six]
        self.target_name = target
        self.target_values = self._evaluate_target(target)
        self.last_fit_losses = []

        self._build_controls(labels, challenge_k)
        self._build_figure()
        self.redraw()

    # ---- state -------------------------------------------------------------
    def _evaluate_target(self, name):
        values = np.asarray(self.targets[name](self.x), dtype=np.float64)
        if values.shape != self.x.shape or not np.all(np.isfinite(values)):
            raise ValueError(
                f"target {name!r} must map an array x of shape {self.x.shape} to finite values of the "
                f"same shape (use numpy functions, e.g. lambda x: np.cos(x)); got shape {values.shape}"
            )
        return values

    def approximation(self):
        """g(x) on self.x from the first n_relus ReLUs; array of shape (n_points,)."""
        n = self.n_relus
        return rs.sum_of_relus(self.x, self.slopes[:n], self.offsets[:n], self.weights[:n], self.bias)

    def errors(self):
        """(max error, mean error) of the approximation against the target on self.x."""
        return rs.approximation_errors(self.approximation(), self.target_values)

    def challenge(self):
        """(met, message) of the challenge with the current k."""
        max_error, _ = self.errors()
        return rs.challenge_status(max_error, self.n_relus, self.controls["k"].value)

    def fit(self, method="lstsq", steps=500, lr=0.02):
        """Fit the first n_relus ReLUs to the target: "lstsq" (output weights and bias only)
        or "gd" (all parameters, Adam on the mean squared error, from the current values)."""
        n = self.n_relus
        if method == "lstsq":
            weights, bias = rs.fit_output_weights(self.x, self.target_values, self.slopes[:n], self.offsets[:n])
            self.weights[:n], self.bias = weights, bias
        elif method == "gd":
            a, c, w, b0, losses = rs.fit_gradient_descent(
                self.x, self.target_values, self.slopes[:n], self.offsets[:n], self.weights[:n],
                self.bias, steps=steps, lr=lr,
            )
            self.slopes[:n], self.offsets[:n], self.weights[:n], self.bias = a, c, w, b0
            self.last_fit_losses = losses
        else:
            raise ValueError(f"unknown fit method {method!r}; use 'lstsq' or 'gd'")
        self._state_to_sliders()

    def spread(self):
        """Place the first n_relus ReLUs at evenly spread knots, slope 1, output weight 0."""
        n = self.n_relus
        self.slopes[:n], self.offsets[:n] = rs.spread_knots(n)
        self.weights[:n] = 0.0
        self.bias = 0.0
        self._state_to_sliders()

    # ---- controls ----------------------------------------------------------
    def _build_controls(self, labels, challenge_k):
        c = self.controls = {}
        c["target"] = widgets.Dropdown(
            options=[(label, key) for key, label in labels.items()], value=self.target_name,
            description="target", layout=widgets.Layout(width="320px"),
        )
        c["n_relus"] = widgets.IntSlider(
            value=self.n_relus, min=1, max=self.max_relus, description="number of ReLUs",
            style={"description_width": "initial"}, layout=widgets.Layout(width="320px"),
        )
        rows = []
        for i in range(self.max_relus):
            slope = float_slider(f"w{i + 1}", self.slopes[i], -6.0, 6.0, 0.05, width="230px")
            offset = float_slider(f"b{i + 1}", self.offsets[i], -8.0, 8.0, 0.05, width="230px")
            weight = float_slider(f"v{i + 1}", self.weights[i], -3.0, 3.0, 0.05, width="230px")
            c[f"slope {i + 1}"], c[f"offset {i + 1}"], c[f"weight {i + 1}"] = slope, offset, weight
            for widget, array in ((slope, self.slopes), (offset, self.offsets), (weight, self.weights)):
                widget.observe(self._on_parameter(array, i), names="value")
            rows.append(widgets.HBox([widgets.Label(f"n{i + 1} = ReLU(w{i + 1} x + b{i + 1}), weight v{i + 1}:",
                                                    layout=widgets.Layout(width="210px")),
                                      slope, offset, weight]))
        self._rows = rows
        c["bias"] = float_slider("output bias c", self.bias, -3.0, 3.0, 0.05, width="320px")
        c["fit_method"] = widgets.Dropdown(options=list(FIT_METHODS.items()), value="lstsq",
                                           description="fit by", layout=widgets.Layout(width="320px"))
        c["fit"] = widgets.Button(description="fit", button_style="primary")
        c["spread"] = widgets.Button(description="spread knots",
                                     tooltip="slope 1, knots evenly over the interval, weights 0")
        c["challenge"] = widgets.Checkbox(value=False, description="challenge mode", indent=False)
        c["k"] = widgets.IntSlider(value=min(challenge_k, self.max_relus), min=1, max=self.max_relus,
                                   description=f"max error < {rs.CHALLENGE_TOLERANCE} with at most k =",
                                   style={"description_width": "initial"}, layout=widgets.Layout(width="420px"))

        c["target"].observe(self._on_target, names="value")
        c["n_relus"].observe(self._on_n_relus, names="value")
        c["bias"].observe(self._on_bias, names="value")
        c["challenge"].observe(lambda change: self.redraw(), names="value")
        c["k"].observe(lambda change: self.redraw(), names="value")
        c["fit"].on_click(lambda button: self.fit(c["fit_method"].value))
        c["spread"].on_click(lambda button: self.spread())

        self.status = widgets.HTML()
        self.image = self._image_widget()
        self._relu_box = widgets.VBox(rows[: self.n_relus])
        self.widget = widgets.VBox([
            widgets.HBox([c["target"], c["n_relus"], c["bias"]]),
            self.image,
            self.status,
            widgets.HBox([c["fit_method"], c["fit"], c["spread"]]),
            widgets.HBox([c["challenge"], c["k"]]),
            self._relu_box,
        ])

    def _on_parameter(self, array, i):
        def update(change):
            array[i] = change["new"]
            self.redraw()
        return update

    def _on_bias(self, change):
        self.bias = change["new"]
        self.redraw()

    def _on_target(self, change):
        self.target_name = change["new"]
        self.target_values = self._evaluate_target(self.target_name)
        self.redraw()

    def _on_n_relus(self, change):
        self.n_relus = change["new"]
        self._relu_box.children = tuple(self._rows[: self.n_relus])
        self.redraw()

    def _state_to_sliders(self):
        with self.hold():
            for i in range(self.max_relus):
                widen_to(self.controls[f"slope {i + 1}"], float(self.slopes[i]))
                widen_to(self.controls[f"offset {i + 1}"], float(self.offsets[i]))
                widen_to(self.controls[f"weight {i + 1}"], float(self.weights[i]))
            widen_to(self.controls["bias"], float(self.bias))

    # ---- figure ------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure = new_figure(9.0, 3.4)
        ax_pieces, ax_sum = fig.subplots(1, 2)
        colors = [f"C{i % 10}" for i in range(self.max_relus)]
        pieces = [ax_pieces.plot(self.x, np.zeros_like(self.x), color=colors[i], lw=1.2)[0]
                  for i in range(self.max_relus)]
        ax_pieces.set_title("weighted ReLUs  v_i ReLU(w_i x + b_i)", fontsize=10)
        ax_pieces.axhline(0.0, color="0.7", lw=0.8)
        ax_pieces.set_xlim(*rs.INTERVAL)
        target_line, = ax_sum.plot(self.x, self.target_values, color="black", lw=2.0, label="target")
        sum_line, = ax_sum.plot(self.x, np.zeros_like(self.x), color="C3", lw=1.6, label="sum of ReLUs")
        ax_sum.set_xlim(*rs.INTERVAL)
        ax_sum.legend(loc="upper left", fontsize=8, frameon=False)
        error_text = ax_sum.set_title("max error 0   mean error 0", fontsize=10)
        for ax in (ax_pieces, ax_sum):
            ax.tick_params(labelsize=8)
            ax.locator_params(nbins=5)
        fig.tight_layout()
        self.artists = {"pieces": pieces, "target": target_line, "sum": sum_line, "error_text": error_text}
        self._changes(ax_pieces, *pieces)
        self._changes(ax_sum, target_line, sum_line, error_text)
        self._ax_pieces, self._ax_sum = ax_pieces, ax_sum

    def _update_artists(self):
        n = self.n_relus
        weighted = rs.relu_pieces(self.x, self.slopes, self.offsets) * self.weights
        for i, line in enumerate(self.artists["pieces"]):
            line.set_visible(i < n)
            line.set_ydata(weighted[:, i])
        approximation = self.approximation()
        self.artists["target"].set_ydata(self.target_values)
        self.artists["sum"].set_ydata(approximation)
        max_error, mean_error = rs.approximation_errors(approximation, self.target_values)
        self.artists["error_text"].set_text(f"max error {max_error:.3f}   mean error {mean_error:.3f}")

        low, high = self.target_values.min(), self.target_values.max()
        margin = 0.15 * max(high - low, 0.5)  # the target's range fixes the y axis
        self._ax_sum.set_ylim(low - margin, high + margin)
        extent = nice_ceiling(1.1 * np.abs(weighted[:, :n]).max())  # changes rarely: no re-layout
        self._ax_pieces.set_ylim(-extent, extent)

        lines = [f"<b>max error</b> {max_error:.4f} &nbsp; <b>mean error</b> {mean_error:.4f} "
                 f"&nbsp; with {n} ReLUs"]
        if self.controls["challenge"].value:
            met, message = self.challenge()
            color = "green" if met else "#b35900"
            lines.append(f"<span style='color:{color}'>{message}</span>")
        self.status.value = "<br>".join(lines)


def relu_sum_playground(target="lecture", n_relus=6, max_relus=12, challenge_k=4, show=True):
    """Interactive sum of ReLUs against a target function on [-2, 2].

    Controls: the target (the lecture's -n1-n2-n3+n4+n5+n6, sin(2x), |x|, a step, x^2, or
    any function of a numpy array passed as `target`), the number of ReLUs, the slope w_i,
    offset b_i and output weight v_i of each ReLU and the output bias c, a "fit" button
    (least squares on the output weights, or gradient descent on all parameters), a
    "spread knots" button, and a challenge mode: reach max error < 0.05 with at most k ReLUs.
    Each weighted ReLU is drawn, and their sum against the target; max and mean error
    update live.

    Inputs:
    - target: "lecture", "sin", "abs", "step", "square", or a callable f(x) -> array like x.
    - n_relus: ReLUs used at the start (1..max_relus); max_relus: most ReLUs offered.
    - challenge_k: the k of the challenge at the start.
    - show: display the playground when called in a notebook.

    Returns the ReluSumPlayground (its .controls, .figure, .artists, .redraw() drive it).
    """
    return display_if_in_notebook(ReluSumPlayground(target, n_relus, max_relus, challenge_k), show)
