"""The computation behind the playgrounds (course.data's 2-d data sets, course.perceptron,
course.relu_sums, course.mlp), tested without any UI (numpy and course.nn only)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import data, mlp, perceptron
from course import relu_sums as rs

TRUTH_TABLES = {"AND": lambda a, b: a & b, "OR": lambda a, b: a | b, "XOR": lambda a, b: a != b}


# ---- data sets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", data.DATASETS)
@pytest.mark.parametrize("n_points", [2, 7, 200])
def test_dataset_shapes_labels_and_balance(name, n_points):
    X, y = data.make_dataset(name, n_points=n_points, noise=0.1, seed=3)
    assert X.shape == (n_points, 2) and X.dtype == np.float64
    assert y.shape == (n_points,) and y.dtype == np.int64
    assert set(np.unique(y)) <= {0, 1}
    if name not in TRUTH_TABLES:  # two groups of (almost) equal size
        assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1


@pytest.mark.parametrize("name", data.DATASETS)
def test_dataset_is_reproducible_and_seed_matters(name):
    X1, y1 = data.make_dataset(name, 50, noise=0.2, seed=1)
    X2, y2 = data.make_dataset(name, 50, noise=0.2, seed=1)
    X3, _ = data.make_dataset(name, 50, noise=0.2, seed=2)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


@pytest.mark.parametrize("name", data.DATASETS)
def test_noise_free_data_lies_in_the_box_and_noise_has_the_asked_spread(name):
    X0, y0 = data.make_dataset(name, 4000, noise=0.0, seed=5)
    assert np.all(np.abs(X0) <= data.BOX)
    X, y = data.make_dataset(name, 4000, noise=0.3, seed=5)
    np.testing.assert_array_equal(y, y0)
    assert np.std(X - X0) == pytest.approx(0.3, rel=0.05)


@pytest.mark.parametrize("name", ["AND", "OR", "XOR"])
def test_logic_data_follow_the_truth_table(name):
    X, y = data.make_dataset(name, 40, noise=0.0)
    assert set(map(tuple, np.abs(X))) == {(1.5, 1.5)}  # the four corners only
    expected = TRUTH_TABLES[name](X[:, 0] > 0, X[:, 1] > 0).astype(int)
    np.testing.assert_array_equal(y, expected)
    assert len({tuple(p) for p in X}) == 4


def test_circles_have_the_disc_inside_the_ring():
    X, y = data.make_dataset("circles", 500, noise=0.0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius[y == 1].max() <= 1.0
    assert radius[y == 0].min() >= 1.8


def test_spiral_arms_are_each_other_rotated_by_half_a_turn():
    X, y = data.make_dataset("spirals", 100, noise=0.0)
    np.testing.assert_allclose(X[y == 1], -X[y == 0], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, words",
    [({"name": "squares"}, "unknown data set"), ({"name": "XOR", "noise": -0.1}, "noise"),
     ({"name": "XOR", "n_points": 1}, "n_points")],
)
def test_dataset_bad_input_names_the_problem(kwargs, words):
    with pytest.raises(ValueError, match=words):
        data.make_dataset(**kwargs)


def test_train_test_split_partitions_the_points():
    X, y = data.make_dataset("moons", 101, noise=0.1)
    X_train, y_train, X_test, y_test = data.train_test_split(X, y, 0.3, seed=4)
    assert len(X_test) == 30 and len(X_train) == 71
    rows = lambda A, b: sorted(map(tuple, np.column_stack([A, b])))
    assert rows(np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])) == rows(X, y)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(X, y, 1.0)


# ---- features ----------------------------------------------------------------------------------

def test_features_compute_each_column():
    X = np.array([[0.5, -2.0], [3.0, 1.0], [-1.0, 0.0]])
    names = ["sin x2", "x1", "x1*x2", "x2^2", "x1^2", "x2", "sin x1"]
    expected = np.column_stack([np.sin(X[:, 1]), X[:, 0], X[:, 0] * X[:, 1], X[:, 1] ** 2,
                                X[:, 0] ** 2, X[:, 1], np.sin(X[:, 0])])
    np.testing.assert_allclose(data.features(X, names), expected)
    assert data.features(X, ["x1*x2"]).shape == (3, 1)


@pytest.mark.parametrize("X, names, words", [
    (np.zeros((3, 2)), ["x3"], "unknown feature"),
    (np.zeros((3, 2)), [], "at least one"),
    (np.zeros((3, 3)), ["x1"], "shape"),
])
def test_features_bad_input(X, names, words):
    with pytest.raises(ValueError, match=words):
        data.features(X, names)


# ---- perceptron --------------------------------------------------------------------------------

def test_classify_is_one_on_the_positive_side_and_zero_on_the_line():
    # module 01's step: 1 for z > 0, 0 for z <= 0 (a point on the line gets 0)
    X = np.array([[1.0, 1.0], [0.0, 0.0], [-1.0, -1.0]])
    np.testing.assert_array_equal(perceptron.classify(X, [1.0, 1.0], 0.0), [1, 0, 0])


def test_perceptron_step_applies_the_rule_to_the_next_misclassified_point():
    X = np.array([[1.0, 2.0], [2.0, 0.5], [-1.0, 1.0], [0.5, -3.0]])
    y = np.array([0, 1, 1, 0])
    w, b = np.array([1.0, 0.0]), -1.5  # scores: -0.5, 0.5, -2.5, -1.0 -> predictions 0, 1, 0, 0
    # point 2 is the only mistake (y=1, predicted 0): w += lr * x_2, b += lr
    w_new, b_new, i = perceptron.perceptron_step(X, y, w, b, lr=0.5, start=0)
    assert i == 2
    np.testing.assert_allclose(w_new, [0.5, 0.5])
    assert b_new == pytest.approx(-1.0)
    np.testing.assert_allclose(w, [1.0, 0.0])  # the input is not changed


def test_perceptron_step_searches_cyclically_from_start():
    X = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    y = np.array([0, 0, 0])  # w = (1, 0), b = 0 predicts 1 everywhere: all three are mistakes
    assert perceptron.perceptron_step(X, y, [1.0, 0.0], 0.0, start=1)[2] == 1
    assert perceptron.perceptron_step(X, y, [1.0, 0.0], 0.0, start=5)[2] == 2  # 5 % 3
    w, b, i = perceptron.perceptron_step(X, y, [1.0, 0.0], 0.0, lr=1.0, start=0)
    np.testing.assert_allclose(w, [0.0, 0.0])
    assert (b, i) == (-1.0, 0)


def test_perceptron_step_moves_the_chosen_points_score_towards_its_label():
    rng = np.random.default_rng(0)
    X, y = data.make_dataset("blobs", 60, noise=0.5, seed=1)
    w, b = rng.normal(size=2), 0.3
    for _ in range(20):
        w_new, b_new, i = perceptron.perceptron_step(X, y, w, b, lr=0.7)
        if i is None:
            break
        old, new = X[i] @ w + b, X[i] @ w_new + b_new
        assert (new > old) if y[i] == 1 else (new < old)
        w, b = w_new, b_new


@pytest.mark.parametrize("name", ["AND", "OR", "blobs"])
def test_perceptron_steps_reach_zero_mistakes_on_separable_data(name):
    X, y = data.make_dataset(name, 40, noise=0.1 if name != "blobs" else 0.0, seed=2)
    w, b, start = np.array([-1.0, 0.5]), 2.0, 0
    first = len(perceptron.mistakes(X, y, w, b))
    assert first > 0
    for _ in range(1000):
        w, b, i = perceptron.perceptron_step(X, y, w, b, start=start)
        if i is None:
            break
        start = i + 1
    assert len(perceptron.mistakes(X, y, w, b)) == 0
    assert perceptron.perceptron_step(X, y, w, b)[2] is None


def test_perceptron_never_separates_xor_but_does_with_the_product_feature():
    X, y = data.make_dataset("XOR", 40, noise=0.1, seed=0)
    w, b, start = np.zeros(2), 0.0, 0
    for _ in range(500):
        w, b, i = perceptron.perceptron_step(X, y, w, b, start=start)
        assert i is not None and len(perceptron.mistakes(X, y, w, b)) > 0
        start = i + 1
    phi = data.features(X, ["x1", "x2", "x1*x2"])
    w, b, start = np.zeros(3), 0.0, 0
    for _ in range(500):
        w, b, i = perceptron.perceptron_step(phi, y, w, b, start=start)
        if i is None:
            break
        start = i + 1
    assert len(perceptron.mistakes(phi, y, w, b)) == 0


def test_perceptron_step_checks_shapes():
    with pytest.raises(ValueError, match="shapes"):
        perceptron.perceptron_step(np.zeros((4, 2)), np.zeros(4), np.zeros(3), 0.0)


@pytest.mark.parametrize("w, b", [((1.0, 2.0), 0.5), ((0.0, 1.0), -1.0), ((3.0, 0.0), 2.0), ((1.0, -1.0), 0.0)])
def test_boundary_segment_lies_on_the_line_and_the_box(w, b):
    x1, x2 = perceptron.boundary_segment(w, b, 3.0)
    assert len(x1) == 2
    np.testing.assert_allclose(w[0] * x1 + w[1] * x2 + b, 0.0, atol=1e-12)
    assert np.all(np.abs(np.concatenate([x1, x2])) <= 3.0 + 1e-12)
    on_edge = np.isclose(np.abs(x1), 3.0) | np.isclose(np.abs(x2), 3.0)
    assert on_edge.all()


def test_boundary_segment_is_empty_without_a_line_in_the_box():
    assert len(perceptron.boundary_segment((0.0, 0.0), 1.0, 3.0)[0]) == 0
    assert len(perceptron.boundary_segment((1.0, 0.0), 10.0, 3.0)[0]) == 0  # x1 = -10


# ---- ReLU sums ---------------------------------------------------------------------------------

def lecture_by_hand(x):
    relu = lambda s: np.maximum(s, 0.0)
    n1, n2, n3 = relu(-5 * x - 7.7), relu(-1.2 * x - 1.3), relu(1.2 * x + 1)
    n4, n5, n6 = relu(1.2 * x - 0.2), relu(2 * x - 1.1), relu(5 * x - 5)
    return -n1 - n2 - n3 + n4 + n5 + n6


def test_sum_of_relus_reproduces_the_lecture_example():
    x = np.linspace(-3, 3, 601)
    expected = lecture_by_hand(x)
    np.testing.assert_allclose(rs.sum_of_relus(x, rs.LECTURE_SLOPES, rs.LECTURE_OFFSETS, rs.LECTURE_WEIGHTS),
                               expected, atol=1e-12)
    np.testing.assert_allclose(rs.lecture_function(x), expected, atol=1e-12)
    # at x = 2 only n3..n6 are on: -3.4 + 2.2 + 2.9 + 5 = 6.7
    assert rs.lecture_function(np.array([2.0]))[0] == pytest.approx(6.7)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[st.floats(-5, 5)] * 3), min_size=1, max_size=8), st.floats(-2, 2))
def test_sum_of_relus_equals_a_loop_over_the_pieces(params, bias):
    slopes, offsets, weights = map(np.array, zip(*params))
    x = np.linspace(-2, 2, 11)
    loop = np.full_like(x, bias)
    for a, c, w in params:
        loop += w * np.array([max(0.0, a * xi + c) for xi in x])
    np.testing.assert_allclose(rs.sum_of_relus(x, slopes, offsets, weights, bias), loop, atol=1e-9)


def test_relu_pieces_shape_and_shape_errors():
    assert rs.relu_pieces(np.zeros(5), [1.0, 2.0], [0.0, -1.0]).shape == (5, 2)
    with pytest.raises(ValueError, match="same length"):
        rs.relu_pieces(np.zeros(5), [1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="weights"):
        rs.sum_of_relus(np.zeros(5), [1.0, 2.0], [0.0, 1.0], [1.0])


def test_spread_knots_start_at_the_left_end_and_stay_inside():
    slopes, offsets = rs.spread_knots(8, (-2.0, 2.0))
    knots = -offsets / slopes
    assert knots[0] == -2.0 and np.all(np.diff(knots) > 0) and knots[-1] < 2.0


def test_errors_are_max_and_mean_of_the_absolute_difference():
    assert rs.approximation_errors([0.0, 1.0, 2.0], [0.5, 1.0, 0.0]) == (2.0, pytest.approx(2.5 / 3))


def test_least_squares_recovers_the_lecture_weights():
    x = np.linspace(-2, 2, 401)
    weights, bias = rs.fit_output_weights(x, lecture_by_hand(x), rs.LECTURE_SLOPES, rs.LECTURE_OFFSETS)
    np.testing.assert_allclose(weights, [-1, -1, -1, 1, 1, 1], atol=1e-8)
    assert bias == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("name", ["sin", "square", "abs"])
def test_least_squares_fit_reduces_the_error_and_more_relus_help(name):
    x = np.linspace(-2, 2, 401)
    f = rs.TARGETS[name](x)
    max_errors = []
    for n in (3, 6, 12):
        slopes, offsets = rs.spread_knots(n)
        before = rs.approximation_errors(rs.sum_of_relus(x, slopes, offsets, np.zeros(n)), f)[0]
        weights, bias = rs.fit_output_weights(x, f, slopes, offsets)
        after = rs.approximation_errors(rs.sum_of_relus(x, slopes, offsets, weights, bias), f)[0]
        assert after < before
        max_errors.append(after)
    if name != "abs":  # |x| is exact as soon as a knot sits at 0
        assert max_errors[0] > max_errors[1] > max_errors[2]
    else:
        assert max_errors[2] < 1e-9


def test_gradient_descent_fit_reduces_the_loss():
    x = np.linspace(-2, 2, 201)
    f = rs.TARGETS["sin"](x)
    slopes, offsets = rs.spread_knots(6)
    rng = np.random.default_rng(0)
    weights = 0.1 * rng.standard_normal(6)
    mse = lambda a, c, w, b0: float(np.mean((rs.sum_of_relus(x, a, c, w, b0) - f) ** 2))
    before = mse(slopes, offsets, weights, 0.0)
    a, c, w, b0, losses = rs.fit_gradient_descent(x, f, slopes, offsets, weights, 0.0, steps=300, lr=0.03)
    assert len(losses) == 300 and losses[0] == pytest.approx(before, rel=1e-6)
    assert mse(a, c, w, b0) < 0.2 * before
    assert not np.allclose(a, slopes)  # the hidden layer moved too, not only the output weights


def test_challenge_detection():
    met, message = rs.challenge_status(0.04, 4, 4)
    assert met and "met" in message
    met, message = rs.challenge_status(0.01, 5, 4)
    assert not met and "at most 4" in message
    met, message = rs.challenge_status(0.05, 3, 4)  # "below" is strict
    assert not met and "0.050" in message
    assert not rs.challenge_status(np.nan, 1, 4)[0]


def test_challenge_on_abs_needs_two_relus():
    x = np.linspace(-2, 2, 401)
    f = np.abs(x)
    best = []
    for n in (1, 2):
        slopes, offsets = np.array([1.0, -1.0][:n]), np.zeros(n)
        weights, bias = rs.fit_output_weights(x, f, slopes, offsets)
        best.append(rs.approximation_errors(rs.sum_of_relus(x, slopes, offsets, weights, bias), f)[0])
    assert not rs.challenge_status(best[0], 1, 1)[0]
    assert rs.challenge_status(best[1], 2, 2)[0]


# ---- the classifier of the decision-boundary playground ----------------------------------------

@pytest.mark.parametrize("text, widths", [("8,8", (8, 8)), ("", ()), (" 3 , 5 ", (3, 5)), ("4", (4,))])
def test_parse_hidden(text, widths):
    assert mlp.parse_hidden(text) == widths


@pytest.mark.parametrize("text", ["a", "0", "8,,8", "8.5", "-3", "1,1,1,1,1,1,1", "100"])
def test_parse_hidden_rejects_bad_text(text):
    with pytest.raises(ValueError, match="hidden layers"):
        mlp.parse_hidden(text)


def test_build_mlp_has_the_asked_layers():
    model = mlp.build_mlp(3, (4, 5), "ReLU", seed=0)
    sizes = sorted(p.data.size for p in model.parameters())
    assert sorted(sizes) == sorted([3 * 4, 4, 4 * 5, 5, 5 * 2, 2])
    from course.autograd import Tensor
    assert model(Tensor(np.zeros((7, 3), dtype=np.float32))).shape == (7, 2)
    with pytest.raises(ValueError, match="activation"):
        mlp.build_mlp(2, (4,), "softplus")


def test_build_mlp_seed_fixes_the_weights():
    first = [p.data.copy() for p in mlp.build_mlp(2, (4,), seed=1).parameters()]
    again = [p.data.copy() for p in mlp.build_mlp(2, (4,), seed=1).parameters()]
    other = [p.data.copy() for p in mlp.build_mlp(2, (4,), seed=2).parameters()]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_build_mlp_and_its_training_do_not_depend_on_the_global_generator():
    from course.autograd import manual_seed

    def trained(global_seed):
        manual_seed(global_seed)
        trainer = mlp.BoundaryTrainer(*data.train_test_split(*data.make_dataset("XOR", 40, 0.3), 0.5),
                                      hidden=(4,), seed=3)
        trainer.train(2)
        return [p.data.copy() for p in trainer.model.parameters()]

    assert all(np.array_equal(a, b) for a, b in zip(trained(0), trained(1)))


@pytest.mark.parametrize("activation, affine", [("linear", True), ("tanh", False), ("ReLU", False)])
def test_without_activation_the_network_collapses_to_an_affine_map(activation, affine):
    from course.autograd import Tensor
    model = mlp.build_mlp(2, (8, 8), activation, seed=3)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 2)) * 2, rng.normal(size=(50, 2)) * 2
    f = lambda z: model(Tensor(z.astype(np.float32))).data.astype(np.float64)
    midpoint_gap = np.abs(f((a + b) / 2) - (f(a) + f(b)) / 2).max()
    assert (midpoint_gap < 1e-5) if affine else (midpoint_gap > 1e-3)


def xor_trainer(**kwargs):
    X, y = data.make_dataset("XOR", 120, noise=0.3, seed=0)
    return mlp.BoundaryTrainer(*data.train_test_split(X, y, 0.5, seed=0), **kwargs)


def test_trainer_learns_xor_with_a_hidden_layer():
    trainer = xor_trainer(hidden=(6,), activation="tanh", lr=0.1)
    start = trainer.train_losses[0]
    trainer.train(60)
    assert trainer.train_losses[-1] < 0.3 * start
    X, y = data.make_dataset("XOR", 200, noise=0.3, seed=9)
    assert trainer.accuracy(X, y) > 0.9


def test_trainer_on_the_product_feature_separates_xor_without_hidden_layer():
    trainer = xor_trainer(feature_names=["x1*x2"], hidden=(), lr=0.1)
    trainer.train(30)
    X, y = data.make_dataset("XOR", 200, noise=0.2, seed=5)
    assert trainer.accuracy(X, y) == 1.0


def test_trainer_cannot_learn_xor_from_x1_x2_without_hidden_layer():
    trainer = xor_trainer(hidden=(), lr=0.1)
    trainer.train(30)
    X, y = data.make_dataset("XOR", 400, noise=0.2, seed=5)
    assert trainer.accuracy(X, y) < 0.8


def test_trainer_step_train_reset():
    trainer = xor_trainer(hidden=(4, 4), activation="ReLU", lr=0.1)
    initial = [p.data.copy() for p in trainer.model.parameters()]
    p0 = trainer.predict_proba(np.array([[1.0, -1.0], [0.0, 0.0]]))
    assert p0.shape == (2,) and np.all((p0 >= 0) & (p0 <= 1))
    assert len(trainer.train_losses) == len(trainer.test_losses) == 1 and trainer.epoch == 0
    trainer.step()
    assert len(trainer.train_losses) == len(trainer.test_losses) == 2 and trainer.epoch == 1
    assert not all(np.array_equal(a, p.data) for a, p in zip(initial, trainer.model.parameters()))
    trainer.train(3)
    assert trainer.epoch == 4 and len(trainer.train_losses) == 5
    after_four = [p.data.copy() for p in trainer.model.parameters()]
    trainer.reset()
    assert trainer.epoch == 0 and len(trainer.train_losses) == 1
    assert all(np.array_equal(a, p.data) for a, p in zip(initial, trainer.model.parameters()))
    np.testing.assert_array_equal(trainer.predict_proba(np.array([[1.0, -1.0], [0.0, 0.0]])), p0)
    trainer.train(4)  # the same shuffles after a reset: the same weights again
    assert all(np.array_equal(a, p.data) for a, p in zip(after_four, trainer.model.parameters()))


def test_trainer_learning_rate_changes_the_update():
    small, large = xor_trainer(lr=0.01), xor_trainer(lr=0.01)
    large.lr = 1.0
    small.step()
    large.step()
    assert not np.isclose(small.train_losses[-1], large.train_losses[-1])
    with pytest.raises(ValueError, match="learning rate"):
        small.lr = 0.0
