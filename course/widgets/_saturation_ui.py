"""saturation_playground: activation, depth and initialisation scale -> gradient norm per layer."""

import ipywidgets as widgets
import numpy as np
from threadpoolctl import threadpool_limits

from course import saturation as sat
from ._ui import Playground, display_if_in_notebook, new_figure

WIDTH = 64
MAX_DEPTH = 30


def log_limits(values, current=None, step=3, floor=1e-300):
    """Limits of a log axis for positive values: powers of ten in steps of `step` decades, kept at
    `current` while the values fit in it and fill more than a third of its decades (a changed axis
    means a full redraw of the figure, so it should change rarely while a slider moves)."""
    logs = np.log10(np.maximum(np.asarray(values, dtype=float), floor))
    low, high = logs.min(), logs.max()
    if current is not None:
        current_low, current_high = np.log10(current)
        if current_low <= low and high <= current_high and 3 * (high - low + 1) >= current_high - current_low:
            return current
    return 10.0 ** (step * np.floor(low / step)), 10.0 ** (step * np.floor(high / step) + step)


class SaturationPlayground(Playground):
    """The UI of saturation_playground; see that function for the controls.

    State: activation, depth, gain; profile, the DepthProfile drawn. Artists: "ds_norms",
    "dW_norms" and "stuck" (lines over the layers); status: the numbers in words.
    """

    def __init__(self, activation="sigmoid", depth=10, gain=1.0, seed=0):
        super().__init__()
        sat.depth_profile(activation, depth, gain, width=WIDTH, n_examples=2)  # bad settings raise here
        if not 2 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must lie between 2 and {MAX_DEPTH}, got {depth}")
        if not 0.01 <= gain <= 10:
            raise ValueError(f"gain must lie between 0.01 and 10 (the slider's range), got {gain}")
        self.activation, self.depth, self.gain, self.seed = activation, depth, float(gain), seed
        self.profile = None
        self.profile_drawn = False
        self._build_controls()
        self._build_figure()
        self.redraw()

    def compute(self):
        """The DepthProfile of the current settings."""
        # Products of 64 x 64 matrices: a second BLAS thread only waits for the first (up to
        # 100 times slower when the cores are busy), so one thread it is.
        with threadpool_limits(limits=1, user_api="blas"):
            return sat.depth_profile(self.activation, self.depth, self.gain, width=WIDTH, seed=self.seed)

    # ---- controls ----------------------------------------------------------
    def _build_controls(self):
        c = self.controls = {}
        c["depth"] = widgets.IntSlider(value=self.depth, min=2, max=MAX_DEPTH, description="depth",
                                       continuous_update=True, layout=widgets.Layout(width="300px"))
        c["gain"] = widgets.FloatLogSlider(value=self.gain, base=10, min=-2, max=1, step=0.01,
                                           description="gain", readout_format=".3f",
                                           continuous_update=True, layout=widgets.Layout(width="300px"))
        c["activation"] = widgets.Dropdown(options=list(sat.ACTIVATIONS), value=self.activation,
                                           description="activation", layout=widgets.Layout(width="220px"))
        presets = {"small": sat.small_gain(WIDTH), "Xavier": sat.XAVIER_GAIN, "He": sat.HE_GAIN}
        for name, gain in presets.items():
            c[name] = widgets.Button(description=name, tooltip=f"gain {gain:.3f}")
            c[name].on_click(lambda button, gain=gain: setattr(c["gain"], "value", gain))
        c["depth"].observe(self._on("depth"), names="value")
        c["gain"].observe(self._on("gain"), names="value")
        c["activation"].observe(self._on("activation"), names="value")

        self.status = widgets.HTML()
        self.image = self._image_widget()
        self.widget = widgets.VBox([
            widgets.HBox([c["depth"], c["gain"], c["activation"]]),
            widgets.HBox([widgets.Label("initialisation:"), c["small"], c["Xavier"], c["He"]]),
            self.image,
            self.status,
        ])

    def _on(self, name):
        def update(change):
            setattr(self, name, change["new"])
            self.redraw()
        return update

    # ---- figure ------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure = new_figure(9.0, 3.4)
        ax_grad, ax_stuck = fig.subplots(1, 2)
        layers = np.arange(1, MAX_DEPTH + 1)
        ds_line, = ax_grad.semilogy(layers, np.ones(MAX_DEPTH), "o-", color="C0", ms=4,
                                    label="dl/ds$^{(l)}$, passed down")
        dW_line, = ax_grad.semilogy(layers, np.ones(MAX_DEPTH), "^--", color="C2", ms=4,
                                    label="dl/dW$^{(l)}$")
        stuck_line, = ax_stuck.plot(layers, np.zeros(MAX_DEPTH), "s-", color="C3", ms=4)
        ax_grad.set_title("gradient norm per layer", fontsize=10)
        ax_grad.set_xlabel("layer l (1 = next to the input)", fontsize=9)
        ax_grad.set_ylabel("gradient norm", fontsize=9)
        ax_grad.legend(loc="lower right", fontsize=8, frameon=False)
        ax_stuck.set_xlabel("layer l", fontsize=9)
        ax_stuck.set_ylim(-0.03, 1.03)
        for ax in (ax_grad, ax_stuck):
            ax.tick_params(labelsize=8)
            ax.grid(True, alpha=0.3)
        fig.tight_layout()
        self.artists = {"ds_norms": ds_line, "dW_norms": dW_line, "stuck": stuck_line}
        self._changes(ax_grad, ds_line, dW_line)
        self._changes(ax_stuck, stuck_line)
        self._ax_grad, self._ax_stuck = ax_grad, ax_stuck

    def _update_artists(self):
        profile = self.profile = self.compute()
        layers = np.arange(1, self.depth + 1)
        self.artists["ds_norms"].set_data(layers, profile.ds_norms)
        self.artists["dW_norms"].set_data(layers, profile.dW_norms)
        self.artists["stuck"].set_data(layers, profile.stuck_fraction)
        ratio = profile.ds_norms[0] / profile.ds_norms[-1]
        right = 10 * int(np.ceil(self.depth / 10)) + 0.5      # changes at 10, 20, 30 layers only
        for ax in (self._ax_grad, self._ax_stuck):
            ax.set_xlim(0.5, right)
        current = self._ax_grad.get_ylim() if self.profile_drawn else None
        self._ax_grad.set_ylim(*log_limits(np.concatenate([profile.ds_norms, profile.dW_norms]), current))
        self.profile_drawn = True
        stuck_title = ("dead ReLUs (s < 0 for every example)" if self.activation == "relu"
                       else "saturated units (sigma'(s) < 1/10 of its maximum)")
        if self._ax_stuck.get_title() != stuck_title:
            self._ax_stuck.set_title(stuck_title, fontsize=10)
            self._background_key = None          # the background shows the title: draw it anew
        std = self.gain / np.sqrt(WIDTH)
        self.status.value = (
            f"<b>dl/ds at layer 1 = {ratio:.1e} x dl/ds at layer {self.depth}</b><br>"
            f"{self.activation}, {self.depth} layers of {WIDTH} units, weights N(0, {std:.4f}<sup>2</sup>) "
            f"(gain {self.gain:.3f}; Xavier 1, He 1.414); spread (std) of the activations: "
            f"layer 1 {profile.activation_std[0]:.2e}, layer {self.depth} {profile.activation_std[-1]:.2e}")


def saturation_playground(activation="sigmoid", depth=10, gain=1.0, seed=0, show=True):
    """Gradient norm per layer of a deep network at initialisation, live.

    Controls: the depth (2 to 30 layers of 64 units), the gain (weights N(0, gain^2 / 64)) on a
    log scale, the activation (sigmoid, tanh, relu), and buttons for three initialisations:
    small (std 0.01), Xavier/Glorot (gain 1) and He (gain sqrt 2). Left: the norms of dl/ds^(l)
    (the gradient the recursion passes down) and of dl/dW^(l) for every layer, on a log scale; right: the fraction of saturated units (sigmoid, tanh) or
    dead ReLUs in each layer. The computation is course.saturation.depth_profile.

    Inputs:
    - activation: "sigmoid", "tanh" or "relu"; depth: 2..30; gain: positive.
    - seed: seed of the inputs, weights and top gradient.
    - show: display the playground when called in a notebook.

    Returns the SaturationPlayground (its .controls, .figure, .artists, .profile drive it).
    """
    return display_if_in_notebook(SaturationPlayground(activation, depth, gain, seed), show)
