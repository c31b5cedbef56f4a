"""conv_gradient_explorer: its computation against the convolution's index formulas (and PyTorch
where installed), and the UI driven headless."""
import warnings

import numpy as np
import pytest

from course import conv_gradients as grads


GEOMETRIES = [((8, 8), (3, 3), 1, 1), ((8, 8), (3, 3), 2, 0), ((7, 9), (3, 2), 2, 1), ((5, 6), (1, 1), 1, 1),
              ((4, 4), (4, 4), 1, 0)]


def weight_linking(output, pixel, kernel, stride, padding):
    """The weight through which out[i, j] sees x[r, s], from the index formula; None if it does not."""
    p = pixel[0] + padding - output[0] * stride
    q = pixel[1] + padding - output[1] * stride
    if 0 <= p < kernel.shape[0] and 0 <= q < kernel.shape[1]:
        return p, q
    return None


# ---- the computation ------------------------------------------------------------------------

@pytest.mark.parametrize("image_shape, kernel_shape, stride, padding", GEOMETRIES)
def test_an_outputs_gradient_is_the_filter_on_its_window(image_shape, kernel_shape, stride, padding):
    rng = np.random.default_rng(sum(image_shape) + stride)
    image, kernel = rng.standard_normal(image_shape), rng.standard_normal(kernel_shape)
    oh, ow = grads.output_shape(image_shape, kernel_shape, stride, padding)
    assert (oh, ow) == (len(range(0, image_shape[0] + 2 * padding - kernel_shape[0] + 1, stride)),
                        len(range(0, image_shape[1] + 2 * padding - kernel_shape[1] + 1, stride)))
    for output in [(0, 0), (oh - 1, ow - 1), (oh // 2, ow - 1)]:
        expected = np.zeros(image_shape)
        for pixel in np.ndindex(*image_shape):
            link = weight_linking(output, pixel, kernel, stride, padding)
            if link is not None:
                expected[pixel] = kernel[link]
        np.testing.assert_allclose(grads.output_gradient(image, kernel, output, stride, padding), expected,
                                   rtol=0, atol=1e-12)
        top, left, bottom, right = grads.window_of(output, kernel_shape, stride, padding)
        assert (top, left) == (output[0] * stride - padding, output[1] * stride - padding)
        assert (bottom - top, right - left) == kernel_shape


@pytest.mark.parametrize("image_shape, kernel_shape, stride, padding", GEOMETRIES)
def test_an_input_reaches_the_outputs_whose_window_covers_it_through_one_weight(image_shape, kernel_shape, stride,
                                                                               padding):
    rng = np.random.default_rng(len(image_shape) + padding)
    kernel = rng.standard_normal(kernel_shape)
    image = rng.standard_normal(image_shape)
    for pixel in [(0, 0), (image_shape[0] - 1, image_shape[1] - 1), (image_shape[0] // 2, 1)]:
        weights, which = grads.input_reach(image_shape, kernel, pixel, stride, padding)
        for output in np.ndindex(*weights.shape):
            link = weight_linking(output, pixel, kernel, stride, padding)
            if link is None:
                assert which[output] == -1 and weights[output] == 0
            else:
                assert which[output] == link[0] * kernel_shape[1] + link[1]
                assert weights[output] == kernel[link]
            # the same number from the other side: the backward pass of that output
            assert grads.output_gradient(image, kernel, output, stride, padding)[pixel] == pytest.approx(weights[output])


def test_with_stride_1_an_interior_pixel_meets_the_flipped_filter():
    kernel = np.arange(9.0).reshape(3, 3)
    weights, _ = grads.input_reach((8, 8), kernel, (4, 5), stride=1, padding=1)
    np.testing.assert_array_equal(weights[3:6, 4:7], kernel[::-1, ::-1])
    assert np.count_nonzero(weights) == 8      # the ninth weight is 0


@pytest.mark.parametrize("size", [2, 3])
def test_pool_routing_sends_each_windows_gradient_to_its_first_maximum(size):
    rng = np.random.default_rng(size)
    feature_map = np.maximum(rng.integers(-2, 3, (7, 8)), 0).astype(float)     # many ties, as after a ReLU
    routed, tied = grads.pool_routing(feature_map, size)
    rows, cols = 7 // size * size, 8 // size * size
    assert not routed[rows:].any() and not routed[:, cols:].any() and not tied[rows:].any() and not tied[:, cols:].any()
    for top in range(0, rows, size):
        for left in range(0, cols, size):
            window = feature_map[top:top + size, left:left + size]
            first = np.unravel_index(np.argmax(window), window.shape)       # argmax: the first maximum
            expected_routed = np.zeros_like(window, dtype=bool)
            expected_routed[first] = True
            np.testing.assert_array_equal(routed[top:top + size, left:left + size], expected_routed)
            np.testing.assert_array_equal(tied[top:top + size, left:left + size], (window == window.max()) & ~expected_routed)
    assert tied.any()


def test_pool_routing_agrees_with_pytorchs_max_pool2d():
    torch = pytest.importorskip("torch")
    feature_map = np.array([[0, 0, 1, 3], [0, 0, 3, 2], [2, 1, 6, 6], [7, 7, 6, 6]], dtype=float)
    routed, tied = grads.pool_routing(feature_map)
    x = torch.tensor(feature_map[None, None], requires_grad=True)
    torch.nn.functional.max_pool2d(x, 2, 2).sum().backward()
    np.testing.assert_array_equal(routed, x.grad.numpy()[0, 0] != 0)
    assert tied.sum() == 3 + 1 + 1 + 3


def test_bad_positions_and_images_are_named():
    with pytest.raises(ValueError, match=r"output \(8, 0\) lies outside the 8x8 grid"):
        grads.output_gradient(np.zeros((8, 8)), np.ones((3, 3)), (8, 0), padding=1)
    with pytest.raises(ValueError, match=r"input pixel \(0, -1\) lies outside"):
        grads.input_reach((8, 8), np.ones((3, 3)), (0, -1))
    with pytest.raises(ValueError, match=r"one 2-d array \(H, W\), got shape \(1, 8, 8\)"):
        grads.pool_routing(np.zeros((1, 8, 8)))


# ---- the UI, headless -----------------------------------------------------------------------

@pytest.fixture
def explorer():
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from course.widgets import conv_gradient_explorer

    images = np.random.default_rng(0).integers(0, 5, (6, 8, 8)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return conv_gradient_explorer(images=images, show=False)


def shown(explorer, name):
    return np.array(explorer.artists[name].get_array(), dtype=float)


def test_starts_with_a_png_showing_its_gradients(explorer):
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    image, kernel = explorer.digit_image(), explorer.kernel
    np.testing.assert_allclose(shown(explorer, "input"), np.pad(grads.output_gradient(image, kernel, (0, 0), 1, 1), 1))
    np.testing.assert_allclose(shown(explorer, "reach"), grads.input_reach((8, 8), kernel, (0, 0), 1, 1)[0])
    np.testing.assert_allclose(shown(explorer, "kernel"), kernel)
    assert "x[0,0]</b> feeds 4 outputs" in explorer.status.value


def test_output_sliders_move_the_window_and_the_gradient(explorer):
    before = explorer.image.value
    explorer.controls["output row"].value = 5
    explorer.controls["output column"].value = 2
    assert explorer.image.value != before
    window = explorer.artists["window"]
    assert (window.get_x(), window.get_y()) == (2 * 1 - 1 + 1 - 0.5, 5 - 1 + 1 - 0.5)     # padded coordinates
    np.testing.assert_allclose(shown(explorer, "input"),
                               np.pad(grads.output_gradient(explorer.digit_image(), explorer.kernel, (5, 2), 1, 1), 1))
    assert "x rows 4..6, columns 1..3" in explorer.status.value


def test_pixel_sliders_label_the_outputs_fed_with_their_weights(explorer):
    explorer.controls["input row"].value = 4
    explorer.controls["input column"].value = 3
    labels = {explorer.artists[f"reach text {k}"].get_position(): explorer.artists[f"reach text {k}"].get_text()
              for k in range(9) if explorer.artists[f"reach text {k}"].get_visible()}
    expected = {(j, i): f"w[{4 + 1 - i},{3 + 1 - j}]" for i in range(3, 6) for j in range(2, 5)}
    assert labels == expected
    assert "x[4,3]</b> feeds 9 outputs" in explorer.status.value and "flipped filter" in explorer.status.value


def test_stride_and_padding_shrink_the_output_sliders_and_keep_the_choice_inside(explorer):
    explorer.controls["output row"].value = 7
    explorer.controls["stride"].value = 2
    explorer.controls["padding"].value = 0
    assert explorer.output_shape() == (3, 3)
    assert explorer.controls["output row"].max == 2 and explorer.output == (2, 0)
    assert shown(explorer, "reach").shape == (3, 3) and shown(explorer, "input").shape == (8, 8)
    assert not explorer.artists["image frame"].get_visible()


def test_filter_menu_redraws_the_filter_panel(explorer):
    explorer.controls["kernel"].value = "sharpen"
    np.testing.assert_allclose(shown(explorer, "kernel"), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    assert explorer.artists["kernel text 4"].get_text() == "5"
    np.testing.assert_allclose(shown(explorer, "reach"), grads.input_reach((8, 8), explorer.kernel, (0, 0), 1, 1)[0])


def test_pool_markers_are_the_routing_of_the_relu_map(explorer):
    relu = np.maximum(grads.feature_map(explorer.digit_image(), explorer.kernel, 1, 1), 0)
    routed, tied = grads.pool_routing(relu)
    xs, ys = explorer.artists["routed"].get_data()
    assert sorted(zip(np.asarray(ys).tolist(), np.asarray(xs).tolist())) == sorted(zip(*np.nonzero(routed)))
    assert len(explorer.artists["tied"].get_data()[0]) == tied.sum()
    assert len(xs) == 16


def test_bad_settings_are_refused_with_the_reason():
    pytest.importorskip("ipywidgets")
    from course.widgets import conv_gradient_explorer

    with pytest.raises(ValueError, match="at most 10x10 pixels, got 28x28"):
        conv_gradient_explorer(images=np.zeros((2, 28, 28)), show=False)
    with pytest.raises(ValueError, match=r"input pixel \(9, 0\) lies outside"):
        conv_gradient_explorer(images=np.zeros((2, 8, 8)), pixel=(9, 0), show=False)


def test_each_slider_move_redraws_once(explorer):
    # How long a redraw takes is measured by benchmarks/bench_budgets.py.
    for value in [1, 2, 3, 4, 5, 6, 5, 4, 3, 2]:
        before = explorer.redraws
        explorer.controls["output row"].value = value
        assert explorer.redraws == before + 1, f"moving the output row to {value}"
