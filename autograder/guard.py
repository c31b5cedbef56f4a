"""Defences used inside the grading kernel, so that student code cannot fake a passing test.

Student code and the tests run in one process (tests call the student's functions), so the
defences are layered; each is built before any student code runs:

1. `install_audit_hook`: a PEP 578 audit hook (it cannot be removed) refuses, for the rest of the
   process's life, what only an attack needs: frame access (sys._getframe, tracebacks' and
   generators' frames: no reading a test's expected values or the harness's state), gc object
   walks, ctypes, tracing/profiling, fork/exec/subprocess, sockets, and replacing a function's code.
   Threads and signal handlers are disabled too (they could undo a patch after a check).
2. Trusted references: test cells run in a fresh namespace whose numpy, math, builtins and course
   checkers are private copies made at start-up, with the comparisons (np.allclose, np.isclose,
   np.array_equal, np.testing.assert_*) reimplemented on numpy's C ufuncs. Patching the real
   modules, even deep inside numpy, does not change what a test cell calls.
3. Value screening: every value a test compares, truth-tests, or passes to a checker goes through
   `Screen`: ndarray subclasses are reduced to plain arrays, objects whose class defines its own
   comparison/arithmetic/conversion dunders (a lying `__eq__`) are refused, and the refusal fails
   the check and is recorded.
4. `Snapshot`: after every step the protected modules' dictionaries (numpy, course, builtins, math,
   operator, the checkers) are compared with the start-up snapshot; a change is tampering: it is
   flagged, zeroes the test cell it happened in, and is undone.
"""
from __future__ import annotations

import ast
import builtins
import math
import operator
import sys
import types

import numpy as np

# The functions of this module look builtins up in a private copy taken at import time (before
# any student code), so that replacing builtins.set or builtins.type cannot change how they work.
__builtins__ = dict(vars(builtins))


def sealed(source: str, names: dict) -> dict:
    """Run source in a namespace of its own (names, and a private copy of builtins).

    Objects that student code can reach (sys.stdout while capturing, the stubs that replace
    signal and thread functions) are defined this way: their functions' __globals__ lead nowhere.
    """
    namespace = {"__builtins__": dict(vars(builtins)), **names}
    exec(compile(source, "<autograder>", "exec"), namespace)
    return namespace

STUDENT_FILES = ("<student", "<setup", "<test")
# Pure-Python modules whose functions decide verdicts: test cells get copies of their functions
# bound to private globals. (Other course modules keep their functions: they hold state, such as
# the random generator that manual_seed replaces.)
CHECKER_MODULES = ("course.gradcheck", "course.checks")
# Methods through which an object can agree with any expected value (it sees the other operand,
# or its result feeds one of those). A student class defining one is not trusted by checks;
# __len__, __iter__ or __getitem__ can only return values the student chose, so they are allowed.
VALUE_DUNDERS = frozenset(
    "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __bool__ __float__ __int__ __index__ "
    "__complex__ __abs__ __round__ __neg__ __pos__ __invert__ __add__ __radd__ __sub__ __rsub__ "
    "__mul__ __rmul__ __truediv__ __rtruediv__ __floordiv__ __rfloordiv__ __mod__ __rmod__ "
    "__pow__ __rpow__ __matmul__ __rmatmul__ __and__ __rand__ __or__ __ror__ __xor__ __rxor__ "
    "__array__ __array_ufunc__ __array_function__ __array_interface__ __array_struct__ "
    "__array_priority__ __contains__ __getattr__ __getattribute__ __class__ __instancecheck__ "
    "__subclasscheck__".split())


class UntrustedValue(AssertionError):
    """A test met a value it cannot trust (e.g. an object whose __eq__ is the student's)."""


class Blocked(PermissionError):
    """An operation the grading kernel does not allow."""


# ---------------------------------------------------------------------------------------------
# 1. the audit hook

_FRAME_ATTRS = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "gi_code"}
_CODE_ATTRS = {"__code__"}   # defaults of protected functions are watched by Snapshot instead
_BLOCKED_PREFIXES = ("ctypes.", "gc.get_", "sys._getframe", "sys._current_frames", "sys.settrace",
                     "sys.setprofile", "os.fork", "os.forkpty", "os.system", "os.posix_spawn",
                     "os.spawn", "os.exec", "subprocess.", "socket.", "pty.", "os.kill", "os.killpg",
                     "sys.remote_exec", "cpython.remote_debugger", "_posixsubprocess",
                     "os.startfile")


# Library functions that look at a frame and return only a name, never the frame: allowed. The
# standard library's entries are how typing, namedtuple and the Enum call API learn their caller's
# module on Python 3.10 and 3.11 (3.12 asks sys._getframemodulename, below); a name missing in the
# running version is skipped.
ALLOWED_FRAME_USERS = [("typing", "_caller"), ("typing", "_allow_reckless_class_checks"),
                       ("typing", "TypeVar.__init__"), ("typing", "ParamSpec.__init__"),
                       ("typing", "NamedTuple"), ("typing", "TypedDict"),
                       ("collections", "namedtuple"), ("enum", "EnumMeta._create_"),
                       ("matplotlib._api", "warn_external")]
# Audit events that hand out a name, never a frame: sys._getframemodulename (Python 3.12+, which
# typing, namedtuple, dataclasses and enum call for every honest student) is neither refused nor
# flagged, although its name starts like sys._getframe's.
NAME_ONLY_EVENTS = frozenset({"sys._getframemodulename"})


def install_audit_hook(report) -> None:
    """Refuse the operations above from now on. report(msg) records each refusal (a flag)."""

    inside = []
    getframe = sys._getframe

    def caller_name():
        inside.append(1)
        try:
            frame = getframe(2)
            return f"{frame.f_code.co_filename}:{frame.f_code.co_name}"
        except Exception:
            return "?"
        finally:
            inside.pop()

    allowed = set()
    for module_name, qualname in ALLOWED_FRAME_USERS:
        target = sys.modules.get(module_name)
        for part in qualname.split(".") if target is not None else []:
            target = getattr(target, part, None)
        if getattr(target, "__code__", None) is not None:
            allowed.add(target.__code__)

    def direct_caller_allowed():
        inside.append(1)
        try:
            return getframe(2).f_code in allowed
        except Exception:
            return False
        finally:
            inside.pop()

    def hook(event, args, _report=report, _prefixes=_BLOCKED_PREFIXES, _Blocked=Blocked,
             _name_only=NAME_ONLY_EVENTS):
        if inside or event in _name_only:
            return
        if event == "sys._getframe" and direct_caller_allowed():
            return
        if event == "open" and args and isinstance(args[0], str) and args[0].startswith("/proc/") \
                and args[0].rstrip("/").endswith(("/mem", "/environ", "/fd", "/maps")):
            _report(f"blocked opening {args[0]}")
            raise _Blocked(f"opening {args[0]} is not allowed while grading")
        if event.startswith(_prefixes):
            _report(f"blocked {event} (from {caller_name()})")
            raise _Blocked(f"{event} is not allowed while grading")
        if event == "object.__getattr__" and len(args) > 1 and args[1] in _FRAME_ATTRS:
            _report("blocked access to a frame")
            raise _Blocked("frame access is not allowed while grading")
        if event == "object.__setattr__" and len(args) > 1 and args[1] in _CODE_ATTRS:
            _report(f"blocked setting {args[1]} of {getattr(args[0], '__qualname__', '?')}")
            raise _Blocked(f"setting {args[1]} is not allowed while grading")
        if event == "object.__delattr__" and len(args) > 1 and args[1] in _CODE_ATTRS:
            raise _Blocked(f"deleting {args[1]} is not allowed while grading")

    sys.addaudithook(hook)


def disable_threads_and_signals() -> dict:
    """Make threads and Python signal handlers unavailable; return the originals (for the harness)."""
    import _thread
    import signal
    import threading

    import _signal

    originals = {"signal": _signal.signal, "setitimer": _signal.setitimer, "alarm": _signal.alarm}

    refuse = sealed("def refuse(*args, **kwargs):\n"
                    "    raise Blocked('threads and signal handlers are not allowed while grading')\n",
                    {"Blocked": Blocked})["refuse"]

    for module, names in [(_thread, ["start_new_thread", "start_new", "start_joinable_thread"]),
                          (threading, ["_start_new_thread", "_start_joinable_thread"]),
                          (signal, ["signal", "setitimer", "alarm", "pthread_kill", "set_wakeup_fd",
                                    "siginterrupt", "pthread_sigmask", "raise_signal"])]:
        for name in names:
            if hasattr(module, name):
                setattr(module, name, refuse)
    try:
        for name in ["signal", "setitimer", "alarm", "pthread_kill", "set_wakeup_fd",
                     "siginterrupt", "pthread_sigmask", "raise_signal"]:
            if hasattr(_signal, name):
                setattr(_signal, name, refuse)
    except ImportError:
        pass
    return originals


# ---------------------------------------------------------------------------------------------
# 3. screening values

class Screen:
    """Decides which values a check may use. `notes` collects what it refused or converted."""

    def __init__(self, trusted_types=()):
        self.notes: list[str] = []
        self._ndarray = np.ndarray
        self._generic = np.generic
        self._plain = {bool, int, float, complex, str, bytes, type(None), slice, range, np.dtype,
                       type(Ellipsis)}
        self._trusted = set(trusted_types)      # library classes, e.g. course.autograd.Tensor
        self._view = np.ndarray.view
        self._type = type

    def is_student_class(self, cls) -> bool:
        module = cls.__dict__.get("__module__", "") if isinstance(cls.__dict__, types.MappingProxyType) else ""
        if type(module) is not str:      # e.g. type.__dict__["__module__"] is a descriptor
            return False
        return module in ("__main__", "__student__") or module.startswith("<")

    @staticmethod
    def _origin(attr) -> str:
        """The file a class attribute's code comes from ("" when it has no Python code)."""
        for candidate in (attr, getattr(attr, "__func__", None), getattr(attr, "fget", None)):
            code = getattr(candidate, "__code__", None)
            if code is not None:
                return code.co_filename
        return ""

    def _written_by_student(self, cls, attr) -> bool:
        """Instructor classes (defined in the source's setup cells) may define operators; the
        student's may not, as far as checks are concerned."""
        origin = self._origin(attr)
        if origin:
            return origin.startswith("<student")
        return not any(self._origin(v).startswith("<setup") for v in cls.__dict__.values())

    def reason(self, value, depth=0) -> str | None:
        """Why value cannot be trusted in a check, or None when it can."""
        t = self._type(value)
        if t in self._plain or t is self._ndarray and not value.dtype.hasobject:
            return None
        if t is self._ndarray:
            return "an array of Python objects"
        if t in self._trusted:
            data = getattr(value, "data", None)
            if data is not None and self._type(data) is not self._ndarray and self._type(data) not in self._plain:
                return f"a {t.__name__} whose data is a {self._type(data).__name__}"
            return None
        if self._ndarray in t.__mro__:
            return f"an ndarray subclass ({t.__name__})"
        if self._generic in t.__mro__:
            return None if t.__module__ == "numpy" else f"a numpy scalar subclass ({t.__name__})"
        if t in (list, tuple, set, frozenset, dict):
            if depth > 3:
                return None
            items = value.values() if t is dict else value
            if t is dict:
                why = self._kinds_reason(set(map(type, value)), value, depth)
                if why:
                    return why
            return self._kinds_reason(set(map(type, items)), items, depth)
        return self._class_reason(t)

    def _class_reason(self, t) -> str | None:
        lying = [name for cls in t.__mro__ if cls is not object and self.is_student_class(cls)
                 for name, attr in cls.__dict__.items()
                 if name in VALUE_DUNDERS and self._written_by_student(cls, attr)]
        if lying:
            return f"an object of your class {t.__name__} that defines {lying[0]}"
        if t.__module__ != "builtins" and self._type(t) is not type and self.is_student_class(t):
            return f"an object of class {t.__name__} with a custom metaclass"
        return None

    def _kinds_reason(self, kinds, items, depth) -> str | None:
        """Screen a container by the types of its items: each type once (fast for big graphs),
        values only where the type alone does not decide (arrays, containers, Tensors)."""
        for kind in kinds:
            if kind in self._plain:
                continue
            if kind is self._ndarray or kind in self._trusted or kind in (list, tuple, set, frozenset, dict):
                for item in items:
                    if type(item) is kind:
                        why = self.reason(item, depth + 1)
                        if why:
                            return why
                continue
            if self._ndarray in kind.__mro__:
                return f"an ndarray subclass ({kind.__name__})"
            if self._generic in kind.__mro__:
                if kind.__module__ != "numpy":
                    return f"a numpy scalar subclass ({kind.__name__})"
                continue
            why = self._class_reason(kind)
            if why:
                return why
        return None

    def check(self, value, what="a value"):
        """Return value if trusted (ndarray subclasses become plain arrays); else raise UntrustedValue."""
        why = self.reason(value)
        if why is None:
            return value
        if why.startswith("an ndarray subclass"):
            self.notes.append(f"{what} was {why}; it was checked as a plain array")
            return self._view(value, self._ndarray)
        self.notes.append(f"{what} was {why}; it cannot be checked")
        raise UntrustedValue(f"{what} is {why}: the grader cannot check it. Return plain numbers or "
                             "numpy arrays.")

    def array(self, value, what="a value"):
        """A plain ndarray holding value (Tensors give their data)."""
        value = self.check(value, what)
        if self._type(value) in self._trusted and hasattr(value, "data"):
            value = value.data
        if self._type(value) in (list, tuple):
            value = [self.array(v, what) for v in value] if any(
                self._type(v) in self._trusted for v in value) else value
        return np.asarray(value)


# ---------------------------------------------------------------------------------------------
# 2. trusted numpy comparisons, built only on C ufuncs and ndarray methods

def trusted_numpy(screen: Screen) -> dict:
    """Replacements for numpy's comparison functions, bound to references taken now."""
    isfinite, isnan, absolute, subtract = np.isfinite, np.isnan, np.absolute, np.subtract
    less_equal, equal, multiply, add, logical_or, logical_and = (
        np.less_equal, np.equal, np.multiply, np.add, np.logical_or, np.logical_and)
    asarray, broadcast_shapes, float64, complexfloating, inexact, number, bool_ = (
        np.asarray, np.broadcast_shapes, np.float64, np.complexfloating, np.inexact, np.number, np.bool_)
    issubdtype = np.issubdtype
    AssertionError_ = builtins.AssertionError

    def numeric(a):
        if issubdtype(a.dtype, complexfloating):
            return a
        if issubdtype(a.dtype, number) or a.dtype == bool_:
            return asarray(a, dtype=float64)
        return a

    def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
        a, b = screen.array(a, "the value checked"), screen.array(b, "the expected value")
        x, y = numeric(a), numeric(b)
        if not (issubdtype(x.dtype, number) and issubdtype(y.dtype, number)):
            return equal(a, b)
        both_finite = logical_and(isfinite(x), isfinite(y))
        close = less_equal(absolute(subtract(x, y)), add(atol, multiply(rtol, absolute(y))))
        exact = equal(x, y)
        if equal_nan:
            exact = logical_or(exact, logical_and(isnan(x), isnan(y)))
        result = logical_or(logical_and(both_finite, close), logical_and(~both_finite, exact))
        return result[()] if result.ndim == 0 else result

    def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(asarray(isclose(a, b, rtol, atol, equal_nan)).all())

    def array_equal(a1, a2, equal_nan=False):
        a, b = screen.array(a1, "the value checked"), screen.array(a2, "the expected value")
        if a.shape != b.shape:
            return False
        same = equal(a, b)
        if equal_nan and issubdtype(a.dtype, inexact) and issubdtype(b.dtype, inexact):
            same = logical_or(same, logical_and(isnan(a), isnan(b)))
        return bool(asarray(same).all())

    def array_equiv(a1, a2):
        a, b = screen.array(a1, "the value checked"), screen.array(a2, "the expected value")
        try:
            broadcast_shapes(a.shape, b.shape)
        except ValueError:
            return False
        return bool(asarray(equal(a, b)).all())

    def _fail(actual, desired, header, err_msg):
        a, d = asarray(actual), asarray(desired)
        lines = [header]
        if err_msg:
            lines.append(str(err_msg))
        if a.shape != d.shape:
            lines.append(f"shapes differ: got {a.shape}, expected {d.shape}")
        else:
            try:
                diff = absolute(subtract(numeric(a), numeric(d)))
                lines.append(f"max absolute difference: {float(diff.max()) if diff.size else 0.0:.6g}")
            except (TypeError, ValueError):
                pass
        raise AssertionError_("\n".join(lines))

    def assert_allclose(actual, desired, rtol=1e-07, atol=0, equal_nan=True, err_msg="", verbose=True,
                        strict=False):
        a, d = screen.array(actual, "the value checked"), screen.array(desired, "the expected value")
        if strict and a.shape != d.shape:
            _fail(a, d, "Not equal: shapes differ", err_msg)
        try:
            broadcast_shapes(a.shape, d.shape)
        except ValueError:
            _fail(a, d, "Not equal: shapes do not match", err_msg)
        if not bool(asarray(isclose(a, d, rtol, atol, equal_nan)).all()):
            _fail(a, d, f"Not equal to tolerance rtol={rtol:g}, atol={atol:g}", err_msg)

    def assert_array_equal(x, y, err_msg="", verbose=True, strict=False):
        a, b = screen.array(x, "the value checked"), screen.array(y, "the expected value")
        if strict and a.shape != b.shape:
            _fail(a, b, "Arrays are not equal", err_msg)
        if not array_equiv(a, b) and not (a.ndim == 0 or b.ndim == 0) or not array_equiv(a, b):
            _fail(a, b, "Arrays are not equal", err_msg)

    def assert_array_almost_equal(x, y, decimal=6, err_msg="", verbose=True):
        a, b = screen.array(x, "the value checked"), screen.array(y, "the expected value")
        if a.shape != b.shape and a.ndim and b.ndim:
            _fail(a, b, "Arrays are not almost equal (shapes)", err_msg)
        bound = 1.5 * 10.0 ** (-decimal)
        if not bool(asarray(less_equal(absolute(subtract(numeric(a), numeric(b))), bound)).all()):
            _fail(a, b, f"Arrays are not almost equal to {decimal} decimals", err_msg)

    def assert_equal(actual, desired, err_msg="", verbose=True, strict=False):
        screen.check(actual, "the value checked")
        screen.check(desired, "the expected value")
        if type(actual) in (list, tuple) and type(desired) in (list, tuple):
            if len(actual) != len(desired):
                _fail(actual, desired, "lengths differ", err_msg)
            for a, d in zip(actual, desired):
                assert_equal(a, d, err_msg)
            return
        if type(actual) is dict and type(desired) is dict:
            if set(actual) != set(desired):
                raise AssertionError_(f"keys differ {err_msg}")
            for k in desired:
                assert_equal(actual[k], desired[k], err_msg)
            return
        a, d = screen.array(actual), screen.array(desired)
        if a.shape != d.shape and a.ndim and d.ndim:
            _fail(a, d, "Items are not equal (shapes)", err_msg)
        same = equal(a, d)
        if issubdtype(a.dtype, inexact) and issubdtype(d.dtype, inexact):
            same = logical_or(same, logical_and(isnan(a), isnan(d)))
        if not bool(asarray(same).all()):
            _fail(a, d, "Items are not equal", err_msg)

    def assert_almost_equal(actual, desired, decimal=7, err_msg="", verbose=True):
        assert_array_almost_equal(actual, desired, decimal, err_msg)

    def assert_array_less(x, y, err_msg="", verbose=True):
        a, b = screen.array(x), screen.array(y)
        if not bool(asarray(np.less(a, b)).all()):
            _fail(a, b, "Arrays are not less-ordered", err_msg)

    def screened(fn, what="a value"):
        def call(value, *args, **kwargs):
            return fn(screen.check(value, what), *args, **kwargs)
        call.__name__, call.__doc__ = getattr(fn, "__name__", "f"), getattr(fn, "__doc__", None)
        return call

    def screened_array(value, *args, **kwargs):
        value = screen.check(value, "a value")
        if type(value) in screen._trusted and hasattr(value, "data"):
            value = value.data
        return asarray(value, *args, **kwargs)

    top = {"isclose": isclose, "allclose": allclose, "array_equal": array_equal,
           "array_equiv": array_equiv, "asarray": screened_array, "asanyarray": screened_array,
           "array": screened(np.array), "all": screened(np.all), "any": screened(np.any)}
    testing = {"assert_allclose": assert_allclose, "assert_array_equal": assert_array_equal,
               "assert_array_almost_equal": assert_array_almost_equal, "assert_equal": assert_equal,
               "assert_almost_equal": assert_almost_equal, "assert_array_less": assert_array_less}
    return {"numpy": top, "numpy.testing": testing}


# ---------------------------------------------------------------------------------------------
# private module copies for test cells

class PrivateModules:
    """Copies of protected modules, made at start-up, given to test cells instead of the real ones."""

    def __init__(self, names, screen: Screen, overrides: dict):
        self.real = {name: sys.modules[name] for name in names if name in sys.modules}
        self.copies: dict[str, types.ModuleType] = {}
        self.screen = screen
        self.overrides = overrides
        for name, module in self.real.items():
            copy = types.ModuleType(name, getattr(module, "__doc__", None))
            self.copies[name] = copy
        for name, module in self.real.items():
            namespace = dict(vars(module))
            namespace.update(overrides.get(name, {}))
            for key, value in list(namespace.items()):
                if type(value) is types.ModuleType and value.__name__ in self.copies:
                    namespace[key] = self.copies[value.__name__]
            if name in CHECKER_MODULES:
                # The course's checkers (pure Python) get their own globals: the private modules.
                private_globals = namespace
                for key, value in list(namespace.items()):
                    if type(value) is types.FunctionType and value.__module__ == name:
                        namespace[key] = types.FunctionType(
                            value.__code__, private_globals, value.__name__, value.__defaults__,
                            value.__closure__)
                        namespace[key].__kwdefaults__ = value.__kwdefaults__
                        namespace[key].__doc__ = value.__doc__
            vars(self.copies[name]).update(namespace)

    def private(self, value):
        if type(value) is types.ModuleType and value.__name__ in self.copies:
            return self.copies[value.__name__]
        return value

    def importer(self, real_import):
        copies = self.copies

        def __import__(name, globals=None, locals=None, fromlist=(), level=0):
            module = real_import(name, globals, locals, fromlist, level)
            if level == 0:
                if fromlist:
                    return copies.get(name, module)
                top = name.partition(".")[0]
                return copies.get(top, module)
            return module
        return __import__


def private_builtins(screen: Screen, importer) -> dict:
    """A copy of builtins whose value conversions refuse untrusted values."""
    namespace = dict(vars(builtins))
    for name in ["abs", "round", "len", "sum", "max", "min", "all", "any", "sorted", "divmod", "pow",
                 "hash"]:
        real = namespace[name]

        def guarded(*args, _real=real, _name=name, **kwargs):
            for arg in args:
                screen.check(arg, f"the argument of {_name}()")
            return _real(*args, **kwargs)
        guarded.__name__ = name
        namespace[name] = guarded
    namespace["__import__"] = importer
    return namespace


# ---------------------------------------------------------------------------------------------
# rewriting test cells: comparisons and truth tests go through the screen

class _Rewrite(ast.NodeTransformer):
    def _call(self, name, args, node):
        return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), args, []), node)

    def visit_Compare(self, node):
        self.generic_visit(node)
        ops = ast.Tuple([ast.Constant(type(op).__name__) for op in node.ops], ast.Load())
        return self._call("__ag_compare__", [node.left, ops, ast.List(node.comparators, ast.Load())], node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return self._call("__ag_binop__", [ast.Constant(type(node.op).__name__), node.left, node.right], node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        return self._call("__ag_unary__", [ast.Constant(type(node.op).__name__), node.operand], node)

    def visit_Call(self, node):
        self.generic_visit(node)
        if (isinstance(node.func, ast.Name) and node.func.id in ("bool", "float", "int", "complex")
                and len(node.args) == 1 and not node.keywords):
            node.args = [self._call("__ag_checked__", [node.args[0]], node.args[0])]
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        node.values = [self._call("__ag_checked__", [v], v) for v in node.values]
        return node

    def _truth(self, node):
        self.generic_visit(node)
        node.test = self._call("__ag_truth__", [node.test], node.test)
        return node

    visit_Assert = visit_If = visit_While = visit_IfExp = _truth


def rewrite_test(code: str, filename: str):
    """Compile a test cell with its comparisons and truth tests screened."""
    tree = _Rewrite().visit(ast.parse(code))
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")


def check_helpers(screen: Screen) -> dict:
    """The functions the rewritten test code calls (__ag_compare__, ...)."""
    compare_ops = {"Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le,
                   "Gt": operator.gt, "GtE": operator.ge, "Is": operator.is_, "IsNot": operator.is_not,
                   "In": lambda a, b: operator.contains(b, a),
                   "NotIn": lambda a, b: not operator.contains(b, a)}
    bin_ops = {"Add": operator.add, "Sub": operator.sub, "Mult": operator.mul, "Div": operator.truediv,
               "FloorDiv": operator.floordiv, "Mod": operator.mod, "Pow": operator.pow,
               "MatMult": operator.matmul, "BitAnd": operator.and_, "BitOr": operator.or_,
               "BitXor": operator.xor, "LShift": operator.lshift, "RShift": operator.rshift}
    unary_ops = {"USub": operator.neg, "UAdd": operator.pos, "Invert": operator.invert,
                 "Not": operator.not_}
    type_ = type
    plain = {bool, int, float, complex, np.float64, np.float32, np.int64, np.bool_, np.ndarray}

    def __ag_compare__(left, ops, rights):
        values = [left] + list(rights)
        for i, op in enumerate(ops):
            if op not in ("Is", "IsNot"):
                values[i] = screen.check(values[i], "a compared value")
                values[i + 1] = screen.check(values[i + 1], "a compared value")
            result = compare_ops[op](values[i], values[i + 1])
            if len(ops) == 1:
                return result
            if not __ag_truth__(result):
                return result
        return result

    def __ag_binop__(op, a, b):
        result = bin_ops[op](a, b)
        if type_(result) in plain and (screen.reason(a) or screen.reason(b)):
            screen.check(a if screen.reason(a) else b, "an operand")
        return result

    def __ag_unary__(op, a):
        if op == "Not":
            return not __ag_truth__(a)
        result = unary_ops[op](a)
        if type_(result) in plain and screen.reason(a):
            screen.check(a, "an operand")
        return result

    def __ag_truth__(value):
        return bool(screen.check(value, "a tested value"))

    def __ag_checked__(value):
        return screen.check(value, "a tested value")

    return {"__ag_compare__": __ag_compare__, "__ag_binop__": __ag_binop__,
            "__ag_unary__": __ag_unary__, "__ag_truth__": __ag_truth__, "__ag_checked__": __ag_checked__}


# ---------------------------------------------------------------------------------------------
# 4. snapshot of the protected modules

class Snapshot:
    """Identity of every entry of the protected modules' dictionaries (and their classes')."""

    def __init__(self, module_names):
        self.tables: list[tuple[str, dict, dict]] = []
        self.modules = {name: sys.modules[name] for name in module_names if name in sys.modules}
        for name, module in self.modules.items():
            table = vars(module)
            self.tables.append((name, table, self._watched(table)))
            if name.startswith(("course", "json")):
                for key, value in list(table.items()):
                    if type(value) is type and getattr(value, "__module__", "") == name:
                        # class dicts are mappingproxies: checked, restored with setattr
                        self.tables.append((f"{name}.{key}", value, self._watched(vars(value))))
        self.functions = [(f"{name}.{key}", fn, self._insides(fn)) for name, _, saved in self.tables
                          for key, fn in saved.items() if type(fn) is types.FunctionType]

    @staticmethod
    def _watched(table) -> dict:
        """The entries that decide what code runs: functions, classes, modules, descriptors.
        Plain data (a module's random generator, a flag) may change legitimately."""
        return {key: value for key, value in table.items()
                if callable(value) or isinstance(value, (types.ModuleType, staticmethod, classmethod, property))}

    @staticmethod
    def _insides(fn):
        return (fn.__code__, fn.__defaults__, fn.__kwdefaults__)

    def changes(self) -> list[str]:
        found = []
        for name, table, saved in self.tables:
            current = vars(table) if type(table) is type else table
            changed = [k for k, v in saved.items() if current.get(k, saved) is not v]
            if changed:
                found.append(f"{name}.{changed[0]} was replaced")
        for label, fn, (code, defaults, kwdefaults) in self.functions:
            if fn.__code__ is not code or fn.__defaults__ is not defaults or fn.__kwdefaults__ is not kwdefaults:
                found.append(f"the defaults of {label} were changed")
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                found.append(f"sys.modules[{name!r}] was replaced")
        return found

    def restore(self) -> None:
        for name, table, saved in self.tables:
            if type(table) is type:
                for key, value in saved.items():
                    if vars(table).get(key, saved) is not value:
                        try:
                            setattr(table, key, value)
                        except (AttributeError, TypeError):
                            pass
                continue
            table.update(saved)
        for name, module in self.modules.items():
            sys.modules[name] = module
        for label, fn, (code, defaults, kwdefaults) in self.functions:
            if fn.__defaults__ is not defaults or fn.__kwdefaults__ is not kwdefaults:
                fn.__defaults__, fn.__kwdefaults__ = defaults, kwdefaults
