"""The grader's half of grading: test cells run here, never in the student's process.

The student's notebook runs in the sandboxed kernel (autograder.kernel). The instructor's test
cells, and the setup statements they need, run in the grading process, in a namespace where each
of the student's names is either plain data (copied out of the kernel) or a proxy:

- a student function becomes a `RemoteFunction`: calling it sends the arguments to the kernel as
  data (autograder.wire), runs the student's function there and brings the result back as data;
- a student `Function` subclass becomes a local subclass of course's `Function` whose forward and
  backward run the student's in the kernel (the autograd graph, gradcheck and the comparisons
  stay here);
- any other object stays in the kernel and is reached through a `RemoteObject`.

So every verdict, reference value and point is decided in this process from plain data, and a
test cell's source (hidden part included) never enters the student's process. What the kernel
does get is the arguments of the calls a test makes (functions a test passes are sent as their
code: calling a function reveals what it computes anyway).
"""
from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import dis
import inspect
import io
import marshal
import sys
import threading
import types

import numpy as np

from . import wire
from .kernel import bound_names, describe
from .magics import translate
from .model import split_hidden
from .sandbox import KernelDied

NOTEBOOK_MODULE = "__main__"
LIBRARY_PREFIXES = ("course", "numpy", "math", "operator", "builtins")
GLOBAL_OPS = ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME")


def kernel_flags(label: str, answer: dict) -> list[str]:
    """The flags for what the kernel blocked or found changed during a step (a cell or a test)."""
    return [f"tampering in {label}: {change} (undone)" for change in answer.get("tamper", [])] + \
        [f"{label}: {blocked}" for blocked in dict.fromkeys(answer.get("blocked", []))]


class KernelGone(BaseException):
    """The kernel died during a test (a BaseException: test code's `except Exception` lets it by)."""

    def __init__(self, death: KernelDied):
        super().__init__(death.cause)
        self.death = death


class StudentCodeError(Exception):
    """The student's code raised (or returned what cannot be read) while a test called it."""


def student_error(kind, message: str) -> StudentCodeError:
    """The error to raise here for the student's: of the same built-in class when it is one (a test
    may expect a ValueError), and always a StudentCodeError."""
    base = getattr(builtins, kind, None) if isinstance(kind, str) else None
    if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
        try:
            return type(kind, (StudentCodeError, base), {})(message)
        except TypeError:       # built-in classes whose layouts do not combine (OSError, ...)
            pass
    return StudentCodeError(message)


# ---------------------------------------------------------------------------------------------
# proxies for what stays in the kernel

class RemoteObject:
    """An object of the student's that stays in the kernel."""

    def __init__(self, connection, message):
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_ref", message["id"])
        object.__setattr__(self, "_type", str(message.get("type") or "object"))

    def _operate(self, how, *args):
        return self._connection.request("operate", target=self, how=how, args=args)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._connection.request("getattr", target=self, name=name)

    def __call__(self, *args, **kwargs):
        return self._connection.request("call", target=self, args=args, kwargs=kwargs)

    def __iter__(self):
        return iter(self._operate("iter"))

    def __len__(self):
        return self._operate("len")

    def __getitem__(self, key):
        return self._operate("getitem", key)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._operate("array"), dtype=dtype)

    def __float__(self):
        return self._operate("float")

    def __int__(self):
        return self._operate("int")

    def __bool__(self):
        return self._operate("bool")

    def __str__(self):
        return self._operate("str")

    def __repr__(self):
        return f"<{self._type} in the student's kernel>"


class RemoteFunction(RemoteObject):
    """A function of the student's: calls run in the kernel, arguments and results travel as data."""

    def __init__(self, connection, message):
        super().__init__(connection, message)
        name = message.get("name") or "function"
        object.__setattr__(self, "__name__", name)
        object.__setattr__(self, "__qualname__", name)
        try:
            parameters = [inspect.Parameter(n, inspect._ParameterKind(k)) for n, k in message.get("params", [])]
            object.__setattr__(self, "__signature__", inspect.Signature(parameters))
        except (TypeError, ValueError):
            pass

    def __repr__(self):
        return f"<function {self.__name__} in the student's kernel>"


def remote_function_class(connection, message):
    """A local Function subclass whose forward and backward are the student's, run in the kernel."""
    from course.autograd import Function

    handle = RemoteObject(connection, message)

    def forward(ctx, *args):
        ctx.kernel_ctx, out = connection.request("forward", target=handle, needs=list(ctx.needs_input_grad),
                                                 args=args)
        return out

    def backward(ctx, grad):
        return connection.request("backward", target=handle, ctx=ctx.kernel_ctx, grad=grad)

    name = message.get("name") or "Function"
    return type(name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward),
                                    "__kernel_ref__": message["id"], "__module__": "student"})


# ---------------------------------------------------------------------------------------------
# the conversation with the kernel

class Connection:
    """Requests to the student's kernel on behalf of test code; wire hooks of the grader's side."""

    def __init__(self, kernel, notebook, timeout: float):
        self.kernel, self.notebook, self.timeout = kernel, notebook, timeout
        self.region = "visible"
        self.tainted = False            # the kernel has seen arguments of a hidden test
        self.flags: list[str] = []
        self.label = ""
        self._next = 1
        self.objects: dict = {}          # wire id -> notebook object (ours, or the kernel's copy)
        self.object_ids: dict = {}       # id(our notebook object) -> (wire id, object)
        self.begin()

    def begin(self):
        self.sent: dict = {}             # wire id -> our array / list / dict / generator, this request
        self.sent_ids: dict = {}

    def _id_for(self, value) -> int:
        known = self.sent_ids.get(id(value))
        if known is not None and known[1] is value:
            return known[0]
        number = self._next
        self._next += 1
        self.sent[number] = value
        self.sent_ids[id(value)] = (number, value)
        return number

    def request(self, op, **fields):
        self.begin()
        encoder = wire.Encoder(self)
        try:
            message = encoder.message(**fields)
        except wire.WireError as error:
            raise wire.WireError(f"the test could not pass its values to your code: {error}") from None
        message.update(op=op, timeout=self.timeout)
        if self.region.startswith("hidden"):
            self.tainted = True
        answer = self._ask(message)
        output = answer.get("output", "")
        if isinstance(output, str) and output:
            print(output, end="")
        decoder = wire.Decoder(self)
        try:
            value, _ = decoder.message(answer, "value", "objects")
            for wire_id, array in answer.get("arrays", []):
                mine = self.sent.get(wire_id)
                new = wire.decode_array(array)
                if type(mine) is np.ndarray and mine.shape == new.shape and self._may_change(mine):
                    mine[...] = new
            for key, kind in (("lists", list), ("dicts", dict)):
                for wire_id, content in answer.get(key, []):
                    mine = self.sent.get(wire_id)
                    new = decoder.decode(content)
                    if not self._may_change(mine):
                        continue
                    if type(mine) is kind and type(new) is kind:
                        if kind is list:
                            mine[:] = new
                        else:
                            mine.clear()
                            mine.update(new)
            for wire_id, state in answer.get("rngs", []):
                mine = self.sent.get(wire_id)
                if type(mine) is np.random.Generator:
                    mine.bit_generator.state = decoder.decode(state)
        except (wire.WireError, TypeError, ValueError, KeyError) as error:
            self.flags.append(f"{self.label}: the kernel sent an unreadable answer ({error})")
            raise StudentCodeError(f"your code's answer could not be read ({error})") from None
        error = answer.get("error") or answer.get("value_error")
        if error:
            raise student_error(answer.get("error_type"), str(error)[:2000])
        return value

    def _ask(self, message: dict) -> dict:
        try:
            return self.kernel.request(message, self.timeout)
        except KernelDied as death:
            raise KernelGone(death) from None

    def checkpoint(self) -> None:
        """Ask the kernel what was blocked or tampered with since the last step (flags)."""
        self.flags += kernel_flags(self.label, self._ask({"op": "check"}))

    def _may_change(self, value) -> bool:
        """The notebook's own data (what setup cells bound) is never changed by the student's code:
        a test that hands it to a function keeps comparing with the original."""
        if self.notebook.is_setup_data(value):
            self.flags.append(f"{self.label}: your code changed the notebook's data in place "
                              "(the change was not kept)")
            return False
        return True

    # -- wire hooks: what we send
    def encode(self, value, encoder):
        from course.autograd import Tensor

        kind = type(value)
        if isinstance(value, RemoteObject):
            return {"t": "kref", "id": value._ref}
        if isinstance(value, type) and "__kernel_ref__" in vars(value):
            return {"t": "kref", "id": vars(value)["__kernel_ref__"]}
        if kind is np.ndarray:
            return dict(wire.encode_array(value), id=self._id_for(value))
        if kind is list:
            return {"t": "list", "v": [encoder.encode(v) for v in value], "id": self._id_for(value)}
        if kind is dict:
            return {"t": "dict", "v": [[encoder.encode(k), encoder.encode(v)] for k, v in value.items()],
                    "id": self._id_for(value)}
        if kind in (tuple, complex, slice) or value is Ellipsis or isinstance(value, np.generic):
            return None
        if isinstance(value, Tensor):
            return {"t": "tensor", "v": wire.encode_array(value.data), "requires_grad": bool(value.requires_grad)}
        if kind is np.random.Generator:
            return {"t": "rng", "state": encoder.encode(value.bit_generator.state), "id": self._id_for(value)}
        if kind is types.ModuleType:
            return {"t": "module", "name": value.__name__}
        name = self.notebook.setup_name(value)
        if name is not None:
            return {"t": "global", "name": name}
        if kind is np.ufunc and getattr(np, value.__name__, None) is value:
            # numpy before 2.0 gives its ufuncs (np.sin, np.exp, ...) no __module__
            return {"t": "lib", "module": "numpy", "qualname": value.__name__}
        module = getattr(value, "__module__", None) or ""
        if (callable(value) or isinstance(value, type)) and module.startswith(LIBRARY_PREFIXES) \
                and not (kind is types.FunctionType and value.__code__.co_filename.startswith("<")):
            return {"t": "lib", "module": module, "qualname": value.__qualname__}
        if kind is types.FunctionType:
            return self._by_code(value, encoder)
        base = self.notebook.nearest_setup_class(kind)
        if base is not None:
            return self._notebook_object(value, base, encoder)
        raise wire.WireError(f"a {kind.__name__} cannot be passed to the student's code")

    def _by_code(self, fn, encoder) -> dict:
        names, todo = set(), [fn.__code__]
        while todo:
            code = todo.pop()
            names.update(i.argval for i in dis.get_instructions(code) if i.opname in GLOBAL_OPS)
            todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        scope = {n: fn.__globals__[n] for n in sorted(names) if n in fn.__globals__ and not n.startswith("__")}
        closure = tuple(cell.cell_contents for cell in fn.__closure__ or ())
        return {"t": "code", "code": base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii"),
                "name": fn.__name__, "defaults": encoder.encode(fn.__defaults__),
                "closure": encoder.encode(closure), "globals": encoder.encode(scope)}

    def _notebook_object(self, value, base, encoder):
        entry = self.object_ids.get(id(value))
        if entry is None or entry[1] is not value:
            entry = (self._next, value)
            self._next += 1
            self.object_ids[id(value)] = entry
            self.objects[entry[0]] = value

        def attributes():
            found = dict(vars(value))
            for klass in type(value).__mro__:
                if klass is base:
                    break
                for name, attr in vars(klass).items():
                    if isinstance(attr, property):
                        found[name] = getattr(value, name)
            return found
        return encoder.object_ref(value, entry[0], base.__name__, attributes)

    # -- wire hooks: what we receive
    def decode(self, tag, message, decoder):
        from course.autograd import Tensor

        if tag == "tref":
            if message.get("id") not in self.sent:
                raise wire.WireError("a reference to a value this request did not send")
            return self.sent[message["id"]]
        if tag == "ref":
            if type(message.get("id")) is not int:
                raise wire.WireError("bad reference")
            kind = message.get("kind")
            if kind == "function_class":
                return remote_function_class(self, message)
            if kind == "function":
                return RemoteFunction(self, message)
            return RemoteObject(self, message)
        if tag == "tensor":
            data = decoder.decode(message.get("v"))
            if type(data) is not np.ndarray:
                raise wire.WireError("bad tensor")
            return Tensor(data, requires_grad=bool(message.get("requires_grad")))
        if tag == "rng":
            state = decoder.decode(message.get("state"))
            if not isinstance(state, dict) or state.get("bit_generator") not in ("PCG64", "PCG64DXSM", "MT19937",
                                                                                  "Philox", "SFC64"):
                raise wire.WireError("bad random generator")
            bit_generator = getattr(np.random, state["bit_generator"])()
            bit_generator.state = state
            return np.random.Generator(bit_generator)
        raise wire.WireError(f"unknown tag {tag!r}")

    def make_object(self, wire_id, class_name):
        known = self.objects.get(wire_id)
        if known is not None:
            return known
        cls = self.notebook.setup_class(class_name)
        obj = object.__new__(cls) if cls is not None else types.SimpleNamespace()
        self.objects[wire_id] = obj
        return obj

    def fill_object(self, obj, attributes):
        if not self._may_change(obj):
            return
        for name, value in attributes.items():
            if name.startswith("__"):
                continue
            try:
                setattr(obj, name, value)
            except Exception:
                pass


# ---------------------------------------------------------------------------------------------
# the instructor's code, run here

class _ThreadStream:
    """sys.stdout / sys.stderr while grading: what a thread prints goes to the buffer that thread
    captures into, if any (graders may share a process: a thread-pool or dask executor)."""

    def __init__(self, fallback):
        self.fallback, self.local = fallback, threading.local()

    def write(self, text):
        return (getattr(self.local, "target", None) or self.fallback).write(text)

    def flush(self):
        (getattr(self.local, "target", None) or self.fallback).flush()

    def __getattr__(self, name):
        return getattr(self.fallback, name)


_STREAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def captured(buffer):
    """Send this thread's prints (stdout and stderr) to buffer, leaving other threads' alone."""
    with _STREAMS_LOCK:
        if not isinstance(sys.stdout, _ThreadStream):
            sys.stdout = _ThreadStream(sys.stdout)
        if not isinstance(sys.stderr, _ThreadStream):
            sys.stderr = _ThreadStream(sys.stderr)
        streams = (sys.stdout, sys.stderr)
    saved = [getattr(stream.local, "target", None) for stream in streams]
    for stream in streams:
        stream.local.target = buffer
    try:
        yield buffer
    finally:
        for stream, target in zip(streams, saved):
            stream.local.target = target


class _NoIPython:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def free_names(node) -> set[str]:
    """The names a piece of code reads from its globals: names whose first use (in reading order)
    reads them, plus what the functions inside it read and neither they nor the code bind."""
    names, functions = _scope(node)
    first: dict[str, bool] = {}
    for name in sorted(names, key=lambda n: (n.lineno, n.col_offset)):
        first.setdefault(name.id, isinstance(name.ctx, ast.Store))
    free = {name for name, stored in first.items() if not stored}
    bound_here = set(first)
    for function in functions:
        arguments = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
        body = function.body if isinstance(function.body, list) else [ast.Expr(function.body)]
        inner = free_names(ast.Module(body, []))
        stored = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        free |= inner - arguments - stored - bound_here
    return free


def _scope(node):
    """The Name nodes of node's own scope, and the functions (and lambdas) directly inside it."""
    names, functions, todo = [], [], [node]
    while todo:
        current = todo.pop()
        for child in ast.iter_child_nodes(current):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                functions.append(child)
                todo += list(getattr(child, "decorator_list", [])) + list(child.args.defaults)
            elif isinstance(child, ast.comprehension):
                todo += [child.iter] + list(child.ifs)
            elif isinstance(child, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                loop_names = comprehension_names(child)
                for inner in ast.walk(child):
                    if isinstance(inner, ast.Name) and inner.id not in loop_names:
                        names.append(inner)
            else:
                if isinstance(child, ast.Name):
                    names.append(child)
                todo.append(child)
    return names, functions


def comprehension_names(node) -> set[str]:
    """Loop variables of comprehensions: local to the comprehension, never the notebook's names."""
    return {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
            for n in ast.walk(c.target) if isinstance(n, ast.Name)}


def all_bound_names(statement) -> set[str]:
    names = set(bound_names(statement))
    names |= {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names - comprehension_names(statement)


def setup_slice(source) -> dict[str, set[int]]:
    """Which statements of each setup cell the tests need (directly or through other statements).

    Imports, functions and classes are always kept (they are cheap); any other statement only when
    it binds a name that a test, or a statement kept, reads. Plots, prints and training whose
    results no test reads are left to the kernel, which runs every setup cell as the notebook does.
    """
    needed = set()
    for cell in source.tests:
        try:
            needed |= free_names(ast.parse(translate(cell.code)[0]))
        except SyntaxError:
            pass
    statements = []
    for cell in source.cells:
        if cell.kind != "setup":
            continue
        try:
            tree = ast.parse(translate(cell.code)[0])
        except SyntaxError:
            continue
        statements += [(cell.cell_id, index, node) for index, node in enumerate(tree.body)]
    keep: set = set()
    used: set = set()
    changed = True
    while changed:
        changed = False
        for cell_id, index, node in statements:
            definition = isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                                           ast.ClassDef))
            if (cell_id, index) not in keep and (definition or all_bound_names(node) & needed):
                keep.add((cell_id, index))
                changed = True
            if (cell_id, index) in keep and (cell_id, index) not in used and all_bound_names(node) & needed:
                used.add((cell_id, index))
                needed |= free_names(node)
                changed = True
    kept: dict[str, set[int]] = {}
    for cell_id, index in keep:
        kept.setdefault(cell_id, set()).add(index)
    return kept


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


def _mistakes(exception) -> list[dict]:
    """The gradient checker's diagnoses of a failed check: [{"key", "input"}, ...] (see
    course.gradcheck: a GradientCheckError carries them as `diagnoses`)."""
    found = getattr(exception, "diagnoses", None)
    if not isinstance(found, list):
        return []
    return [{"key": str(d.get("key")), "input": str(d.get("input"))} for d in found if isinstance(d, dict)]


class TestNamespace(dict):
    """A test cell's globals. A test that rebinds one of the student's names (to stand in a
    reference for a function) rebinds it in the kernel too, as it would in the notebook."""

    def __init__(self, values, notebook):
        super().__init__(values)
        self._notebook = notebook

    def __setitem__(self, name, value):
        dict.__setitem__(self, name, value)
        if name in self._notebook.student:
            self._notebook.connection.request("bind", name=name, value=value)


class TrustedNotebook:
    """The instructor's side of one submission's notebook: setup names, the student's names as
    proxies, and the test cells, run in this process."""

    def __init__(self, source, kernel, timeout: float, visible_only: bool = False):
        self.source, self.visible_only = source, visible_only
        self.connection = Connection(kernel, self, timeout)
        self.ns = {"__name__": NOTEBOOK_MODULE, "__builtins__": builtins, "get_ipython": lambda: _NoIPython(),
                   "display": lambda *args, **kwargs: None}
        self.setup: dict = {}            # name -> what a setup statement bound it to
        self.student: dict = {}          # name -> the student's value or proxy
        self.test_defined: dict = {}
        self.keep = setup_slice(source)
        self.notes: list[str] = []

    # -- names
    def setup_name(self, value):
        if not (callable(value) or isinstance(value, type)):
            return None
        for name, bound in self.setup.items():
            if bound is value:
                return name
        return None

    def is_setup_data(self, value) -> bool:
        for bound in self.setup.values():
            if bound is value:
                return True
            if type(bound) in (tuple, list) and any(item is value for item in bound):
                return True
            if type(bound) is dict and any(item is value for item in bound.values()):
                return True
        return False

    def setup_class(self, name):
        cls = self.setup.get(name)
        return cls if isinstance(cls, type) and cls.__module__ == NOTEBOOK_MODULE else None

    def nearest_setup_class(self, cls):
        for klass in getattr(cls, "__mro__", ()):
            if self.setup_class(klass.__name__) is klass:
                return klass
        return None

    # -- steps
    def run_setup(self, cell_id: str, code: str) -> None:
        """Run the statements of a setup cell that the tests need."""
        keep = self.keep.get(cell_id, set())
        try:
            tree = ast.parse(translate(code)[0])
        except SyntaxError:
            return
        for index, node in enumerate(tree.body):
            if index not in keep:
                continue
            try:
                with captured(io.StringIO()):
                    exec(compile(ast.Module([node], []), f"<setup {cell_id}>", "exec"), self.ns)
            except KernelGone:
                raise
            except Exception as error:
                self.notes.append(f"setup cell {cell_id}, line {node.lineno}: {describe(error)}")
            for name in all_bound_names(node):
                if name in self.ns:
                    self.setup[name] = self.ns[name]

    def bind(self, answer: dict) -> None:
        """The names a student cell bound, from the kernel's answer."""
        decoder = wire.Decoder(self.connection)
        try:
            (bindings,) = decoder.message(answer, "bindings")
        except wire.WireError as error:
            self.connection.flags.append(f"the kernel sent unreadable names ({error})")
            return
        if not isinstance(bindings, dict):
            return
        for name, value in bindings.items():
            if isinstance(name, str) and name.isidentifier():
                self.student[name] = value
                self.test_defined.pop(name, None)     # the notebook's latest binding wins
                if name not in self.setup:
                    self.ns[name] = value

    def _mirror_seeding(self, namespace) -> None:
        """manual_seed in a test seeds the kernel's generator too: the student's code draws there."""
        from course.autograd import manual_seed

        def seed_both(seed):
            manual_seed(seed)
            self.connection.request("call", target=manual_seed, args=(seed,), kwargs={})
        for name, value in list(namespace.items()):
            if value is manual_seed:
                dict.__setitem__(namespace, name, seed_both)

    def run_test(self, code: str, label: str) -> dict:
        """Run a test cell here. Returns {"passed", "failed_part", "error", "output", "tainted"}."""
        connection = self.connection
        connection.label = label
        region = ["visible"]
        visible_output: list[str] = []
        buffer = io.StringIO()

        def __ag_region__(name):
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if region[0] == "visible":
                visible_output.append(text)
            region[0] = connection.region = name

        if self.visible_only:
            code = split_hidden(code)[0]
        try:
            code_object = compile(with_regions(translate(code)[0]), f"<test {label}>", "exec")
        except SyntaxError as error:
            return {"passed": False, "failed_part": "visible", "error": f"SyntaxError in the test: {error.msg}",
                    "output": "", "tainted": False}
        namespace = TestNamespace({**self.ns, **self.test_defined, "__ag_region__": __ag_region__}, self)
        self._mirror_seeding(namespace)
        before = dict(namespace)
        tainted_before = connection.tainted
        error, part, mistakes = "", None, []
        connection.region = "visible"
        try:
            with captured(buffer):
                exec(code_object, namespace)
        except KernelGone:
            connection.region = "visible"
            raise
        except StudentCodeError as exception:
            error, part = f"your code raised {exception}", region[0]
        except wire.WireError as exception:
            error, part = str(exception), region[0]
        except Exception as exception:
            error, part = describe(exception), region[0]
            mistakes = _mistakes(exception)
        __ag_region__("visible")
        connection.checkpoint()
        for name, value in namespace.items():
            if name.startswith("__") or (name in before and before[name] is value):
                continue
            self.test_defined[name] = value
        return {"passed": not error, "failed_part": part, "error": error, "output": "".join(visible_output),
                "tainted": tainted_before, "mistakes": mistakes}
