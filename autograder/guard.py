"""Defences inside the grading kernel: defence in depth and sources of flags, never the boundary.

No verdict is decided in the kernel (test cells run in the grader's process, see
autograder.trusted), so these only make an attack visible to the instructor and keep a
submission from disturbing its own grading; each is built before any student code runs:

1. `install_audit_hook`: a PEP 578 audit hook (it cannot be removed) refuses, for the rest of the
   process's life, what only an attack needs: frame access (sys._getframe, tracebacks' and
   generators' frames), gc object walks, ctypes, tracing/profiling, fork/exec/subprocess, sockets,
   and replacing a function's code. Every refusal is recorded as a flag.
2. `disable_threads_and_signals`: threads and Python signal handlers are unavailable.
3. `Snapshot`: after every step the protected modules' dictionaries (numpy, course, builtins,
   math, operator, json) are compared with the start-up snapshot; a change is flagged and undone.
"""
from __future__ import annotations

import builtins
import sys
import types

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
# 3. snapshot of the protected modules

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
