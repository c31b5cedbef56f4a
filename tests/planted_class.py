"""A generated class of module 03 for the class report: submissions written in several styles,
planted copies and planted gradient mistakes, with the grader's result files written directly.

Each solution cell of 03_backprop has STYLES: style 0 is the instructor's solution (read from the
source notebook), styles 1 to 3 are other correct ways students write it (loops, np.dot, where,
another order of lines). A student is a choice of style per cell; `submission(...)` puts those
bodies into the release's template, as a student would. `disguise(...)` turns a submission into
a copy that hides: variables renamed, comments added, functions reordered, reformatted.
"""
from __future__ import annotations

import ast
import json
import random
import re
import textwrap
from pathlib import Path

import nbformat

from autograder.model import load_source

ROOT = Path(__file__).resolve().parents[1]
MODULE = "03_backprop"
STUB = re.compile(r"^( *)# YOUR CODE HERE\n\1raise NotImplementedError\(.*\)$", re.M)

# Other correct ways to write each cell: one body per function of the cell, in order.
OTHER_STYLES = {
    "linear": [
        ["out = np.dot(x, W.T) + b[None, :]\ncache = (x, W, b)",
         "x, W, _ = cache\ndx = np.dot(dout, W)\ndW = np.dot(dout.T, x)\ndb = np.sum(dout, axis=0)"],
        ["n = x.shape[0]\nout = np.zeros((n, W.shape[0]))\nfor i in range(n):\n    out[i] = W @ x[i] + b\n"
         "cache = x, W",
         "x, W = cache\ndx = np.zeros_like(x)\ndW = np.zeros_like(W)\ndb = np.zeros(W.shape[0])\n"
         "for i in range(x.shape[0]):\n    dx[i] = W.T @ dout[i]\n    dW += np.outer(dout[i], x[i])\n"
         "    db += dout[i]"],
        ["out = np.einsum('nd,od->no', x, W) + b\ncache = {'x': x, 'W': W}",
         "dx = np.einsum('no,od->nd', dout, cache['W'])\ndW = np.einsum('no,nd->od', dout, cache['x'])\n"
         "db = dout.sum(0)"],
    ],
    "relu": [
        ["mask = s >= 0\nout = np.where(mask, s, 0.0)\ncache = mask", "ds = np.where(cache, dout, 0.0)"],
        ["out = s.copy()\nout[out < 0] = 0\ncache = s", "ds = dout.copy()\nds[cache < 0] = 0\nds = ds * 1.0"],
        ["out = s * (s > 0)\ncache = (s >= 0).astype(float)", "ds = cache * dout"],
    ],
    "sigmoid": [
        ["out = 1 / (1 + np.exp(-np.clip(s, -700, 700)))\ncache = (s, out)", "_, sig = cache\nds = dout * sig - dout * sig ** 2"],
        ["out = np.empty_like(s, dtype=float)\npos = s >= 0\nout[pos] = 1 / (1 + np.exp(-s[pos]))\n"
         "z = np.exp(s[~pos])\nout[~pos] = z / (1 + z)\ncache = out",
         "local = cache * (1 - cache)\nds = local * dout"],
        ["t = np.exp(-np.logaddexp(0, -s))\nout = t\ncache = t.copy()", "p = cache\nds = p * (1 - p) * dout"],
    ],
    "tanh": [
        ["out = np.tanh(s)\ncache = s", "ds = dout / np.cosh(cache) ** 2"],
        ["e2 = np.exp(-2 * np.abs(s))\nout = np.sign(s) * (1 - e2) / (1 + e2)\ncache = out",
         "ds = dout - dout * cache * cache"],
        ["out = 2 / (1 + np.exp(-2 * np.clip(s, -50, 50))) - 1\ncache = {'t': out}",
         "t = cache['t']\nlocal = 1 - t * t\nds = local * dout"],
    ],
    "mse": [
        ["n = len(y_hat)\nloss = np.mean(np.sum((y_hat - y) ** 2, axis=1)) / 2\ncache = (y_hat, y)",
         "y_hat, y = cache\ndy_hat = dout * (y_hat - y) / len(y_hat)"],
        ["total = 0.0\nfor row_hat, row in zip(y_hat, y):\n    total += 0.5 * np.dot(row_hat - row, row_hat - row)\n"
         "loss = np.array(total / y_hat.shape[0])\ncache = (y_hat - y, y_hat.shape[0])",
         "residual, count = cache\ndy_hat = residual * (dout / count)"],
        ["err = (y_hat - y).ravel()\nloss = err @ err / (2 * y_hat.shape[0])\ncache = (y_hat - y)",
         "dy_hat = cache * dout\ndy_hat = dy_hat / cache.shape[0]"],
    ],
    "softmax_ce": [
        ["m = np.max(scores, axis=1, keepdims=True)\nexps = np.exp(scores - m)\n"
         "probs = exps / np.sum(exps, axis=1, keepdims=True)\nN = scores.shape[0]\n"
         "logsum = m[:, 0] + np.log(np.sum(exps, axis=1))\nloss = np.mean(logsum - scores[np.arange(N), y])\n"
         "cache = (probs, y, N)",
         "probs, y, N = cache\ngrad = probs.copy()\ngrad[np.arange(N), y] = grad[np.arange(N), y] - 1\n"
         "dscores = grad * dout / N"],
        ["N, K = scores.shape\nlosses = np.zeros(N)\nprobs = np.zeros((N, K))\nfor i in range(N):\n"
         "    z = scores[i] - scores[i].max()\n    p = np.exp(z) / np.exp(z).sum()\n    probs[i] = p\n"
         "    losses[i] = -(z[y[i]] - np.log(np.exp(z).sum()))\nloss = losses.mean()\ncache = probs, y",
         "probs, y = cache\nN = len(y)\ndscores = np.zeros_like(probs)\nfor i in range(N):\n"
         "    dscores[i] = probs[i]\n    dscores[i, y[i]] -= 1\ndscores = dscores * (dout / N)"],
        ["one_hot = np.eye(scores.shape[1])[y]\nshift = scores - scores.max(axis=1)[:, None]\n"
         "log_probs = shift - np.log(np.exp(shift).sum(axis=1))[:, None]\n"
         "loss = -(one_hot * log_probs).sum() / len(scores)\ncache = (np.exp(log_probs), one_hot)",
         "probs, one_hot = cache\ndscores = dout * (probs - one_hot) / probs.shape[0]"],
    ],
    "mlp_backward": [
        ["L = len(cache)\ngrads = []\ngrad = dscores\nfor layer in range(L - 1, -1, -1):\n"
         "    x_prev, s, W = cache[layer]\n    if layer < L - 1:\n        grad = grad * sigma_prime(s)\n"
         "    grads.insert(0, (grad.T @ x_prev, grad.sum(axis=0)))\n    grad = grad @ W\ndx = grad"],
        ["x_prev, s, W = cache[-1]\ndelta = dscores\ngrads = [(delta.T @ x_prev, delta.sum(axis=0))]\n"
         "upstream = delta @ W\nfor x_prev, s, W in reversed(cache[:-1]):\n"
         "    delta = upstream * sigma_prime(s)\n    grads.append((np.dot(delta.T, x_prev), np.sum(delta, axis=0)))\n"
         "    upstream = np.dot(delta, W)\ngrads = grads[::-1]\ndx = upstream"],
        ["grads = [None for _ in cache]\nl = len(cache) - 1\ng = dscores\nwhile l >= 0:\n"
         "    xp, s, W = cache[l]\n    ds = g if l == len(cache) - 1 else g * sigma_prime(s)\n"
         "    grads[l] = (np.einsum('ni,nj->ij', ds, xp), ds.sum(0))\n    g = ds @ W\n    l -= 1\ndx = g"],
    ],
    "train_mlp": [
        ["for i in range(len(params)):\n    params[i][0][...] -= lr * grads[i][0]\n"
         "    params[i][1][...] -= lr * grads[i][1]",
         "gen = np.random.default_rng(seed)\nhistory = []\nn = len(x)\nfor epoch in range(epochs):\n"
         "    perm = gen.permutation(n)\n    start = 0\n    while start < n:\n"
         "        idx = perm[start:start + batch_size]\n        l, g = loss_and_grads(params, x[idx], y[idx])\n"
         "        sgd_step(params, g, lr)\n        history.append(float(l))\n        start += batch_size\n"
         "return history"],
        ["for p, g in zip(params, grads):\n    for value, step in zip(p, g):\n        value -= lr * step",
         "rng = np.random.default_rng(seed)\nlosses = []\nfor _ in range(epochs):\n"
         "    shuffled = rng.permutation(len(x))\n    batches = [shuffled[i:i + batch_size] for i in "
         "range(0, len(x), batch_size)]\n    for b in batches:\n        value, g = loss_and_grads(params, x[b], y[b])\n"
         "        losses.append(float(value))\n        sgd_step(params, g, lr)\nreturn losses"],
        ["for layer in range(len(params)):\n    W, b = params[layer]\n    dW, db = grads[layer]\n"
         "    np.subtract(W, lr * dW, out=W)\n    np.subtract(b, lr * db, out=b)",
         "generator = np.random.default_rng(seed)\nout = []\nepoch = 0\nwhile epoch < epochs:\n"
         "    order = generator.permutation(len(x))\n    for k in range(int(np.ceil(len(x) / batch_size))):\n"
         "        chosen = order[k * batch_size:(k + 1) * batch_size]\n"
         "        loss, grads = loss_and_grads(params, x[chosen], y[chosen])\n        sgd_step(params, grads, lr)\n"
         "        out.append(float(loss))\n    epoch += 1\nreturn out"],
    ],
    "init_weights": [
        ["if scheme == 'xavier':\n    gain = 2.0\nelif scheme == 'he':\n    gain = None\nelse:\n"
         "    raise ValueError('unknown scheme ' + repr(scheme))\nparams = []\nfor i in range(len(sizes) - 1):\n"
         "    fan_in, fan_out = sizes[i], sizes[i + 1]\n"
         "    var = 2.0 / (fan_in + fan_out) if gain else 2.0 / fan_in\n"
         "    params.append((rng.normal(0.0, np.sqrt(var), (fan_out, fan_in)), np.zeros(fan_out)))"],
        ["variance = {'xavier': lambda a, b: 2 / (a + b), 'he': lambda a, b: 2 / a}\n"
         "if scheme not in variance:\n    raise ValueError(f'no such scheme: {scheme}')\n"
         "params = [(rng.standard_normal((b, a)) * variance[scheme](a, b) ** 0.5, np.zeros(b))\n"
         "          for a, b in zip(sizes, sizes[1:])]"],
        ["assert_ok = scheme in ['xavier', 'he']\nif not assert_ok:\n    raise ValueError(scheme)\n"
         "params = list()\nfor d_in, d_out in zip(sizes[:-1], sizes[1:]):\n"
         "    scale = np.sqrt(2 / d_in) if scheme == 'he' else np.sqrt(2 / (d_in + d_out))\n"
         "    W = scale * rng.standard_normal(size=(d_out, d_in))\n    params.append((W, np.zeros(d_out, dtype=float)))"],
    ],
}
CELLS = list(OTHER_STYLES)


def release_notebook(root: Path = ROOT):
    return nbformat.read(root / "assignments" / MODULE / f"{MODULE}.ipynb", as_version=4)


def instructor_bodies(root: Path = ROOT) -> dict[str, list[str]]:
    """cell -> the instructor's solution regions, dedented, one per function."""
    source = nbformat.read(root / "solutions" / MODULE / f"{MODULE}.ipynb", as_version=4)
    bodies = {}
    for cell in source.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in OTHER_STYLES:
            regions = re.findall(r"### BEGIN SOLUTION\n(.*?)\n *### END SOLUTION", cell.source, re.S)
            bodies[grade_id] = [textwrap.dedent(region) for region in regions]
    return bodies


def styles(root: Path = ROOT) -> dict[str, list[list[str]]]:
    """cell -> its styles; style 0 is the instructor's."""
    instructor = instructor_bodies(root)
    return {cell: [instructor[cell]] + OTHER_STYLES[cell] for cell in CELLS}


def fill(template: str, bodies: list[str]) -> str:
    """The template cell with each `# YOUR CODE HERE / raise NotImplementedError` stub replaced."""
    parts = iter(bodies)

    def replace(match):
        return textwrap.indent(next(parts), match.group(1))
    return STUB.sub(replace, template)


def submission(release, cells: dict[str, str]):
    """A copy of the release notebook whose solution cells hold `cells` (grade_id -> code)."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
    return nb


def student_cells(release, all_styles, choice: dict[str, int], replace: dict | None = None) -> dict[str, str]:
    """grade_id -> the filled template for a choice of style per cell (replace: grade_id -> bodies)."""
    templates = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    replace = replace or {}
    return {cell: fill(templates[cell], replace.get(cell) or all_styles[cell][choice[cell]]) for cell in CELLS}


class _Rename(ast.NodeTransformer):
    def __init__(self, names):
        self.names = names

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.names.get(node.arg, node.arg)
        return node


def disguise(code: str, seed: int) -> str:
    """The cell as a copier hands it in: local variables renamed (parameters stay, tests pass some
    by name), functions in the other order, a comment on each, blank lines and spacing changed."""
    tree = ast.parse(code)
    parameters = {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}    # tests pass y=...
    local = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    names = {name: f"my_{name.lower()}_{seed}" for name in sorted(local - parameters)}
    _Rename(names).visit(tree)
    functions = [ast.unparse(node) for node in tree.body][::-1]
    commented = [f"# my own version ({seed})\n" + text.replace(" = ", " =  ").replace(", ", " , ")
                 for text in functions]
    return "\n\n\n".join(commented) + "\n"


def result_file(student: str, source_tests, outcome: dict) -> dict:
    """A result as the grader writes it. outcome: cell_id -> (status, failed_part, mistakes)."""
    tests = []
    for test in source_tests:
        status, part, mistakes = outcome.get(test.cell_id, ("passed", None, []))
        tests.append({"cell_id": test.cell_id, "points": test.points,
                      "score": test.points if status == "passed" else 0.0, "status": status,
                      "error": "" if status == "passed" else "AssertionError: planted", "output": "",
                      "failed_part": part, "hints": [], "has_hidden": bool(test.hidden),
                      "mistakes": mistakes})
    return {"status": "graded", "error": "", "score": float(sum(t["score"] for t in tests)),
            "max_score": float(sum(t.points for t in source_tests)), "tests": tests, "cells": [],
            "deaths": [], "flags": [], "notes": [], "student": student, "assignment": MODULE,
            "notebook": MODULE}


def spread_choices(count: int, rng: random.Random, most_shared: int = len(CELLS) // 3,
                   tries: int = 20000) -> list[dict]:
    """`count` style choices that pairwise agree on at most `most_shared` cells (a third; and with
    the instructor's, style 0 everywhere, too): independent students of different styles."""
    chosen = [{cell: 0 for cell in CELLS}]
    for _ in range(tries):
        if len(chosen) == count + 1:
            break
        candidate = {cell: rng.randrange(4) for cell in CELLS}
        if all(sum(candidate[c] == other[c] for c in CELLS) <= most_shared for other in chosen):
            chosen.append(candidate)
    if len(chosen) < count + 1:
        raise RuntimeError(f"found only {len(chosen) - 1} style choices that differ enough")
    return chosen[1:]


def write_course(base: Path, root: Path = ROOT) -> Path:
    """A course folder: the module's source and release, nothing submitted yet."""
    import shutil

    course = base / "course"
    for folder in ("solutions", "assignments"):
        (course / folder / MODULE).mkdir(parents=True)
        shutil.copy(root / folder / MODULE / f"{MODULE}.ipynb", course / folder / MODULE)
    return course


def hand_in(course: Path, student: str, nb, result: dict | None = None) -> None:
    folder = course / "submitted" / student / MODULE
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{MODULE}.ipynb")
    if result is not None:
        target = course / "autograded" / student / MODULE / f"{MODULE}.result.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=1))


# What random_class plants: a mistake per test, drawn from the ones that test can diagnose.
RANDOM_MISTAKES = {"test_linear": ["transposed", "mean_instead_of_sum", "not_summed_over_batch"],
                   "test_relu": ["never_computed"], "test_sigmoid": ["sign_flipped", "factor_half"],
                   "test_tanh": ["factor_2"], "test_mse": ["ignored_upstream", "not_divided_by_batch"],
                   "test_softmax_ce": ["sign_flipped", "not_divided_by_batch"],
                   "test_mlp_backward": ["transposed", "not_summed_over_batch", "accumulated_twice"]}


PERSONAL = ["checked = True", "eps = 1e-12", "scale = 1.0", "debug = False", "count = 0", "tol = 1e-9"]


def own_bodies(cell_styles: list[list[str]], rng: random.Random) -> list[str]:
    """A style per function (not per cell), and now and then a line of the student's own."""
    bodies = []
    for function in range(len(cell_styles[0])):
        body = rng.choice(cell_styles)[function]
        if rng.random() < 0.5:
            body = rng.choice(PERSONAL) + "\n" + body
        bodies.append(body)
    return bodies


def random_class(course: Path, n: int, seed: int = 0) -> list[str]:
    """n submissions with results: a style per function (sometimes with a line of the student's
    own), one in twenty a disguised copy of a classmate, random test outcomes and mistakes.
    Returns the planted copies as 'copier:original'."""
    rng = random.Random(seed)
    release = release_notebook()
    all_styles = styles()
    tests = load_source(ROOT / "solutions" / MODULE / f"{MODULE}.ipynb").tests
    written, copies = {}, []
    for i in range(n):
        student = f"student{i:03d}"
        if written and rng.random() < 0.05:
            original = rng.choice(sorted(written))
            cells = {k: disguise(v, i) for k, v in written[original].items()}
            copies.append(f"{student}:{original}")
        else:
            cells = student_cells(release, all_styles, {}, {c: own_bodies(all_styles[c], rng) for c in CELLS})
        outcome = {}
        for test in tests:
            if rng.random() < 0.2:
                keys = RANDOM_MISTAKES.get(test.cell_id, [])
                mistakes = [{"key": rng.choice(keys), "input": "x"}] if keys and rng.random() < 0.7 else []
                outcome[test.cell_id] = ("failed", rng.choice(["visible", "hidden"]), mistakes)
        hand_in(course, student, submission(release, cells), result_file(student, tests, outcome))
        written[student] = cells
    return copies
