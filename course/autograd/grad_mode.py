"""Grad mode: whether new operations are recorded for backward."""
import functools


class _State:
    enabled = True        # read on every op, so a plain attribute (grad mode is not per thread)


_state = _State()


def is_grad_enabled():
    return _state.enabled


class set_grad_enabled:
    """Turns recording on or off inside a `with` block, or inside a decorated function."""

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self._saved = []

    def __enter__(self):
        self._saved.append(is_grad_enabled())
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._saved.pop()
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class _FixedMode(set_grad_enabled):
    """set_grad_enabled with the mode fixed by the subclass; also usable as a bare decorator."""

    MODE = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if callable(fn):                  # @no_grad without parentheses
            self.__init__()
            return self(fn)
        return self

    def __init__(self, fn=None):
        super().__init__(self.MODE)


class no_grad(_FixedMode):
    """Operations inside are not recorded: for parameter updates and evaluation.

    `with no_grad(): ...`, `@no_grad()` and `@no_grad` all work.
    """

    MODE = False


class enable_grad(_FixedMode):
    """Turns recording back on, e.g. inside a `no_grad` block."""

    MODE = True
