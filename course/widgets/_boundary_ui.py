"""decision_boundary_playground: a TensorFlow-Playground-like classifier trained by course.autograd."""

import ipywidgets as widgets
import numpy as np

from course import data
from course.mlp import ACTIVATIONS, BoundaryTrainer, parse_hidden
from ._ui import (CLASS_COLORS, Playground, class_colormap, display_if_in_notebook, float_slider, grid,
                  new_figure, nice_ceiling)

LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
_CLASS_COLORS = np.array(CLASS_COLORS)


class DecisionBoundaryPlayground(Playground):
    """The UI of decision_boundary_playground; see that function for the controls.

    State: the data (X_train, y_train, X_test, y_test) and `trainer`, a BoundaryTrainer
    holding the network and its loss history. Artists: "heatmap" (probability of class 1 on
    a grid), "train_points", "test_points", "train_loss", "test_loss", "title".
    """

    def __init__(self, dataset="XOR", noise=0.3, feature_names=("x1", "x2"), hidden="4,4",
                 activation="tanh", lr=0.03, n_points=200, train_epochs=25, seed=0, grid_cells=50):
        super().__init__()
        if isinstance(hidden, (tuple, list)):
            hidden = ",".join(str(width) for width in hidden)
        self.n_points, self.seed, self.train_epochs = n_points, seed, train_epochs
        self.grid_points, _ = grid(grid_cells)
        self.grid_cells = grid_cells
        self.error = None
        self._build_controls(dataset, noise, feature_names, hidden, activation, lr)
        self._make_data()
        self._make_trainer()
        if self.error:
            raise ValueError(self.error)
        self._build_figure()
        self.redraw()

    # ---- actions -----------------------------------------------------------
    def step(self):
        """Train one epoch and redraw."""
        self.trainer.step()
        self.redraw()

    def train(self, epochs=None, redraw_every=5):
        """Train `epochs` epochs (default: train_epochs), redrawing every `redraw_every` epochs."""
        epochs = self.train_epochs if epochs is None else epochs
        for done in range(1, epochs + 1):
            self.trainer.step()
            if done % redraw_every == 0 or done == epochs:
                self.redraw()

    def reset(self):
        """Back to the initial weights; forget the loss history."""
        self.trainer.reset()
        self.redraw()

    def _make_data(self):
        X, y = data.make_dataset(self.controls["dataset"].value, self.n_points,
                                 self.controls["noise"].value, self.seed)
        self.X_train, self.y_train, self.X_test, self.y_test = data.train_test_split(X, y, 0.5, self.seed)

    def chosen_features(self):
        return [name for name in data.FEATURES if self.controls[f"feature {name}"].value]

    def _make_trainer(self):
        """Build a new network from the controls; on bad settings keep the old one and say why."""
        names = self.chosen_features()
        try:
            if not names:
                raise ValueError("choose at least one input feature")
            hidden = parse_hidden(self.controls["hidden"].value)
        except ValueError as problem:
            self.error = str(problem)
            return
        self.error = None
        self.trainer = BoundaryTrainer(
            self.X_train, self.y_train, self.X_test, self.y_test, names, hidden,
            self.controls["activation"].value, self.controls["lr"].value, seed=self.seed,
        )

    # ---- controls ----------------------------------------------------------
    def _build_controls(self, dataset, noise, feature_names, hidden, activation, lr):
        if lr not in LEARNING_RATES:
            raise ValueError(f"lr must be one of {LEARNING_RATES}, got {lr!r}")
        unknown = [name for name in feature_names if name not in data.FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; choose from {list(data.FEATURES)}")
        c = self.controls = {}
        c["dataset"] = widgets.Dropdown(options=list(data.DATASETS), value=dataset, description="data",
                                        layout=widgets.Layout(width="200px"))
        c["noise"] = float_slider("noise", noise, 0.0, 1.0, 0.05, width="260px")
        for name in data.FEATURES:
            c[f"feature {name}"] = widgets.Checkbox(value=name in feature_names, description=name,
                                                    indent=False, layout=widgets.Layout(width="80px"))
        c["hidden"] = widgets.Text(value=hidden, description="hidden widths", continuous_update=False,
                                   placeholder="e.g. 8,8", style={"description_width": "initial"},
                                   layout=widgets.Layout(width="200px"))
        c["activation"] = widgets.Dropdown(options=list(ACTIVATIONS), value=activation,
                                           description="activation", layout=widgets.Layout(width="200px"))
        c["lr"] = widgets.Dropdown(options=list(LEARNING_RATES), value=lr, description="learning rate",
                                   style={"description_width": "initial"}, layout=widgets.Layout(width="200px"))
        c["step"] = widgets.Button(description="Step", tooltip="train one epoch")
        c["train"] = widgets.Button(description="Train", button_style="primary",
                                    tooltip=f"train {self.train_epochs} epochs")
        c["reset"] = widgets.Button(description="Reset", tooltip="back to the initial weights")

        c["dataset"].observe(self._on_data, names="value")
        c["noise"].observe(self._on_data, names="value")
        for name in data.FEATURES:
            c[f"feature {name}"].observe(self._on_network, names="value")
        c["hidden"].observe(self._on_network, names="value")
        c["activation"].observe(self._on_network, names="value")
        c["lr"].observe(self._on_lr, names="value")
        c["step"].on_click(lambda button: self.step())
        c["train"].on_click(lambda button: self.train())
        c["reset"].on_click(lambda button: self.reset())

        self.status = widgets.HTML()
        self.image = self._image_widget()
        feature_boxes = [c[f"feature {name}"] for name in data.FEATURES]
        self.widget = widgets.VBox([
            widgets.HBox([c["dataset"], c["noise"], c["lr"]]),
            widgets.HBox([widgets.Label("features:")] + feature_boxes),
            widgets.HBox([c["hidden"], c["activation"], c["step"], c["train"], c["reset"]]),
            self.image,
            self.status,
        ])

    def _on_data(self, change):
        self._make_data()
        self._make_trainer()
        self.redraw()

    def _on_network(self, change):
        self._make_trainer()
        self.redraw()

    def _on_lr(self, change):
        self.trainer.lr = change["new"]  # keeps the weights: the next steps use the new rate
        self.redraw()

    # ---- figure ------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure = new_figure(8.6, 3.8)
        ax_map, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.15]})
        box = data.BOX
        n = self.grid_cells
        heatmap = ax_map.imshow(np.full((n, n), 0.5), extent=(-box, box, -box, box), origin="lower",
                                cmap=class_colormap(), vmin=0.0, vmax=1.0, interpolation="bilinear")
        train_points = ax_map.scatter(self.X_train[:, 0], self.X_train[:, 1], s=22,
                                      edgecolors="white", linewidths=0.8)
        test_points = ax_map.scatter(self.X_test[:, 0], self.X_test[:, 1], s=22,
                                     edgecolors="black", linewidths=0.8)
        ax_map.set_xlim(-box, box)
        ax_map.set_ylim(-box, box)
        ax_map.set_xticks([-box, 0, box])
        ax_map.set_yticks([-box, 0, box])
        ax_map.tick_params(labelsize=8)
        title = ax_map.set_title("p(class 1)", fontsize=10)
        train_loss, = ax_loss.plot([0], [0], color="C0", lw=1.6, label="train loss")
        test_loss, = ax_loss.plot([0], [0], color="0.3", lw=1.6, ls="--", label="test loss")
        ax_loss.set_xlabel("epoch", fontsize=9)
        ax_loss.set_title("cross-entropy loss", fontsize=10)
        ax_loss.legend(loc="upper right", fontsize=8, frameon=False)
        ax_loss.tick_params(labelsize=8)
        ax_loss.locator_params(nbins=4)
        fig.tight_layout()
        self.artists = {"heatmap": heatmap, "train_points": train_points, "test_points": test_points,
                        "train_loss": train_loss, "test_loss": test_loss, "title": title}
        self._ax_loss = ax_loss
        self._changes(ax_map, heatmap, train_points, test_points, title)
        self._changes(ax_loss, train_loss, test_loss)

    def _update_artists(self):
        trainer = self.trainer
        n = self.grid_cells
        self.artists["heatmap"].set_data(trainer.predict_proba(self.grid_points).reshape(n, n))
        for kind, X, y in (("train", self.X_train, self.y_train), ("test", self.X_test, self.y_test)):
            points = self.artists[f"{kind}_points"]
            points.set_offsets(X)
            points.set_facecolors(_CLASS_COLORS[y])
        epochs = np.arange(len(trainer.train_losses))
        self.artists["train_loss"].set_data(epochs, trainer.train_losses)
        self.artists["test_loss"].set_data(epochs, trainer.test_losses)
        top = max(max(trainer.train_losses), max(trainer.test_losses))
        # rounded limits change rarely, so most redraws reuse the drawn axes
        self._ax_loss.set_xlim(0, nice_ceiling(max(10, len(epochs) - 1)))
        self._ax_loss.set_ylim(0, nice_ceiling(1.05 * top))

        test_accuracy = trainer.accuracy(self.X_test, self.y_test)
        self.artists["title"].set_text(f"p(class 1), test accuracy {100 * test_accuracy:.0f}%")
        text = (f"epoch {trainer.epoch} &nbsp; train loss {trainer.train_losses[-1]:.3f} &nbsp; "
                f"test loss {trainer.test_losses[-1]:.3f} &nbsp; test accuracy {100 * test_accuracy:.0f}% "
                f"&nbsp; (filled: train points with white rim, test points with black rim)")
        if self.error:
            text = f"<span style='color:#c00'>{self.error}; the network shown is the previous one.</span><br>" + text
        self.status.value = text


def decision_boundary_playground(dataset="XOR", noise=0.3, features=("x1", "x2"), hidden="4,4",
                                 activation="tanh", lr=0.03, n_points=200, train_epochs=25, seed=0,
                                 show=True):
    """A TensorFlow-Playground-like classifier of 2-d points, trained by course.autograd.

    Controls: the data set (AND, OR, XOR, blobs, circles, moons, spirals) and its noise, the
    input features (x1, x2, x1*x2, x1^2, x2^2, sin x1, sin x2), the hidden-layer widths as
    text ("8,8" = two layers of 8; empty = no hidden layer), the activation (ReLU, tanh,
    sigmoid, linear), the learning rate, and Step (one epoch of SGD on mini-batches of 10),
    Train (train_epochs epochs) and Reset (initial weights). Shown: the probability of
    class 1 as a heat map with the training and test points, and the train and test loss.
    Changing the data, features or network starts a new network; changing the learning
    rate keeps the weights.

    Inputs:
    - dataset, noise, n_points, seed: the data, half of it for training, half for testing.
    - features: names of the input features at the start; hidden: widths, as text or a tuple.
    - activation, lr: at the start; lr must be one of LEARNING_RATES.
    - train_epochs: epochs per click on Train.
    - show: display the playground when called in a notebook.

    Returns the DecisionBoundaryPlayground (its .controls, .figure, .artists, .redraw() drive it).
    """
    playground = DecisionBoundaryPlayground(dataset, noise, features, hidden, activation, lr,
                                            n_points, train_epochs, seed)
    return display_if_in_notebook(playground, show)
