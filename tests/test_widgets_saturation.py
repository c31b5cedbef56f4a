"""The depth/saturation playground: its computation (course.saturation) against the
engine and the laws it shows, and the widget driven headless."""
import statistics
import subprocess
import sys
import warnings

import numpy as np
import pytest

from course.autograd import Tensor
from course import saturation as sat
from course.saturation import depth_profile


def rebuild(activation, depth, gain, width, n_examples, seed):
    """The network depth_profile describes, drawn by its stated contract, in course.autograd.

    Returns (weights, pre-activations s^(l), dl/dW^(l), dl/ds^(l)) as arrays.
    """
    rng = np.random.default_rng(seed)
    weights = [Tensor(gain / np.sqrt(width) * rng.standard_normal((width, width)), requires_grad=True)
               for _ in range(depth)]
    x = Tensor(rng.standard_normal((n_examples, width)))
    top = rng.standard_normal((n_examples, width)) / n_examples
    pre_activations = []
    for W in weights:
        s = x @ W.T
        s.retain_grad()
        pre_activations.append(s)
        x = {"sigmoid": s.sigmoid, "tanh": s.tanh, "relu": s.relu}[activation]()
    (x * Tensor(top)).sum().backward()       # l = sum of top * x^(depth): dl/dx^(depth) = top
    return ([W.data for W in weights], [s.data for s in pre_activations],
            [W.grad.data for W in weights], [s.grad.data for s in pre_activations])


@pytest.mark.parametrize("activation", list(sat.ACTIVATIONS))
def test_gradient_norms_equal_the_engine_on_the_same_network(activation):
    settings = dict(activation=activation, depth=5, gain=1.3, width=7, n_examples=4, seed=3)
    profile = depth_profile(**settings)
    _, s, dW, ds = rebuild(**settings)
    np.testing.assert_allclose(profile.dW_norms, [np.linalg.norm(g) for g in dW], rtol=1e-10)
    np.testing.assert_allclose(profile.ds_norms, [np.linalg.norm(g) for g in ds], rtol=1e-10)
    sigma = {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}
    np.testing.assert_allclose(profile.activation_std, [sigma[activation](v).std() for v in s], rtol=1e-10)


def test_stuck_units_are_dead_relus_and_saturated_sigmoids():
    settings = dict(depth=6, gain=6.0, width=20, n_examples=8, seed=1)
    _, s, _, _ = rebuild("relu", **settings)
    dead = [np.mean([np.all(layer[:, j] < 0) for j in range(layer.shape[1])]) for layer in s]
    np.testing.assert_array_equal(depth_profile("relu", **settings).stuck_fraction, dead)
    _, s, _, _ = rebuild("sigmoid", **settings)
    sigmoid = [1 / (1 + np.exp(-layer)) for layer in s]
    saturated = [np.mean(out * (1 - out) < 0.025) for out in sigmoid]       # a tenth of sigma'(0) = 1/4
    np.testing.assert_array_equal(depth_profile("sigmoid", **settings).stuck_fraction, saturated)
    assert max(saturated) > 0.2                                             # the test can fail


def test_sigmoid_passes_at_most_a_quarter_of_the_gradient_per_layer():
    settings = dict(activation="sigmoid", depth=8, gain=1.0, width=30, n_examples=16, seed=2)
    weights, _, _, _ = rebuild(**settings)
    ds = depth_profile(**settings).ds_norms
    # dl/ds^(l) = sigma'(s^(l)) * (dl/ds^(l+1) W^(l+1)), with sigma' <= 1/4
    for layer in range(settings["depth"] - 1):
        bound = 0.25 * np.linalg.norm(weights[layer + 1], 2) * ds[layer + 1]
        assert ds[layer] <= bound * (1 + 1e-12)


def test_relu_is_homogeneous_so_the_gain_scales_every_weight_gradient_alike():
    depth, a = 6, 1.7
    base = depth_profile("relu", depth=depth, gain=1.0, width=30, seed=4)
    scaled = depth_profile("relu", depth=depth, gain=a, width=30, seed=4)
    # W -> a W multiplies x^(l) by a^l and dl/ds^(l) by a^(depth - l): dl/dW^(l) by a^(depth - 1).
    np.testing.assert_allclose(scaled.dW_norms / base.dW_norms, a ** (depth - 1), rtol=1e-10)
    layers = np.arange(1, depth + 1)
    np.testing.assert_allclose(scaled.ds_norms / base.ds_norms, a ** (depth - layers), rtol=1e-10)


def test_he_keeps_a_deep_relu_network_alive_and_xavier_lets_it_fade():
    he = depth_profile("relu", depth=20, gain=sat.HE_GAIN, seed=0)
    xavier = depth_profile("relu", depth=20, gain=sat.XAVIER_GAIN, seed=0)
    assert 0.2 < he.ds_norms[0] / he.ds_norms[-1] < 5
    assert xavier.ds_norms[0] / xavier.ds_norms[-1] < 0.01           # about (1/sqrt 2)^19
    assert xavier.activation_std[-1] < 0.01 * he.activation_std[-1]
    assert sat.small_gain(64) == pytest.approx(0.08)


def test_same_seed_same_profile_other_seed_other_profile():
    a, b, c = (depth_profile("tanh", depth=4, seed=seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(a.dW_norms, b.dW_norms)
    assert not np.allclose(a.dW_norms, c.dW_norms)


@pytest.mark.parametrize("kwargs, words", [
    (dict(activation="softplus"), "unknown activation 'softplus'"),
    (dict(depth=0), "depth must be a whole number >= 1"),
    (dict(depth=2.5), "depth must be a whole number"),
    (dict(width=True), "width must be a whole number"),
    (dict(gain=-1.0), "gain must be a positive number"),
    (dict(gain=float("nan")), "gain must be a positive number"),
])
def test_bad_settings_say_what_is_wrong(kwargs, words):
    with pytest.raises(ValueError, match=words):
        depth_profile(**kwargs)


def test_the_computation_needs_numpy_only():
    code = ("import sys; import course.saturation; "
            "print(*(m in sys.modules for m in ('ipywidgets', 'matplotlib', 'threadpoolctl')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"] and out.stderr == ""


# ---- the widget ------------------------------------------------------------------------------

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from course.widgets import saturation_playground  # noqa: E402
from test_widgets import differing, drawing_done_by, snapshot  # noqa: E402


@pytest.fixture
def playground():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return saturation_playground(show=False)


def drawn(playground, name):
    return playground.artists[name].get_ydata()


def test_it_shows_the_library_numbers_for_its_settings(playground):
    assert playground.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    expected = depth_profile("sigmoid", 10, 1.0, width=64, seed=0)
    np.testing.assert_array_equal(drawn(playground, "ds_norms"), expected.ds_norms)
    np.testing.assert_array_equal(drawn(playground, "dW_norms"), expected.dW_norms)
    np.testing.assert_array_equal(drawn(playground, "stuck"), expected.stuck_fraction)
    assert f"{expected.ds_norms[0] / expected.ds_norms[-1]:.1e}" in playground.status.value


@pytest.mark.parametrize("control, value, changed", [
    ("depth", 17, ["dW_norms[0]", "ds_norms[0]", "stuck[0]"]),
    ("gain", 3.0, ["dW_norms[0]", "ds_norms[0]", "stuck[0]"]),
    ("activation", "relu", ["dW_norms[0]", "ds_norms[0]", "stuck[0]"]),
])
def test_each_control_changes_the_figure(playground, control, value, changed):
    before = snapshot(playground)
    picture = playground.image.value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        playground.controls[control].value = value
    assert set(changed) <= set(differing(before, snapshot(playground)))
    assert playground.image.value != picture
    assert len(drawn(playground, "ds_norms")) == playground.depth


@pytest.mark.parametrize("button, gain", [("small", 0.01 * 8), ("Xavier", 1.0), ("He", np.sqrt(2.0))])
def test_initialisation_buttons_set_the_gain(playground, button, gain):
    playground.controls["gain"].value = 5.0
    playground.controls[button].click()
    assert playground.gain == pytest.approx(gain, rel=1e-9)
    expected = depth_profile("sigmoid", 10, playground.gain, width=64, seed=0)
    np.testing.assert_array_equal(drawn(playground, "ds_norms"), expected.ds_norms)


def test_the_log_axis_always_holds_the_curves(playground):
    for activation, depth, gain in [("sigmoid", 30, 0.01), ("relu", 30, 10.0), ("tanh", 2, 1.0),
                                    ("sigmoid", 5, 0.5), ("relu", 12, 1.2)]:
        playground.controls["activation"].value = activation
        playground.controls["depth"].value = depth
        playground.controls["gain"].value = gain
        low, high = playground._ax_grad.get_ylim()
        shown = np.concatenate([drawn(playground, "ds_norms"), drawn(playground, "dW_norms")])
        assert low <= shown.min() and shown.max() <= high, (activation, depth, gain)
        assert playground._ax_grad.get_xlim()[1] >= depth


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="depth must lie between 2 and 30"):
        saturation_playground(depth=40, show=False)
    with pytest.raises(ValueError, match="gain must lie between 0.01 and 10"):
        saturation_playground(gain=50.0, show=False)
    with pytest.raises(ValueError, match="unknown activation"):
        saturation_playground(activation="elu", show=False)


def test_gain_slider_redraws_once_per_change_over_a_kept_background(playground):
    # How long a redraw takes is measured by benchmarks/bench_budgets.py; here, the work it does.
    redraws, whole = drawing_done_by(playground, playground.controls["gain"], list(np.linspace(0.5, 2.0, 20)))
    assert (redraws, whole) == (20, 0)
