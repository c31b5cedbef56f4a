"""Tests of course.gradcheck: finite differences, the layer checker, gradcheck, assert_close.

Every listed mistake is written here the way a student would write it, as a wrong backward
pass of a real layer; the check must fail and its message must name the input, the worst
element and the mistake.
"""
import re
import subprocess
from collections import Counter
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course.autograd import Function, Tensor
from course.gradcheck import (DIAGNOSIS_NAMES, MISTAKES, OTHER_DIAGNOSES, CheckError,
                              GradientCheckError, assert_close, check_backward, gradcheck,
                              numerical_grad)

RTOL, ATOL = 1e-5, 1e-7          # check_backward's defaults, used to locate the worst element


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- real layers, cs231n style, with their correct backward passes ---------------------------

def affine_forward(x, W, b):
    """x: (N, D), W: (D, M), b: (M,) -> out: (N, M)."""
    return x @ W + b, (x, W)


def affine_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    x = cache
    return dout * (x >= 0)                      # the lecture's convention: ReLU'(0) = 1


def sigmoid_forward(x):
    out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, cache):
    out = cache
    return dout * out * (1 - out)


def softmax_ce_forward(scores, y):
    """scores: (N, C), y: (N,) integer labels -> mean cross-entropy loss (a number)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = scores.shape[0]
    loss = -np.log(probs[np.arange(n), y]).mean()
    return loss, (probs, y)


def softmax_ce_backward(dout, cache):
    probs, y = cache
    n = probs.shape[0]
    dscores = probs.copy()
    dscores[np.arange(n), y] -= 1
    return dout * dscores / n


def l2_forward(W, reg=0.1):
    """The weight penalty 0.5 * reg * sum(W**2)."""
    return 0.5 * reg * np.sum(W * W), (W, reg)


def l2_backward(dout, cache):
    W, reg = cache
    return dout * reg * W


def squared_error_forward(pred, target):
    """sum((pred - target)**2), without the 1/2."""
    return np.sum((pred - target) ** 2), (pred, target)


def squared_error_backward(dout, cache):
    pred, target = cache
    return dout * 2 * (pred - target)


def channel_bias_forward(x, b):
    """x: (N, C, H, W), b: (C, 1, 1): one bias per channel, as in a conv layer."""
    return x + b, None


def channel_bias_backward(dout, cache):
    return dout, dout.sum(axis=(0, 2, 3))[:, None, None]


# Inputs: N = 4 examples, D = 3 features, M = 5 outputs (W square where a test needs it).
X = rng(1).standard_normal((4, 3))
W = rng(2).standard_normal((3, 5))
W_SQUARE = rng(3).standard_normal((3, 3))
B = rng(4).standard_normal(5)
B_SQUARE = rng(5).standard_normal(3)
SCORES = rng(6).standard_normal((5, 4))
LABELS = np.array([0, 3, 1, 1, 2])
DOUT_AFFINE = rng(7).standard_normal((4, 5))


def message_of(forward, backward, *inputs, **kwargs):
    with pytest.raises(GradientCheckError) as info:
        check_backward(forward, backward, *inputs, **kwargs)
    return str(info.value)


def worst_index(wrong, right):
    """Where the wrong gradient is farthest outside the tolerance around the right one."""
    excess = np.abs(wrong - right) / (ATOL + RTOL * np.abs(right))
    return np.unravel_index(np.argmax(excess), right.shape)


def assert_worst_element(message, name, wrong, right):
    """The message points at the worst element and quotes both values there."""
    index = worst_index(wrong, right)
    text = f"{name}[{', '.join(str(int(i)) for i in index)}]" if index else name
    found = re.search(re.escape(f"worst element {text}: ") + r"analytic \(your backward\) (\S+), "
                      r"numeric \(finite differences\) (\S+)", message)
    assert found, f"no 'worst element {text}' in:\n{message}"
    assert float(found.group(1)) == pytest.approx(wrong[index], rel=1e-5)
    assert float(found.group(2)) == pytest.approx(right[index], rel=1e-5, abs=1e-9)


# ---- correct layers pass ---------------------------------------------------------------------

@pytest.mark.parametrize("forward, backward, inputs, kwargs", [
    (affine_forward, affine_backward, (X, W, B), {}),
    (relu_forward, relu_backward, (rng(8).standard_normal((4, 6)),), {}),
    (sigmoid_forward, sigmoid_backward, (rng(9).standard_normal((3, 4)) * 3,), {}),
    (softmax_ce_forward, softmax_ce_backward, (SCORES,), {"y": LABELS}),
    (l2_forward, l2_backward, (W,), {"reg": 0.3}),
    (squared_error_forward, squared_error_backward, (X,), {"target": X[::-1].copy()}),
    (channel_bias_forward, channel_bias_backward,
     (rng(10).standard_normal((2, 3, 4, 4)), rng(11).standard_normal((3, 1, 1))), {}),
])
def test_correct_backward_passes(forward, backward, inputs, kwargs):
    assert check_backward(forward, backward, *inputs, **kwargs) is True


def test_correct_backward_passes_for_several_seeds_and_a_given_dout():
    for seed in range(3):
        assert check_backward(affine_forward, affine_backward, X, W, B, seed=seed)
    assert check_backward(affine_forward, affine_backward, X, W, B, dout=DOUT_AFFINE)


def test_check_does_not_change_the_callers_arrays():
    x, w, b = X.copy(), W.copy(), B.copy()
    check_backward(affine_forward, affine_backward, x, w, b)
    assert np.array_equal(x, X) and np.array_equal(w, W) and np.array_equal(b, B)


# ---- each listed mistake, on a real layer ----------------------------------------------------

def test_transposed_weight_gradient_square():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, (x.T @ dout).T, dout.sum(axis=0)

    dout = rng(12).standard_normal((4, 3))
    message = message_of(affine_forward, backward, X, W_SQUARE, B_SQUARE, dout=dout)
    assert "input 'W'" in message and "input 'x'" not in message and "input 'b'" not in message
    assert "Diagnosis: transposed" in message
    x, W = X, W_SQUARE
    assert_worst_element(message, "W", (x.T @ dout).T, x.T @ dout)


def test_transposed_weight_gradient_shape_is_reported_before_values():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, dout.T @ x, dout.sum(axis=0)

    message = message_of(affine_forward, backward, X, W, B)
    assert "input 'W'" in message and "wrong shape" in message
    assert "expected (3, 5)" in message and "got      (5, 3)" in message
    assert re.search(r"Diagnosis: transposed\?", message)


def test_bias_gradient_not_summed_over_the_batch_is_a_shape_error():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, dout

    message = message_of(affine_forward, backward, X, W, B)
    assert "input 'b'" in message and "expected (5,)" in message and "got      (4, 5)" in message
    assert "did you forget to sum over the batch axis?" in message
    assert "dout.sum(axis=0)" in message


def test_bias_gradient_averaged_instead_of_summed():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, dout.mean(axis=0)

    message = message_of(affine_forward, backward, X, W, B, dout=DOUT_AFFINE)
    assert "input 'b'" in message and "input 'W'" not in message
    assert "Diagnosis: mean instead of sum" in message and "N = 4" in message
    assert_worst_element(message, "b", DOUT_AFFINE.mean(axis=0), DOUT_AFFINE.sum(axis=0))


def test_bias_gradient_of_the_first_example_only():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, dout[0]

    message = message_of(affine_forward, backward, X, W, B, dout=DOUT_AFFINE)
    assert "input 'b'" in message
    assert re.search(r"Diagnosis: not summed over the batch: .*contribution of example 0 alone",
                     message)
    assert_worst_element(message, "b", DOUT_AFFINE[0], DOUT_AFFINE.sum(axis=0))


def test_bias_gradient_assigned_in_a_loop_keeps_the_last_example():
    def backward(dout, cache):
        x, W = cache
        db = np.zeros(dout.shape[1])
        for n in range(dout.shape[0]):
            db = dout[n]                          # = instead of +=
        return dout @ W.T, x.T @ dout, db

    message = message_of(affine_forward, backward, X, W, B)
    assert "input 'b'" in message
    assert re.search(r"not summed over the batch: .*example 3 alone", message)
    assert "accumulate (+=) instead of assigning (=)" in message


def test_broadcast_bias_averaged_over_the_broadcast_axes():
    x, b = rng(13).standard_normal((2, 3, 3, 3)), rng(14).standard_normal((3, 1, 1))

    def backward(dout, cache):
        return dout, dout.mean(axis=(0, 2, 3))[:, None, None]

    message = message_of(channel_bias_forward, backward, x, b)
    assert "input 'b'" in message and "input 'x'" not in message
    assert "averaged over a broadcast axis" in message and "divided by 18" in message


def test_broadcast_bias_not_summed_is_a_shape_error():
    x, b = rng(13).standard_normal((2, 3, 4, 4)), rng(14).standard_normal((3, 1, 1))

    def backward(dout, cache):
        return dout, dout.sum(axis=0)

    message = message_of(channel_bias_forward, backward, x, b)
    assert "input 'b'" in message and "expected (3, 1, 1)" in message
    assert "forget to sum over a broadcast axis?" in message and "keepdims=True" in message


def test_input_gradient_summed_over_the_batch_is_a_shape_error():
    def backward(dout, cache):
        x, W = cache
        return (dout @ W.T).sum(axis=0), x.T @ dout, dout.sum(axis=0)

    message = message_of(affine_forward, backward, X, W, B)
    assert "input 'x'" in message and "expected (4, 3)" in message and "got      (3,)" in message
    assert "summed over axis 0 too many?" in message


def test_weight_penalty_gradient_off_by_factor_two():
    def backward(dout, cache):
        W, reg = cache
        return dout * 2 * reg * W                 # d(0.5 reg W^2)/dW taken as 2 reg W

    message = message_of(l2_forward, backward, W, reg=0.3, seed=1)
    assert "input 'W'" in message and "Diagnosis: off by a factor of 2:" in message
    dout = np.random.default_rng(1).standard_normal(())
    assert_worst_element(message, "W", dout * 2 * 0.3 * W, dout * 0.3 * W)


def test_squared_error_gradient_off_by_factor_one_half():
    target = rng(15).standard_normal((4, 3))

    def backward(dout, cache):
        pred, target = cache
        return dout * (pred - target)             # forgot the 2 of d(u^2)/du

    message = message_of(squared_error_forward, backward, X, target=target)
    assert "input 'pred'" in message and "Diagnosis: off by a factor of 1/2" in message


def test_softmax_cross_entropy_sign_flipped():
    def backward(dout, cache):
        probs, y = cache
        n = probs.shape[0]
        onehot = np.eye(probs.shape[1])[y]
        return dout * (onehot - probs) / n       # y - p instead of p - y

    message = message_of(softmax_ce_forward, backward, SCORES, y=LABELS, dout=np.array(1.5))
    assert "input 'scores'" in message and "Diagnosis: sign flipped" in message
    right = softmax_ce_backward(1.5, softmax_ce_forward(SCORES, LABELS)[1])
    assert_worst_element(message, "scores", -right, right)


def test_softmax_cross_entropy_not_divided_by_batch_size():
    def backward(dout, cache):
        probs, y = cache
        dscores = probs.copy()
        dscores[np.arange(len(y)), y] -= 1
        return dout * dscores                     # forgot / N of the mean

    message = message_of(softmax_ce_forward, backward, SCORES, y=LABELS)
    assert "input 'scores'" in message
    assert "not divided by the batch size" in message and "N = 5 times" in message


def test_softmax_cross_entropy_ignores_dout():
    def backward(dout, cache):
        probs, y = cache
        dscores = probs.copy()
        dscores[np.arange(len(y)), y] -= 1
        return dscores / len(y)

    message = message_of(softmax_ce_forward, backward, SCORES, y=LABELS, dout=np.array(-0.7))
    assert "input 'scores'" in message
    assert "ignored the upstream gradient" in message and "dout = -0.7" in message


def test_relu_gradient_never_computed():
    def backward(dout, cache):
        x = cache
        dx = np.zeros_like(x)
        dout * (x >= 0)                           # result never assigned
        return dx

    x = rng(16).standard_normal((4, 6))
    message = message_of(relu_forward, backward, x)
    assert "input 'x'" in message and "Diagnosis: never computed" in message
    assert "(input 1 of" not in message           # one input: no position to give


def test_loop_with_an_accumulation_repeated_after_it():
    """The classic indentation slip: the last example is accumulated a second time."""
    def backward(dout, cache):
        x, W = cache
        dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(W.shape[1])
        for n in range(x.shape[0]):
            dx[n] = dout[n] @ W.T
            dW += np.outer(x[n], dout[n])
            db += dout[n]
        dx[n] += dout[n] @ W.T                    # meant to be inside the loop, and is twice now
        dW += np.outer(x[n], dout[n])
        return dx, dW, db

    message = message_of(affine_forward, backward, X, W, B, dout=DOUT_AFFINE)
    assert "input 'x'" in message and "input 'W'" in message and "input 'b'" not in message
    x_part, w_part = message.split("input 'W'")
    assert "accumulated twice: at 3 element(s) your gradient is exactly twice" in x_part
    assert "plus the contribution of example 3 once more" in w_part
    right_dx = DOUT_AFFINE @ W.T
    wrong_dx = right_dx.copy()
    wrong_dx[3] *= 2
    assert_worst_element(x_part, "x", wrong_dx, right_dx)


def test_accumulator_started_from_the_first_example():
    def backward(dout, cache):
        x, W = cache
        dW = np.outer(x[0], dout[0])              # should start from zeros
        for n in range(x.shape[0]):
            dW += np.outer(x[n], dout[n])
        return dout @ W.T, dW, dout.sum(axis=0)

    message = message_of(affine_forward, backward, X, W, B)
    assert "input 'W'" in message
    assert "accumulated twice: your gradient is the right one plus the contribution of example 0" \
        in message


def test_gradient_added_to_one_kept_from_an_earlier_call():
    def forward(x, W, b):
        out, (x, W) = affine_forward(x, W, b)
        return out, {"x": x, "W": W, "dW": np.zeros_like(W)}

    def backward(dout, cache):
        cache["dW"] += cache["x"].T @ dout        # accumulates across calls
        return dout @ cache["W"].T, cache["dW"], dout.sum(axis=0)

    message = message_of(forward, backward, X, W, B)
    assert "second call" in message and "'W'" in message and "'x'" not in message
    assert "accumulated twice" in message


def test_a_mistake_outside_the_list_still_gets_located():
    def backward(dout, cache):
        out = cache
        return dout * out * (1 + out)             # a wrong formula, no listed mistake

    x = rng(17).standard_normal((3, 4))
    message = message_of(sigmoid_forward, backward, x)
    assert "input 'x'" in message and "none of the usual mistakes matches" in message
    s = 1 / (1 + np.exp(-x))
    dout = np.random.default_rng(0).standard_normal(x.shape)
    assert_worst_element(message, "x", dout * s * (1 + s), dout * s * (1 - s))


def test_names_argument_overrides_the_parameter_names():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, dout.mean(axis=0)

    message = message_of(affine_forward, backward, X, W, B, names=["h", "W1", "b1"])
    assert "input 'b1'" in message and "gradient of b1" in message


# ---- misuse gets a clear message -------------------------------------------------------------

def test_backward_returning_none_for_a_used_input():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, None

    message = message_of(affine_forward, backward, X, W, B)
    assert "input 'b'" in message and "no gradient (None)" in message


def test_backward_returning_too_few_gradients():
    def backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout

    message = message_of(affine_forward, backward, X, W, B)
    assert "returned 2 gradient(s)" in message and "(x, W, b)" in message


def test_forward_that_changes_its_input_in_place():
    def forward(scores, y):
        scores -= scores.max(axis=1, keepdims=True)   # "stable softmax", in place
        return softmax_ce_forward(scores, y)

    message = message_of(forward, softmax_ce_backward, SCORES, y=LABELS)
    assert "changed its input 'scores' in place" in message


def test_random_forward_is_refused():
    def forward(x):
        mask = np.random.default_rng().random(x.shape) < 0.5
        return x * mask, mask

    message = message_of(forward, lambda dout, mask: dout * mask, X)
    assert "two different outputs for the same inputs" in message


def test_float32_forward_is_refused():
    def forward(x):
        return (2 * x).astype(np.float32), None

    message = message_of(forward, lambda dout, cache: 2 * dout, X)
    assert "float32" in message and "float64" in message


def test_integer_input_must_be_a_keyword():
    with pytest.raises(TypeError, match=r"pass it as a keyword argument.*y=y"):
        check_backward(softmax_ce_forward, softmax_ce_backward, SCORES, LABELS)


def test_gradient_check_error_is_an_assertion_error():
    assert issubclass(GradientCheckError, AssertionError)
    assert issubclass(GradientCheckError, CheckError)


def test_mistakes_table_reads_as_a_list_of_key_text_test_triples():
    assert len(MISTAKES) >= 10
    for key, text, test in MISTAKES:
        assert re.fullmatch(r"[a-z_0-9]+", key) and isinstance(text, str) and callable(test)
    names = [text.split(":")[0] for _, text, _ in MISTAKES]
    for mistake in ["never computed", "sign flipped", "transposed", "off by a factor of 2",
                    "off by a factor of 1/2", "mean instead of sum", "not summed over the batch",
                    "accumulated twice"]:
        assert mistake in names
    keys = [key for key, _, _ in MISTAKES]
    assert set(keys) >= {"never_computed", "sign_flipped", "transposed", "factor_2", "factor_half",
                         "mean_instead_of_sum", "averaged_over_broadcast", "not_divided_by_batch",
                         "not_summed_over_batch", "accumulated_twice", "ignored_upstream"}
    # One key per mistake, except the two ways of accumulating twice.
    assert [k for k, n in Counter(keys).items() if n > 1] == ["accumulated_twice"]
    assert set(DIAGNOSIS_NAMES) == set(keys) | set(OTHER_DIAGNOSES)


# ---- diagnoses as data, for the class report -------------------------------------------------

def _affine(dx=None, dW=None, db=None):
    """affine_backward with some of its gradients replaced by functions of (dout, x, W)."""
    def backward(dout, cache):
        x, W = cache
        right = affine_backward(dout, cache)
        return tuple(r if wrong is None else wrong(dout, x, W) for r, wrong in zip(right, (dx, dW, db)))
    return backward


def _loop_slip(dout, cache):
    x, W = cache
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for n in range(x.shape[0]):
        dx[n] = dout[n] @ W.T
        dW += np.outer(x[n], dout[n])
    dx[n] += dout[n] @ W.T                        # meant to be inside the loop
    dW += np.outer(x[n], dout[n])
    return dx, dW, dout.sum(axis=0)


def _kept_between_calls():
    kept = {"dW": 0}

    def backward(dout, cache):
        x, W = cache
        kept["dW"] = kept["dW"] + x.T @ dout
        return dout @ W.T, kept["dW"], dout.sum(axis=0)
    return backward


DIAGNOSED = [
    ("never computed", relu_forward, lambda dout, x: np.zeros_like(x), (X,), {},
     [("never_computed", "x")]),
    ("sign", softmax_ce_forward, lambda dout, c: -softmax_ce_backward(dout, c), (SCORES,), {"y": LABELS},
     [("sign_flipped", "scores")]),
    ("transposed values", affine_forward, _affine(dW=lambda d, x, W: (x.T @ d).T), (X, W_SQUARE, B_SQUARE),
     {"dout": rng(12).standard_normal((4, 3))}, [("transposed", "W")]),
    ("transposed shape", affine_forward, _affine(dW=lambda d, x, W: d.T @ x), (X, W, B), {},
     [("transposed", "W")]),
    ("factor 2", l2_forward, lambda dout, c: 2 * l2_backward(dout, c), (W,), {}, [("factor_2", "W")]),
    ("factor 1/2", squared_error_forward, lambda dout, c: (squared_error_backward(dout, c) / 2, None),
     (X, X + 1), {"names": ["pred", "target"]}, [("factor_half", "pred"), ("no_gradient", "target")]),
    ("mean", affine_forward, _affine(db=lambda d, x, W: d.mean(axis=0)), (X, W, B), {"dout": DOUT_AFFINE},
     [("mean_instead_of_sum", "b")]),
    ("first example", affine_forward, _affine(db=lambda d, x, W: d[0]), (X, W, B), {"dout": DOUT_AFFINE},
     [("not_summed_over_batch", "b")]),
    ("not summed: shape", affine_forward, _affine(db=lambda d, x, W: d), (X, W, B), {},
     [("not_summed_over_batch", "b")]),
    ("broadcast mean", channel_bias_forward, lambda d, c: (d, d.mean(axis=(0, 2, 3))[:, None, None]),
     (rng(13).standard_normal((2, 3, 3, 3)), rng(14).standard_normal((3, 1, 1))), {},
     [("averaged_over_broadcast", "b")]),
    ("broadcast: shape", channel_bias_forward, lambda d, c: (d, d.sum(axis=0)),
     (rng(13).standard_normal((2, 3, 4, 4)), rng(14).standard_normal((3, 1, 1))), {},
     [("not_summed_over_broadcast", "b")]),
    ("own axis summed", affine_forward, _affine(dx=lambda d, x, W: (d @ W.T).sum(axis=0)), (X, W, B), {},
     [("summed_over_own_axis", "x")]),
    ("keepdims", affine_forward, _affine(db=lambda d, x, W: d.sum(axis=0, keepdims=True).T), (X, W, B), {},
     [("wrong_shape", "b")]),
    ("times N", softmax_ce_forward, lambda dout, c: softmax_ce_backward(dout, c) * 5, (SCORES,), {"y": LABELS},
     [("not_divided_by_batch", "scores")]),
    ("loop slip", affine_forward, _loop_slip, (X, W, B), {"dout": DOUT_AFFINE},
     [("accumulated_twice", "x"), ("accumulated_twice", "W")]),
    ("kept between calls", affine_forward, _kept_between_calls(), (X, W, B), {},
     [("accumulated_twice", "W")]),
    ("upstream ignored", softmax_ce_forward, lambda dout, c: softmax_ce_backward(1.0, c), (SCORES,),
     {"y": LABELS, "dout": np.array(2.5)}, [("ignored_upstream", "scores")]),
    ("nan", relu_forward, lambda dout, x: dout / (x - x), (X,), {}, [("not_finite", "x")]),
    ("none of them", sigmoid_forward, lambda dout, out: dout * out, (X,), {}, [("unrecognised", "x")]),
]


@pytest.mark.parametrize("forward, backward, inputs, kwargs, expected",
                         [case[1:] for case in DIAGNOSED], ids=[case[0] for case in DIAGNOSED])
def test_a_failed_check_carries_its_diagnoses_as_keys_per_input(forward, backward, inputs, kwargs, expected):
    with pytest.raises(GradientCheckError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_backward(forward, backward, *inputs, **kwargs)
    error = info.value
    assert [(d["key"], d["input"]) for d in error.diagnoses] == expected
    for _, name in expected:
        assert f"input '{name}'" in str(error) or "second call" in str(error)
    assert "'key'" not in str(error)            # data for the instructor, not text for the student


def test_a_gradient_matching_several_mistakes_carries_every_key():
    x = np.full((2, 2), 0.5)                    # N = 2: twice the gradient is also N times it

    def backward(dout, cache):
        return -dout * 2

    with pytest.raises(GradientCheckError) as info:
        check_backward(lambda x: (-x, None), backward, x, dout=np.ones((2, 2)))
    assert "Possible causes (several match)" in str(info.value)
    keys = [d["key"] for d in info.value.diagnoses]
    assert "factor_2" in keys and "not_divided_by_batch" in keys and len(keys) == len(set(keys))


def test_gradcheck_errors_carry_diagnoses_too():
    class Transposed(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a @ b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return (grad @ b.T).T.T, (a.T @ grad).T

    a, b = rng(40).standard_normal((3, 3)), rng(41).standard_normal((3, 3))
    with pytest.raises(GradientCheckError) as info:
        gradcheck(Transposed.apply, a, b)
    assert info.value.diagnoses == [{"key": "transposed", "input": "b"}]


def test_errors_without_a_diagnosis_carry_an_empty_list():
    with pytest.raises(GradientCheckError) as info:
        check_backward(lambda x: (x.astype(np.float32), None), lambda d, c: d, X)
    assert info.value.diagnoses == []


# ---- numerical_grad ---------------------------------------------------------------------

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, small_shapes, elements=finite), st.integers(0, 2**32 - 1))
def test_numerical_grad_of_elementwise_functions(x, seed):
    dout = np.random.default_rng(seed).standard_normal(x.shape)
    assert np.allclose(numerical_grad(np.sin, x, dout), np.cos(x) * dout, rtol=1e-6, atol=1e-8)
    assert np.allclose(numerical_grad(lambda v: v ** 3, x, dout), 3 * x ** 2 * dout,
                       rtol=1e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_numerical_grad_of_a_matrix_product(n, d, m, seed):
    g = np.random.default_rng(seed)
    x, w, dout = g.standard_normal((n, d)), g.standard_normal((d, m)), g.standard_normal((n, m))
    assert np.allclose(numerical_grad(lambda w_: x @ w_, w, dout), x.T @ dout, atol=1e-8)
    assert np.allclose(numerical_grad(lambda x_: x_ @ w, x, dout), dout @ w.T, atol=1e-8)


def test_numerical_grad_of_a_scalar_function_needs_no_dout():
    x = rng(18).standard_normal((2, 3))
    assert np.allclose(numerical_grad(lambda v: np.sum(v ** 2), x), 2 * x, atol=1e-8)
    assert numerical_grad(lambda v: np.sum(v ** 2), x).shape == (2, 3)


def test_numerical_grad_of_integers_is_float64_and_leaves_x_alone():
    x = np.array([1, 2, 3])
    grad = numerical_grad(lambda v: np.sum(v * v), x)
    assert grad.dtype == np.float64 and np.allclose(grad, [2, 4, 6])
    assert np.array_equal(x, [1, 2, 3])


def test_numerical_grad_of_an_array_output_asks_for_dout():
    with pytest.raises(ValueError, match=r"pass dout of shape \(3,\)"):
        numerical_grad(np.sin, np.zeros(3))
    with pytest.raises(ValueError, match="dout has shape"):
        numerical_grad(np.sin, np.zeros(3), dout=np.ones(2))


def test_numerical_grad_with_one_hot_upstream_gradients_gives_the_rows_of_a_linear_map():
    a = rng(19).standard_normal((4, 3))
    rows = [numerical_grad(lambda x: a @ x, np.ones(3), dout=e) for e in np.eye(4)]
    assert np.allclose(np.stack(rows), a, atol=1e-8)


def test_numerical_grad_leaves_its_input_alone_and_accepts_integer_input():
    x = np.array([[1, 2], [3, 4]])
    before = x.copy()
    grad = numerical_grad(lambda v: (v ** 2).sum(), x)
    assert np.array_equal(x, before) and x.dtype == before.dtype
    assert grad.dtype == np.float64 and np.allclose(grad, 2 * x, atol=1e-6)


def test_the_library_leaves_numerical_jacobian_to_module_04():
    import course.gradcheck

    assert not hasattr(course.gradcheck, "numerical_jacobian")


# ---- gradcheck on functions of Tensors ---------------------------------------------------------

def test_gradcheck_passes_for_built_in_ops():
    x, w, b = rng(20).standard_normal((3, 4)), rng(21).standard_normal((4, 2)), rng(22).standard_normal(2)
    assert gradcheck(lambda x, w, b: (x @ w + b).sigmoid(), x, w, b)
    assert gradcheck(lambda x, y, z: x * y + z, *rng(23).standard_normal((3, 2, 2)))
    assert gradcheck(lambda x: (x.tanh() * x).sum(), Tensor(x, requires_grad=True))


class MatMul(Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad @ w.T, x.T @ grad


def test_gradcheck_passes_for_a_correct_custom_function():
    assert gradcheck(MatMul.apply, rng(24).standard_normal((3, 4)), rng(25).standard_normal((4, 2)))


def test_gradcheck_sign_flipped_in_a_custom_function():
    class WrongMatMul(MatMul):
        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            return grad @ w.T, -(x.T @ grad)

    x, w = rng(24).standard_normal((3, 4)), rng(25).standard_normal((4, 2))
    with pytest.raises(GradientCheckError) as info:
        gradcheck(lambda x, w: WrongMatMul.apply(x, w), x, w)
    message = str(info.value)
    assert "input 'w'" in message and "input 'x'" not in message
    assert "Diagnosis: sign flipped" in message
    cotangent = np.random.default_rng(0).standard_normal((3, 2))
    assert_worst_element(message, "w", -(x.T @ cotangent), x.T @ cotangent)


def test_gradcheck_transposed_in_a_custom_function():
    class WrongMatMul(MatMul):
        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            return grad @ w.T, (x.T @ grad).T

    x, w = rng(26).standard_normal((3, 3)), rng(27).standard_normal((3, 3))
    with pytest.raises(GradientCheckError,
                       match=r"(?s)of WrongMatMul.apply failed.*input 'w'.*Diagnosis: transposed"):
        gradcheck(WrongMatMul.apply, x, w)          # names from WrongMatMul.forward(ctx, x, w)


def test_gradcheck_bias_averaged_in_a_custom_function():
    class AddBias(Function):
        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, grad):
            return grad, grad.mean(axis=0)

    x, b = rng(28).standard_normal((4, 3)), rng(29).standard_normal(3)
    with pytest.raises(GradientCheckError, match=r"(?s)input 'bias'.*mean instead of sum.*N = 4"):
        gradcheck(lambda x, bias: AddBias.apply(x, bias), x, b)


def test_gradcheck_factor_half_and_never_computed():
    class HalfSigmoid(Function):
        @staticmethod
        def forward(ctx, x):
            s = 1 / (1 + np.exp(-x))
            ctx.save_for_backward(s)
            return s

        @staticmethod
        def backward(ctx, grad):
            (s,) = ctx.saved_tensors
            return grad * s * (1 - s) / 2

    class LazyReLU(Function):
        @staticmethod
        def forward(ctx, x):
            return np.maximum(x, 0)

        @staticmethod
        def backward(ctx, grad):
            return np.zeros_like(grad)

    x = rng(30).standard_normal((2, 3))
    with pytest.raises(GradientCheckError, match="off by a factor of 1/2"):
        gradcheck(HalfSigmoid.apply, x)
    with pytest.raises(GradientCheckError, match="never computed"):
        gradcheck(LazyReLU.apply, x)


def test_gradcheck_gradient_kept_between_calls():
    class Leaky(Function):
        total = 0.0

        @staticmethod
        def forward(ctx, x):
            return 3 * x

        @staticmethod
        def backward(ctx, grad):
            Leaky.total = Leaky.total + 3 * grad      # keeps state between calls
            return Leaky.total

    x = rng(31).standard_normal(3)
    Leaky.total = 0.0
    with pytest.raises(GradientCheckError, match=r"(?s)new leaves gave a different gradient.*"
                                                 r"accumulated twice"):
        gradcheck(Leaky.apply, x, names=["v"])
    Leaky.total = 0.0
    with pytest.raises(GradientCheckError, match="different gradient for 'x'"):
        gradcheck(Leaky.apply, x)                   # the name comes from Leaky.forward(ctx, x)


def test_gradcheck_reports_a_gradient_lost_through_data():
    x, y = rng(32).standard_normal(3), rng(33).standard_normal(3)
    with pytest.raises(GradientCheckError, match=r"input 'y'.*no gradient \(None\)"):
        gradcheck(lambda x, y: x * Tensor(y.data), x, y)


def test_gradcheck_passes_constants_through_and_leaves_inputs_alone():
    x = Tensor(rng(34).standard_normal((4, 3)), requires_grad=True)
    before = x.data.copy()
    index = np.array([2, 0, 2])
    assert gradcheck(lambda x, i: x[i] * 2, x, index)
    assert x.grad is None and np.array_equal(x.data, before)


def test_gradcheck_refuses_a_float32_output():
    with pytest.raises(GradientCheckError, match="float32"):
        gradcheck(lambda x: x.astype(np.float32) * 2, rng(35).standard_normal(3))


def test_gradcheck_needs_something_to_check():
    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck(lambda x: x * 2, Tensor(np.ones(3)))


# ---- assert_close, the helper of the graded test cells ---------------------------------------

def test_assert_close_accepts_equal_and_nearly_equal_values():
    a = rng(36).standard_normal((3, 2))
    assert_close(a, a.copy(), name="out")
    assert_close(a * (1 + 1e-9), a, name="out")
    assert_close(a.tolist(), a, name="out")
    assert_close(Tensor(a), a, name="out")
    assert_close(2, 2.0)
    assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))


def test_assert_close_names_the_worst_element():
    expected = np.arange(6.0).reshape(2, 3)
    actual = expected.copy()
    actual[1, 2] += 0.5
    actual[0, 1] += 0.01
    with pytest.raises(CheckError) as info:
        assert_close(actual, expected, name="dW")
    message = str(info.value)
    assert "dW is not close" in message and "2 of 6" in message
    assert "worst element dW[1, 2]: yours 5.5, expected 5" in message


def test_assert_close_reports_shapes_first_with_a_hint():
    expected = np.zeros((3, 5))
    with pytest.raises(CheckError, match=r"expected \(3, 5\), got \(5, 3\).*\n.*transposed\?"):
        assert_close(np.zeros((5, 3)), expected, name="dW")
    with pytest.raises(CheckError, match="sum over the batch axis"):
        assert_close(np.zeros((4, 5)), np.zeros(5), name="db")
    with pytest.raises(CheckError, match="wrong shape.*\n.*axes of length 1"):
        assert_close(np.zeros((1, 5)), np.zeros(5), name="db")
    with pytest.raises(CheckError, match=r"got \(7,\)\.\n.*must have exactly the shape \(5,\)"):
        assert_close(np.zeros(7), np.zeros(5), name="db")


def test_assert_close_catches_nan():
    with pytest.raises(CheckError, match="worst element p\\[1\\]: yours nan"):
        assert_close(np.array([0.5, np.nan]), np.array([0.5, 0.5]), name="p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # a graded cell must not warn, even on overflow
        with pytest.raises(CheckError, match=r"worst element p\[0\]: yours 1e\+308"):
            assert_close(np.array([1e308, np.inf]), np.array([-1e308, 1.0]), name="p")


def test_assert_close_sees_through_look_alikes():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class LyingArray(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(self), dtype=bool)

        def __array_function__(self, func, types, args, kwargs):
            return True                           # np.allclose, np.array_equal, ... say yes

    expected = np.array([1.0, 2.0, 3.0])
    with pytest.raises(CheckError, match="array of real numbers"):
        assert_close(AlwaysEqual(), expected)
    with pytest.raises(CheckError, match="worst element"):
        assert_close(np.zeros(3).view(LyingArray), expected)


def test_assert_close_refuses_none_strings_and_complex_numbers():
    with pytest.raises(CheckError, match="forget to `return`"):
        assert_close(None, 1.0, name="loss")
    with pytest.raises(CheckError, match="array of real numbers"):
        assert_close("1.0", 1.0)
    with pytest.raises(CheckError, match="array of real numbers"):
        assert_close(np.array([1 + 2j]), np.array([1.0]))


# ---- the import rule ---------------------------------------------------------------------

def test_gradcheck_imports_no_plotting_or_widgets():
    code = ("import sys, course.gradcheck; "
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'graphviz') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
