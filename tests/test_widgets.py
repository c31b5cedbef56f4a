"""The three playgrounds driven headless: controls change the figure, buttons change the state,
slider redraws are fast. The figure is drawn with matplotlib's Agg canvas, no browser needed."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from course.widgets import decision_boundary_playground, perceptron_playground, relu_sum_playground  # noqa: E402
from course import data  # noqa: E402
from course.widgets import _display, _ui  # noqa: E402


def snapshot(playground):
    """Everything the figure shows, as comparable numpy arrays and strings."""
    state = {}
    for name, artist in playground.artists.items():
        for i, item in enumerate(artist if isinstance(artist, list) else [artist]):
            key = f"{name}[{i}]"
            if hasattr(item, "get_offsets"):
                state[key] = np.array(item.get_offsets(), dtype=float)
                state[key + " colors"] = np.array(item.get_facecolors(), dtype=float)
            elif hasattr(item, "get_xydata"):
                state[key] = np.array(item.get_xydata(), dtype=float)
                state[key + " visible"] = item.get_visible()
            elif hasattr(item, "get_array"):
                state[key] = np.array(item.get_array(), dtype=float)
            else:
                state[key] = item.get_text()
    return state


def differing(before, after):
    """Names of the snapshot entries that differ."""
    def same(a, b):
        if isinstance(a, np.ndarray):
            return a.shape == b.shape and np.allclose(a, b, equal_nan=True)
        return a == b
    return sorted(key for key in before if not same(before[key], after[key]))


def click(playground, name):
    playground.controls[name].click()


def drawing_done_by(playground, slider, values):
    """Set the slider to each value in turn; returns (redraws, whole-figure draws) that caused.

    How long a redraw takes is measured by benchmarks/bench_budgets.py; the tests check the
    work: one redraw per change, and the unchanging part of the figure not drawn again.
    """
    redraws, whole = playground.redraws, playground.background_draws
    for value in values:
        slider.value = value
    return playground.redraws - redraws, playground.background_draws - whole


def test_importing_course_widgets_loads_neither_matplotlib_nor_ipywidgets():
    code = ("import sys, course, course.widgets; "
            "assert 'course.widgets' in sys.modules; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and out.stderr == ""


@pytest.mark.parametrize("make", [decision_boundary_playground, perceptron_playground, relu_sum_playground])
def test_each_playground_returns_a_drivable_ui_with_a_png(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        playground = make(show=False)
    assert playground.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert playground.controls and playground.figure is not None
    before = playground.image.value
    assert playground.redraw() == before  # nothing changed, the same picture
    assert len(playground.widget.children) > 0


# ---- decision boundary -------------------------------------------------------------------------

@pytest.fixture
def boundary():
    return decision_boundary_playground(dataset="XOR", noise=0.3, hidden="4,4", activation="tanh",
                                        lr=0.03, show=False)


@pytest.mark.parametrize("control, value, changed", [
    ("dataset", "circles", "train_points[0]"),
    ("noise", 0.6, "train_points[0]"),
    ("hidden", "8", "heatmap[0]"),
    ("hidden", "", "heatmap[0]"),
    ("activation", "ReLU", "heatmap[0]"),
    ("activation", "linear", "heatmap[0]"),
] + [(f"feature {name}", None, "heatmap[0]") for name in data.FEATURES])
def test_boundary_each_control_changes_the_figure(boundary, control, value, changed):
    widget = boundary.controls[control]
    before = snapshot(boundary)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        widget.value = (not widget.value) if value is None else value
    assert changed in differing(before, snapshot(boundary))
    assert boundary.error is None


def test_boundary_learning_rate_applies_to_the_next_steps(boundary):
    other = decision_boundary_playground(dataset="XOR", noise=0.3, hidden="4,4", activation="tanh",
                                         lr=0.03, show=False)
    before = snapshot(boundary)
    boundary.controls["lr"].value = 1.0
    assert differing(before, snapshot(boundary)) == []  # the weights stay
    assert boundary.trainer.lr == 1.0
    click(boundary, "step")
    click(other, "step")
    assert "heatmap[0]" in differing(snapshot(other), snapshot(boundary))


def test_boundary_step_train_reset(boundary):
    initial = snapshot(boundary)
    assert len(initial["train_loss[0]"]) == 1
    click(boundary, "step")
    after_step = snapshot(boundary)
    assert {"heatmap[0]", "train_loss[0]", "test_loss[0]"} <= set(differing(initial, after_step))
    assert len(after_step["train_loss[0]"]) == 2
    click(boundary, "train")
    after_train = snapshot(boundary)
    assert len(after_train["train_loss[0]"]) == 2 + boundary.train_epochs
    losses = after_train["train_loss[0]"][:, 1]
    assert losses[-1] < losses[0]
    click(boundary, "reset")
    assert differing(initial, snapshot(boundary)) == []


def test_boundary_bad_settings_are_reported_not_raised(boundary):
    before = snapshot(boundary)
    boundary.controls["hidden"].value = "8,x"
    assert "hidden layers" in boundary.status.value and "'x'" in boundary.status.value
    assert differing(before, snapshot(boundary)) == []  # the previous network stays
    boundary.controls["hidden"].value = "4,4"
    assert boundary.error is None and "hidden layers" not in boundary.status.value
    for name in data.FEATURES:
        boundary.controls[f"feature {name}"].value = False
    assert "at least one input feature" in boundary.status.value
    click(boundary, "step")  # still trains the network shown
    with pytest.raises(ValueError, match="hidden layers"):
        decision_boundary_playground(hidden="eight", show=False)


def test_boundary_slider_redraws_once_per_change_over_a_kept_background(boundary):
    values = list(np.linspace(0.0, 1.0, 21)[1:])
    assert drawing_done_by(boundary, boundary.controls["noise"], values) == (len(values), 0)


# ---- perceptron --------------------------------------------------------------------------------

@pytest.fixture
def perceptron():
    return perceptron_playground(dataset="AND", noise=0.3, w=(1.0, 1.0), b=0.0, show=False)


@pytest.mark.parametrize("control, value, changed", [
    ("w1", -0.5, "boundary[0]"), ("w2", 2.5, "boundary[0]"), ("b", 1.0, "boundary[0]"),
    ("dataset", "XOR", "points[0] colors"), ("noise", 0.8, "points[0]"),
])
def test_perceptron_each_control_changes_the_figure(perceptron, control, value, changed):
    before = snapshot(perceptron)
    perceptron.controls[control].value = value
    assert changed in differing(before, snapshot(perceptron))


def test_perceptron_marks_exactly_the_misclassified_points(perceptron):
    perceptron.controls["b"].value = 1.0
    X, y = perceptron.X, perceptron.y
    wrong = (X @ np.array([1.0, 1.0]) + 1.0 >= 0).astype(int) != y
    assert wrong.sum() > 0
    np.testing.assert_allclose(perceptron.artists["mistakes"].get_offsets(), X[wrong])
    assert f"{wrong.sum()} of {len(y)}" in perceptron.artists["title"].get_text()


def test_perceptron_step_button_applies_the_rule_and_moves_the_sliders(perceptron):
    perceptron.controls["b"].value = 1.0
    X, y = perceptron.X, perceptron.y
    predicted = (X @ np.array([1.0, 1.0]) + 1.0 >= 0).astype(int)
    first_wrong = int(np.flatnonzero(predicted != y)[0])
    error = y[first_wrong] - predicted[first_wrong]
    before = snapshot(perceptron)
    click(perceptron, "step")
    assert perceptron.last_index == first_wrong
    expected_w = np.array([1.0, 1.0]) + error * X[first_wrong]
    np.testing.assert_allclose(perceptron.w, expected_w)
    assert perceptron.controls["w1"].value == pytest.approx(expected_w[0])
    assert perceptron.controls["b"].value == pytest.approx(1.0 + error)
    assert "boundary[0]" in differing(before, snapshot(perceptron))
    np.testing.assert_allclose(perceptron.artists["last"].get_offsets(), X[[first_wrong]])
    for _ in range(200):
        click(perceptron, "step")
        if perceptron.last_index is None:
            break
    assert len(perceptron.artists["mistakes"].get_offsets()) == 0  # AND is separable
    click(perceptron, "reset")
    assert (perceptron.controls["w1"].value, perceptron.controls["w2"].value,
            perceptron.controls["b"].value) == (1.0, 1.0, 0.0)


def test_perceptron_step_beyond_the_slider_range_widens_it():
    playground = perceptron_playground(dataset="XOR", noise=0.1, w=(3.9, 3.9), b=3.9, show=False)
    for _ in range(30):
        playground.step()
    np.testing.assert_allclose([playground.controls[k].value for k in ("w1", "w2", "b")],
                               [*playground.w, playground.b])


def test_perceptron_slider_redraws_once_per_change_over_a_kept_background(perceptron):
    values = list(np.linspace(-3.0, 3.0, 20))
    assert drawing_done_by(perceptron, perceptron.controls["w1"], values) == (len(values), 0)


# ---- ReLU sums ---------------------------------------------------------------------------------

@pytest.fixture
def relus():
    return relu_sum_playground(target="lecture", n_relus=6, show=False)


def lecture_by_hand(x):
    relu = lambda s: np.maximum(s, 0.0)
    return (-relu(-5 * x - 7.7) - relu(-1.2 * x - 1.3) - relu(1.2 * x + 1)
            + relu(1.2 * x - 0.2) + relu(2 * x - 1.1) + relu(5 * x - 5))


def drawn(playground, name):
    return playground.artists[name].get_xydata()


def test_relu_playground_starts_with_the_lecture_example(relus):
    x, target = drawn(relus, "target").T
    np.testing.assert_allclose(target, lecture_by_hand(x), atol=1e-12)
    np.testing.assert_allclose(drawn(relus, "sum")[:, 1], lecture_by_hand(x), atol=1e-12)
    assert "max error 0.000" in relus.artists["error_text"].get_text()
    visible = [line.get_visible() for line in relus.artists["pieces"]]
    assert visible == [True] * 6 + [False] * (len(visible) - 6)
    np.testing.assert_allclose(relus.artists["pieces"][4].get_ydata(), np.maximum(2 * x - 1.1, 0.0))


@pytest.mark.parametrize("control, value", [
    (f"{kind} {i}", value) for i in (1, 4, 6) for kind, value in (("slope", 0.3), ("offset", 0.4), ("weight", 0.7))
] + [("bias", 0.5)])
def test_relu_each_parameter_slider_changes_the_sum(relus, control, value):
    before = snapshot(relus)
    relus.controls[control].value = value
    changed = differing(before, snapshot(relus))
    assert "sum[0]" in changed and "error_text[0]" in changed
    assert "target[0]" not in changed


def test_relu_number_target_and_custom_target(relus):
    before = snapshot(relus)
    relus.controls["n_relus"].value = 4
    changed = differing(before, snapshot(relus))
    assert {"sum[0]", "pieces[4] visible", "pieces[5] visible"} <= set(changed)
    assert len(relus._relu_box.children) == 4
    relus.controls["target"].value = "square"
    x, target = drawn(relus, "target").T
    np.testing.assert_allclose(target, x ** 2)

    custom = relu_sum_playground(target=lambda x: np.cos(3 * x), show=False)
    x, target = drawn(custom, "target").T
    np.testing.assert_allclose(target, np.cos(3 * x))
    assert custom.controls["target"].value == "custom"
    with pytest.raises(ValueError, match="finite values"):
        relu_sum_playground(target=lambda x: 1.0, show=False)
    with pytest.raises(ValueError, match="unknown target"):
        relu_sum_playground(target="cosh", show=False)


@pytest.mark.parametrize("method", ["lstsq", "gd"])
def test_relu_fit_button_reduces_the_drawn_error(relus, method):
    relus.controls["target"].value = "sin"
    relus.controls["n_relus"].value = 8
    click(relus, "spread")
    relus.controls["weight 2"].value = 0.5

    def max_error():
        return np.abs(drawn(relus, "sum")[:, 1] - drawn(relus, "target")[:, 1]).max()

    before = max_error()
    relus.controls["fit_method"].value = method
    click(relus, "fit")
    assert max_error() < 0.5 * before
    # the sliders show the fitted values
    n = 8
    np.testing.assert_allclose([relus.controls[f"weight {i + 1}"].value for i in range(n)], relus.weights[:n])
    np.testing.assert_allclose([relus.controls[f"slope {i + 1}"].value for i in range(n)], relus.slopes[:n])


def test_relu_challenge_mode_says_when_it_is_met(relus):
    relus.controls["target"].value = "abs"
    relus.controls["challenge"].value = True
    relus.controls["k"].value = 2
    assert "not met" in relus.status.value
    relus.controls["n_relus"].value = 2
    for i, (slope, weight) in enumerate([(1.0, 1.0), (-1.0, 1.0)], start=1):  # |x| = ReLU(x) + ReLU(-x)
        relus.controls[f"slope {i}"].value = slope
        relus.controls[f"offset {i}"].value = 0.0
        relus.controls[f"weight {i}"].value = weight
    assert "Challenge met" in relus.status.value
    relus.controls["k"].value = 1
    assert "not met" in relus.status.value and "at most 1" in relus.status.value
    relus.controls["challenge"].value = False
    assert "hallenge" not in relus.status.value


def test_relu_slider_redraws_once_per_change_over_a_kept_background(relus):
    values = list(np.linspace(-3.0, 3.0, 20))
    assert drawing_done_by(relus, relus.controls["slope 3"], values) == (len(values), 0)


def test_grid_rows_are_x2_and_columns_x1():
    points, axis = _ui.grid(5, box=2.0)
    image = points.reshape(5, 5, 2)
    np.testing.assert_allclose(image[:, :, 0], np.tile(axis, (5, 1)))  # x1 varies along columns
    np.testing.assert_allclose(image[:, :, 1], np.tile(axis[:, None], (1, 5)))
    assert axis[0] == -2.0 and axis[-1] == 2.0


# ---- showing in a notebook ---------------------------------------------------------------------

def test_shown_once_when_called_in_a_notebook_cell(monkeypatch):
    shown, count = [], {"value": 7}
    monkeypatch.setattr(_ui, "in_notebook_kernel", lambda: True)
    monkeypatch.setattr(_display, "_execution_count", lambda: count["value"])
    monkeypatch.setattr(_ui.Playground, "show", lambda self: shown.append(self))
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: obj._ipython_display_())
    playground = relu_sum_playground()
    assert shown == [playground]
    playground._ipython_display_()  # IPython showing the cell's value: already there
    assert shown == [playground]
    count["value"] = 8  # a later cell shows it again
    playground._ipython_display_()
    assert shown == [playground, playground]
    relu_sum_playground(show=False)
    assert len(shown) == 2


def test_not_shown_outside_a_notebook(capsys):
    relu_sum_playground()
    assert capsys.readouterr() == ("", "")


@pytest.mark.slow
def test_in_a_real_kernel_each_call_shows_one_widget_and_nothing_on_stderr():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    sources = [
        "from course.widgets import decision_boundary_playground, perceptron_playground, relu_sum_playground",
        "relu_sum_playground()",
        "pg = perceptron_playground()",
        "pg",
        # warnings raised while the playgrounds work, whatever the kernel's filters would show
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    db = decision_boundary_playground(); db.controls['step'].click(); db.controls['noise'].value = 0.5\n"
        "    r = relu_sum_playground(show=False); r.controls['fit'].click(); r.controls['slope 1'].value = 1\n"
        "    p = perceptron_playground(show=False); p.controls['step'].click()\n"
        "assert not caught, [str(w.message) for w in caught]",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    widget_views = []
    for cell in notebook.cells:
        assert all(output.get("name") != "stderr" for output in cell.outputs), cell.outputs
        widget_views.append(sum("application/vnd.jupyter.widget-view+json" in output.get("data", {})
                                for output in cell.outputs))
    assert widget_views == [0, 1, 1, 1, 1]
