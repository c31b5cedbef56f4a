"""conv_gradient_explorer: where a convolution's gradient goes, output by output and pixel by pixel,
and where max pooling sends it."""

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from course import conv_gradients as grads
from . import _convolution as conv
from ._conv_ui import _as_images
from ._ui import Playground, display_if_in_notebook, new_figure

_MAX_SIDE = 12          # padded images up to this size


class ConvGradientExplorer(Playground):
    """The UI of conv_gradient_explorer; see that function for the controls.

    State: images, index, kernel (3, 3), stride, padding, output (i, j), pixel (r, s). Artists:
    "input" (d out[i, j] / dx on the padded grid), "window" (the window out[i, j] saw), "pixel"
    (the chosen input pixel), "kernel" and "kernel text 0".. "kernel text 8", "reach"
    (d out / d x[r, s] on the output grid), "output" (the chosen output), "reach text i j" (the
    weight's name at each output), "relu" (the ReLU of the feature map), "pool grid",
    "routed" and "tied" (markers of where max pooling sends the gradient).
    """

    def __init__(self, images=None, labels=None, index=0, kernel="sobel x", stride=1, padding=1,
                 output=(0, 0), pixel=(0, 0)):
        super().__init__()
        self.images, self.labels = _as_images(images, labels)
        if not 0 <= index < len(self.images):
            raise ValueError(f"index must lie in 0..{len(self.images) - 1}, got {index}")
        if max(self.images.shape[1:]) + 2 > _MAX_SIDE:
            raise ValueError(f"images must be at most {_MAX_SIDE - 2}x{_MAX_SIDE - 2} pixels, "
                             f"got {self.images.shape[1]}x{self.images.shape[2]}; crop or subsample them")
        self.index, self.kernel = index, conv.as_kernel(kernel)
        self.stride, self.padding = int(stride), int(padding)
        self.output, self.pixel = tuple(output), tuple(pixel)
        grads.input_reach(self.digit_image().shape, self.kernel, self.pixel)     # raises for a pixel outside
        self._build_controls()
        self._build_figure()
        self._draw_kernel()
        self._clip_positions()          # and draws

    # ---- state -------------------------------------------------------------
    def digit_image(self):
        return self.images[self.index]

    def output_shape(self):
        return grads.output_shape(self.digit_image().shape, self.kernel.shape, self.stride, self.padding)

    def gradients(self):
        """Everything the picture shows, computed from the current state (a dict of arrays)."""
        image = self.digit_image()
        relu = np.maximum(grads.feature_map(image, self.kernel, self.stride, self.padding), 0.0)
        reach, which = grads.input_reach(image.shape, self.kernel, self.pixel, self.stride, self.padding)
        routed, tied = grads.pool_routing(relu) if min(relu.shape) >= 2 else (None, None)
        return {"to_input": grads.output_gradient(image, self.kernel, self.output, self.stride, self.padding),
                "reach": reach, "which": which, "relu": relu, "routed": routed, "tied": tied}

    def _clip_positions(self):
        """Keep the chosen output inside the output grid (it shrinks with stride and padding)."""
        oh, ow = self.output_shape()
        c = self.controls
        with self.hold():
            c["output row"].max, c["output column"].max = oh - 1, ow - 1
            self.output = (min(self.output[0], oh - 1), min(self.output[1], ow - 1))
            c["output row"].value, c["output column"].value = self.output

    # ---- controls ----------------------------------------------------------
    def _build_controls(self):
        height, width = self.digit_image().shape
        c = self.controls = {}
        slider = dict(layout=widgets.Layout(width="260px"), style={"description_width": "100px"})
        c["output row"] = widgets.IntSlider(value=self.output[0], min=0, max=height - 1, description="output row i", **slider)
        c["output column"] = widgets.IntSlider(value=self.output[1], min=0, max=width - 1, description="output col j", **slider)
        c["input row"] = widgets.IntSlider(value=self.pixel[0], min=0, max=height - 1, description="input row r", **slider)
        c["input column"] = widgets.IntSlider(value=self.pixel[1], min=0, max=width - 1, description="input col s", **slider)
        c["kernel"] = widgets.Dropdown(options=[(text, name) for name, text in conv.KERNEL_LABELS.items()
                                                if name != "custom" or conv.preset_of(self.kernel) == "custom"],
                                       value=conv.preset_of(self.kernel), description="filter",
                                       layout=widgets.Layout(width="300px"))
        c["stride"] = widgets.IntSlider(value=self.stride, min=1, max=2, description="stride", **slider)
        c["padding"] = widgets.IntSlider(value=self.padding, min=0, max=1, description="padding", **slider)
        c["example"] = widgets.IntSlider(value=self.index, min=0, max=len(self.images) - 1, description="image", **slider)

        c["output row"].observe(self._on_output, names="value")
        c["output column"].observe(self._on_output, names="value")
        c["input row"].observe(self._on_pixel, names="value")
        c["input column"].observe(self._on_pixel, names="value")
        c["kernel"].observe(self._on_kernel, names="value")
        for name in ("stride", "padding"):
            c[name].observe(self._on_geometry(name), names="value")
        c["example"].observe(self._on_example, names="value")

        self.status = widgets.HTML()
        self.image = self._image_widget()
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([widgets.HTML("<b>an output</b>"), c["output row"], c["output column"]]),
                          widgets.VBox([widgets.HTML("<b>an input pixel</b>"), c["input row"], c["input column"]]),
                          widgets.VBox([c["kernel"], c["stride"], c["padding"], c["example"]])]),
            self.image,
            self.status,
        ])

    def _on_output(self, change):
        self.output = (self.controls["output row"].value, self.controls["output column"].value)
        self.redraw()

    def _on_pixel(self, change):
        self.pixel = (self.controls["input row"].value, self.controls["input column"].value)
        self.redraw()

    def _on_kernel(self, change):
        if change["new"] != "custom":
            self.kernel = conv.kernel_named(change["new"])
            self._draw_kernel()
            self.redraw()

    def _on_geometry(self, name):
        def update(change):
            setattr(self, name, change["new"])
            with self.hold():
                self._clip_positions()
        return update

    def _on_example(self, change):
        self.index = change["new"]
        self.redraw()

    # ---- figure ------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure = new_figure(11.5, 3.3)
        axes = dict(zip(("input", "kernel", "reach", "pool"),
                        fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 0.5, 1, 1]})))
        self._axes = {"input": axes["input"], "kernel": axes["kernel"], "reach": axes["reach"], "relu": axes["pool"]}
        a = self.artists = {}
        a["input"] = axes["input"].imshow(np.zeros((2, 2)), cmap="RdBu_r", interpolation="nearest")
        a["window"] = axes["input"].add_patch(Rectangle((0, 0), 3, 3, fill=False, edgecolor="tab:orange", lw=2.2))
        a["image frame"] = axes["input"].add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="gray", lw=1, ls="--"))
        a["pixel"] = axes["input"].add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="tab:green", lw=2.2))
        a["kernel"] = axes["kernel"].imshow(np.zeros((3, 3)), cmap="RdBu_r", interpolation="nearest")
        kernel_texts = [axes["kernel"].text(q, p, "", ha="center", va="center", fontsize=8) for p in range(3) for q in range(3)]
        a["reach"] = axes["reach"].imshow(np.zeros((2, 2)), cmap="RdBu_r", interpolation="nearest")
        a["output"] = axes["reach"].add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="tab:orange", lw=2.2))
        # a pixel feeds at most one output per weight: one label per weight, moved where needed
        reach_texts = [axes["reach"].text(0, 0, "", ha="center", va="center", fontsize=6) for _ in range(9)]
        a["relu"] = axes["pool"].imshow(np.zeros((2, 2)), cmap="Greys", interpolation="nearest")
        a["pool grid"] = axes["pool"].add_collection(LineCollection([], colors="tab:blue", linewidths=1.2))
        a["routed"], = axes["pool"].plot([], [], "o", color="tab:orange", ms=7, label="gets the gradient")
        a["tied"], = axes["pool"].plot([], [], "x", color="tab:red", ms=7, mew=2, label="tied, gets 0")
        axes["pool"].legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=7, frameon=False)
        for index, text in enumerate(kernel_texts):
            a[f"kernel text {index}"] = text
        for index, text in enumerate(reach_texts):
            a[f"reach text {index}"] = text
        titles = {"input": "input, padded: d out[i, j] / dx\non the window out[i, j] saw (orange)",
                  "kernel": "filter w[p, q]",
                  "reach": "output: d out / d x[r, s], the outputs\nthat x[r, s] (green) feeds, and the weights",
                  "pool": "2×2 max pooling of ReLU(out): where\neach window's gradient goes"}
        for name, ax in axes.items():
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(titles[name], fontsize=8)
        # The filter panel changes only with the filter: it is part of the background (see _draw_kernel).
        panels = {"input": ("input", "window", "image frame", "pixel"),
                  "reach": ("reach", "output"), "pool": ("relu", "pool grid", "routed", "tied")}
        for name, members in panels.items():
            self._changes(axes[name], *[a[key] for key in members])
        self._changes(axes["reach"], *reach_texts)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.1, wspace=0.1)

    def _color_limit(self):
        return 2.0 * max(float(np.abs(self.kernel).max()), 1e-9)       # pale colours, readable labels

    def _draw_kernel(self):
        """Put the filter into its panel, and have the background drawn anew at the next redraw."""
        self._show("kernel", self.kernel, self._color_limit())
        for index, value in enumerate(self.kernel.ravel()):
            self.artists[f"kernel text {index}"].set_text(f"{value:.3g}")
        self._background_key = None

    def _show(self, name, values, limit):
        artist, ax = self.artists[name], self._axes[name]
        height, width = values.shape
        artist.set_data(values)
        artist.set_extent((-0.5, width - 0.5, height - 0.5, -0.5))
        artist.set_clim(0.0 if name == "relu" else -limit, limit)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)

    def _update_artists(self):
        g = self.gradients()
        a, p = self.artists, self.padding
        height, width = self.digit_image().shape
        limit = self._color_limit()
        (i, j), (r, s) = self.output, self.pixel

        padded = np.pad(g["to_input"], p)
        self._show("input", padded, limit)
        top, left, bottom, right = grads.window_of(self.output, self.kernel.shape, self.stride, p)
        a["window"].set_bounds(left + p - 0.5, top + p - 0.5, right - left, bottom - top)
        a["image frame"].set_bounds(p - 0.5, p - 0.5, width, height)
        a["image frame"].set_visible(p > 0)
        a["pixel"].set_bounds(s + p - 0.5, r + p - 0.5, 1, 1)

        reach, which = g["reach"], g["which"]
        self._show("reach", reach, limit)
        a["output"].set_bounds(j - 0.5, i - 0.5, 1, 1)
        fed_outputs = list(zip(*np.nonzero(which >= 0)))
        for index in range(9):
            text = a[f"reach text {index}"]
            text.set_visible(index < len(fed_outputs))
            if index < len(fed_outputs):
                row, col = fed_outputs[index]
                text.set_position((col, row))
                text.set_text("w[{},{}]".format(*divmod(int(which[row, col]), self.kernel.shape[1])))

        relu, routed, tied = g["relu"], g["routed"], g["tied"]
        self._show("relu", relu, max(float(relu.max()), 1e-9))
        if routed is None:
            a["pool grid"].set_segments([])
            a["routed"].set_data([], [])
            a["tied"].set_data([], [])
        else:
            rows, cols = (relu.shape[0] // 2) * 2, (relu.shape[1] // 2) * 2
            segments = [[(-0.5, y - 0.5), (cols - 0.5, y - 0.5)] for y in range(0, rows + 1, 2)]
            segments += [[(x - 0.5, -0.5), (x - 0.5, rows - 0.5)] for x in range(0, cols + 1, 2)]
            a["pool grid"].set_segments(segments)
            routed_rows, routed_cols = np.nonzero(routed)
            tied_rows, tied_cols = np.nonzero(tied)
            a["routed"].set_data(routed_cols, routed_rows)
            a["tied"].set_data(tied_cols, tied_rows)
        self.status.value = self.status_text(g)

    def status_text(self, g):
        """What the picture shows, in words and numbers (HTML)."""
        (i, j), (r, s), S, P = self.output, self.pixel, self.stride, self.padding
        top, left, bottom, right = grads.window_of(self.output, self.kernel.shape, S, P)
        width = self.kernel.shape[1]
        links = [f"out[{a},{b}] through w[{k // width},{k % width}]" for (a, b), k in np.ndenumerate(g["which"]) if k >= 0]
        lines = [
            f"<b>out[{i},{j}]</b> = Σ<sub>p,q</sub> x<sub>pad</sub>[{i}·{S} + p, {j}·{S} + q] w[p, q]: its gradient reaches "
            f"x rows {max(top, 0)}..{min(bottom, self.digit_image().shape[0]) - 1}, columns "
            f"{max(left, 0)}..{min(right, self.digit_image().shape[1]) - 1}, each pixel times the weight it met "
            f"(the part of the window over padding is cut off).",
            f"<b>x[{r},{s}]</b> feeds {len(links)} outputs: {', '.join(links)}. "
            + ("With stride 1 the weights appear flipped: the input gradient is a true convolution "
               "with the flipped filter." if S == 1 else
               "With stride 2 some positions of the flipped filter are skipped: zeros between dout's entries."),
        ]
        if g["routed"] is not None:
            ties = int(np.sum(g["tied"]))
            lines.append(f"<b>max pooling</b>: each 2×2 window's gradient goes to its first maximum in reading order "
                         f"(the lecture's rule, course's and PyTorch's max_pool2d); {ties} tied position(s) get 0. "
                         "(PyTorch's max() over a tensor would split the gradient among ties.)")
        return "<br>".join(lines)


def conv_gradient_explorer(index=0, kernel="sobel x", stride=1, padding=1, output=(0, 0), pixel=(0, 0),
                           images=None, labels=None, show=True):
    """Where a convolution's gradient goes: pick an output, pick an input pixel.

    Controls: an output (row i, column j) of the feature map; an input pixel (row r, column s);
    the 3x3 filter (presets), stride (1-2), padding (0-1) and the image. Shown: the input, padded,
    with d out[i, j] / dx (the filter's weights on the window that output saw); the filter; the
    output map with d out / d x[r, s] (which outputs the pixel feeds, and through which weight
    w[p, q]: for stride 1 the flipped filter); and 2x2 max pooling of the ReLU of the feature map,
    with the position that gets each window's gradient (the first maximum) and the tied ones.

    Inputs:
    - index: which image to start with; images, labels: your own (N, H, W) or (N, 1, H, W) images
      of at most 10x10 pixels, by default scikit-learn's 8x8 digits.
    - kernel: a preset name ("identity", "blur", "sobel x", "sobel y", "sharpen") or 3x3 numbers.
    - stride, padding: the starting values; output, pixel: the starting (row, column) choices.
    - show: display the explorer when called in a notebook.

    Returns the ConvGradientExplorer (.controls, .figure, .artists, .gradients(), .redraw()).
    """
    return display_if_in_notebook(
        ConvGradientExplorer(images, labels, index, kernel, stride, padding, output, pixel), show)
