"""Trains module 05's CNN with course and with PyTorch CPU in the same run, and prints the ratios.

Run from the repository root with this machine's OpenBLAS overrides unset:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_cnn.py

Both frameworks train the same network (conv 16 3x3 - ReLU - max-pool 2 - conv 32 3x3 - ReLU -
max-pool 2 - linear), from the same initial weights, on the same mini-batches in the same order,
with the same hyper-parameters (SGD, momentum 0.9, weight decay 1e-3, cosine learning rate),
float32 throughout. Their epochs alternate, so that both see the same load on a shared machine;
the figure per framework is the median epoch. Two data sets:

- digits: scikit-learn's 8x8 digits (1,437 training, 360 test images), as in the notebook;
- 28x28: the real MNIST test set from ../shared/data/mnist (8,000 images to train on, 2,000 to
  test), or, when it is absent, the digits scaled up to 28x28 (a synthetic stand-in).

Peak memory of the course run is measured in a child process that never imports torch: its peak
resident set (Python and the data included), and tracemalloc's peak of the memory
allocated during one more epoch and the evaluation.
`--profile` adds cProfile's view of one course epoch on each data set.
"""
import argparse
import cProfile
import io
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _threads import add_threads_option, use_threads

from course import nn, optim
from course.autograd import Tensor, keep_freed_memory, manual_seed, no_grad, use_kernels
from course.data import MNISTNotFoundError, digits, mnist
from course.nn import functional as F

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
SETTINGS = {  # epochs, batch size, learning rate
    "digits": (15, 32, 0.1),
    "28x28": (3, 64, 0.05),
}


# ---- data --------------------------------------------------------------------------------------

def standardised(x_train, y_train, x_test, y_test):
    mean, std = x_train.mean(), x_train.std()
    return ((x_train - mean) / std).astype(np.float32), y_train, ((x_test - mean) / std).astype(np.float32), y_test


def load(name):
    """(x_train, y_train, x_test, y_test, description) of a data set, standardised float32 NCHW."""
    if name == "digits":
        d = digits()
        return (*standardised(d.x_train, d.y_train, d.x_test, d.y_test), "scikit-learn digits 8x8")
    try:
        x, y = mnist(path=SHARED_MNIST, split="test")
        return (*standardised(x[:8000], y[:8000], x[8000:], y[8000:]),
                f"MNIST test set 28x28 from {SHARED_MNIST} (8,000 train / 2,000 test)")
    except MNISTNotFoundError:
        d = digits()
        rows = np.arange(28) * 8 // 28                     # nearest-neighbour upscaling 8 -> 28
        grow = lambda images: images[:, :, rows][:, :, :, rows]
        return (*standardised(grow(d.x_train), d.y_train, grow(d.x_test), d.y_test),
                "synthetic 28x28: the digits scaled up (MNIST not found)")


def batch_orders(n, epochs, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def learning_rate(lr, epoch, epochs):
    return lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))


# ---- the two implementations -------------------------------------------------------------------

def course_cnn(image_size):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (image_size // 4) ** 2, 10))


def torch_cnn(image_size, state):
    import torch

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * (image_size // 4) ** 2, 10))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(torch.from_numpy(state[name]))
    return model


class CourseRun:
    kernels = "fast"

    def __init__(self, data, state, batch_size, lr):
        self.x_train, self.y_train, self.x_test, self.y_test = data
        self.model = course_cnn(self.x_train.shape[-1])
        self.model.load_state_dict(state)
        self.optimizer = optim.SGD(self.model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
        self.batch_size = batch_size

    def epoch(self, order, lr):
        with use_kernels(self.kernels):
            self._epoch(order, lr)

    def _epoch(self, order, lr):
        self.optimizer.lr = lr
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            loss = F.cross_entropy(self.model(Tensor(self.x_train[idx])), self.y_train[idx])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def accuracy(self):
        with no_grad():
            scores = np.concatenate([self.model(Tensor(self.x_test[i:i + 1000])).data
                                     for i in range(0, len(self.x_test), 1000)])
        return float((scores.argmax(axis=1) == self.y_test).mean())


class ReferenceRun(CourseRun):
    """course with its reference kernels (the code of the notebooks)."""

    kernels = "reference"


class TorchRun:
    def __init__(self, data, state, batch_size, lr):
        import torch

        self.torch = torch
        self.x_train, self.y_train, self.x_test, self.y_test = data
        self.model = torch_cnn(self.x_train.shape[-1], state)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
        self.batch_size = batch_size

    def epoch(self, order, lr):
        torch = self.torch
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            loss = torch.nn.functional.cross_entropy(self.model(torch.from_numpy(self.x_train[idx])),
                                                     torch.from_numpy(self.y_train[idx]))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def accuracy(self):
        with self.torch.no_grad():
            scores = self.model(self.torch.from_numpy(self.x_test)).numpy()
        return float((scores.argmax(axis=1) == self.y_test).mean())


def initial_state(image_size, seed=0):
    manual_seed(seed)
    return course_cnn(image_size).state_dict()


# ---- measurements ------------------------------------------------------------------------------

def compare(name, with_torch=True, with_reference=True):
    """Train with each, epochs interleaved; returns a dict of the figures."""
    *data, description = load(name)
    epochs, batch_size, lr = SETTINGS[name]
    state = initial_state(data[0].shape[-1])
    runs = {"course": CourseRun(data, state, batch_size, lr)}
    if with_reference:
        runs["reference"] = ReferenceRun(data, state, batch_size, lr)
    if with_torch:
        runs["torch"] = TorchRun(data, state, batch_size, lr)
    seconds = {framework: [] for framework in runs}
    for epoch, order in enumerate(batch_orders(len(data[0]), epochs)):
        for framework, run in runs.items():
            started = time.perf_counter()
            run.epoch(order, learning_rate(lr, epoch, epochs))
            seconds[framework].append(time.perf_counter() - started)
    result = {"data": description, "epochs": epochs, "train images": len(data[0])}
    for framework, run in runs.items():
        result[f"{framework} s/epoch"] = statistics.median(seconds[framework])
        result[f"{framework} accuracy"] = run.accuracy()
    return result


def peak_resident_bytes():
    """Peak resident set of this process. On Linux VmHWM, because ru_maxrss of a child process
    starts from its parent's resident set at fork (here: a parent that has imported torch)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024      # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def memory_probe(name):
    """Train with course alone (this process never imports torch); print peak memory as JSON.

    First the whole training run untraced, for the peak resident set; then one more epoch and
    the evaluation under tracemalloc, whose own bookkeeping would inflate the resident set.
    """
    *data, _ = load(name)
    epochs, batch_size, lr = SETTINGS[name]
    keep_freed_memory()
    run = CourseRun(data, initial_state(data[0].shape[-1]), batch_size, lr)
    orders = batch_orders(len(data[0]), epochs)
    for epoch, order in enumerate(orders):
        run.epoch(order, learning_rate(lr, epoch, epochs))
    run.accuracy()
    rss_peak = peak_resident_bytes()
    tracemalloc.start()
    run.epoch(orders[0], learning_rate(lr, epochs - 1, epochs))
    run.accuracy()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"rss peak MB": rss_peak / 1e6, "traced peak MB": traced_peak / 1e6}))


def course_memory(name):
    out = subprocess.run([sys.executable, __file__, "--memory-probe", name],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def profile_one_epoch(name, top=12):
    *data, _ = load(name)
    epochs, batch_size, lr = SETTINGS[name]
    run = CourseRun(data, initial_state(data[0].shape[-1]), batch_size, lr)
    order = batch_orders(len(data[0]), 1)[0]
    run.epoch(order, lr)                      # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    run.epoch(order, lr)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=list(SETTINGS), nargs="*", default=list(SETTINGS))
    parser.add_argument("--profile", action="store_true", help="cProfile one course epoch per data set")
    parser.add_argument("--reference", choices=["digits", "all", "none"], default="digits",
                        help="also train with the reference kernels: on the digits only (default), "
                             "on every data set, or never")
    add_threads_option(parser)
    parser.add_argument("--memory-probe", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return

    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: course alone is timed.\n")
    use_threads(args.threads)
    keep_freed_memory()          # glibc keeps freed arrays for the next step (opt-in)
    if torch is not None:
        print(f"PyTorch {torch.__version__} and numpy {np.__version__}, {args.threads} thread(s) each\n")

    for name in args.data:
        with_reference = args.reference == "all" or args.reference == name
        result = compare(name, with_torch=torch is not None, with_reference=with_reference)
        memory = course_memory(name)
        print(f"== {name}: {result['data']}, {result['epochs']} epochs")
        print(f"   course  {result['course s/epoch']:8.3f} s/epoch   test accuracy {result['course accuracy']:.2%}"
              "   (fast kernels, the default)")
        if with_reference:
            print(f"   course  {result['reference s/epoch']:8.3f} s/epoch   test accuracy "
                  f"{result['reference accuracy']:.2%}   (reference kernels)")
        if torch is not None:
            ratio = result["course s/epoch"] / result["torch s/epoch"]
            points = 100 * (result["course accuracy"] - result["torch accuracy"])
            print(f"   torch   {result['torch s/epoch']:8.3f} s/epoch   test accuracy {result['torch accuracy']:.2%}")
            print(f"   course / torch time per epoch: {ratio:.2f}   accuracy difference: {points:+.2f} points")
            if with_reference:
                print(f"   reference / torch time per epoch: "
                      f"{result['reference s/epoch'] / result['torch s/epoch']:.2f}")
        print(f"   course run peak memory: {memory['rss peak MB']:.0f} MB resident (whole process, no torch), "
              f"{memory['traced peak MB']:.1f} MB allocated during an epoch (tracemalloc)\n")
        if args.profile:
            print(profile_one_epoch(name))


if __name__ == "__main__":
    main()
