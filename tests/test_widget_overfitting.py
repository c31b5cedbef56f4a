"""The overfitting playground of module 02: its computation (numpy only) and its UI driven headless."""

import warnings

import numpy as np
import pytest

from course import overfitting as of



def by_hand(x):
    return np.sin(3 * x) + 0.3 * x * x


# ---- computation -------------------------------------------------------------------------------

def test_samples_come_from_the_generator_passed_in_and_leave_the_global_state_alone():
    state = np.random.get_state()[1].copy()
    x1, y1 = of.noisy_samples(30, 0.2, np.random.default_rng(5))
    x2, y2 = of.noisy_samples(30, 0.2, np.random.default_rng(5))
    x3, _ = of.noisy_samples(30, 0.2, np.random.default_rng(6))
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(x1, x3)
    assert x1.shape == y1.shape == (30,) and np.all((x1 >= -2) & (x1 <= 2))


def test_noise_free_samples_lie_on_f_and_the_noise_has_the_asked_spread():
    x, y = of.noisy_samples(20, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(y, by_hand(x), atol=1e-12)
    x, y = of.noisy_samples(20000, 0.5, np.random.default_rng(1))
    assert abs(np.std(y - by_hand(x)) - 0.5) < 0.02


@pytest.mark.parametrize("bad, message", [
    (dict(n=10, noise=0.1, rng=np.random), "Generator"),
    (dict(n=0, noise=0.1, rng=np.random.default_rng(0)), "n >= 1"),
    (dict(n=10, noise=-1.0, rng=np.random.default_rng(0)), "noise >= 0"),
])
def test_bad_sample_requests_are_named(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        of.noisy_samples(**bad)


def test_one_relu_is_the_least_squares_line():
    # One ReLU hinged at the left end is a straight line on the interval: with the bias, the
    # least-squares line that np.polyfit finds.
    x, y = of.noisy_samples(25, 0.3, np.random.default_rng(2))
    fit = of.ReluFit(x, y, 1)
    slope, intercept = np.polyfit(x, y, 1)
    grid = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(fit(grid), slope * grid + intercept, atol=1e-9)


def test_a_piecewise_linear_f_with_kinks_at_the_knots_is_recovered_exactly():
    # Four ReLUs have knots at -2, -1, 0, 1: |x| + ReLU(x - 1) bends only there.
    f = lambda t: np.abs(t) + np.maximum(t - 1.0, 0.0)
    x = np.linspace(-2, 2, 17)
    fit = of.ReluFit(x, f(x), 4)
    np.testing.assert_allclose(fit.knots, [-2.0, -1.0, 0.0, 1.0])
    grid = np.linspace(-2, 2, 101)
    np.testing.assert_allclose(fit(grid), f(grid), atol=1e-9)


def test_doubling_the_relus_never_raises_the_training_error():
    # The knots of n ReLUs are among those of 2n ReLUs: least squares can only do better.
    x, y = of.noisy_samples(15, 0.3, np.random.default_rng(3))
    widths = [1, 2, 4, 8, 16, 32]
    train_errors, _ = of.error_curves((x, y), (x, y), widths)
    assert np.all(np.diff(train_errors) <= 1e-12), train_errors


def test_error_curves_are_the_mean_squared_errors_of_each_fit():
    rng = np.random.default_rng(4)
    train, test = of.noisy_samples(12, 0.3, rng), of.noisy_samples(50, 0.3, rng)
    train_errors, test_errors = of.error_curves(train, test, [3, 7])
    for i, n in enumerate([3, 7]):
        fit = of.ReluFit(*train, n)
        assert train_errors[i] == pytest.approx(np.mean((fit(train[0]) - train[1]) ** 2))
        assert test_errors[i] == pytest.approx(np.mean((fit(test[0]) - test[1]) ** 2))


def test_the_default_samples_show_overfitting():
    # The playground's default picture (seed 1, 15 samples, noise 0.3): the test error is smallest
    # with a few ReLUs; with 20 the training error is smaller still but the test error far larger.
    rng = np.random.default_rng(1)
    train, test = of.noisy_samples(15, 0.3, rng), of.noisy_samples(500, 0.3, rng)
    widths = np.arange(1, 41)
    train_errors, test_errors = of.error_curves(train, test, widths)
    best = int(np.argmin(test_errors))
    assert 3 <= widths[best] <= 12
    assert train_errors[19] < train_errors[best] and test_errors[19] > 3 * test_errors[best]
    assert train_errors[-1] < 1e-20 < test_errors[-1]  # 40 ReLUs pass through all 15 samples


# ---- the UI ------------------------------------------------------------------------------------

widgets = pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
from course.widgets import overfitting_playground  # noqa: E402


@pytest.fixture
def playground():
    return overfitting_playground(show=False)


def test_it_returns_a_drivable_ui_with_a_png_and_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = overfitting_playground(show=False)
    assert p.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert p.redraw() == p.image.value
    assert isinstance(p.controls["n_relus"], widgets.IntSlider)


def test_the_drawn_fit_and_status_are_the_fit_of_the_chosen_width(playground):
    playground.controls["n_relus"].value = 9
    x_train, y_train = playground.artists["train"].get_xydata().T
    fit = of.ReluFit(x_train, y_train, 9)
    x, drawn = playground.artists["fit"].get_xydata().T
    np.testing.assert_allclose(drawn, fit(x), atol=1e-9)
    train_error = np.mean((fit(x_train) - y_train) ** 2)
    assert f"<b>training error</b> {train_error:.4f}" in playground.status.value
    assert "9 ReLUs" in playground.artists["title"].get_text()
    assert playground.artists["marker"].get_xdata()[0] == 9


def test_the_width_slider_moves_the_fit_but_not_the_data(playground):
    before = playground.artists["train"].get_xydata().copy(), playground.artists["fit"].get_xydata().copy()
    curve = playground.artists["test_curve"].get_ydata().copy()
    playground.controls["n_relus"].value = 20
    np.testing.assert_array_equal(playground.artists["train"].get_xydata(), before[0])
    np.testing.assert_array_equal(playground.artists["test_curve"].get_ydata(), curve)
    assert not np.allclose(playground.artists["fit"].get_xydata(), before[1])
    assert "follows the noise" in playground.status.value


@pytest.mark.parametrize("control, value", [("noise", 0.6), ("n_samples", 30)])
def test_noise_and_sample_count_draw_new_data_and_curves(playground, control, value):
    curve = playground.artists["train_curve"].get_ydata().copy()
    playground.controls[control].value = value
    x, y = playground.artists["train"].get_xydata().T
    assert len(x) == playground.n_samples
    assert not np.allclose(playground.artists["train_curve"].get_ydata(), curve)
    if control == "noise":
        assert "noise variance 0.3600" in playground.status.value


def test_new_samples_button_draws_other_samples(playground):
    before = playground.artists["train"].get_xydata().copy()
    playground.controls["new_samples"].click()
    assert playground.seed == 2
    assert not np.allclose(playground.artists["train"].get_xydata(), before)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="n_relus"):
        overfitting_playground(n_relus=0, show=False)
    with pytest.raises(ValueError, match="n_samples"):
        overfitting_playground(n_samples=1, show=False)


def test_width_slider_redraws_once_per_change_over_a_kept_background(playground):
    # How long a redraw takes is measured by benchmarks/bench_budgets.py; here, the work it does.
    redraws, whole = playground.redraws, playground.background_draws
    for n in range(1, 41, 2):
        playground.controls["n_relus"].value = n
    assert playground.redraws - redraws == 20
    assert playground.background_draws == whole
