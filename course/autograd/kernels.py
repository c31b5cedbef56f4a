"""Which implementation the ops with two kernels run: "fast" (the default) or "reference".

conv2d, max_pool2d, avg_pool2d, cross_entropy, linear and the matrix product have a
reference kernel that reads like the notebooks (course.autograd.convolution, .losses,
.linalg) and a fast one with the same results (course.autograd.fast_kernels).

    with use_kernels("reference"):
        loss = F.cross_entropy(model(x), y)
"""
KERNELS = ("fast", "reference")


class _Active:
    fast = True        # read on every call of those ops, so a plain attribute


active = _Active()


def active_kernels():
    return "fast" if active.fast else "reference"


class use_kernels:
    """Switch kernels, for a `with` block or (called alone) from now on."""

    def __init__(self, name):
        if name not in KERNELS:
            raise ValueError(f"use_kernels: choose one of {KERNELS}, got {name!r}")
        self._previous = active.fast
        active.fast = name == "fast"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        active.fast = self._previous
        return False
