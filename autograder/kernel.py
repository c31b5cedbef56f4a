"""The grading kernel: the process, started by `sandbox`, that runs one submission's notebook.

It runs the notebook's cells (the instructor's setup cells and the student's cells), nothing
else: test cells run in the grader's process (autograder.trusted), which asks the kernel to call
the student's functions on its behalf. It is started inside bubblewrap's sandbox when the machine
allows it (see sandbox.py), already unprivileged; before any student code runs, it closes what it
inherited, sets its process limit, imports the libraries, takes a snapshot of the protected
modules and builds the defences of `guard` (defence in depth and a source of flags: no verdict
depends on them). Then it serves the grader, one request at a time, over a pipe (JSON lines;
every answer carries the request's nonce; values are plain data, see autograder.wire):

    {"op": "run", "kind": "setup"|"student", "code", "label", "timeout", "skip": [i, ...]}
        runs a cell statement by statement (announcing each, so that a death is located); for a
        student cell the answer carries the names it bound ("bindings");
    {"op": "call", "target", "args", "kwargs"}       call a student's function or object
    {"op": "getattr", "target", "name"}              read an attribute of one
    {"op": "operate", "target", "how", "args"}       iter / len / getitem / array / float / ...
    {"op": "bind", "name", "value"}                  a test rebinds one of the student's names
    {"op": "forward" | "backward", ...}              a student's custom Function, for the grader's engine
    {"op": "check"}                                  after a test: what was blocked or changed during it
    {"op": "modules"}, {"op": "bye"}
"""
from __future__ import annotations

import ast
import builtins
import json
import os
import sys
import types

import numpy as np

from autograder import wire

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
    """The kernel's own last steps before any student code (the sandbox itself is bubblewrap's, see
    sandbox.py): close every inherited descriptor but the two pipes, limit the number of
    processes. Returns notes for the grader."""
    import resource

    keep = sorted({0, 1, 2, config["fd_in"], config["fd_out"]})
    for low, high in zip(keep, keep[1:] + [resource.getrlimit(resource.RLIMIT_NOFILE)[0]]):
        os.closerange(low + 1, high)
    notes = []
    nproc = config.get("nproc")
    if nproc:
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        except (ValueError, OSError):
            notes.append("could not limit the number of processes")
    return notes


class KernelObjects:
    """The kernel's half of the conversation with the grader's test code (see autograder.wire).

    The grader holds references (numbers) to the student's objects; the kernel keeps the objects.
    What the grader sends with an id is its own (an array, list, dict, random generator or
    notebook object): after each request the kernel sends back what the student's code changed
    in them, so that in-place updates look as they would in the notebook.
    """

    def __init__(self, student_ns: dict):
        self.student_ns = student_ns
        self.setup_values: dict = {}
        self.refs: dict = {}
        self._next_ref = 1
        self._next_object = -1
        self.object_ids: dict = {}        # id(kernel object) -> (wire id, object)
        self.grader_objects: dict = {}    # the grader's wire id -> kernel object (kept across calls)
        self.begin()

    # -- what the notebook's setup cells bound
    def note_setup(self, statement) -> None:
        for name in bound_names(statement):
            if name in self.student_ns:
                self.setup_values[name] = self.student_ns[name]

    def setup_class_name(self, cls):
        name = getattr(cls, "__name__", None)
        return name if isinstance(name, str) and self.setup_values.get(name) is cls else None

    # -- one request
    def begin(self):
        self.received_arrays, self.received_lists, self.received_dicts = [], [], []
        self.received_rngs, self.received_objects = [], []
        self.by_identity: dict = {}       # id(object the grader sent) -> (wire id, object)

    def received(self, wire_id, value):
        if type(wire_id) is not int:
            raise wire.WireError("bad id")
        self.by_identity[id(value)] = (wire_id, value)
        if type(value) is np.ndarray:
            self.received_arrays.append((wire_id, value, value.copy()))
        elif type(value) is list:
            self.received_lists.append((wire_id, value, [id(v) for v in value]))
        elif type(value) is dict:
            self.received_dicts.append((wire_id, value, {k: id(v) for k, v in value.items()}))

    def action(self, command):
        """The request as a function of no arguments (run with the time limit and capture)."""
        from course.autograd.function import Context

        decoder = wire.Decoder(self)
        op = command["op"]
        if op == "call":
            target, args, kwargs = decoder.message(command, "target", "args", "kwargs")
            return lambda: target(*args, **kwargs)
        if op == "getattr":
            target, name = decoder.message(command, "target", "name")
            return lambda: getattr(target, name)
        if op == "operate":
            target, how, args = decoder.message(command, "target", "how", "args")
            operations = {"iter": list, "len": len, "array": np.asarray, "float": float, "int": int,
                          "bool": bool, "str": str, "repr": repr, "getitem": lambda t, k: t[k]}
            return lambda: operations[how](target, *args)
        if op == "bind":
            name, value = decoder.message(command, "name", "value")

            def bind():
                self.student_ns[name] = value
            return bind
        if op == "forward":
            cls, needs, args = decoder.message(command, "target", "needs", "args")

            def forward():
                ctx = Context(tuple(needs))
                out = cls.forward(ctx, *args)
                return self.ref_id(ctx), out
            return forward
        if op == "backward":
            cls, ctx_id, grad = decoder.message(command, "target", "ctx", "grad")
            ctx = self.refs[ctx_id]
            return lambda: cls.backward(ctx, grad)
        raise wire.WireError(f"unknown request {op!r}")

    def answer(self, value) -> dict:
        """The value and what changed in the grader's objects, encoded."""
        encoder = wire.Encoder(self)
        try:
            out = {"value": encoder.encode(value)}
        except Exception as error:
            out = {"value": None, "value_error": f"your code returned a value the grader cannot read: {describe(error)}"}
        out["arrays"] = [[wire_id, wire.encode_array(now)] for wire_id, now, before in self.received_arrays
                         if now.shape != before.shape or not np.array_equal(now, before, equal_nan=True)]
        out["lists"] = [[wire_id, {"t": "list", "v": [encoder.encode(v) for v in now]}]
                        for wire_id, now, before in self.received_lists if [id(v) for v in now] != before]
        out["dicts"] = [[wire_id, {"t": "dict", "v": [[encoder.encode(k), encoder.encode(v)] for k, v in now.items()]}]
                        for wire_id, now, before in self.received_dicts
                        if {k: id(v) for k, v in now.items()} != before]
        out["rngs"] = [[wire_id, encoder.encode(rng.bit_generator.state)] for wire_id, rng in self.received_rngs]
        out["objects"] = {"t": "list", "v": [encoder.encode(obj) for obj in self.received_objects]}
        out["objs"] = encoder.table()
        return out

    def bindings(self, names) -> dict:
        """The student's new or changed names: plain data as values, everything else as references."""
        encoder = wire.Encoder(self)
        bindings = {}
        for name in names:
            try:
                bindings[name] = encoder.encode(self.student_ns[name])
            except Exception:
                bindings[name] = self.ref(self.student_ns[name])
        return {"bindings": {"t": "dict", "v": [[name, value] for name, value in bindings.items()]},
                "objs": encoder.table()}

    # -- references
    def ref_id(self, value) -> int:
        number = self._next_ref
        self._next_ref += 1
        self.refs[number] = value
        return number

    def ref(self, value) -> dict:
        from course.autograd.function import Function

        kind = "object"
        if isinstance(value, type):
            kind = "function_class" if issubclass(value, Function) else "class"
        elif callable(value):
            kind = "function"
        name = getattr(value, "__name__", None)
        message = {"t": "ref", "id": self.ref_id(value), "kind": kind, "type": type(value).__name__,
                   "name": name if isinstance(name, str) else None}
        if kind == "function":
            try:
                import inspect
                message["params"] = [[p.name, int(p.kind)] for p in inspect.signature(value).parameters.values()]
            except Exception:
                pass
        return message

    # -- wire hooks
    def encode(self, value, encoder):
        from course.autograd import Tensor

        known = self.by_identity.get(id(value))
        if known is not None and known[1] is value and type(value) in (np.ndarray, list, dict):
            return {"t": "tref", "id": known[0]}
        kind = type(value)
        if kind in (tuple, list, dict, np.ndarray, complex, slice) or isinstance(value, np.generic) \
                or value is Ellipsis:
            if kind is np.ndarray and value.dtype.kind not in wire.NUMERIC_KINDS:
                return self.ref(value)
            if isinstance(value, np.generic) and value.dtype.kind not in wire.NUMERIC_KINDS:
                return self.ref(value)
            return None
        if isinstance(value, Tensor):
            return {"t": "tensor", "v": wire.encode_array(np.asarray(value.data)),
                    "requires_grad": bool(value.requires_grad)}
        if isinstance(value, np.ndarray):
            return wire.encode_array(np.asarray(value))
        if kind is np.random.Generator:
            return {"t": "rng", "state": encoder.encode(value.bit_generator.state)}
        class_name = self.setup_class_name(kind)
        if class_name is not None:
            entry = self.object_ids.get(id(value))
            if entry is None or entry[1] is not value:
                entry = (self._next_object, value)
                self._next_object -= 1
                self.object_ids[id(value)] = entry
            return encoder.object_ref(value, entry[0], class_name, lambda: dict(vars(value)))
        return self.ref(value)

    def decode(self, tag, message, decoder):
        import importlib

        from course.autograd import Tensor

        if tag == "kref":
            if message.get("id") not in self.refs:
                raise wire.WireError("a reference to an object this kernel does not have")
            return self.refs[message["id"]]
        if tag == "tensor":
            return Tensor(decoder.decode(message.get("v")), requires_grad=bool(message.get("requires_grad")))
        if tag == "rng":
            state = decoder.decode(message.get("state"))
            bit_generator = getattr(np.random, state["bit_generator"])()
            bit_generator.state = state
            rng = np.random.Generator(bit_generator)
            if "id" in message:
                self.received_rngs.append((message["id"], rng))
            return rng
        if tag == "module":
            return importlib.import_module(message["name"])
        if tag == "lib":
            value = importlib.import_module(message["module"])
            for part in message["qualname"].split("."):
                value = getattr(value, part)
            return value
        if tag == "global":
            name = message["name"]
            return self.setup_values[name] if name in self.setup_values else self.student_ns[name]
        if tag == "code":
            import base64
            import marshal

            namespace = {"__builtins__": builtins, "__name__": "__main__"}
            namespace.update(decoder.decode(message["globals"]))
            closure = tuple(types.CellType(v) for v in decoder.decode(message["closure"])) or None
            return types.FunctionType(marshal.loads(base64.b64decode(message["code"])), namespace,
                                      message["name"], decoder.decode(message["defaults"]), closure)
        raise wire.WireError(f"unknown tag {tag!r}")

    def make_object(self, wire_id, class_name):
        obj = self.grader_objects.get(wire_id)
        if obj is None:
            cls = self.setup_values.get(class_name)
            obj = object.__new__(cls) if isinstance(cls, type) else types.SimpleNamespace()
            self.grader_objects[wire_id] = obj
        self.by_identity[id(obj)] = (wire_id, obj)
        self.object_ids[id(obj)] = (wire_id, obj)
        self.received_objects.append(obj)
        return obj

    def fill_object(self, obj, attributes):
        vars(obj).update(attributes)


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

    set_timer, set_signal = None, None
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
    snapshot = guard.Snapshot(protected)
    if not config.get("profile"):
        guard.install_audit_hook(record_block)

    from time import monotonic
    facing = guard.sealed(STUDENT_FACING, {})
    # The student's namespace is the __main__ module, as in a notebook; the harness's modules leave
    # sys.modules, so student code finds no way to them.
    main_module = types.ModuleType("__main__")
    student_ns = vars(main_module)
    student_ns.update({"__builtins__": builtins, "get_ipython": facing["get_ipython"],
                       "display": facing["display"]})
    objects = KernelObjects(student_ns)
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
    json_dumps, os_write = json.JSONEncoder().encode, os.write

    def send_progress(nonce, index, line):
        """Built without the json module: student code runs between these messages."""
        data = ('{"nonce": "%s", "progress": %d, "line": %d}\n' % (nonce, index, line)).encode()
        while data:
            data = data[os_write(fd_out, data):]

    def send(message: dict):
        data = (json_dumps(message) + "\n").encode()
        while data:
            data = data[os_write(fd_out, data):]

    def timed(fn, timeout):
        set_timer(signal.ITIMER_REAL, max(0.01, timeout))
        try:
            return fn()
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
        before = {name: id(value) for name, value in student_ns.items()}
        for index, statement in enumerate(tree.body):
            if index in skip:
                continue
            send_progress(nonce, index, statement.lineno)
            code_object = compile(ast.Module([statement], []), f"<{kind} {label}>", "exec")
            try:
                with_capture(lambda: timed(lambda: exec(code_object, student_ns), end - monotonic()))
            except StepTimeout:
                error = f"timed out after {timeout:g} s (line {statement.lineno})"
                break
            except BaseException as exception:  # SystemExit, KeyboardInterrupt included
                error = f"{describe(exception)} (line {statement.lineno})"
                break
            if kind == "setup":
                objects.note_setup(statement)
        answer = {"error": error}
        if kind == "student":
            changed = [name for name, value in list(student_ns.items())
                       if not name.startswith("__") and before.get(name) != id(value)]
            answer.update(objects.bindings(changed))
        return answer

    def serve_call(command):
        """Run one request of the grader's test code on the student's objects."""
        timeout = float(command.get("timeout", 30))
        objects.begin()
        try:
            action = objects.action(command)
        except Exception as error:
            return {"error": f"the grader sent a value the kernel could not read: {describe(error)}",
                    "output": "", "objs": []}
        answer_type = None
        try:
            value = with_capture(lambda: timed(action, timeout))
            error = ""
        except StepTimeout:
            value, error = None, f"TimeoutError: your code did not finish within {timeout:g} s"
        except BaseException as exception:
            value, error = None, describe(exception)
            kind = type(exception).__name__
            answer_type = kind if getattr(builtins, kind, None) is type(exception) else None
        answer = objects.answer(value)
        answer["error"], answer["error_type"] = error, answer_type if error else None
        answer["output"] = taken()
        return answer

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
        taken()
        # The snapshot is compared after every cell, and after every test (the grader asks with
        # "check" when a test cell ends), not after each call: with the audit hook that costs ms.
        if command["op"] == "run":
            del blocked[:]
            result = run_cell(command, nonce)
            result["output"] = taken()
        elif command["op"] == "check":
            result = {}
        else:
            result = serve_call(command)
        checked = command["op"] in ("run", "check")
        result["tamper"] = tamper_check() if checked else []
        result["blocked"] = list(blocked) if checked else []
        if checked:
            del blocked[:]
        result["nonce"] = nonce
        result["done"] = True
        try:
            send(result)
        except Exception as error:   # a value json cannot write (the student's doing): say so
            send({"nonce": nonce, "done": True, "error": f"the answer could not be sent: {describe(error)}",
                  "tamper": result["tamper"], "blocked": result["blocked"], "output": "", "objs": []})


def describe(error: BaseException) -> str:
    kind = type(error).__name__
    try:
        text = error.args[0][:4000] if error.args and type(error.args[0]) is str else ""
    except Exception:
        text = ""
    return f"{kind}: {text}" if text else kind


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
