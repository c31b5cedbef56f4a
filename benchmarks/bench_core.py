"""Times course's core, reference and fast kernels, against PyTorch CPU in the same process.

Run from the repository root with this machine's OpenBLAS overrides unset:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_core.py

Each figure is the best of many repetitions (after a warm-up), float32 throughout: on a
shared, noisy machine the minimum is the most repeatable estimate of what the code costs.
The two sides take turns, in blocks, for a few seconds per case (see best_times).
"""
import argparse
import time

import numpy as np
from _threads import add_threads_option, use_threads

from course.autograd import Tensor, keep_freed_memory, use_kernels
from course.nn import functional as F

try:
    import torch
except ImportError:          # the comparison column is then left empty
    torch = None


def best_times(fns, seconds, block=5):
    """The best time of each function, from blocks of `block` calls taken in turn until
    `seconds` have passed (at least two blocks each). On a shared virtual machine a slow
    spell lasts seconds and slows memory-bound numpy code more than PyTorch's; a run long
    enough to see quiet moments, shared by both sides, gives steady figures. The first
    call of a block is a warm-up (the other framework's worker threads may still be
    spinning when a block starts)."""
    best = [float("inf")] * len(fns)
    end, rounds = time.perf_counter() + seconds, 0
    while rounds < 2 or time.perf_counter() < end:
        for i, fn in enumerate(fns):
            fn()
            for _ in range(block):
                start = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - start)
        rounds += 1
    return best


def conv_case(n, c, hw, f, k, rng):
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    w = (rng.standard_normal((f, c, k, k)) * 0.1).astype(np.float32)
    b = np.zeros(f, dtype=np.float32)
    first_layer = c == 1     # no gradient for the network's input, as in a real first layer

    def ours():
        xt = Tensor(x, requires_grad=not first_layer)
        wt, bt = Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
        F.conv2d(xt, wt, bt).sum().backward()

    def theirs():
        xt = torch.from_numpy(x).requires_grad_(not first_layer)
        wt, bt = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
        torch.nn.functional.conv2d(xt, wt, bt).sum().backward()
    return ours, theirs


def maxpool_case(rng):
    x = rng.standard_normal((64, 32, 24, 24)).astype(np.float32)

    def ours():
        F.max_pool2d(Tensor(x, requires_grad=True), 2).sum().backward()

    def theirs():
        torch.nn.functional.max_pool2d(torch.from_numpy(x).requires_grad_(), 2).sum().backward()
    return ours, theirs


def mlp_step_case(rng):
    x = rng.random((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    shapes = [(128, 784), (128,), (10, 128), (10,)]
    init = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in shapes]
    ours_p = [Tensor(a.copy(), requires_grad=True) for a in init]
    lr = np.float32(0.01)

    def ours():
        w1, b1, w2, b2 = ours_p
        loss = F.cross_entropy(F.linear(F.linear(x, w1, b1).relu(), w2, b2), y)
        for p in ours_p:
            p.grad = None
        loss.backward()
        for p in ours_p:
            p.data -= lr * p.grad.data

    if torch is None:
        return ours, None
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    theirs_p = [torch.tensor(a.copy(), requires_grad=True) for a in init]

    def theirs():
        w1, b1, w2, b2 = theirs_p
        h = torch.relu(torch.nn.functional.linear(tx, w1, b1))
        loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, w2, b2), ty)
        for p in theirs_p:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in theirs_p:
                p -= 0.01 * p.grad
    return ours, theirs


def per_op_case(rng, n_ops=50):
    """A chain of n_ops small ops (mul, add, tanh), forward + backward; reported per op."""
    a = rng.standard_normal((4, 4)).astype(np.float32)
    b = rng.standard_normal((4, 4)).astype(np.float32)

    def chain(x, w):
        for i in range(n_ops // 3):
            x = (x * w + w).tanh()
        return x

    def ours():
        x, w = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
        chain(x, w).sum().backward()

    def theirs():
        x, w = torch.from_numpy(a).requires_grad_(), torch.from_numpy(b).requires_grad_()
        chain(x, w).sum().backward()
    return ours, theirs, 3 * (n_ops // 3) + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="time spent on each case (both sides)")
    add_threads_option(parser)
    args = parser.parse_args()
    use_threads(args.threads)
    keep_freed_memory()          # glibc keeps freed arrays for the next step (opt-in)
    rng = np.random.default_rng(0)
    conv1 = conv_case(64, 1, 28, 32, 5, rng)
    conv2 = conv_case(64, 32, 12, 64, 3, rng)
    chain = per_op_case(rng)
    cases = [
        ("conv2d 1->32 5x5 on 64x1x28x28, fwd+bwd", *conv1, 1, 2.0),
        ("conv2d 32->64 3x3 on 64x32x12x12, fwd+bwd", *conv2, 1, 2.0),
        ("max_pool2d 2x2 on 64x32x24x24, fwd+bwd", *maxpool_case(rng), 1, 1.5),
        ("MLP 784-128-10 step, batch 64", *mlp_step_case(rng), 1, 1.2),
        ("per op, 4x4 tensors, fwd+bwd", chain[0], chain[1], chain[2], 1.5),
    ]
    print(f"numpy {np.__version__}" + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
                                       if torch is not None else ", torch not installed"))
    print(f"{'case':45s} {'reference':>11s} {'fast':>11s} {'pytorch':>11s} {'ref/pt':>7s} "
          f"{'fast/pt':>7s} {'target':>7s}")
    for name, ours, theirs, per, target in cases:
        # The same function under each kernel set, all timed in turn in this process.
        fns = [in_kernels("reference", ours), in_kernels("fast", ours)]
        if torch is not None and theirs:
            fns.append(theirs)
        times = [t / per for t in best_times(fns, args.seconds)]
        unit, scale = ("us", 1e6) if times[1] < 1e-3 else ("ms", 1e3)
        cells = [f"{t * scale:8.2f} {unit}" for t in times] + ["       -   "] * (3 - len(times))
        ratios = [f"{t / times[2]:6.2f}x" if len(times) > 2 else "     - " for t in times[:2]]
        print(f"{name:45s} {' '.join(cells)} {' '.join(ratios)} {target:6.1f}x")


def in_kernels(name, fn):
    def run():
        with use_kernels(name):
            fn()
    return run

if __name__ == "__main__":
    main()
