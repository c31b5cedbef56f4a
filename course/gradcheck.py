"""Gradient checking: is a backward pass right, and if not, what went wrong?

The idea of the lecture: a derivative is a limit of difference quotients, so we can
*measure* a gradient without knowing the formula,

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)        (central differences)

and compare the measurement with the gradient a backward pass computes. Everything here
works in float64, where central differences agree with the true derivative to about 1e-9.

- `numerical_grad(f, x, dout)`: the measurement (one number per element of x). Module 04
  asks students to write the Jacobian version themselves, so the library does not offer one.
- `check_backward(forward, backward, *inputs)`: checks a numpy layer written as a pair
  `out, cache = forward(*inputs)` / `grads = backward(dout, cache)`.
- `gradcheck(fn, *inputs)`: checks a function of `course.autograd` Tensors.
- `assert_close(actual, expected, name)`: the comparison behind every graded test cell.

A failed check raises `GradientCheckError` (an AssertionError, so it fails a test) whose
message names the input, the worst element, both values, the relative error and, when the
wrong gradient matches a mistake from the list `MISTAKES`, what that mistake was.
"""
import inspect
from typing import Callable, NamedTuple

import numpy as np

__all__ = [
    "CheckError", "GradientCheckError", "numerical_grad",
    "check_backward", "gradcheck", "assert_close", "MISTAKES",
]


class CheckError(AssertionError):
    """A graded check failed; the message says what was expected and what was found."""


class GradientCheckError(CheckError):
    """A backward pass disagrees with finite differences; the message says where and why.

    diagnoses: what went wrong, as data for the class report (never shown to the student):
    [{"key": a key of MISTAKES or of OTHER_DIAGNOSES, "input": the input's name}, ...],
    at least one entry for every input whose gradient failed.
    """

    def __init__(self, message="", diagnoses=()):
        super().__init__(message)
        self.diagnoses = [dict(d) for d in diagnoses]


# ---- finite differences -------------------------------------------------------------------

def numerical_grad(f, x, dout=None, eps=1e-6):
    """Gradient of sum(f(x) * dout) with respect to x, by central differences in float64.

    Inputs:
    - f: a function of one numpy array, returning a number or an array.
    - x: array of any shape (f sees float64 arrays near x; x itself is left alone).
    - dout: the upstream gradient, same shape as f(x). May be omitted when f(x) is a single
      number; it then defaults to 1, so the result is df/dx.
    - eps: the step.

    Returns:
    - grad: float64 array of x's shape; grad[i] = d sum(f(x) * dout) / d x[i].
    """
    point = np.asarray(x, dtype=np.float64)
    out = np.asarray(f(point.copy()), dtype=np.float64)
    if dout is None:
        if out.size != 1:
            raise ValueError(
                f"f(x) has shape {out.shape}, not a single number, so numerical_grad needs the "
                f"upstream gradient: pass dout of shape {out.shape} (np.ones({out.shape}) gives "
                f"the gradient of f(x).sum()).")
        dout = np.ones_like(out)
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != out.shape:
        raise ValueError(f"dout has shape {dout.shape} but f(x) has shape {out.shape}; they must match.")

    def loss(at):
        """The number whose gradient we measure: the upstream-weighted sum of f's outputs."""
        return float(np.sum(np.asarray(f(at), dtype=np.float64) * dout))

    grad = np.empty(point.shape)
    for i in np.ndindex(point.shape):
        nudge = np.zeros(point.shape)
        nudge[i] = eps
        grad[i] = (loss(point + nudge) - loss(point - nudge)) / (2 * eps)
    return grad


# ---- what a wrong gradient can tell us ------------------------------------------------------

class _Mismatch:
    """A gradient `got` that disagrees with the numeric `expected`, and what diagnoses need.

    batch_size: N, the length of the batch axis (axis 0 of the output, or of the first input).
    copies: how many times this input was broadcast to the output's shape (1 if it was not).
    dout: the upstream gradient (an array of the output's shape).
    numeric: numeric(dout) -> the numeric gradient of this input for another upstream
      gradient; used to find the contribution of a single example. None if not available.
    """

    def __init__(self, got, expected, name, rtol, atol, batch_size=1, copies=1,
                 dout=None, numeric=None):
        self.got, self.expected, self.name = got, expected, name
        self.rtol, self.atol = rtol, atol
        self.batch_size, self.copies = batch_size, copies
        self.dout, self._numeric = dout, numeric
        self._example_grads = {}

    @property
    def dout_value(self):
        """The upstream gradient if it is a single number (a scalar loss), else None."""
        return float(self.dout) if self.dout is not None and self.dout.size == 1 else None

    def isclose(self, a, b):
        return np.isclose(a, b, rtol=self.rtol, atol=self.atol)

    def close(self, a, b):
        return bool(np.all(self.isclose(a, b)))

    def example_grad(self, k):
        """The numeric gradient of example k alone (upstream gradient zero for the others)."""
        if k not in self._example_grads:
            only_k = np.zeros_like(self.dout)
            only_k[k] = self.dout[k]
            self._example_grads[k] = self._numeric(only_k)
        return self._example_grads[k]

    def _examples(self):
        """Examples worth trying: the first and the last (where loops go wrong)."""
        if self._numeric is None or self.batch_size < 2:
            return ()
        return (0, self.batch_size - 1)

    @property
    def single_example(self):
        """k if the gradient is example k's contribution alone, else None."""
        return next((k for k in self._examples() if self.close(self.got, self.example_grad(k))), None)

    @property
    def example_counted_twice(self):
        """k if the gradient is the right one plus example k's contribution once more."""
        return next((k for k in self._examples()
                     if self.close(self.got - self.expected, self.example_grad(k))), None)

    @property
    def doubled_elements(self):
        """How many elements are exactly twice the numeric value while the others are right."""
        right = self.isclose(self.got, self.expected)
        doubled = self.isclose(self.got, 2 * self.expected) & ~right
        if not np.all(right | doubled):
            return 0
        nonzero = ~self.isclose(self.expected, 0)
        if not np.any(right & nonzero):
            return 0                # doubled everywhere: that is the factor-2 mistake
        return int(np.count_nonzero(doubled & nonzero))


class Mistake(NamedTuple):
    """One usual mistake: a stable key (for the class report), what the mistake is and how to fix
    it (formatted with the _Mismatch `c`, so it can quote the batch size, the input's name, ...),
    and a test on `c` that says whether a wrong gradient matches it."""

    key: str
    text: str
    test: Callable


MISTAKES = [
    Mistake("never_computed",
            "never computed: your gradient is all zeros. Was it left as the np.zeros_like you "
            "started from, or computed on a line whose result was never assigned?",
            lambda c: not np.any(c.got)),
    Mistake("sign_flipped",
            "sign flipped: your gradient is minus the numeric one. Look for a subtraction the wrong "
            "way round (p - y, not y - p) or a minus sign that belongs to the forward pass only.",
            lambda c: c.close(c.got, -c.expected)),
    Mistake("transposed",
            "transposed: your gradient is the transpose of the numeric one. Check the order of the "
            "matrix product: for out = x @ W, dW = x.T @ dout and dx = dout @ W.T.",
            lambda c: c.got.shape == c.expected.T.shape and c.close(c.got, c.expected.T)),
    Mistake("factor_2",
            "off by a factor of 2: your gradient is twice the numeric one. The derivative of "
            "0.5 * w**2 is w, not 2 * w; or a contribution was added twice.",
            lambda c: c.close(c.got, 2 * c.expected)),
    Mistake("factor_half",
            "off by a factor of 1/2: your gradient is half the numeric one. The derivative of "
            "w**2 is 2 * w; or one of two equal contributions is missing.",
            lambda c: c.close(c.got, c.expected / 2)),
    Mistake("mean_instead_of_sum",
            "mean instead of sum: your gradient is the numeric one divided by N = {c.batch_size}, the "
            "batch size. Every example contributes to the gradient of {c.name} and the "
            "contributions add up: sum over the batch axis (.sum(axis=0)), don't average.",
            lambda c: c.batch_size > 1 and c.close(c.got, c.expected / c.batch_size)),
    Mistake("averaged_over_broadcast",
            "averaged over a broadcast axis: your gradient is the numeric one divided by {c.copies}, "
            "the number of copies of {c.name} that broadcasting made in the forward pass. Sum the "
            "upstream gradient over the broadcast axes, don't average it.",
            lambda c: c.copies not in (1, c.batch_size) and c.close(c.got, c.expected / c.copies)),
    Mistake("not_divided_by_batch",
            "not divided by the batch size: your gradient is N = {c.batch_size} times the numeric one. "
            "The forward pass averages over the N examples, so the gradient carries the same 1/N.",
            lambda c: c.batch_size > 1 and c.close(c.got, c.expected * c.batch_size)),
    Mistake("not_summed_over_batch",
            "not summed over the batch: your gradient is the contribution of example "
            "{c.single_example} alone; the other examples were lost. In a loop over the batch, "
            "accumulate (+=) instead of assigning (=); vectorised, sum over the batch axis.",
            lambda c: c.single_example is not None),
    Mistake("accumulated_twice",
            "accumulated twice: at {c.doubled_elements} element(s) your gradient is exactly twice the "
            "numeric one, and everywhere else it is right. Some contribution was added twice: a line "
            "repeated after a loop, or a path through the graph counted twice.",
            lambda c: c.doubled_elements > 0),
    Mistake("accumulated_twice",
            "accumulated twice: your gradient is the right one plus the contribution of example "
            "{c.example_counted_twice} once more. An accumulation ran one extra time: a += left after "
            "the loop, or an accumulator that started from one example's gradient instead of zeros.",
            lambda c: c.example_counted_twice is not None),
    Mistake("ignored_upstream",
            "ignored the upstream gradient: your gradient would be right for dout = 1, but the check "
            "passed dout = {c.dout_value:.4g}. Multiply by dout: local gradient times upstream gradient.",
            lambda c: c.dout_value is not None and c.close(c.got * c.dout_value, c.expected)),
]


# Failures the table cannot see, with the keys the class report counts them under.
OTHER_DIAGNOSES = {
    "no_gradient": "no gradient (None)",
    "wrong_shape": "wrong shape",
    "not_summed_over_broadcast": "not summed over a broadcast axis",
    "summed_over_own_axis": "summed over an axis of its own",
    "not_finite": "NaN or inf",
    "unrecognised": "none of the usual mistakes",
}
# key -> short name of every diagnosis (the text before the colon, for MISTAKES).
DIAGNOSIS_NAMES = {**{m.key: m.text.split(":")[0] for m in MISTAKES}, **OTHER_DIAGNOSES}


def _diagnose(mismatch):
    """(key, explanation) of every listed mistake that the wrong gradient matches."""
    with np.errstate(over="ignore", invalid="ignore"):
        return [(m.key, m.text.format(c=mismatch)) for m in MISTAKES if m.test(mismatch)]


def _broadcast_axes(small, big):
    """Axes of shape `big` along which shape `small` was broadcast, or None if it was not."""
    if len(small) > len(big):
        return None
    padded = (1,) * (len(big) - len(small)) + tuple(small)
    if any(s not in (1, b) for s, b in zip(padded, big)):
        return None
    return tuple(axis for axis, (s, b) in enumerate(zip(padded, big)) if s != b)


def _shape_hint(got, expected, name, batch_size):
    """Why a value of shape `got` might have come out instead of shape `expected`."""
    return _shape_diagnosis(got, expected, name, batch_size)[1]


def _shape_diagnosis(got, expected, name, batch_size):
    """(key, hint): the likely mistake behind shape `got` instead of `expected`, and its fix."""
    if len(got) == 2 and got == expected[::-1]:
        return "transposed", (
            "transposed? Your shape is the transpose of the expected one: check the order "
            "of the matrix product (for out = x @ W: dW = x.T @ dout, dx = dout @ W.T).")
    extra = _broadcast_axes(expected, got)
    if extra:
        keep = " with keepdims=True" if len(expected) == len(got) else ""
        if extra[0] == 0 and got[0] == batch_size:
            return "not_summed_over_batch", (
                f"did you forget to sum over the batch axis? Your result has one entry per "
                f"example (axis 0, length {got[0]}), but {name} is shared by all examples, "
                f"so its gradient is the sum of their contributions: sum over axis "
                f"{extra if len(extra) > 1 else 0}{keep}, e.g. db = dout.sum(axis=0).")
        return "not_summed_over_broadcast", (
            f"did you forget to sum over a broadcast axis? {name} was broadcast along "
            f"axis {extra if len(extra) > 1 else extra[0]} in the forward pass; sum the "
            f"gradient over {'those axes' if len(extra) > 1 else 'it'}{keep}.")
    missing = _broadcast_axes(got, expected)
    if missing:
        return "summed_over_own_axis", (
            f"summed over axis {missing if len(missing) > 1 else missing[0]} too many? "
            f"{name} has shape {expected} (one entry per example along the batch axis), and "
            f"so has its gradient: don't sum over an axis that {name} itself has.")
    if sorted(got) == sorted(expected):
        return "transposed", "transposed? Same axis lengths, different order: check the order of the axes."
    if [n for n in got if n != 1] == [n for n in expected if n != 1]:
        return "wrong_shape", ("the shapes differ only in axes of length 1: check keepdims=True/False, "
                               "a reshape, or indexing with None.")
    return "wrong_shape", f"{name} must have exactly the shape {expected}."


def _index_text(name, index):
    return f"{name}[{', '.join(str(int(i)) for i in index)}]" if index else name


def _value_report(got, expected, name, rtol, atol, got_label, expected_label):
    """Lines that locate the worst disagreement, or None if got and expected agree."""
    with np.errstate(invalid="ignore", over="ignore"):      # NaN and inf are reported, not warned
        bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
        if not bad.any():
            return None
        excess = np.abs(got - expected) / (atol + rtol * np.abs(expected))
        excess = np.where(np.isfinite(got), excess, np.inf)
        worst = np.unravel_index(int(np.argmax(np.where(bad, excess, -1.0))), got.shape)
        a, n = got[worst], expected[worst]
        scale = max(abs(a), abs(n))
        relative = abs(a - n) / scale if np.isfinite(a) and scale > 0 else float("inf")
    return [f"  elements that disagree: {int(bad.sum())} of {bad.size}",
            f"  worst element {_index_text(name, worst)}: {got_label} {a:.6g}, "
            f"{expected_label} {n:.6g}",
            f"  relative error |a - n| / max(|a|, |n|) = {relative:.2e} "
            f"(allowed: rtol={rtol:g}, atol={atol:g})"]


class _Failure(NamedTuple):
    """Why one input's gradient failed: the text for the student, the keys for the report."""

    input: str
    text: str
    keys: list


def _input_report(got, expected, name, position, rtol, atol, **context):
    """The _Failure of one input's gradient, or None when it is right."""
    where = f"input '{name}'" + (f" ({position})" if position else "")
    if got is None:
        if np.allclose(expected, 0, atol=atol):
            return None
        return _Failure(name, f"{where}: your backward gave no gradient (None), but the numeric "
                              f"gradient is not zero: {name} does affect the output.", ["no_gradient"])
    if got.shape != expected.shape:
        key, hint = _shape_diagnosis(got.shape, expected.shape, name, context.get("batch_size", 1))
        return _Failure(name, "\n".join([
            f"{where}: the gradient has the wrong shape.",
            f"  expected {expected.shape} (the shape of {name})",
            f"  got      {got.shape}",
            "Diagnosis: " + hint]), [key])
    lines = _value_report(got, expected, name, rtol, atol,
                          "analytic (your backward)", "numeric (finite differences)")
    if lines is None:
        return None
    if not np.all(np.isfinite(got)):
        causes = [("not_finite", "your gradient contains NaN or inf: look for a division by zero, "
                                 "a log of 0, or an exp that overflowed.")]
    else:
        causes = _diagnose(_Mismatch(got, expected, name, rtol, atol, **context))
    if not causes:
        causes = [("unrecognised", "none of the usual mistakes matches. Go through the forward "
                                   "pass line by line, in reverse, and write one backward line for each.")]
    texts = [text for _, text in causes]
    if len(texts) == 1:
        lines.append("Diagnosis: " + texts[0])
    else:
        lines.append("Possible causes (several match):")
        lines += [f"  - {text}" for text in texts]
    return _Failure(name, "\n".join([f"{where}, shape {expected.shape}: the gradient is wrong."] + lines),
                    list(dict.fromkeys(key for key, _ in causes)))


def _raise_if_failed(failures, what):
    failures = [f for f in failures if f]
    if failures:
        raise GradientCheckError(f"Gradient check of {what} failed.\n" + "\n\n".join(f.text for f in failures),
                                 [{"key": key, "input": f.input} for f in failures for key in f.keys])
    return True


# ---- names ----------------------------------------------------------------------------------

def _input_names(fn, count, names, skip=0):
    """names if given, else the names of fn's positional parameters (after the first `skip`
    of them), else 'input i'."""
    if names is not None:
        names = list(names)
        if len(names) != count:
            raise ValueError(f"names has {len(names)} entries but there are {count} inputs; "
                             "give one name per input, in order.")
        return names
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return [f"input {i}" for i in range(count)]
    params = params[skip:]
    return [params[i] if i < len(params) else f"input {i}" for i in range(count)]


def _position(i, count):
    return f"input {i + 1} of {count}" if count > 1 else ""


def _name_of(fn):
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):                      # a classmethod such as MyFunction.apply
        return f"{owner.__name__}.{fn.__name__}"
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return "the function" if name.endswith("<lambda>") else name


# ---- numpy layers: out, cache = forward(*inputs); grads = backward(dout, cache) --------------

def check_backward(forward, backward, *inputs, dout=None, seed=0, rtol=1e-5, atol=1e-7,
                   eps=1e-6, names=None, **kwargs):
    """Check a numpy layer's backward pass against finite differences of its forward pass.

    The layer is a pair of functions, as in the lecture's backprop exercises:
        out, cache = forward(*inputs, **kwargs)
        grads = backward(dout, cache)   # one gradient per input, in order (a single
                                        # array when there is one input)

    Inputs:
    - forward, backward: the layer.
    - *inputs: arrays the gradient is checked for (converted to float64 copies). Pass
      anything not differentiable, such as integer labels, as a keyword argument.
    - dout: upstream gradient, shape of out; by default random normal numbers (seeded), so
      that every element of out gets a different weight.
    - seed: seed of the random dout.
    - rtol, atol: an element is right when |analytic - numeric| <= atol + rtol * |numeric|.
    - eps: finite-difference step.
    - names: one name per input for the messages; by default forward's parameter names.
    - **kwargs: passed to forward unchanged.

    Returns True when every gradient is right; otherwise raises GradientCheckError.
    """
    names = _input_names(forward, len(inputs), names)
    arrays = []
    for name, x in zip(names, inputs):
        x = np.asarray(x)
        if x.dtype.kind in "biu":
            raise TypeError(
                f"input '{name}' holds {x.dtype} values, which have no gradient. If it is not "
                f"meant to be checked (labels, indices, a mask), pass it as a keyword argument: "
                f"check_backward(forward, backward, ..., {name}={name}).")
        if x.dtype.kind != "f":
            raise TypeError(f"input '{name}' has dtype {x.dtype}: the inputs whose gradients "
                            "are checked must hold real numbers.")
        arrays.append(np.array(x, dtype=np.float64))
    layer = _name_of(forward)

    def run_forward(args):
        result = forward(*args, **kwargs)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"{layer} should return a pair (out, cache), got {type(result).__name__}.")
        return result

    pristine = [a.copy() for a in arrays]
    out, cache = run_forward(arrays)
    for name, before, after in zip(names, pristine, arrays):
        if not np.array_equal(before, after, equal_nan=True):
            raise GradientCheckError(
                f"{layer} changed its input '{name}' in place (e.g. x -= ... or x[...] = ...). "
                f"Compute into a new array instead: the caller still needs {name}.")
    out = np.asarray(out)
    if out.dtype != np.float64:
        raise GradientCheckError(
            f"{layer} returned out with dtype {out.dtype} for float64 inputs; it converts "
            "somewhere (np.float32, astype). Keep float64 so that the check is accurate.")
    if not np.array_equal(np.asarray(run_forward(pristine)[0]), out, equal_nan=True):
        raise GradientCheckError(
            f"{layer} gave two different outputs for the same inputs, so its gradient cannot be "
            "measured. If it is random (like dropout), fix the randomness: pass a seed or a mask.")

    rng = np.random.default_rng(seed)
    dout = rng.standard_normal(out.shape) if dout is None else np.asarray(dout, dtype=np.float64)
    if dout.shape != out.shape:
        raise ValueError(f"dout has shape {dout.shape} but out has shape {out.shape}.")

    def gradients():
        grads = backward(dout.copy(), cache)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        if len(grads) != len(arrays):
            raise GradientCheckError(
                f"{_name_of(backward)} returned {len(grads)} gradient(s), but forward took "
                f"{len(arrays)} input(s) ({', '.join(names)}): return one gradient per input, "
                f"in the same order.")
        return [None if g is None else _as_float64(g, f"the gradient of '{n}'", GradientCheckError)
                for g, n in zip(grads, names)]

    analytic = gradients()

    def numeric_for(i):
        def f(xi):
            args = list(pristine)
            args[i] = xi
            return run_forward(args)[0]
        return lambda d: numerical_grad(f, pristine[i], dout=d, eps=eps)

    batch_size = _batch_size(out, pristine)
    reports = []
    for i, (name, got) in enumerate(zip(names, analytic)):
        numeric = numeric_for(i)
        reports.append(_input_report(
            got, numeric(dout), name, _position(i, len(arrays)), rtol, atol,
            batch_size=batch_size, copies=_copies(pristine[i].shape, out.shape),
            dout=dout,
            numeric=numeric if out.ndim >= 1 else None))
    _raise_if_failed(reports, layer)

    try:
        again = gradients()
    except Exception:       # a backward that can run only once is not what we test here
        return True
    changed = [n for n, g1, g2 in zip(names, analytic, again)
               if g1 is not None and not np.array_equal(g1, g2)]
    if changed:
        raise GradientCheckError(
            f"Gradient check of {layer} failed.\n"
            f"The second call of {_name_of(backward)} with the same dout and cache returned a "
            f"different gradient for {', '.join(repr(n) for n in changed)}.\n"
            "Diagnosis: accumulated twice: your backward adds into a gradient left over from "
            "an earlier call (an accumulator kept in the cache or in a global, or += into an "
            "array the cache holds). Start every backward pass from new zeros.",
            [{"key": "accumulated_twice", "input": n} for n in changed])
    return True


def _batch_size(out, inputs):
    if out.ndim >= 1:
        return out.shape[0]
    first = next((x for x in inputs if x.ndim >= 1), None)
    return first.shape[0] if first is not None else 1


def _copies(input_shape, out_shape):
    axes = _broadcast_axes(input_shape, out_shape)
    return int(np.prod(out_shape) // max(np.prod(input_shape, dtype=int), 1)) if axes else 1


# ---- functions of Tensors: gradcheck ---------------------------------------------------------

def gradcheck(fn, *inputs, seed=0, rtol=1e-5, atol=1e-7, eps=1e-6, names=None, **kwargs):
    """Check autograd's gradients of fn against finite differences, in float64.

    Inputs:
    - fn: a function of Tensors returning a Tensor, called as fn(*inputs, **kwargs).
    - *inputs: the arguments. Tensors with requires_grad and float numpy arrays are checked:
      each becomes a new float64 leaf Tensor (your tensors and their .grad are not touched).
      Anything else (Tensors without requires_grad, integer arrays, numbers) is passed as is.
      Use small inputs: every element is perturbed twice.
    - seed: seed of the random cotangent (the upstream gradient given to backward).
    - rtol, atol, eps, names: as in check_backward; names default to the Tensors' names,
      then to fn's parameter names.
    - **kwargs: passed to fn unchanged.

    Returns True when every gradient is right; otherwise raises GradientCheckError.
    """
    from course.autograd import Function, Tensor

    if names is None:
        owner = getattr(fn, "__self__", None)        # MyFunction.apply: name its forward's args
        if isinstance(owner, type) and issubclass(owner, Function):
            from_signature = _input_names(owner.forward, len(inputs), None, skip=1)
        else:
            from_signature = _input_names(fn, len(inputs), None)
        names = [x.name if isinstance(x, Tensor) and x.name else n
                 for x, n in zip(inputs, from_signature)]
    names = _input_names(fn, len(inputs), names)
    checked = []                                   # positions of the inputs we check
    base = list(inputs)
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            base[i] = np.array(x.data, dtype=np.float64)
            checked.append(i)
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            base[i] = np.array(x, dtype=np.float64)
            checked.append(i)
    if not checked:
        raise ValueError("gradcheck found nothing to check: pass Tensors with requires_grad=True "
                         "or float numpy arrays.")
    label = _name_of(fn)

    def call(arrays):
        """fn on new leaf Tensors made from arrays (one per checked input)."""
        args = list(base)
        leaves = []
        for i, a in zip(checked, arrays):
            args[i] = Tensor(a, requires_grad=True, name=names[i])
            leaves.append(args[i])
        out = fn(*args, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{label} should return a Tensor, got {type(out).__name__}.")
        return out, leaves

    out, _ = call([base[i].copy() for i in checked])
    if out.dtype != np.float64:
        raise GradientCheckError(
            f"{label} returned a {out.dtype} Tensor for float64 inputs, so finite differences "
            "would be too coarse. Something inside converts: Tensors made from Python numbers "
            "or lists are float32 unless you pass dtype=np.float64.")
    cotangent = np.random.default_rng(seed).standard_normal(out.shape)

    def analytic():
        out, leaves = call([base[i].copy() for i in checked])
        out.backward(Tensor(cotangent.copy()))
        return [None if t.grad is None else _as_float64(t.grad, f"the gradient of '{t.name}'",
                                                        GradientCheckError)
                for t in leaves]

    def numeric_for(i):
        def f(a):
            arrays = [a if j == i else base[j].copy() for j in checked]
            return call(arrays)[0].data
        return lambda d: numerical_grad(f, base[i], dout=d, eps=eps)

    first = analytic()
    batch_size = _batch_size(out.data, [base[i] for i in checked])
    reports = []
    for i, got in zip(checked, first):
        numeric = numeric_for(i)
        reports.append(_input_report(
            got, numeric(cotangent), names[i], _position(i, len(inputs)), rtol, atol,
            batch_size=batch_size, copies=_copies(base[i].shape, out.shape),
            dout=cotangent,
            numeric=numeric if out.ndim >= 1 else None))
    _raise_if_failed(reports, label)

    second = analytic()
    changed = [names[i] for i, g1, g2 in zip(checked, first, second)
               if not (g1 is None and g2 is None) and
               (g1 is None or g2 is None or not np.array_equal(g1, g2))]
    if changed:
        raise GradientCheckError(
            f"Gradient check of {label} failed.\n"
            f"Running {label} and backward again on new leaves gave a different gradient for "
            f"{', '.join(repr(n) for n in changed)}.\n"
            "Diagnosis: accumulated twice: something keeps a gradient between calls (a class "
            "attribute or a global that backward adds into). Compute each gradient afresh.",
            [{"key": "accumulated_twice", "input": n} for n in changed])
    return True


# ---- graded test cells -------------------------------------------------------------------

def _as_float64(value, what, error=CheckError):
    """value as a new plain float64 ndarray; a clear error for anything that is not numbers.

    np.asarray returns a base-class ndarray, so subclasses and look-alike objects that
    redefine comparison lose their methods here, before anything is compared.
    """
    if value is None:
        raise error(f"{what} is None: did the function forget to `return` its result?")
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            if array.dtype.kind != "O":
                raise TypeError(f"dtype {array.dtype}")
            array = array.astype(np.float64)
        return np.array(array, dtype=np.float64)
    except Exception as exc:
        raise error(f"{what} should be an array of real numbers, got {type(value).__name__} "
                    f"({exc}).") from None


def assert_close(actual, expected, name="value", rtol=1e-5, atol=1e-8):
    """Assert that actual equals expected up to rounding, with a message that helps.

    Inputs:
    - actual: what the student's code produced (array, number, list or Tensor).
    - expected: the reference value.
    - name: what the value is called in the message (e.g. "dW" or "relu(x)").
    - rtol, atol: an element is right when |actual - expected| <= atol + rtol * |expected|.

    Both are converted to plain float64 arrays first. The shapes must match exactly (no
    broadcasting); the message names the worst element when the values differ.
    Raises CheckError (an AssertionError) on failure.
    """
    got = _as_float64(actual, name)
    want = _as_float64(expected, f"the expected {name}")
    if got.shape != want.shape:
        batch_size = got.shape[0] if got.ndim > want.ndim else None
        raise CheckError(f"{name} has the wrong shape: expected {want.shape}, got {got.shape}.\n"
                         "Hint: " + _shape_hint(got.shape, want.shape, name, batch_size))
    if np.array_equal(got, want):
        return
    nan_in_both = np.isnan(got) & np.isnan(want)
    lines = _value_report(np.where(nan_in_both, 0.0, got), np.where(nan_in_both, 0.0, want),
                          name, rtol, atol, "yours", "expected")
    if lines:
        raise CheckError(f"{name} is not close enough to the expected value.\n" + "\n".join(lines))
