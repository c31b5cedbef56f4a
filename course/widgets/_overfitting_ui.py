"""overfitting_playground: more ReLUs fit the training samples better, but not always new samples."""

import ipywidgets as widgets
import numpy as np

from course import overfitting as of
from course.relu_sums import INTERVAL
from ._ui import Playground, display_if_in_notebook, float_slider, new_figure

N_TEST = 500
FIT_YLIM = (-3.0, 4.5)  # fixed: a fit that swings beyond it leaves the picture, as it should
ERROR_FLOOR = 1e-3  # errors below it are drawn at it


class OverfittingPlayground(Playground):
    """The UI of overfitting_playground; see that function for the controls.

    State: train and test samples (x, y), n_relus, and the error curves over 1..max_relus.
    Artists: "target", "train", "test", "fit", "train_curve", "test_curve", "marker", "title".
    """

    def __init__(self, n_relus=6, n_samples=15, noise=0.3, max_relus=40, seed=1):
        super().__init__()
        if not 1 <= n_relus <= max_relus:
            raise ValueError(f"n_relus must lie between 1 and max_relus={max_relus}, got {n_relus}")
        if n_samples < 2 or noise < 0:
            raise ValueError(f"need n_samples >= 2 and noise >= 0, got n_samples={n_samples}, noise={noise}")
        self.n_relus, self.n_samples, self.noise, self.max_relus = n_relus, n_samples, noise, max_relus
        self.seed = seed
        self.widths = np.arange(1, max_relus + 1)
        self.x = np.linspace(*INTERVAL, 801)
        self._draw_samples()
        self._build_controls()
        self._build_figure()
        self.redraw()

    # ---- state -------------------------------------------------------------
    def _draw_samples(self):
        rng = np.random.default_rng(self.seed)
        self.train = of.noisy_samples(self.n_samples, self.noise, rng)
        self.test = of.noisy_samples(N_TEST, self.noise, rng)
        self.train_errors, self.test_errors = of.error_curves(self.train, self.test, self.widths)
        self._data_drawn = False

    def fit(self):
        """The ReluFit with the current number of ReLUs on the training samples."""
        return of.ReluFit(*self.train, self.n_relus)

    def errors(self):
        """(training error, test error) of the current fit, mean squared."""
        i = self.n_relus - 1
        return float(self.train_errors[i]), float(self.test_errors[i])

    def best_width(self):
        """The number of ReLUs with the smallest test error."""
        return int(self.widths[np.argmin(self.test_errors)])

    def new_samples(self):
        """Draw new training and test samples (the next seed)."""
        self.seed += 1
        self._draw_samples()
        self.redraw()

    # ---- controls ----------------------------------------------------------
    def _build_controls(self):
        wide = {"style": {"description_width": "initial"}, "layout": widgets.Layout(width="330px")}
        c = self.controls = {}
        c["n_relus"] = widgets.IntSlider(value=self.n_relus, min=1, max=self.max_relus,
                                         description="number of ReLUs", **wide)
        c["n_samples"] = widgets.IntSlider(value=self.n_samples, min=2, max=60,
                                           description="training samples", **wide)
        c["noise"] = float_slider("noise (std)", self.noise, 0.0, 1.0, 0.05, width="330px")
        c["new_samples"] = widgets.Button(description="new samples", tooltip="draw new training and test samples")

        c["n_relus"].observe(self._on_n_relus, names="value")
        c["n_samples"].observe(self._on_data("n_samples"), names="value")
        c["noise"].observe(self._on_data("noise"), names="value")
        c["new_samples"].on_click(lambda button: self.new_samples())

        self.status = widgets.HTML()
        self.image = self._image_widget()
        self.widget = widgets.VBox([
            widgets.HBox([c["n_relus"], c["n_samples"]]),
            widgets.HBox([c["noise"], c["new_samples"]]),
            self.image,
            self.status,
        ])

    def _on_n_relus(self, change):
        self.n_relus = change["new"]
        self.redraw()

    def _on_data(self, name):
        def update(change):
            setattr(self, name, change["new"])
            self._draw_samples()
            self.redraw()
        return update

    # ---- figure ------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure = new_figure(9.5, 3.6)
        ax_fit, ax_errors = fig.subplots(1, 2)
        target, = ax_fit.plot(self.x, of.wiggle(self.x), color="0.3", ls="--", lw=1.2, label="f")
        test, = ax_fit.plot([], [], ".", color="0.75", ms=3, label="test samples")
        train, = ax_fit.plot([], [], "o", color="C0", ms=5, label="training samples")
        fit_line, = ax_fit.plot(self.x, np.zeros_like(self.x), color="C3", lw=1.8, label="sum of ReLUs")
        ax_fit.set_xlim(*INTERVAL)
        ax_fit.set_ylim(*FIT_YLIM)
        ax_fit.legend(loc="upper left", fontsize=7, frameon=False, ncol=2)
        title = ax_fit.set_title("", fontsize=10)

        train_curve, = ax_errors.semilogy(self.widths, self.train_errors, "o-", color="C0", ms=3,
                                          label="training error")
        test_curve, = ax_errors.semilogy(self.widths, self.test_errors, "s-", color="C3", ms=3,
                                         label="test error")
        marker = ax_errors.axvline(self.n_relus, color="0.4", lw=1)
        ax_errors.set_xlim(0.5, self.max_relus + 0.5)
        ax_errors.minorticks_off()  # a log axis's minor ticks cost most of a full draw
        ax_errors.set_xlabel("number of ReLUs", fontsize=9)
        ax_errors.set_title(f"mean squared error (below {ERROR_FLOOR:g} drawn at the bottom)", fontsize=9)
        ax_errors.legend(loc="lower left", fontsize=7, frameon=False)
        for ax in (ax_fit, ax_errors):
            ax.tick_params(labelsize=8)
        fig.subplots_adjust(left=0.05, right=0.985, bottom=0.14, top=0.92, wspace=0.16)  # tight_layout costs a draw
        self.artists = {"target": target, "test": test, "train": train, "fit": fit_line, "title": title,
                        "train_curve": train_curve, "test_curve": test_curve, "marker": marker}
        # Only the fit, its title and the marker change with the number of ReLUs; the samples and
        # the error curves change with the data, and then the background is drawn anew.
        self._changes(ax_fit, fit_line, title)
        self._changes(ax_errors, marker)
        self._ax_errors = ax_errors

    def _update_artists(self):
        if not self._data_drawn:
            self.artists["train"].set_data(*self.train)
            self.artists["test"].set_data(*self.test)
            # An exact fit has training error 0: such values are drawn at the bottom of the log axis.
            self.artists["train_curve"].set_ydata(np.maximum(self.train_errors, ERROR_FLOOR))
            self.artists["test_curve"].set_ydata(np.maximum(self.test_errors, ERROR_FLOOR))
            top = max(self.test_errors.max(), self.train_errors.max(), 10 * ERROR_FLOOR)
            self._ax_errors.set_ylim(ERROR_FLOOR / 2, 10 ** np.ceil(np.log10(top)))
            self._background_key = None
            self._data_drawn = True
        self.artists["fit"].set_ydata(self.fit()(self.x))
        train_error, test_error = self.errors()
        self.artists["title"].set_text(f"{self.n_relus} ReLUs, {self.n_samples} samples")
        self.artists["marker"].set_xdata([self.n_relus, self.n_relus])

        best = self.best_width()
        self.status.value = (
            f"<b>training error</b> {train_error:.4f} &nbsp; <b>test error</b> {test_error:.4f} "
            f"&nbsp; (noise variance {self.noise ** 2:.4f}: no fit can beat it on new samples)<br>"
            f"smallest test error with {best} ReLUs"
            + (" &nbsp; <span style='color:#b35900'>more ReLUs than needed: the fit follows the noise</span>"
               if self.n_relus > best and test_error > 2 * self.test_errors[best - 1] else "")
        )


def overfitting_playground(n_relus=6, n_samples=15, noise=0.3, max_relus=40, seed=1, show=True):
    """Fit noisy samples of f(x) = sin(3x) + 0.3 x^2 with more and more ReLUs; watch train and test error.

    The ReLUs are hinged at evenly spread knots on [-2, 2] (slope 1) and their output weights
    and bias are fitted by least squares to the training samples. The left panel shows the
    samples, f and the fit; the right panel the mean squared error on the training samples and
    on 500 new samples (the test error) for every number of ReLUs, with the current one marked.

    Controls: the number of ReLUs (1..max_relus), the number of training samples, the noise's
    standard deviation, and a "new samples" button (the next seed).

    Inputs:
    - n_relus: ReLUs at the start; n_samples: training samples; noise: noise standard deviation.
    - max_relus: most ReLUs offered; seed: seed of the numpy Generator that draws the samples.
    - show: display the playground when called in a notebook.

    Returns the OverfittingPlayground (its .controls, .figure, .artists, .redraw() drive it).
    """
    return display_if_in_notebook(OverfittingPlayground(n_relus, n_samples, noise, max_relus, seed), show)
