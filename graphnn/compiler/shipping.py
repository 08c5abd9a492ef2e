"""What a pickled compiled function carries: its graph as data and its compile settings.

Stage: after compilation. Input: a compiled function's graph and settings (`Shipped`). Output:
one bytes object (`encode`) and back (`decode`); `Function.__reduce__`
(graphnn/compiler/function.py) pickles a function as a call of its rebuilding function on
these bytes, and the receiver compiles the graph again, through the disk cache.

The bytes are `graphnn.graphdata.pack` of a JSON header and the graph's constant arrays:

    {"format": "graphnn.function", "version": 1,
     "graph": <graphdata.to_data: nodes with op names, attributes, shapes, dtypes, names, scopes>,
     "single": true, "name": "f", "gemm": "auto", "threads": null, "optimize": true,
     "cpu": "host" | "x86-64-v3" | {"cpu": ..., "features": ...},
     "options": {every CompileOptions field, "codegen": {every CodegenOptions field}}}

No machine code travels and no graphnn object is pickled: reading the bytes parses JSON and
copies numbers, and the graph is rebuilt through `apply` (graphdata), so its shape and dtype
rules run again on the receiver. `cpu="host"` (a target equal to the sender's host) means the
receiver's own CPU; an x86-64 level stays that level (refused by a CPU that lacks it).

>>> import graphnn as gn
>>> from graphnn.options import CompileOptions
>>> x = gn.input("x", shape=(3,))
>>> shipped = Shipped(gn.Graph(gn.tanh(x)), single=True, name="f", gemm="auto", threads=None,
...                   optimize=True, cpu="x86-64-v3", options=CompileOptions(fold_limit=8))
>>> back = decode(encode(shipped))
>>> back.graph.outputs == shipped.graph.outputs, back.cpu, back.options.fold_limit
(True, 'x86-64-v3', 8)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from codegen.llvm import X86_LEVELS, Target
from graphnn.graph import Graph
from graphnn.graphdata import GraphDataError, from_data, pack, to_data, unpack
from graphnn.options import CompileOptions

FORMAT = "graphnn.function"
VERSION = 1
_SCALARS = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class Shipped:
    """A compiled function's graph and what `gn.compile` was given for it."""

    graph: Graph
    single: bool
    name: str
    gemm: str
    threads: int | None
    optimize: bool
    cpu: str | Target           # "host", an x86-64 level, or another Target
    options: CompileOptions


def cpu_setting(target: Target) -> str | Target:
    """What a receiver compiles for: "host" for code made for the sender's own CPU, the level
    for an x86-64 level, else the Target itself."""
    if target == Target.host():
        return "host"
    if target.cpu in X86_LEVELS and target == Target.named(target.cpu):
        return target.cpu
    return target


def _fields(options: Any) -> dict[str, Any]:
    """A frozen dataclass of settings as JSON, nested dataclasses as objects."""
    found = {}
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if dataclasses.is_dataclass(value):
            found[field.name] = _fields(value)
        elif isinstance(value, _SCALARS):
            found[field.name] = value
        else:
            raise GraphDataError(f"compile option {field.name} = {value!r} cannot be shipped")
    return found


def _settings(kind: type, data: Any, where: str) -> Any:
    """The dataclass `kind` from its fields (`_fields`), checked by its own constructor."""
    if not isinstance(data, dict):
        raise GraphDataError(f"{where} must be a mapping, got {data!r}")
    defaults = kind()
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GraphDataError(f"{where} has the field {unknown[0]!r}, which this graphnn's "
                             f"{kind.__name__} does not")
    values = {}
    for name, value in data.items():
        default = getattr(defaults, name)
        values[name] = _settings(type(default), value, f"{where}.{name}") \
            if dataclasses.is_dataclass(default) else value
    try:
        return kind(**values)
    except Exception as error:        # the settings' own checks: a graphnn or a value error
        raise GraphDataError(f"{where}: {error}") from None


def encode(shipped: Shipped) -> bytes:
    """The bytes a pickled compiled function carries (see the module docstring)."""
    graph, arrays = to_data(shipped.graph)
    cpu = shipped.cpu if isinstance(shipped.cpu, str) else \
        {"cpu": shipped.cpu.cpu, "features": shipped.cpu.features}
    header = {"format": FORMAT, "version": VERSION, "graph": graph, "single": shipped.single,
              "name": shipped.name, "gemm": shipped.gemm, "threads": shipped.threads,
              "optimize": shipped.optimize, "cpu": cpu, "options": _fields(shipped.options)}
    return pack(header, arrays)


def _cpu(value: Any) -> str | Target:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"cpu", "features"} and \
            all(isinstance(v, str) for v in value.values()):
        return Target(value["cpu"], value["features"])
    raise GraphDataError(f"a shipped function's cpu must be a name or a target, got {value!r}")


def decode(blob: bytes) -> Shipped:
    """The graph and settings in `encode`'s bytes; a GraphDataError when they are of another
    format or version or damaged."""
    header, arrays = unpack(blob)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise GraphDataError("not a shipped graphnn function")
    if header.get("version") != VERSION:
        raise GraphDataError(f"a shipped function of version {header.get('version')!r}; this "
                             f"graphnn reads version {VERSION}")
    kinds = {"single": bool, "name": str, "gemm": str, "optimize": bool}
    for key, kind in kinds.items():
        if not isinstance(header.get(key), kind):
            raise GraphDataError(f"a shipped function's {key} must be a {kind.__name__}, got "
                                 f"{header.get(key)!r}")
    threads = header.get("threads")
    if threads is not None and type(threads) is not int:
        raise GraphDataError(f"a shipped function's threads must be an int or null, got "
                             f"{threads!r}")
    return Shipped(from_data(header.get("graph"), arrays), header["single"], header["name"],
                   header["gemm"], threads, header["optimize"], _cpu(header.get("cpu")),
                   _settings(CompileOptions, header.get("options"), "options"))


__all__ = ["FORMAT", "VERSION", "Shipped", "cpu_setting", "decode", "encode"]
