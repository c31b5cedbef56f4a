"""Module 01 (perceptron & XOR): the nbgrader round trip with known-wrong implementations."""
import pytest

from nbgrader_harness import Variant, check_round_trip
from notebook_probe import runs_clean_test

WRONG = [
    Variant("bias_forgotten", "predict",
            "return (X @ w + b > 0).astype(float)", "return (X @ w > 0).astype(float)",
            fails=("test_predict",)),
    Variant("update_sign", "train_perceptron",
            "w = w + lr * (y_i - y_hat) * x_i", "w = w - lr * (y_i - y_hat) * x_i",
            fails=("test_train_perceptron",)),
    Variant("features_without_product", "xor_features",
            "X[:, 0] * X[:, 1]", "np.zeros(len(X))",
            fails=("test_xor_features",)),
    Variant("xor_weights_ignore_product", "xor_weights",
            "w_xor = np.array([1.0, 1.0, -2.0])", "w_xor = np.array([1.0, 1.0, 0.0])",
            fails=("test_xor_weights",)),
    Variant("mlp_without_relu", "xor_mlp",
            "nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 2)", "nn.Linear(2, hidden), nn.Linear(hidden, 2)",
            fails=("test_xor_mlp",)),
    Variant("collapse_bias_forgotten", "collapse_linear_layers",
            "W2 @ b1 + b2", "b2",
            fails=("test_collapse",)),
]


test_solution_notebook_runs_clean = runs_clean_test("01_perceptron")


@pytest.mark.slow
def test_round_trip_scores_each_exercise_separately(tmp_path):
    timings = check_round_trip(tmp_path, "01_perceptron", WRONG)
    print(f"01_perceptron round trip: {timings}")
