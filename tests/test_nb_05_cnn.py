"""Module 05 (CNN training): the solution notebook runs clean, reaches its accuracy, and the
nbgrader round trip gives each known-wrong implementation exactly its exercise's loss."""
import re

import numpy as np
import pytest

from nbgrader_harness import ROOT, Variant, cell_problems, check_round_trip, execute_notebook
from notebook_probe import probe, runs_clean_test

NOTEBOOK = ROOT / "solutions" / "05_cnn" / "05_cnn.ipynb"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
HAVE_MNIST = (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file()

WRONG = [
    Variant("padding_counted_once", "output_size",
            "return (n + 2 * padding - k) // stride + 1", "return (n + padding - k) // stride + 1",
            # parameter_table uses conv_output_size, so it inherits the mistake
            fails=("test_output_size", "test_parameter_table")),
    Variant("kernel_flipped", "conv_loops",
            "np.sum(window * w[f])", "np.sum(window * w[f, :, ::-1, ::-1])",
            fails=("test_conv2d_loops",)),
    Variant("bias_forgotten", "conv_forward",
            "out = rows @ w.reshape(n_filters, C * KH * KW).T + b", "out = rows @ w.reshape(n_filters, C * KH * KW).T",
            fails=("test_conv2d_forward",)),
    Variant("stride_ignored_in_backward", "conv_backward_input",
            "dx_pad[:, :, p:p + stride * OH:stride, q:q + stride * OW:stride] +=", "dx_pad[:, :, p:p + OH, q:q + OW] +=",
            fails=("test_conv2d_backward_input",)),
    Variant("padding_not_removed_from_dx", "conv_backward_input",
            "dx = dx_pad[:, :, padding:padding + H, padding:padding + W]", "dx = dx_pad",
            fails=("test_conv2d_backward_input",)),
    Variant("padding_ignored_in_dw", "conv_backward_weight",
            "sliding_window_view(x_pad, (KH, KW), axis=(2, 3))", "sliding_window_view(x, (KH, KW), axis=(2, 3))",
            fails=("test_conv2d_backward_weight",)),
    Variant("bias_gradient_not_summed_over_positions", "conv_backward_bias",
            "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=0)",
            fails=("test_conv2d_backward_bias",)),
    Variant("full_convolution_kernel_not_flipped", "conv_input_full",
            "w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)", "w.transpose(1, 0, 2, 3)",
            fails=("test_conv_input_full",)),
    Variant("full_convolution_padded_by_k_minus_2", "conv_input_full",
            "(KH - 1, KH - 1), (KW - 1, KW - 1)", "(KH - 2, KH - 2), (KW - 2, KW - 2)",
            fails=("test_conv_input_full",)),
    Variant("full_convolution_filters_and_channels_not_swapped", "conv_input_full",
            ".transpose(1, 0, 2, 3)", "",
            fails=("test_conv_input_full",)),
    Variant("average_instead_of_max", "pool_forward",
            "out = windows.max(axis=(4, 5))", "out = windows.mean(axis=(4, 5))",
            fails=("test_max_pool_forward",)),
    Variant("pool_gradient_to_every_position", "pool_backward",
            "np.where(first_max == k, dout, 0)", "dout",
            fails=("test_max_pool_backward",)),
    Variant("flatten_channels_last", "flatten",
            "out = x.reshape(x.shape[0], -1)", "out = np.moveaxis(x, 1, -1).reshape(x.shape[0], -1)",
            fails=("test_flatten",)),
    Variant("conv_bias_not_counted", "parameter_table",
            "parameters = filters * (channels * size * size + 1)", "parameters = filters * channels * size * size",
            fails=("test_parameter_table",)),
    Variant("gradients_in_wrong_order", "conv_function",
            "return (conv2d_backward_input(dout, cache), conv2d_backward_weight(dout, cache),",
            "return (conv2d_backward_weight(dout, cache), conv2d_backward_input(dout, cache),",
            fails=("test_conv_function",)),
    Variant("no_gradient_slots_for_size_and_stride", "pool_function",
            "return dx, None, None", "return dx",
            fails=("test_pool_function",)),
]


def stream_text(nb, grade_id):
    """Everything a cell printed to stdout."""
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(cells) == 1, f"no single cell {grade_id!r}"
    return "".join(o.text for o in cells[0].get("outputs", []) if o.output_type == "stream" and o.name == "stdout")


def mnist_environment(folder):
    """With the shared MNIST files: an mnist.npz made of the real MNIST test set (8,000 images to
    train on, 2,000 to test) for COURSE_DATA. Without them: a COURSE_DATA where nothing is found."""
    if not HAVE_MNIST:
        return {"COURSE_DATA": str(folder / "no-data-here")}
    from course.data import read_idx

    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    (folder / "mnist").mkdir(parents=True)
    np.savez(folder / "mnist" / "mnist.npz", x_train=images[:8000], y_train=labels[:8000],
             x_test=images[8000:], y_test=labels[8000:])
    return {"COURSE_DATA": str(folder)}


probe("05_cnn", environment=mnist_environment)


test_solution_notebook_runs_clean = runs_clean_test("05_cnn")


@pytest.mark.slow
def test_solution_notebook_trains_the_cnn(solution_run):
    """The whole notebook runs clean (tests/test_notebooks.py) and the CNN reaches 97%.

    With MNIST available (a part of the real test set, through COURSE_DATA) the notebook also
    trains on it; without the shared files it runs the not-found path. Times are printed for the
    report; `benchmarks/bench_budgets.py --notebooks` holds the budgets.
    """
    run = solution_run("05_cnn")
    assert not run.problems, "\n".join(run.problems)
    nb = run.notebook
    trained = re.search(r"test accuracy ([\d.]+)% after (\d+) epochs in ([\d.]+) s", stream_text(nb, "train-cnn"))
    assert trained, stream_text(nb, "train-cnn")
    accuracy, epochs, train_seconds = float(trained[1]) / 100, int(trained[2]), float(trained[3])
    print(f"05_cnn: notebook {run.seconds:.1f} s; CNN {accuracy:.1%} after {epochs} epochs in {train_seconds:.1f} s")
    assert accuracy >= 0.97
    mlp = re.search(r"MLP\s+([\d,]+)\s+([\d.]+)%", stream_text(nb, "train-mlp"))
    assert mlp and int(mlp[1].replace(",", "")) < 1.2 * 6090, stream_text(nb, "train-mlp")

    mnist_text = stream_text(nb, "mnist")
    if HAVE_MNIST:
        found = re.search(r"test accuracy ([\d.]+)% on 2,000 images", mnist_text)
        assert found and float(found[1]) > 90, mnist_text
    else:
        assert "MNIST is not available here" in mnist_text and "download=True" in mnist_text, mnist_text


@pytest.mark.slow
def test_grading_run_is_clean():
    nb, seconds = execute_notebook(NOTEBOOK, timeout=60, env={"NBGRADER_EXECUTION": "autograde"})
    problems = cell_problems(nb)
    assert not problems, "\n".join(problems)
    print(f"05_cnn with NBGRADER_EXECUTION: {seconds:.1f} s")


@pytest.mark.slow
def test_round_trip_scores_each_exercise_separately(tmp_path):
    timings = check_round_trip(tmp_path, "05_cnn", WRONG)
    print(f"05_cnn round trip: {timings}")
