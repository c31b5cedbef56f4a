"""conv_explorer: its computation against course.nn.functional, and the UI driven headless.

The logic tests need numpy (and course); the UI tests need ipywidgets and matplotlib and use
small synthetic images, so that they do not load scikit-learn.
"""
import warnings

import numpy as np
import pytest

from course.autograd import Tensor
import course.nn.functional as F
from course.widgets import _convolution as conv


# ---- the computation ------------------------------------------------------------------------

@pytest.mark.parametrize("shape, stride, padding", [((8, 8), 1, 1), ((8, 8), 2, 0), ((7, 9), 3, 2),
                                                    ((3, 3), 1, 0), ((28, 28), 2, 1)])
def test_convolve_is_the_library_correlation(shape, stride, padding):
    rng = np.random.default_rng(sum(shape) + stride)
    image, kernel = rng.standard_normal(shape), rng.standard_normal((3, 3))
    expected = F.conv2d(Tensor(image[None, None]), Tensor(kernel[None, None]), stride=stride, padding=padding).data[0, 0]
    np.testing.assert_allclose(conv.convolve(image, kernel, stride, padding), expected, rtol=1e-12, atol=1e-12)


def test_convolve_does_not_flip_the_kernel():
    image = np.zeros((3, 3))
    image[0, 0] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    # the only window covers the image once: out = sum(image * kernel) = kernel[0, 0]
    assert conv.convolve(image, kernel)[0, 0] == 0.0
    assert conv.convolve(image, kernel, padding=1)[1, 1] == kernel[0, 0]
    assert conv.convolve(image, kernel, padding=1)[0, 0] == kernel[1, 1]


def test_output_size_counts_the_window_positions_and_the_formula_shows_it():
    for n in range(1, 12):
        for stride in (1, 2, 3):
            for padding in (0, 1, 2):
                if 3 > n + 2 * padding:
                    with pytest.raises(ValueError, match="does not fit"):
                        conv.window_count(n, 3, stride, padding)
                    continue
                padded = n + 2 * padding
                positions = sum(1 for start in range(padded) if start % stride == 0 and start + 3 <= padded)
                assert conv.window_count(n, 3, stride, padding) == positions
                assert conv.output_size_formula(n, 3, stride, padding) == \
                    f"⌊({n} + 2·{padding} − 3) / {stride}⌋ + 1 = {positions}"
    with pytest.raises(ValueError, match="stride must be >= 1"):
        conv.window_count(8, 3, 0, 0)


@pytest.mark.parametrize("kind, library", [("max", F.max_pool2d), ("average", F.avg_pool2d)])
def test_pool_matches_the_library(kind, library):
    feature_map = np.random.default_rng(0).standard_normal((7, 6))
    expected = library(Tensor(feature_map[None, None]), 2).data[0, 0]
    np.testing.assert_allclose(conv.pool(feature_map, kind), expected)


def test_pool_none_and_too_small():
    feature_map = np.ones((1, 5))
    assert conv.pool(feature_map, "none") is feature_map
    assert conv.pool(feature_map, "max") is None
    with pytest.raises(ValueError, match="unknown pooling 'min'"):
        conv.pool(feature_map, "min")


def test_feature_maps_chain_conv_relu_pool():
    image = np.random.default_rng(1).random((8, 8))
    kernel = conv.kernel_named("sobel x")
    maps = conv.feature_maps(image, kernel, stride=1, padding=1, pooling="max")
    assert maps["padded"].shape == (10, 10) and np.array_equal(maps["padded"][1:-1, 1:-1], image)
    np.testing.assert_allclose(maps["relu"], np.maximum(maps["conv"], 0))
    np.testing.assert_allclose(maps["pooled"], maps["relu"].reshape(4, 2, 4, 2).max(axis=(1, 3)))


def test_kernels_presets_and_errors():
    assert set(conv.KERNELS) == {"identity", "blur", "sobel x", "sobel y", "sharpen"}
    for name in conv.KERNELS:
        kernel = conv.kernel_named(name)
        assert kernel.shape == (3, 3) and conv.preset_of(kernel) == name
        kernel[0, 0] += 0.5
        assert conv.preset_of(kernel) == "custom"
    np.testing.assert_allclose(conv.kernel_named("blur").sum(), 1.0)
    assert conv.kernel_named("sobel y").T.tolist() == conv.kernel_named("sobel x").tolist()
    with pytest.raises(ValueError, match="unknown kernel 'edges'; choose one of identity"):
        conv.kernel_named("edges")
    with pytest.raises(ValueError, match="3x3 finite numbers, got shape \\(2, 2\\)"):
        conv.as_kernel(np.ones((2, 2)))


# ---- the UI, headless -----------------------------------------------------------------------

@pytest.fixture
def explorer():
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from course.widgets import conv_explorer

    rng = np.random.default_rng(0)
    images = rng.random((30, 1, 8, 8))
    labels = np.arange(30) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return conv_explorer(images=images, labels=labels, show=False)


def shown(explorer, name):
    """The array an image panel shows (None when the panel is hidden)."""
    artist = explorer.artists[name]
    return np.array(artist.get_array(), dtype=float) if artist.get_visible() else None


def test_starts_with_a_png_and_the_maps_of_its_settings(explorer):
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    expected = conv.feature_maps(explorer.images[0], conv.kernel_named("sobel x"), 1, 1, "max")
    for name in ("padded", "conv", "relu", "pooled"):
        np.testing.assert_allclose(shown(explorer, name), expected[name])
    assert "⌊(8 + 2·1 − 3) / 1⌋ + 1 = 8" in explorer.status.value
    assert "→ 4×4" in explorer.status.value


@pytest.mark.parametrize("stride, padding", [(2, 0), (3, 2), (1, 0), (2, 2)])
def test_stride_and_padding_sliders_change_sizes_and_formula(explorer, stride, padding):
    explorer.controls["stride"].value = stride
    explorer.controls["padding"].value = padding
    size = len(range(0, 8 + 2 * padding - 3 + 1, stride))
    assert shown(explorer, "conv").shape == (size, size)
    assert shown(explorer, "padded").shape == (8 + 2 * padding, 8 + 2 * padding)
    assert f"⌊(8 + 2·{padding} − 3) / {stride}⌋ + 1 = {size}" in explorer.status.value
    pooled = shown(explorer, "pooled")
    if size >= 2:
        assert pooled.shape == (size // 2, size // 2)
    else:
        assert pooled is None and "too small" in explorer.status.value
    frame = explorer.artists["image_frame"]
    assert frame.get_visible() == (padding > 0)
    if padding:
        assert (frame.get_x(), frame.get_y(), frame.get_width()) == (padding - 0.5, padding - 0.5, 8)


def test_preset_menu_fills_the_boxes_and_editing_a_box_makes_it_custom(explorer):
    c = explorer.controls
    c["kernel"].value = "sharpen"
    boxes = np.array([[c[f"k{p}{q}"].value for q in range(3)] for p in range(3)])
    np.testing.assert_array_equal(boxes, conv.kernel_named("sharpen"))
    np.testing.assert_array_equal(explorer.kernel, conv.kernel_named("sharpen"))
    c["k00"].value = 2.5
    assert c["kernel"].value == "custom" and explorer.kernel[0, 0] == 2.5
    expected = conv.convolve(explorer.images[0], explorer.kernel, 1, 1)
    np.testing.assert_allclose(shown(explorer, "conv"), expected)
    c["k00"].value = 0.0                    # back to the preset's values: the menu says so
    assert c["kernel"].value == "sharpen"
    c["kernel"].value = "custom"            # choosing "custom" keeps the weights
    np.testing.assert_array_equal(explorer.kernel, conv.kernel_named("sharpen"))


def test_set_kernel_and_pooling_menu(explorer):
    explorer.set_kernel(np.full((3, 3), -1.0))
    assert explorer.controls["kernel"].value == "custom" and explorer.controls["k21"].value == -1.0
    assert shown(explorer, "relu").max() == 0.0          # a negative filter on non-negative pixels
    explorer.controls["pooling"].value = "average"
    np.testing.assert_allclose(shown(explorer, "pooled"), explorer.maps()["relu"].reshape(4, 2, 4, 2).mean(axis=(1, 3)))
    explorer.controls["pooling"].value = "none"
    np.testing.assert_allclose(shown(explorer, "pooled"), explorer.maps()["relu"])


def test_digit_and_example_pick_the_image(explorer):
    c = explorer.controls
    c["digit"].value = 2
    assert explorer.index == 2 and c["example"].max == 9 and c["example"].value == 0
    c["example"].value = 4
    assert explorer.index == 14 and explorer.labels[explorer.index] == 2
    np.testing.assert_allclose(shown(explorer, "padded")[1:-1, 1:-1], explorer.images[14])
    assert "(digit 2)" in explorer.artists["title padded"].get_text()


def test_bad_arguments_are_reported():
    pytest.importorskip("ipywidgets")
    from course.widgets import conv_explorer

    images = np.zeros((4, 8, 8))
    with pytest.raises(ValueError, match="index must lie in 0..3"):
        conv_explorer(index=4, images=images, show=False)
    with pytest.raises(ValueError, match="unknown kernel"):
        conv_explorer(kernel="emboss", images=images, show=False)
    with pytest.raises(ValueError, match="unknown pooling"):
        conv_explorer(pooling="min", images=images, show=False)
    with pytest.raises(ValueError, match="images must have shape"):
        conv_explorer(images=np.zeros((4, 64)), show=False)
    with pytest.raises(ValueError, match="labels must have shape \\(4,\\)"):
        conv_explorer(images=images, labels=np.zeros(3), show=False)


def test_each_control_change_redraws_once(explorer):
    # How long a redraw takes is measured by benchmarks/bench_budgets.py.
    c = explorer.controls
    changes = [("stride", 2), ("padding", 0), ("kernel", "blur"), ("k11", 1.0), ("pooling", "average"),
               ("stride", 1), ("padding", 2), ("kernel", "sobel y"), ("example", 3), ("pooling", "max")] * 3
    for name, value in changes:
        before, changed = explorer.redraws, c[name].value != value
        c[name].value = value
        assert explorer.redraws == before + changed, f"setting {name} to {value!r}"


def test_default_images_are_the_digits():
    pytest.importorskip("ipywidgets")
    pytest.importorskip("sklearn")
    from course.data import digits
    from course.widgets import conv_explorer

    explorer = conv_explorer(index=5, show=False)
    data = digits()
    assert explorer.images.shape == (len(data.x_train) + len(data.x_test), 8, 8)
    np.testing.assert_array_equal(explorer.images[5], data.x_train[5, 0])
    assert explorer.labels[5] == data.y_train[5]
