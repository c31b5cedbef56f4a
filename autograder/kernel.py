"""The grading kernel: the process, started by `sandbox`, that runs one submission.

It is started as root in fresh namespaces when the machine allows it (see sandbox.py); first it
hides the course's private paths, drops to an unprivileged user, imports the libraries, takes
the snapshot and builds the defences of `guard`. From then on it serves the grader, one command
at a time, over a pipe (JSON lines; every answer carries the command's nonce):

    {"op": "run", "kind": "setup"|"student", "code", "label", "timeout", "skip": [i, ...]}
        runs a cell statement by statement (announcing each, so that a death is located);
    {"op": "test", "visible", "hidden", "label", "timeout"}
        runs a test cell in a fresh namespace with the trusted checkers;
    {"op": "bye"}
"""
from __future__ import annotations

import builtins
import json
import os
import sys

from autograder.magics import translate

# Harness functions use a private copy of builtins (see guard.py).
__builtins__ = dict(vars(builtins))


class StepTimeout(BaseException):
    """Raised in the kernel when a cell runs past its time limit."""


STUDENT_FACING = '''
class CappedWriter:
    """A text stream keeping the first `limit` characters written to it (and counting the rest)."""

    def __init__(self, limit=20000):
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def write(self, text):
        if type(text) is not str:
            return 0
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\\n... [{self.dropped} more characters of output not shown]"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


class _IPythonStub:
    """Enough of get_ipython() for notebooks: magics and shell escapes do nothing while grading."""

    def run_line_magic(self, *args, **kwargs):
        return None

    def run_cell_magic(self, *args, **kwargs):
        return None

    def system(self, *args, **kwargs):
        return None

    def getoutput(self, *args, **kwargs):
        return []

    def magic(self, *args, **kwargs):
        return None

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def display(*objects, **kwargs):
    print(*objects)


_shell = _IPythonStub()


def get_ipython():
    return _shell
'''
"""Objects student code can reach (sys.stdout while capturing, get_ipython, display): defined
with guard.sealed, so that none of them leads to the harness's globals."""


def _isolate(config: dict) -> list[str]:
    """Hide private paths (mount namespace), drop privileges, set the process limit. Returns notes."""
    import resource

    notes = []
    if os.geteuid() == 0 and config.get("mount_ns"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
        libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
        if config.get("uid") is not None:
            notes += _expose_python(libc, config["scratch"], MS_BIND | MS_REC)
        notes += _scratch_on_tmpfs(libc, config, MS_NOSUID | MS_NODEV)
        # A /proc of the kernel's own PID namespace: other processes on the machine are not listed.
        if libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | 8, None) != 0:   # 8: MS_NOEXEC
            notes.append("/proc shows the machine's processes")
        for path in config["hide"]:
            if not os.path.exists(path):
                continue
            target = path.encode()
            if os.path.isdir(path):
                ok = libc.mount(b"tmpfs", target, b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k")
            else:
                ok = libc.mount(b"/dev/null", target, None, MS_BIND, None)
            if ok != 0:
                notes.append(f"could not hide {path} (errno {ctypes.get_errno()})")
    uid = config.get("uid")
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    nproc = config.get("nproc")
    if nproc:
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        except (ValueError, OSError):
            notes.append("could not limit the number of processes")
    return notes


def _expose_python(libc, scratch, bind_flags) -> list[str]:
    """Make the Python installation readable after dropping privileges.

    When Python lives under a directory others cannot enter (e.g. /root/.pyenv), that directory is
    covered (in this mount namespace only) by an empty tmpfs into which the Python folders are
    bind-mounted back: the interpreter and its libraries stay visible, the rest of it is gone.
    """
    needed = _needed_paths()
    blocked = {}
    for path in needed:
        parts = path.split(os.sep)
        for i in range(2, len(parts)):
            ancestor = os.sep.join(parts[:i])
            if not os.stat(ancestor).st_mode & 0o001:
                blocked.setdefault(ancestor, set()).add(path)
                break
    notes = []
    for number, (ancestor, paths) in enumerate(sorted(blocked.items())):
        keep = sorted(p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths))
        staged = []
        for k, path in enumerate(keep):
            stage = os.path.join(scratch, f".stage{number}-{k}")
            os.mkdir(stage)
            libc.mount(path.encode(), stage.encode(), None, bind_flags, None)
            staged.append((stage, path))
        if libc.mount(b"tmpfs", ancestor.encode(), b"tmpfs", 0, b"mode=0755,size=64k") != 0:
            notes.append(f"could not expose {ancestor}")
            continue
        for stage, path in staged:
            os.makedirs(path, mode=0o755, exist_ok=True)
            libc.mount(stage.encode(), path.encode(), None, bind_flags, None)
            libc.umount2(stage.encode(), 2)
            os.rmdir(stage)
    return notes


def _scratch_on_tmpfs(libc, config, flags) -> list[str]:
    """Put the scratch folder on a size-limited tmpfs, so that a submission cannot fill the disk."""
    scratch = config["scratch"]
    files = {}
    for root, _, names in os.walk(scratch):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, scratch)] = handle.read()
    notes = []
    size = int(config.get("scratch_mb", 128))
    # The world-writable folders get small empty tmpfs of their own (no filling the disk, no
    # notes left for the next student). A scratch folder under /tmp then lives in /tmp's tmpfs.
    # Not where Python, the course or the scratch's own copy live (a clone under /tmp, say):
    # covering those would leave the kernel without its interpreter or libraries.
    needed = _needed_paths()
    covered = []
    for shared, megabytes in [("/tmp", size), ("/var/tmp", 16), ("/dev/shm", 16)]:
        if not os.path.isdir(shared):
            continue
        if any(p.startswith(shared + os.sep) for p in needed):
            notes.append(f"{shared} is shared with the machine (Python or the course lives there)")
        elif libc.mount(b"tmpfs", shared.encode(), b"tmpfs", flags,
                        f"size={megabytes}m,mode=1777".encode()) == 0:
            covered.append(shared)
        else:
            notes.append(f"{shared} is shared with the machine")
    if "/tmp" in covered and os.path.realpath(scratch).startswith("/tmp/"):
        os.makedirs(scratch, mode=0o700, exist_ok=True)
    elif libc.mount(b"tmpfs", scratch.encode(), b"tmpfs", flags, f"size={size}m,mode=0700".encode()) != 0:
        return notes + ["the scratch folder is not size-limited"]
    uid = config.get("uid")
    for relative, data in files.items():
        path = os.path.join(scratch, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    if uid is not None:
        for root, dirs, names in os.walk(scratch):
            for name in [root] + [os.path.join(root, n) for n in dirs + names]:
                os.chown(name, uid, uid)
    return notes


def _needed_paths() -> set[str]:
    """Real paths of the interpreter, its import path and the course's packages."""
    import autograder
    import course

    paths = [sys.base_prefix, sys.prefix, *sys.path, *course.__path__, *autograder.__path__]
    return {os.path.realpath(p) for p in paths if p and os.path.isdir(p)}


def _import_libraries(preload=()) -> list[str]:
    """Import what notebooks use, before any student code (and before the audit hook): libraries
    imported later may not look at frames, which some (matplotlib) do while being imported."""
    names = []
    for name in list(preload) + ["numpy", "numpy.testing", "numpy.linalg", "numpy.random", "math", "operator",
                 "course", "course.autograd", "course.nn", "course.nn.functional", "course.optim",
                 "course.gradcheck", "course.data", "course.checks", "inspect", "traceback", "warnings"]:
        try:
            __import__(name)
            names.append(name)
        except Exception:
            pass
    return names


def main(argv=None) -> int:
    config = json.loads((argv or sys.argv)[1])
    fd_in, fd_out = config["fd_in"], config["fd_out"]
    startup_notes = _isolate(config)
    os.chdir(config["scratch"])
    # stdout/stderr at the file-descriptor level go to a capped file in scratch (RLIMIT_FSIZE).
    out = os.open(os.path.join(config["scratch"], ".output"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writing past the file-size limit: an error, not death
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Without a network namespace, sockets are still refused: by the audit hook (guard.py).

    imported = _import_libraries(config.get("preload", []))
    import ast
    import builtins
    import types

    import numpy as np

    from autograder import guard

    blocked: list[str] = []

    def record_block(message, _append=blocked.append, _len=len):
        if _len(blocked) < 50:
            _append(message)

    trusted_types = []
    for module_name, class_name in [("course.autograd", "Tensor"), ("course.nn", "Parameter")]:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(getattr(module, class_name, None), type):
            trusted_types.append(getattr(module, class_name))
    screen = guard.Screen(trusted_types)
    originals = guard.disable_threads_and_signals()
    set_timer, set_signal = originals["setitimer"], originals["signal"]

    def on_alarm(signum, frame):
        raise StepTimeout()

    set_signal(signal.SIGALRM, on_alarm)
    protected = sorted({name for name in sys.modules
                        if name in ("builtins", "math", "operator", "signal", "_signal", "_thread", "threading",
                                    "inspect", "traceback", "warnings", "json", "json.encoder",
                                    "json.decoder", "json.scanner", "ast", "time", "os", "posix")
                        or name == "numpy" or name.startswith(("numpy.", "course"))})
    private = guard.PrivateModules(
        [n for n in protected if n.startswith(("numpy", "course")) or n in ("math", "operator")],
        screen, guard.trusted_numpy(screen))
    private_builtins = guard.private_builtins(screen, private.importer(builtins.__import__))
    helpers = guard.check_helpers(screen)
    snapshot = guard.Snapshot(protected)
    if not config.get("profile"):
        guard.install_audit_hook(record_block)

    FunctionType, ModuleType = types.FunctionType, types.ModuleType
    test_defined: dict = {}
    setup_values: dict = {}
    from time import monotonic
    facing = guard.sealed(STUDENT_FACING, {})
    # The student's namespace is the __main__ module, as in a notebook; the harness's modules leave
    # sys.modules, so student code finds no way to them.
    main_module = ModuleType("__main__")
    student_ns = vars(main_module)
    student_ns.update({"__builtins__": builtins, "get_ipython": facing["get_ipython"],
                       "display": facing["display"]})
    for name in [n for n in sys.modules if n == "autograder" or n.startswith("autograder.")]:
        del sys.modules[name]
    sys.modules["__main__"] = main_module
    capture = facing["CappedWriter"]()
    capture_take = capture.take

    def taken() -> str:
        """The captured output (student code may have meddled with the writer: then nothing)."""
        try:
            text = capture_take()
        except Exception:
            return ""
        return text if type(text) is str else ""
    json_dumps, os_write, exc_info = json.JSONEncoder().encode, os.write, sys.exc_info

    def send_progress(nonce, index, line):
        """Built without the json module: student code runs between these messages."""
        data = ('{"nonce": "%s", "progress": %d, "line": %d}\n' % (nonce, index, line)).encode()
        while data:
            data = data[os_write(fd_out, data):]

    def send(message: dict):
        data = (json_dumps(message) + "\n").encode()
        while data:
            data = data[os_write(fd_out, data):]

    def describe(error: BaseException) -> str:
        kind = type(error).__name__
        try:
            text = error.args[0] if error.args and type(error.args[0]) is str else ""
        except Exception:
            text = ""
        return f"{kind}: {text}" if text else kind

    def timed_exec(code_object, namespace, timeout):
        set_timer(signal.ITIMER_REAL, timeout)
        try:
            exec(code_object, namespace)
        finally:
            set_timer(signal.ITIMER_REAL, 0)

    def with_capture(fn):
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = capture
        try:
            return fn()
        finally:
            sys.stdout, sys.stderr = saved

    def tamper_check() -> list[str]:
        changes = snapshot.changes()
        if changes:
            snapshot.restore()
        return changes

    def run_cell(command, nonce):
        code, kind, label = command["code"], command["kind"], command["label"]
        code = translate(code)[0]
        try:
            tree = ast.parse(code)
        except SyntaxError as error:
            return {"error": f"SyntaxError: {error.msg} (line {error.lineno})"}
        skip = set(command.get("skip", []))
        error = ""
        timeout = float(command["timeout"])
        end = monotonic() + timeout
        for index, statement in enumerate(tree.body):
            if index in skip:
                continue
            send_progress(nonce, index, statement.lineno)
            code_object = compile(ast.Module([statement], []), f"<{kind} {label}>", "exec")
            try:
                with_capture(lambda: timed_exec(code_object, student_ns, max(0.01, end - monotonic())))
            except StepTimeout:
                error = f"timed out after {timeout:g} s (line {statement.lineno})"
                break
            except BaseException as exception:  # SystemExit, KeyboardInterrupt included
                error = f"{describe(exception)} (line {statement.lineno})"
                break
            if kind == "setup":
                for name in bound_names(statement):
                    if name in student_ns:
                        setup_values[name] = student_ns[name]
        return {"error": error}

    def bound_names(statement) -> list[str]:
        """Names a top-level statement of an instructor cell binds (imports, defs, assignments)."""
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            return [(alias.asname or alias.name).split(".")[0] for alias in statement.names]
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [statement.name]
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        return []

    class TestNamespace(dict):
        """A test cell's globals. When a test rebinds one of the notebook's names (e.g. replaces a
        student function by the reference for the duration of the test), the student's code sees
        the new binding too, as it would in the notebook."""

        def __setitem__(self, name, value):
            dict.__setitem__(self, name, value)
            if name in student_ns and not name.startswith("__"):
                student_ns[name] = unwrapped(value)

    def unwrapped(value):
        """What a test-namespace value is in the student's namespace."""
        pair = wrappers.get(id(value))
        if pair is not None and pair[0] is value:
            return pair[1]
        if type(value) is ModuleType:
            return private.real.get(value.__name__, value) if private.copies.get(value.__name__) is value else value
        return value

    wrappers: dict = {}

    def test_namespace():
        """Student names, then what the instructor's setup cells bound (a student who rebinds `np`
        or a checker does not change what tests use), then names earlier tests defined."""
        wrappers.clear()
        namespace = TestNamespace({"__name__": "__test__", "__builtins__": private_builtins})
        merged = dict(student_ns)
        merged.update(setup_values)
        for name, value in list(merged.items()):
            if name.startswith("__"):
                continue
            kind = type(value)
            if kind is ModuleType:
                value = private.private(value)
            elif kind is FunctionType:
                filename = value.__code__.co_filename
                if filename.startswith("<setup"):
                    value = FunctionType(value.__code__, namespace, value.__name__, value.__defaults__,
                                         value.__closure__)
                elif filename.startswith("<student"):
                    value = wrap_student(value)
            dict.__setitem__(namespace, name, value)
        namespace.update(test_defined)
        namespace.update(helpers)
        return namespace

    def wrap_student(fn):
        def student_function(*args, **kwargs):
            result = fn(*args, **kwargs)
            why = screen.reason(result)
            if why and why.startswith("an ndarray subclass"):
                return screen.check(result, f"the value returned by {name}()")
            return result
        name = getattr(fn, "__name__", "function")
        student_function.__name__ = name
        student_function.__doc__ = fn.__doc__
        student_function.__wrapped__ = fn
        wrappers[id(student_function)] = (student_function, fn)
        return student_function

    def keep_test_names(namespace, before):
        """Names a test cell defined stay visible to later cells, as in a notebook; later test
        cells get them from test_defined (which student code cannot reach), the student's code
        from student_ns (unwrapped, with the real modules)."""
        for name, value in namespace.items():
            if name.startswith("__") or (name in before and before[name] is value):
                continue
            test_defined[name] = value
            # Only plain data goes back to the student's namespace: a function or class defined by
            # a test would hand student code its globals (the private modules and checkers).
            if type(value) not in (FunctionType, ModuleType, type) and screen.reason(value) is None \
                    and not callable(value):
                student_ns[name] = value

    def with_regions(code: str) -> str:
        """The hidden-test markers become calls that say which part of the test is running."""
        lines = []
        for line in code.splitlines():
            marker = line.strip()
            indent = line[: len(line) - len(line.lstrip())]
            if marker == "### BEGIN HIDDEN TESTS":
                line = indent + "__ag_region__('hidden')"
            elif marker == "### END HIDDEN TESTS":
                line = indent + "__ag_region__('visible')"
            lines.append(line)
        return "\n".join(lines)

    def run_test(command):
        """Run a whole test cell (visible and hidden parts, as the instructor wrote it) in a fresh
        namespace. Output printed while the hidden part runs is dropped; a failure is reported
        as in the visible or the hidden part by where it happened."""
        code, label = command["code"], command["label"]
        has_hidden = "### BEGIN HIDDEN TESTS" in code
        region = ["visible"]
        visible_output = []

        def __ag_region__(name):
            text = taken()
            if region[0] == "visible":
                visible_output.append(text)
            region[0] = name

        try:
            code_object = guard.rewrite_test(with_regions(code), f"<test {label}>")
        except SyntaxError:
            try:   # markers at an odd indentation: run without regions, tell nothing of the output
                code_object = guard.rewrite_test(code, f"<test {label}>")
                region[0] = "hidden" if has_hidden else "visible"
            except SyntaxError as exc:
                return {"passed": False, "failed_part": "visible", "error": f"SyntaxError in the test: {exc.msg}",
                        "output": ""}
        namespace = test_namespace()
        namespace["__ag_region__"] = __ag_region__
        before = dict(namespace)
        error, part = "", None
        try:
            with_capture(lambda: timed_exec(code_object, namespace, float(command["timeout"])))
        except StepTimeout:
            error, part = f"timed out after {command['timeout']} s", region[0]
        except BaseException as exception:
            error, part = describe(exception), region[0]
        __ag_region__("visible")
        keep_test_names(namespace, before)
        return {"passed": not error, "failed_part": part, "error": error, "output": "".join(visible_output)}

    # ---- serve the grader
    reader = os.fdopen(fd_in, "rb", buffering=0)
    buffer = b""
    send({"nonce": config["nonce"], "ready": True, "notes": startup_notes, "imported": imported})
    while True:
        while b"\n" not in buffer:
            chunk = reader.read(65536)
            if not chunk:
                return 0
            buffer += chunk
        line, _, buffer = buffer.partition(b"\n")
        command = json.loads(line)
        nonce = command.get("nonce")
        if command["op"] == "bye":
            return 0
        if command["op"] == "modules":
            send({"nonce": nonce, "done": True, "modules": sorted(sys.modules)})
            continue
        del blocked[:]
        del screen.notes[:]
        taken()
        if command["op"] == "run":
            result = run_cell(command, nonce)
        else:
            result = run_test(command)
        result["tamper"] = tamper_check()
        if command["op"] == "run":
            result["output"] = taken()
        result["blocked"] = list(blocked)
        result["notes"] = list(screen.notes)
        result["nonce"] = nonce
        result["done"] = True
        send(result)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
