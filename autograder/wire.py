"""Values between the grader and the student's kernel, as plain data: JSON, arrays as raw bytes.

Nothing here unpickles. Each side encodes what it sends with an `Encoder` and decodes what it
receives with a `Decoder`; both take a `hooks` object for the kinds only one side knows (the
grader's proxies, the kernel's objects). Tagged values:

    None, bool, int, float, str                     as themselves
    {"t": "tuple" | "list", "v": [...]}, {"t": "dict", "v": [[key, value], ...]}
    {"t": "nd", "dtype", "shape", "b64", "id"?}      a numeric numpy array (never object dtype)
    {"t": "np", "dtype", "b64"}                      a numpy scalar
    {"t": "complex", "v": [re, im]}, {"t": "slice", "v": [...]}, {"t": "ellipsis"}
    {"t": "obj", "id": n}                            an object of the notebook's classes: its class
                                                     and attributes are in the message's "objs" table
                                                     (so that deep graphs need no deep recursion)

and whatever tags the hooks add (references, tensors, random generators, functions by code).
"""
from __future__ import annotations

import base64
import math

import numpy as np

NUMERIC_KINDS = "biufc"
MAX_DEPTH = 200


class WireError(ValueError):
    """A message that is not what the protocol allows."""


def encode_array(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
        raise WireError(f"an array of dtype {array.dtype} cannot be sent (numbers and booleans only)")
    return {"t": "nd", "dtype": array.dtype.str, "shape": list(array.shape),
            "b64": base64.b64encode(array.tobytes()).decode("ascii")}


def _dtype(text) -> np.dtype:
    if not isinstance(text, str):
        raise WireError("bad dtype")
    dtype = np.dtype(text)
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"dtype {text} is not allowed")
    return dtype


def decode_array(message: dict) -> np.ndarray:
    dtype = _dtype(message.get("dtype"))
    shape = message.get("shape")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("bad shape")
    data = base64.b64decode(message.get("b64", ""), validate=True)
    if len(data) != dtype.itemsize * math.prod(shape):
        raise WireError("array data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


class Encoder:
    """Encodes one message. `hooks.encode(value, encoder)` returns a tagged dict for the kinds it
    knows, or None; objects it registers with `encoder.object_ref` travel in the "objs" table."""

    def __init__(self, hooks=None):
        self.hooks = hooks
        self.objs: list = []            # [[id, class name, {attr: value}], ...]
        self._queue: list = []
        self._seen: dict = {}           # id(object) -> wire id

    def object_ref(self, obj, wire_id, class_name, attributes) -> dict:
        """Register obj (a notebook-class instance) under wire_id; attributes() is called later."""
        if id(obj) not in self._seen:
            self._seen[id(obj)] = wire_id
            self._queue.append((obj, wire_id, class_name, attributes))
        return {"t": "obj", "id": self._seen[id(obj)]}

    def encode(self, value, depth=0):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        kind = type(value)
        if value is None or kind in (bool, int, float, str):
            return value
        if self.hooks is not None:
            tagged = self.hooks.encode(value, self)
            if tagged is not None:
                return tagged
        if kind in (tuple, list):
            return {"t": kind.__name__, "v": [self.encode(v, depth + 1) for v in value]}
        if kind is dict:
            return {"t": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                       for k, v in value.items()]}
        if kind is complex:
            return {"t": "complex", "v": [value.real, value.imag]}
        if kind is slice:
            return {"t": "slice", "v": [self.encode(v, depth + 1) for v in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"t": "ellipsis"}
        if kind is np.ndarray:
            return encode_array(value)
        if isinstance(value, np.generic) and value.dtype.kind in NUMERIC_KINDS:
            return {"t": "np", "dtype": value.dtype.str, "b64": base64.b64encode(value.tobytes()).decode("ascii")}
        raise WireError(f"a value of type {kind.__name__} cannot be sent")

    def table(self) -> list:
        """The objects referenced so far, with their attributes (encoding them may add more)."""
        table = []
        while self._queue:
            obj, wire_id, class_name, attributes = self._queue.pop(0)
            table.append([wire_id, class_name, {name: self.encode(v) for name, v in attributes().items()}])
        return table

    def message(self, **fields) -> dict:
        """fields encoded, plus the table of the objects they reference."""
        out = {name: self.encode(value) for name, value in fields.items()}
        out["objs"] = self.table()
        return out


class Decoder:
    """Decodes one message. `hooks.decode(tag, message, decoder)` builds the hook kinds;
    `hooks.make_object(wire_id, class_name)` and `hooks.fill_object(obj, attributes)` the objects
    of the "objs" table (first all created, then all filled: graphs may have cycles)."""

    def __init__(self, hooks=None):
        self.hooks = hooks
        self.objects: dict = {}

    def message(self, message: dict, *names):
        if not isinstance(message, dict):
            raise WireError("a message is a JSON object")
        table = message.get("objs", [])
        if not isinstance(table, list):
            raise WireError("bad object table")
        for entry in table:
            if not (isinstance(entry, list) and len(entry) == 3 and type(entry[0]) is int
                    and isinstance(entry[1], str) and isinstance(entry[2], dict)):
                raise WireError("bad object table entry")
            self.objects[entry[0]] = self.hooks.make_object(entry[0], entry[1])
        for wire_id, _, attributes in table:
            self.hooks.fill_object(self.objects[wire_id], {str(k): self.decode(v) for k, v in attributes.items()})
        return [self.decode(message.get(name)) for name in names]

    def _received(self, message, value):
        """Values sent with an "id" are the sender's own objects: the hooks may track them."""
        if "id" in message and self.hooks is not None and hasattr(self.hooks, "received"):
            self.hooks.received(message["id"], value)
        return value

    def decode(self, value, depth=0):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if not isinstance(value, dict) or not isinstance(value.get("t"), str):
            raise WireError(f"unexpected {type(value).__name__} in a message")
        tag = value["t"]
        if tag in ("tuple", "list"):
            items = value.get("v")
            if not isinstance(items, list):
                raise WireError("bad sequence")
            items = [self.decode(v, depth + 1) for v in items]
            return tuple(items) if tag == "tuple" else self._received(value, items)
        if tag == "dict":
            pairs = value.get("v")
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise WireError("bad dict")
            out = {}
            for k, v in pairs:
                key = self.decode(k, depth + 1)
                try:
                    out[key] = self.decode(v, depth + 1)
                except TypeError:
                    raise WireError("unhashable dict key") from None
            return self._received(value, out)
        if tag == "nd":
            return self._received(value, decode_array(value))
        if tag == "np":
            data = base64.b64decode(value.get("b64", ""), validate=True)
            dtype = _dtype(value.get("dtype"))
            if len(data) != dtype.itemsize:
                raise WireError("bad numpy scalar")
            return np.frombuffer(data, dtype=dtype)[0]
        if tag == "complex":
            re, im = value.get("v", [0, 0])
            if type(re) not in (int, float) or type(im) not in (int, float):
                raise WireError("bad complex")
            return complex(re, im)
        if tag == "slice":
            parts = [self.decode(v, depth + 1) for v in value.get("v", [])]
            if len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
                raise WireError("bad slice")
            return slice(*parts)
        if tag == "ellipsis":
            return Ellipsis
        if tag == "obj":
            wire_id = value.get("id")
            if wire_id not in self.objects:
                raise WireError("reference to an object not in the message")
            return self.objects[wire_id]
        if self.hooks is not None:
            return self.hooks.decode(tag, value, self)
        raise WireError(f"unknown tag {tag!r}")
