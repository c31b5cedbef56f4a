"""Module 02 (universal approximation): the nbgrader round trip with known-wrong implementations."""
import pytest

from nbgrader_harness import Variant, check_round_trip
from notebook_probe import runs_clean_test

WRONG = [
    Variant("relu_sum_one_piece_short", "relu_sum",
            "return hidden @ weights", "return hidden[:, :-1] @ weights[:-1]",
            fails=("test_relu_sum",)),
    Variant("interpolant_slopes_as_coefficients", "relu_interpolant",
            "coefficients = np.concatenate([slopes[:1], np.diff(slopes)])", "coefficients = slopes",
            fails=("test_relu_interpolant",)),
    Variant("network_without_relu", "fit_relu_network",
            "nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1)", "nn.Linear(1, width), nn.Linear(width, 1)",
            fails=("test_fit_relu_network",)),
]


test_solution_notebook_runs_clean = runs_clean_test("02_universal_approximation")


@pytest.mark.slow
def test_round_trip_scores_each_exercise_separately(tmp_path):
    timings = check_round_trip(tmp_path, "02_universal_approximation", WRONG)
    print(f"02_universal_approximation round trip: {timings}")
