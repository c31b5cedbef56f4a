"""conv_explorer: one digit through a 3x3 convolution, a ReLU and pooling, with stride and padding."""

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle

from . import _convolution as conv
from ._ui import Playground, display_if_in_notebook, new_figure

_PANELS = ("padded", "conv", "relu", "pooled")


def _as_images(images, labels):
    """images (N, H, W) or (N, 1, H, W) and labels (N,) as float and int arrays; digits() by default."""
    if images is None:
        from course.data import digits

        data = digits()
        images = np.concatenate([data.x_train, data.x_test])
        labels = np.concatenate([data.y_train, data.y_test])
    images = np.asarray(images, dtype=float)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, 1, H, W) with N >= 1, got {images.shape}")
    if labels is None:
        labels = np.zeros(len(images), dtype=int)
    labels = np.asarray(labels).astype(int)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},) to match the images, got {labels.shape}")
    return images, labels


class ConvExplorer(Playground):
    """The UI of conv_explorer; see that function for the controls.

    State: images and labels, index (the image shown, see digit_image()), kernel (3, 3), stride, padding, pooling; `maps()` computes the feature
    maps from them. Artists: "padded", "conv", "relu", "pooled" (images), "image_frame" (where
    the unpadded image lies in the padded input), "window" (the filter's first window), and the
    panel titles "title padded", ... .
    """

    def __init__(self, images=None, labels=None, index=0, kernel="sobel x", stride=1, padding=1,
                 pooling="max"):
        super().__init__()
        self.images, self.labels = _as_images(images, labels)
        if not 0 <= index < len(self.images):
            raise ValueError(f"index must lie in 0..{len(self.images) - 1}, got {index}")
        if pooling not in conv.POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {', '.join(conv.POOLINGS)}")
        self.kernel = conv.as_kernel(kernel)
        self.stride, self.padding, self.pooling = int(stride), int(padding), pooling
        self.index = index
        self._filling_boxes = False
        self._build_controls()
        self._build_figure()
        self.redraw()

    # ---- state -------------------------------------------------------------
    def digit_image(self):
        """The image shown now, (H, W)."""
        return self.images[self.index]

    def maps(self):
        """The current feature maps, see _convolution.feature_maps."""
        return conv.feature_maps(self.digit_image(), self.kernel, self.stride, self.padding, self.pooling)

    def size_text(self):
        """The output-size formula for the current image, stride and padding (HTML)."""
        height, width = self.digit_image().shape
        lines = [f"<b>output height</b> {conv.output_size_formula(height, 3, self.stride, self.padding)}"]
        if width != height:
            lines.append(f"<b>output width</b> {conv.output_size_formula(width, 3, self.stride, self.padding)}")
        oh, ow = conv.window_count(height, 3, self.stride, self.padding), conv.window_count(width, 3, self.stride, self.padding)
        if self.pooling == "none":
            lines.append(f"feature map {oh}×{ow}, no pooling")
        elif oh < 2 or ow < 2:
            lines.append(f"feature map {oh}×{ow}: too small for 2×2 pooling")
        else:
            lines.append(f"feature map {oh}×{ow}; 2×2 {self.pooling} pooling, stride 2 → {oh // 2}×{ow // 2}")
        return "<br>".join(lines)

    def set_kernel(self, kernel):
        """Use a preset name or a 3x3 array as the filter (the boxes and the menu follow)."""
        self.kernel = conv.as_kernel(kernel)
        with self.hold():
            self._kernel_to_boxes()
            self.controls["kernel"].value = conv.preset_of(self.kernel)

    # ---- controls ----------------------------------------------------------
    def _build_controls(self):
        c = self.controls = {}
        label = int(self.labels[self.index])
        classes = sorted(set(self.labels.tolist()))
        c["digit"] = widgets.Dropdown(options=classes, value=label, description="digit",
                                      layout=widgets.Layout(width="150px"))
        c["example"] = widgets.IntSlider(value=self._position_in_class(), min=0,
                                         max=len(self._class_indices(label)) - 1, description="example",
                                         layout=widgets.Layout(width="300px"))
        c["kernel"] = widgets.Dropdown(options=[(text, name) for name, text in conv.KERNEL_LABELS.items()],
                                       value=conv.preset_of(self.kernel), description="filter",
                                       layout=widgets.Layout(width="300px"))
        boxes = []
        for p in range(3):
            for q in range(3):
                box = widgets.FloatText(value=float(self.kernel[p, q]), step=0.1,
                                        layout=widgets.Layout(width="70px"))
                box.observe(self._on_box(p, q), names="value")
                c[f"k{p}{q}"] = box
                boxes.append(box)
        c["stride"] = widgets.IntSlider(value=self.stride, min=1, max=3, description="stride",
                                        layout=widgets.Layout(width="260px"))
        c["padding"] = widgets.IntSlider(value=self.padding, min=0, max=2, description="padding",
                                         layout=widgets.Layout(width="260px"))
        c["pooling"] = widgets.Dropdown(options=list(conv.POOLINGS), value=self.pooling, description="pooling",
                                        layout=widgets.Layout(width="200px"))

        c["digit"].observe(self._on_digit, names="value")
        c["example"].observe(self._on_example, names="value")
        c["kernel"].observe(self._on_kernel, names="value")
        for name in ("stride", "padding", "pooling"):
            c[name].observe(self._on_setting(name), names="value")

        self.status = widgets.HTML()
        self.image = self._image_widget()
        kernel_grid = widgets.VBox([widgets.HBox(boxes[3 * p:3 * p + 3]) for p in range(3)])
        self.widget = widgets.VBox([
            widgets.HBox([c["digit"], c["example"]]),
            widgets.HBox([widgets.VBox([c["kernel"], c["stride"], c["padding"], c["pooling"]]),
                          widgets.VBox([widgets.Label("filter weights (3×3):"), kernel_grid])]),
            self.image,
            self.status,
        ])

    def _class_indices(self, label):
        return np.flatnonzero(self.labels == label)

    def _position_in_class(self):
        return int(np.flatnonzero(self._class_indices(self.labels[self.index]) == self.index)[0])

    def _on_digit(self, change):
        indices = self._class_indices(change["new"])
        with self.hold():
            self.index = int(indices[0])
            example = self.controls["example"]
            example.value = 0
            example.max = len(indices) - 1

    def _on_example(self, change):
        indices = self._class_indices(self.controls["digit"].value)
        self.index = int(indices[min(change["new"], len(indices) - 1)])
        self.redraw()

    def _on_kernel(self, change):
        if change["new"] == "custom":
            return                      # keep the current weights; the boxes are there to edit them
        self.kernel = conv.kernel_named(change["new"])
        with self.hold():
            self._kernel_to_boxes()

    def _on_box(self, p, q):
        def update(change):
            if self._filling_boxes:
                return
            self.kernel[p, q] = float(change["new"])
            with self.hold():
                self.controls["kernel"].value = conv.preset_of(self.kernel)
        return update

    def _kernel_to_boxes(self):
        self._filling_boxes = True
        try:
            for p in range(3):
                for q in range(3):
                    self.controls[f"k{p}{q}"].value = float(self.kernel[p, q])
        finally:
            self._filling_boxes = False

    def _on_setting(self, name):
        def update(change):
            setattr(self, name, change["new"])
            self.redraw()
        return update

    # ---- figure ------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure = new_figure(10.0, 2.9)
        axes = fig.subplots(1, 4)
        self.artists = {}
        styles = {"padded": dict(cmap="gray_r"), "conv": dict(cmap="RdBu_r"),
                  "relu": dict(cmap="magma"), "pooled": dict(cmap="magma")}
        for ax, name in zip(axes, _PANELS):
            self.artists[name] = ax.imshow(np.zeros((2, 2)), interpolation="nearest", **styles[name])
            ax.set_xticks([])
            ax.set_yticks([])
            self.artists[f"title {name}"] = ax.set_title("", fontsize=9)
            self._changes(ax, self.artists[name], self.artists[f"title {name}"])
        self.artists["image_frame"] = axes[0].add_patch(
            Rectangle((0, 0), 1, 1, fill=False, edgecolor="tab:blue", lw=1.2, ls="--"))
        self.artists["window"] = axes[0].add_patch(
            Rectangle((0, 0), 3, 3, fill=False, edgecolor="tab:orange", lw=2.0))
        self._changes(axes[0], self.artists["image_frame"], self.artists["window"])
        fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.03, wspace=0.08)
        self._axes = dict(zip(_PANELS, axes))

    def _show(self, name, values, limits, title):
        artist, ax = self.artists[name], self._axes[name]
        artist.set_visible(values is not None)
        self.artists[f"title {name}"].set_text(title)
        if values is None:
            return
        height, width = values.shape
        artist.set_data(values)
        artist.set_extent((-0.5, width - 0.5, height - 0.5, -0.5))
        artist.set_clim(*limits)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)

    def _update_artists(self):
        maps = self.maps()
        p = self.padding
        height, width = self.digit_image().shape
        scale = max(float(np.abs(maps["conv"]).max()), 1e-9)
        self._show("padded", maps["padded"], (0.0, max(float(self.digit_image().max()), 1e-9)),
                   f"input {height}×{width} (digit {self.labels[self.index]}), padding {p}")
        self._show("conv", maps["conv"], (-scale, scale), f"convolution, stride {self.stride}")
        self._show("relu", maps["relu"], (0.0, scale), "ReLU")
        pooled = maps["pooled"]
        title = "no pooling" if self.pooling == "none" else (
            "too small to pool" if pooled is None else f"2×2 {self.pooling} pooling")
        self._show("pooled", pooled, (0.0, scale), title)
        self.artists["image_frame"].set_bounds(p - 0.5, p - 0.5, width, height)
        self.artists["image_frame"].set_visible(p > 0)
        self.artists["window"].set_bounds(-0.5, -0.5, 3, 3)
        self.status.value = self.size_text()


def conv_explorer(index=0, kernel="sobel x", stride=1, padding=1, pooling="max", images=None, labels=None,
                  show=True):
    """Interactive convolution of one digit: filter, stride, padding, ReLU and pooling.

    Controls: the digit (0-9) and which example of it; a 3x3 filter chosen from presets
    (identity, blur, Sobel x, Sobel y, sharpen) or typed into nine boxes (editing a box makes it
    "custom"); stride (1-3) and padding (0-2) sliders; max, average or no 2x2 pooling. Shown:
    the padded input with the filter's first window, the feature map after the convolution,
    after the ReLU and after pooling, and the output-size formula with the current numbers.

    Inputs:
    - index: which image to start with.
    - kernel: a preset name ("identity", "blur", "sobel x", "sobel y", "sharpen") or 3x3 numbers.
    - stride, padding: the starting values; pooling: "max", "average" or "none".
    - images, labels: your own images, (N, H, W) or (N, 1, H, W), and their labels (N,);
      by default scikit-learn's 8x8 digits (course.data.digits(), training and test images).
    - show: display the explorer when called in a notebook.

    Returns the ConvExplorer (its .controls, .figure, .artists, .maps() and .redraw() drive it).
    """
    return display_if_in_notebook(ConvExplorer(images, labels, index, kernel, stride, padding, pooling), show)
