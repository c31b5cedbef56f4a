"""Module 03 (backprop recursion): the lecture's numbers, the measurements, and the nbgrader
round trip with known-wrong implementations of every graded exercise.

The notebook is run as a student runs it; a probe cell appended at the end reads the values the
notebook computed, and the test recomputes the lecture's numbers from their definitions.
"""
import numpy as np
import pytest

from nbgrader_harness import Variant, check_round_trip
from notebook_probe import probe, runs_clean_test

WRONG = [
    Variant("linear_dW_transposed", "linear", "dW = dout.T @ x", "dW = x.T @ dout", fails=("test_linear",)),
    Variant("linear_dx_with_W_transposed", "linear", "dx = dout @ W\n", "dx = dout @ W.T\n", fails=("test_linear",)),
    Variant("linear_db_not_summed_over_batch", "linear", "db = dout.sum(axis=0)", "db = dout", fails=("test_linear",)),
    Variant("relu_prime_zero_at_zero", "relu", "ds = dout * (s >= 0)", "ds = dout * (s > 0)", fails=("test_relu",)),
    Variant("sigmoid_prime_at_x_instead_of_s", "sigmoid", "ds = dout * out * (1.0 - out)",
            "sig_x = 1.0 / (1.0 + np.exp(-out))\n    ds = dout * sig_x * (1.0 - sig_x)", fails=("test_sigmoid",)),
    Variant("tanh_sign_error", "tanh", "(1.0 - out ** 2)", "(out ** 2 - 1.0)", fails=("test_tanh",)),
    Variant("mse_sign_error", "mse", "diff = y_hat - y", "diff = y - y_hat", fails=("test_mse",)),
    Variant("mse_not_averaged", "mse", "dy_hat = dout * diff / diff.shape[0]", "dy_hat = dout * diff",
            fails=("test_mse",)),
    Variant("softmax_ce_not_divided_by_batch", "softmax_ce", "dscores *= dout / n", "dscores *= dout",
            fails=("test_softmax_ce",)),
    Variant("softmax_ce_sign_error", "softmax_ce", "dscores *= dout / n", "dscores *= -dout / n",
            fails=("test_softmax_ce",)),
    Variant("softmax_ce_overflows", "softmax_ce", "shifted = scores - scores.max(axis=1, keepdims=True)",
            "shifted = scores", fails=("test_softmax_ce",)),
    Variant("mlp_sigma_prime_at_x_instead_of_s", "mlp_backward", "dx * sigma_prime(s)",
            "dx * sigma_prime(cache[l + 1][0])", fails=("test_mlp_backward",)),
    Variant("mlp_dx_with_W_transposed", "mlp_backward", "dx = ds @ W", "dx = ds @ W.T", fails=("test_mlp_backward",)),
    Variant("mlp_bias_not_summed_over_batch", "mlp_backward", "ds.sum(axis=0)", "ds[0]",
            fails=("test_mlp_backward",)),
    Variant("sgd_sign_error", "train_mlp", "W -= lr * dW", "W += lr * dW", fails=("test_train_mlp",)),
    Variant("sgd_rebinds_instead_of_in_place", "train_mlp", "W -= lr * dW\n        b -= lr * db",
            "W = W - lr * dW\n        b = b - lr * db", fails=("test_train_mlp",)),
    Variant("train_same_order_every_epoch", "train_mlp",
            "order = rng.permutation(len(x))", "order = np.random.default_rng(seed).permutation(len(x))",
            fails=("test_train_mlp",)),
    Variant("he_with_one_over_fan_in", "init_weights", "np.sqrt(2.0 / d_in)", "np.sqrt(1.0 / d_in)",
            fails=("test_init_weights",)),
    Variant("xavier_without_the_factor_two", "init_weights", "np.sqrt(2.0 / (d_in + d_out))",
            "np.sqrt(1.0 / (d_in + d_out))", fails=("test_init_weights",)),
    Variant("weights_drawn_transposed", "init_weights", "rng.standard_normal((d_out, d_in))",
            "rng.standard_normal((d_in, d_out)).T", fails=("test_init_weights",)),
    Variant("new_generator_instead_of_rng", "init_weights", "rng.standard_normal((d_out, d_in))",
            "np.random.default_rng(0).standard_normal((d_out, d_in))", fails=("test_init_weights",)),
    Variant("biases_drawn_too", "init_weights", "np.zeros(d_out)", "0.0 * rng.standard_normal(d_out)",
            fails=("test_init_weights",)),
    Variant("unknown_scheme_falls_back_to_he", "init_weights", "if scheme not in (\"xavier\", \"he\"):",
            "if False:", fails=("test_init_weights",)),
]

DEPTH_RUNS = ["sigmoid, small (std 0.01)", "sigmoid, Xavier", "tanh, Xavier", "ReLU, Xavier", "ReLU, He"]

PROBE = {
    # f = xy + z
    "x": "x", "y": "y", "z": "z", "q": "q", "f": "f",
    "df_dx": "df_dx", "df_dy": "df_dy", "df_dz": "df_dz", "df_dq": "df_dq",
    # the scalar chain
    "x_in": "x_in", "w1": "w1", "w2": "w2", "y_target": "y_target", "y_hat": "y_hat",
    "dL_dyhat": "dL_dyhat", "dL_dg": "dL_dg", "dL_df": "dL_df", "dL_dw1": "dL_dw1", "dL_dw2": "dL_dw2",
    # the sigmoid neuron
    "neuron_inputs": "[w0_n, w1_n, x1_n, w2_n, x2_n]", "neuron_out": "out",
    "neuron_grads": "[grads_neuron[k] for k in ('w0', 'w1', 'x1', 'w2', 'x2')]",
    "d_s_gates": "d_s_gates", "d_s_sigmoid": "d_s_sigmoid",
    # saturation, dead ReLUs and initialisation
    "largest_sigmoid_slope": "largest_sigmoid_slope",
    **{f"depth {name} {i}": f"depth_runs[{name!r}][{i}]" for name in DEPTH_RUNS for i in (0, 1)},
    "depth_sizes": "depth_sizes",
    "dead_at_start": "dead_at_start.mean()", "dead_after_big_step": "dead_after_big_step",
    "dead_after_training": "dead_after_training", "largest_dead_gradient": "largest_dead_gradient",
    "he_std": "he_std", "linear_std": "linear_std",
    # training and measurements
    "worst_gradient_difference": "worst", "digit_worst_gradient_difference": "digit_worst",
    "spiral_accuracy": "spiral_accuracy", "digit_accuracy": "digit_accuracy",
    "forward_seconds": "forward_seconds", "backward_seconds": "backward_seconds",
    "cache_megabytes": "cache_megabytes", "weight_megabytes": "weight_megabytes",
}


probe("03_backprop", PROBE)


test_solution_notebook_runs_clean = runs_clean_test("03_backprop")


@pytest.fixture
def values(solution_run):
    return solution_run("03_backprop").checked_values()


@pytest.mark.slow
def test_graph_xy_plus_z_numbers_are_computed(values):
    v = values
    assert v["q"] == v["x"] * v["y"] and v["f"] == v["x"] * v["y"] + v["z"]
    assert (v["df_dx"], v["df_dy"], v["df_dz"], v["df_dq"]) == (v["y"], v["x"], 1.0, 1.0)


@pytest.mark.slow
def test_scalar_chain_gives_the_lecture_numbers(values):
    v = values
    # The lecture's givens ...
    assert (v["dL_dyhat"], v["w2"], v["x_in"]) == (8.0, 2.0, 5.0)
    # ... and what follows from them, recomputed here from the definitions of the chain.
    g = max(v["w1"] * v["x_in"], 0.0)
    assert v["y_hat"] == v["w2"] * g and v["dL_dyhat"] == v["y_hat"] - v["y_target"]
    assert v["dL_dg"] == 16.0 and v["dL_df"] == 16.0 and v["dL_dw1"] == 80.0
    assert v["dL_dw2"] == v["dL_dyhat"] * g == 40.0


@pytest.mark.slow
def test_sigmoid_neuron_gradients_match_finite_differences(values):
    # The lecture's numbering: w0 is the bias.
    w0, w1, x1, w2, x2 = values["neuron_inputs"]

    def neuron(p):
        return 1.0 / (1.0 + np.exp(-(p[0] + p[1] * p[2] + p[3] * p[4])))

    point = np.array([w0, w1, x1, w2, x2])
    eps = 1e-6
    numeric = [(neuron(point + eps * e) - neuron(point - eps * e)) / (2 * eps) for e in np.eye(5)]
    assert values["neuron_out"] == pytest.approx(neuron(point))
    assert values["neuron_grads"] == pytest.approx(numeric, rel=1e-6)
    assert values["d_s_gates"] == pytest.approx(values["d_s_sigmoid"], rel=1e-12)


@pytest.mark.slow
def test_sigmoid_slope_and_vanishing_gradients_are_measured(values):
    assert values["largest_sigmoid_slope"] == 0.25
    # Per run: the norms of dl/dW^(l) for every layer, and the std of the activations x^(l).
    runs = {name: (np.array(values[f"depth {name} 0"]), np.array(values[f"depth {name} 1"])) for name in DEPTH_RUNS}
    n_layers = len(values["depth_sizes"]) - 1
    assert all(len(dW) == n_layers and len(std) == n_layers - 1 for dW, std in runs.values())

    def first_over_last(name):
        dW = runs[name][0]
        return dW[0] / dW[-1]
    # Sigmoid: at most 1/4 per layer, so the first layer's gradient is many orders smaller; with
    # weights of std 0.01 each layer shrinks it by about 0.01 * sqrt(100) / 4 more.
    assert first_over_last("sigmoid, Xavier") < 0.25 ** 6
    assert first_over_last("sigmoid, small (std 0.01)") < 1e-6 * first_over_last("sigmoid, Xavier")
    # tanh with Xavier and ReLU with He keep the gradient of every layer within a factor 10.
    for name in ("tanh, Xavier", "ReLU, He"):
        dW = runs[name][0]
        assert dW.max() / dW.min() < 10, name
    # ReLU with Xavier halves the second moment per layer: the forward signal fades, He keeps it.
    relu_xavier_std, relu_he_std = runs["ReLU, Xavier"][1], runs["ReLU, He"][1]
    assert relu_xavier_std[-1] < 0.1 * relu_xavier_std[0]
    assert relu_he_std[-1] > 0.5 * relu_he_std[0] and relu_he_std[-1] > 10 * relu_xavier_std[-1]


@pytest.mark.slow
def test_dead_relus_stay_dead(values):
    after_step = np.array(values["dead_after_big_step"], dtype=bool)
    after_training = np.array(values["dead_after_training"], dtype=bool)
    assert values["dead_at_start"] < 0.05 < after_step.mean()
    assert values["largest_dead_gradient"] == 0.0
    assert np.all(after_training[after_step]), "a dead ReLU came back to life"


@pytest.mark.slow
def test_initialisations_used_in_the_course_have_the_stated_spread(values):
    assert values["he_std"] == pytest.approx(np.sqrt(2 / 512), rel=0.02)
    assert values["linear_std"] == pytest.approx(1 / np.sqrt(3 * 512), rel=0.02)


@pytest.mark.slow
def test_own_backprop_matches_autograd_and_trains(values):
    assert values["worst_gradient_difference"] < 1e-8
    assert values["digit_worst_gradient_difference"] < 1e-8
    assert values["spiral_accuracy"] >= 0.95
    assert values["digit_accuracy"] >= 0.90


@pytest.mark.slow
def test_backward_cost_is_measured_not_typed(values):
    # Measured on this machine: only that something was measured (the ratio is printed for the report).
    forward, backward = values["forward_seconds"], values["backward_seconds"]
    assert forward > 0 and backward > 0
    cache = values["cache_megabytes"]
    assert all(a < b for a, b in zip(cache, cache[1:])), "the cache must grow with the batch size"
    assert cache[-1] > values["weight_megabytes"] > 0
    print(f"03_backprop: backward / forward = {backward / forward:.2f}")


@pytest.mark.slow
def test_round_trip_scores_each_exercise_separately(tmp_path):
    timings = check_round_trip(tmp_path, "03_backprop", WRONG)
    print(f"03_backprop round trip: {timings}")
