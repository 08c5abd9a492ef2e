"""A graph as plain data: JSON-able structure plus constant arrays, and back through `apply`.

Stage: after declaration (any Graph). Input: a `Graph`. Output: `to_data(graph)` gives a dict
that `json.dumps` accepts (format name and version, the graph's name, every node with its op
name, input positions, attributes, shape, dtype, name and scope, the call inputs and the
outputs) and a list of NumPy arrays (the constants' values, which a node refers to by
position); `from_data(data, arrays)` rebuilds the graph. `pack`/`unpack` put both in one bytes
object (what a pickled compiled function carries, graphnn/compiler/shipping.py).

Rebuilding goes through `gn.input`, `gn.constant` and `apply`, so every shape and dtype rule
runs again, interning merges the nodes with any equal ones of the process, and nothing in the
data is executed: op names are looked up in the registry, attributes are numbers, strings,
tuples and None. Each rebuilt node must have the shape, dtype and attributes the data
records, so data written by a graphnn whose rules differ is refused, not silently changed.

Only graphnn's own ops travel (OpDef.builtin): an op registered outside graphnn is Python code
(its rules are functions), which data cannot carry and a receiver might define differently;
`to_data` refuses it, naming the op. The serializer has no per-op code: any dtype NumPy knows
by name and any number of inputs work as they are.

>>> import numpy as np, graphnn as gn
>>> x = gn.input("x", shape=(2, 3))
>>> g = gn.Graph(gn.relu(x @ np.ones((3, 4))), name="layer")
>>> data, arrays = to_data(g)
>>> [node["op"] for node in data["nodes"]], [a.shape for a in arrays]
(['input', 'constant', 'matmul', 'relu'], [(3, 4)])
>>> from_data(data, arrays).outputs == g.outputs        # interning: the very same nodes
True
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphnn.errors import GraphnnError
from graphnn.graph import Graph
from graphnn.ir import REGISTRY, Node, apply, constant, input, scope
from graphnn.ops.indexing import Index
from graphnn.version import __version__

FORMAT = "graphnn.graph"
VERSION = 1
MAGIC = b"GNNGRAPH"          # pack(): MAGIC, then 8-byte little-endian lengths and payloads
_LENGTH = struct.Struct("<Q")


class GraphDataError(GraphnnError, ValueError):
    """A graph cannot be written as data (an op that is not graphnn's own, an attribute of
    an unknown kind), or data does not describe a graph this graphnn can rebuild."""


# -- attributes: JSON values, with tagged objects for what JSON cannot say --------------------


def _encode(value: Any, where: str) -> Any:
    """An attribute value as JSON: None, bools, ints, finite floats and strings as they are;
    tuples, indexes (x[...]'s), non-finite floats, slices, Ellipsis and NumPy scalars and
    dtypes tagged."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else {"float": repr(float(value))}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Index):             # before tuple: an Index is one, made canonical
        return {"index": [_encode(v, where) for v in value]}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, where) for v in value]}
    if isinstance(value, slice):
        return {"slice": [_encode(v, where) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, np.dtype):
        return {"dtype": value.name}
    raise GraphDataError(f"{where} is a {type(value).__name__} ({value!r}), which graph data "
                         "cannot hold (numbers, strings, tuples, slices and None can)")


_TAGS: dict[str, Callable[[Any, str], Any]] = {
    "float": lambda v, w: float(_text(v, w)),
    "tuple": lambda v, w: tuple(_decode(item, w) for item in _list(v, w)),
    "index": lambda v, w: Index(_decode(item, w) for item in _list(v, w)),
    "slice": lambda v, w: slice(*(_decode(item, w) for item in _list(v, w, 3))),
    "ellipsis": lambda v, w: Ellipsis,
    "dtype": lambda v, w: np.dtype(_text(v, w)),
}


def _decode(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag in _TAGS:
            try:
                return _TAGS[tag](inner, where)
            except (TypeError, ValueError) as error:
                raise GraphDataError(f"{where}: bad {tag} value {inner!r} ({error})") from None
    raise GraphDataError(f"{where}: {value!r} is no attribute value")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise GraphDataError(f"{where}: expected a string, got {value!r}")
    return value


def _list(value: Any, where: str, length: int | None = None) -> list:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise GraphDataError(f"{where}: expected a list{f' of {length}' if length else ''}, "
                             f"got {value!r}")
    return value


# -- writing ----------------------------------------------------------------------------------


def _node_data(node: Node, index: dict[Node, int], arrays: list[np.ndarray]) -> dict:
    record: dict[str, Any] = {"op": node.op, "shape": list(node.shape), "dtype": node.dtype,
                              "name": node.name, "scope": list(node.scope)}
    if node.op == "constant":
        record["array"] = len(arrays)
        arrays.append(np.asarray(node.value, order="C"))
    elif node.op != "input":
        if not node.opdef.builtin:
            raise GraphDataError(
                f"op {node.op!r} is not one of graphnn's own ops, so a graph using it cannot "
                "be written as data: its rules are Python code, which the data does not carry "
                "(call the function in this process, or build the graph from graphnn's ops)")
        record["inputs"] = [index[i] for i in node.inputs]
        record["attrs"] = {key: _encode(value, f"{node.op}: attribute {key!r}")
                           for key, value in node.attr_items}
    return record


def to_data(graph: Graph) -> tuple[dict, list[np.ndarray]]:
    """The graph as (JSON-able dict, constant arrays); see the module docstring."""
    reached = set(graph.nodes)
    nodes = list(graph.nodes) + [n for n in graph.inputs if n not in reached]
    index = {node: k for k, node in enumerate(nodes)}
    arrays: list[np.ndarray] = []
    records = [_node_data(node, index, arrays) for node in nodes]
    data = {"format": FORMAT, "version": VERSION, "graphnn": __version__, "name": graph.name,
            "nodes": records, "inputs": [index[n] for n in graph.inputs],
            "outputs": [index[n] for n in graph.outputs]}
    return data, arrays


# -- reading ----------------------------------------------------------------------------------


def _shape(value: Any, where: str) -> tuple[int, ...]:
    items = _list(value, where)
    if not all(type(d) is int and d >= 0 for d in items):
        raise GraphDataError(f"{where}: a shape is a list of non-negative ints, got {value!r}")
    return tuple(items)


def _array(record: dict, arrays: Sequence[np.ndarray], where: str) -> np.ndarray:
    k = record.get("array")
    if type(k) is not int or not 0 <= k < len(arrays):
        raise GraphDataError(f"{where}: constant array {k!r} is not among the "
                             f"{len(arrays)} arrays given")
    array = np.asarray(arrays[k])
    shape, dtype = _shape(record.get("shape"), where), _text(record.get("dtype"), where)
    if array.shape != shape or array.dtype.name != dtype:
        raise GraphDataError(f"{where}: array {k} is {array.dtype.name} {array.shape}, but the "
                             f"node is {dtype} {shape}")
    return array


def _build(record: Any, built: list[Node], arrays: Sequence[np.ndarray], where: str) -> Node:
    """One node from its record, inside its scope (the caller's context holds no scope)."""
    if not isinstance(record, dict):
        raise GraphDataError(f"{where}: expected a node record, got {record!r}")
    op, name = _text(record.get("op"), where), record.get("name")
    path = [_text(s, where) for s in _list(record.get("scope", []), where)]
    with contextlib.ExitStack() as stack:
        for part in path:
            stack.enter_context(scope(part))
        if op == "input":
            return input(_text(name, where), _shape(record.get("shape"), where),
                         _text(record.get("dtype"), where))
        if op == "constant":
            return constant(_array(record, arrays, where), record.get("dtype"), name)
        opdef = REGISTRY.get(op)
        if opdef is None or not opdef.builtin:
            raise GraphDataError(f"{where}: op {op!r} is not one of this graphnn's own ops "
                                 f"(graphnn {__version__})")
        positions = _list(record.get("inputs"), where)
        if not all(type(k) is int and 0 <= k < len(built) for k in positions):
            raise GraphDataError(f"{where}: inputs {positions!r} must name earlier nodes")
        attrs = record.get("attrs", {})
        if not isinstance(attrs, dict):
            raise GraphDataError(f"{where}: attrs must be a mapping, got {attrs!r}")
        decoded = {key: _decode(v, f"{where}: attribute {key!r}") for key, v in attrs.items()}
        return apply(op, *(built[k] for k in positions), name=name, **decoded)


def _check(node: Node, record: dict, where: str) -> None:
    """The rebuilt node is what the data recorded (rules that changed are an error)."""
    shape, dtype = _shape(record.get("shape"), where), record.get("dtype")
    attrs = {key: _decode(v, where) for key, v in record.get("attrs", {}).items()}
    if node.shape != shape or node.dtype != dtype or \
            (node.op not in ("input", "constant") and dict(node.attr_items) != attrs):
        raise GraphDataError(f"{where}: rebuilt as {node.dtype} {node.shape} with attributes "
                             f"{dict(node.attr_items)}, but the data records {dtype} {shape} "
                             f"with {attrs}: its op rules differ from this graphnn's")


def _rebuild(data: dict, arrays: Sequence[np.ndarray]) -> Graph:
    built: list[Node] = []
    for k, record in enumerate(_list(data.get("nodes"), "nodes")):
        where = f"node {k} ({record.get('op') if isinstance(record, dict) else '?'})"
        try:
            node = _build(record, built, arrays, where)
        except GraphDataError:
            raise
        except GraphnnError as error:
            raise GraphDataError(f"{where}: {str(error).split(chr(10))[0]}") from None
        _check(node, record, where)
        built.append(node)

    def pick(key: str) -> list[Node]:
        positions = _list(data.get(key), key)
        if not all(type(k) is int and 0 <= k < len(built) for k in positions):
            raise GraphDataError(f"{key} {positions!r} must name nodes of the data")
        return [built[k] for k in positions]

    name = _text(data.get("name", "f"), "name")
    return Graph(pick("outputs"), pick("inputs"), name=name)


def from_data(data: dict, arrays: Sequence[np.ndarray]) -> Graph:
    """The Graph described by `data` and `arrays` (from `to_data`), rebuilt through `apply`;
    a GraphDataError when the data is of another format or version or does not fit."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GraphDataError(f"not graphnn graph data (format {FORMAT!r} expected)")
    if data.get("version") != VERSION:
        raise GraphDataError(f"graph data of version {data.get('version')!r} (written by "
                             f"graphnn {data.get('graphnn')}); this graphnn ({__version__}) "
                             f"reads version {VERSION}")
    # a fresh context: scopes the caller is inside of do not prefix the rebuilt nodes' own
    return contextvars.Context().run(_rebuild, data, arrays)


# -- one bytes object ---------------------------------------------------------------------------


def pack(data: dict, arrays: Sequence[np.ndarray]) -> bytes:
    """`data` (as JSON) and the arrays' bytes in one object: MAGIC, then the JSON and each
    array (C order, native byte order, its dtype and shape listed in the JSON), each after
    its length. Nothing but JSON and raw numbers: reading it runs no code."""
    arrays = [np.asarray(a, order="C") for a in arrays]
    header = {"data": data, "arrays": [[a.dtype.str, list(a.shape)] for a in arrays]}
    parts = [json.dumps(header, allow_nan=False, separators=(",", ":")).encode()]
    parts += [a.tobytes() for a in arrays]
    return MAGIC + b"".join(_LENGTH.pack(len(p)) + p for p in parts)


def _parts(blob: bytes) -> list[bytes]:
    parts, at = [], len(MAGIC)
    while at < len(blob):
        if at + _LENGTH.size > len(blob):
            raise GraphDataError("packed graph data is truncated")
        (length,) = _LENGTH.unpack_from(blob, at)
        at += _LENGTH.size
        if at + length > len(blob):
            raise GraphDataError("packed graph data is truncated")
        parts.append(blob[at:at + length])
        at += length
    return parts


def unpack(blob: bytes) -> tuple[dict, list[np.ndarray]]:
    """(data, arrays) from `pack`'s bytes, or a GraphDataError."""
    if not isinstance(blob, (bytes, bytearray, memoryview)) or bytes(blob[:len(MAGIC)]) != MAGIC:
        raise GraphDataError("not packed graphnn graph data")
    parts = _parts(bytes(blob))
    try:
        header = json.loads(parts[0])
        specs = header["arrays"]
        data = header["data"]
    except (IndexError, ValueError, KeyError, TypeError) as error:
        raise GraphDataError(f"packed graph data has a damaged header ({error})") from None
    if not isinstance(specs, list) or len(specs) != len(parts) - 1:
        raise GraphDataError("packed graph data lists another number of arrays than it holds")
    arrays = []
    for k, (spec, raw) in enumerate(zip(specs, parts[1:])):
        try:
            dtype, shape = np.dtype(spec[0]), _shape(spec[1], f"array {k}")
            if dtype.hasobject or dtype.itemsize * math.prod(shape) != len(raw):
                raise ValueError(f"{len(raw)} bytes for {dtype} {shape}")
            arrays.append(np.frombuffer(raw, dtype=dtype).reshape(shape))
        except (TypeError, ValueError, IndexError) as error:
            raise GraphDataError(f"packed graph data: array {k} is damaged ({error})") from None
    return data, arrays


__all__ = ["FORMAT", "VERSION", "GraphDataError", "from_data", "pack", "to_data", "unpack"]
