"""Showing a playground exactly once per notebook cell."""


class ShowsOnce:
    """Mixin for objects with a `widget`: `show()` displays it, and IPython's own display of
    the cell's value is skipped when the playground function already displayed it."""

    _shown_in = None

    def show(self):
        """Display the playground in the notebook."""
        from IPython.display import display

        display(self.widget)

    def _ipython_display_(self):
        count = _execution_count()
        if self._shown_in is not None and self._shown_in == count:
            return
        self._shown_in = count
        self.show()


def _execution_count():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.execution_count
