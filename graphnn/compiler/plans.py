"""Plans: what compilation derives from a graph before native code, cached on disk.

Stage: compilation. Input: a graph with fixed input shapes, its name, whether to optimize it and the
CompileOptions. Output: a `Plan`, the scheduled loop-IR kernel with its constant arrays and, for
each graph output, where its value comes from. Optimizing, lowering and scheduling are pure
functions of the graph's raw text (`graph.text(raw=True)`, the same in every process), the full
bytes of its constants, the options (by their repr: every field, so a new setting cannot be left out
of the key) and graphnn's and codegen's source, so a plan is stored in the disk cache
(codegen.cache, beside the object code) under a hash of exactly those, and a graph compiled before
skips all three: about 30 ms of Python for the MLP step, 15 ms for the lecture neuron.

A plan is stored as data, never as a pickle (a cache entry cannot run code when read): a
little-endian length, JSON for the structure (`PLAN_FORMAT`, the cache key it was made for, the
kernel through codegen.serialize, each array's dtype and shape, the outputs and their sources),
then the arrays' raw little-endian bytes. Reading one checks the key, rebuilds the kernel
through its checked constructors and checks the plan against the graph being compiled (its
inputs, outputs and constants: dtypes and shapes); an entry that fails anything is evicted and
the plan made again.

Not cached: a graph with an op that is not one of graphnn's own (OpDef.builtin, set by
graphnn.ops whenever the op is registered: its lowering is the user's code, which no stamp
covers), a plan whose constants exceed PLAN_CONSTANTS_LIMIT bytes (they would be
stored again for every batch size and every change of a baked-in weight; the object code is
still cached), and any graph while the optimizer's invariant checks are on
(`CompileOptions.check_passes`: the checks run in the optimizer a cached plan skips).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codegen import cache, loops, serialize
from codegen.jit import codegen_version, host
from codegen.native.runtime import available_cores
from codegen.schedule import schedule
from graphnn.errors import GraphnnError, LoweringError
from graphnn.graph import Graph
from graphnn.lower import lower
from graphnn.options import CompileOptions
from graphnn.passes import optimize as optimize_graph

PLAN_FORMAT = "plan 2"
PLAN_CONSTANTS_LIMIT = 1 << 20


@dataclass(frozen=True)
class Plan:
    kernel: loops.Kernel                       # scheduled, ready for codegen.jit.compile_kernel
    constants: tuple[np.ndarray, ...]          # C-contiguous, passed after the inputs
    outputs: tuple[tuple[str, tuple[int, ...]], ...]  # (dtype, shape) of each kernel output
    # for each graph output: ("kernel", k), ("input", position) or ("constant", value)
    sources: tuple[tuple[str, Any], ...]


def make_plan(graph: Graph, name: str, optimize: bool,
              options: CompileOptions | None = None) -> Plan:
    """Optimize (when asked), lower and schedule `graph` with `options`."""
    options = CompileOptions() if options is None else options
    prepared = optimize_graph(graph, options=options) if optimize else graph
    lowered = lower(prepared, name=name, options=options)
    computed = {node: k for k, node in enumerate(lowered.outputs)}
    sources = []
    for node in lowered.results:
        if node in computed:
            sources.append(("kernel", computed[node]))
        elif node.op == "input":
            sources.append(("input", prepared.inputs.index(node)))
        else:
            sources.append(("constant", node.value))
    return Plan(schedule(lowered.kernel, options=options.codegen),
                tuple(np.ascontiguousarray(c) for c in lowered.constants),
                tuple((n.dtype, n.shape) for n in lowered.outputs), tuple(sources))


def cacheable(graph: Graph, options: CompileOptions) -> bool:
    """Whether a plan of `graph` may come from (and go to) the disk cache."""
    return not options.check_passes and all(n.opdef.builtin for n in graph.nodes)


def plan(graph: Graph, name: str, optimize: bool, options: CompileOptions | None = None) -> Plan:
    """The plan for `graph` with `options` (default: a new CompileOptions), from the disk cache
    when it has one."""
    options = CompileOptions() if options is None else options
    if not cacheable(graph, options):
        return _user_plan(graph, name, optimize, options)
    key = plan_key(graph, name, optimize, options)
    payload = cache.load("plan", key)
    if payload is not None:
        try:
            return decode_plan(payload, graph, key)
        except PlanFormatError:
            cache.evict("plan", key)
    made = make_plan(graph, name, optimize, options)
    if sum(c.nbytes for c in made.constants) <= PLAN_CONSTANTS_LIMIT:
        try:
            cache.store("plan", key, encode_plan(made, key))
        except PlanFormatError:      # an array of a dtype plans do not store
            pass
    return made


def _user_plan(graph: Graph, name: str, optimize: bool, options: CompileOptions) -> Plan:
    """make_plan, with a failure inside the rules of an op registered outside graphnn (a
    lowering that calls Python on loop IR, say) reported as such, naming the op."""
    try:
        return make_plan(graph, name, optimize, options)
    except GraphnnError:
        raise
    except Exception as error:       # noqa: BLE001 - a user's rule raised: report it
        user = sorted({n.op for n in graph.nodes if not n.opdef.builtin})
        if not user:
            raise
        raise LoweringError(
            f"op{'s' if len(user) > 1 else ''} {', '.join(repr(o) for o in user)} "
            f"(registered outside graphnn) could not be lowered to loop IR "
            f"({type(error).__name__}: {error}): native code runs only rules that build loop "
            "IR (codegen.loops expressions), never Python") from None


def plan_key(graph: Graph, name: str, optimize: bool,
             options: CompileOptions | None = None) -> str:
    """A hash of everything a plan follows from: the graph's text (which names a large constant
    by a short digest, so constants' full bytes are hashed too), the name, whether to optimize,
    the options (their repr names every field and its value), the core count (convolutions
    size their scratch by it), the sources, NumPy's version and the CPU."""
    options = CompileOptions() if options is None else options
    constants = [hashlib.sha256(np.ascontiguousarray(n.value).tobytes()).hexdigest()
                 for n in graph.nodes if n.op == "constant"]
    # NumPy's version and the CPU: constant folding runs NumPy, whose SIMD kernels may round
    # transcendental functions differently per CPU and release (a cache directory can be
    # shared between machines)
    return cache.cache_key([PLAN_FORMAT, graph.text(raw=True), name, str(optimize), *constants,
                            repr(options), f"cores={available_cores()}", _graphnn_version(),
                            codegen_version(), np.__version__, host()])


@functools.cache
def _graphnn_version() -> str:
    """A stamp of graphnn's source: how a graph is optimized and lowered follows from it."""
    return cache.source_stamp(Path(__file__).parents[1])


# -- the stored form ----------------------------------------------------------------------------

ARRAY_DTYPES = ("float32", "float64", "int32", "int64", "bool")
_LENGTH = 8


class PlanFormatError(ValueError):
    """Bytes that are not a stored plan for the graph being compiled."""


def encode_plan(made: Plan, key: str) -> bytes:
    """The stored form of a plan made for the cache `key` (see the module docstring)."""
    arrays: list[np.ndarray] = []

    def array(value: Any) -> list[Any]:
        value = np.asarray(value)
        if value.dtype.name not in ARRAY_DTYPES:
            raise PlanFormatError(f"a plan cannot store {value.dtype} arrays")
        arrays.append(value)
        return [value.dtype.name, list(value.shape)]

    structure = {
        "format": PLAN_FORMAT, "key": key, "kernel": serialize.to_data(made.kernel),
        "constants": [array(c) for c in made.constants],
        "outputs": [[dtype, list(shape)] for dtype, shape in made.outputs],
        "sources": [[kind, array(where) if kind == "constant" else where]
                    for kind, where in made.sources],
    }
    text = json.dumps(structure, separators=(",", ":"), allow_nan=False).encode()
    raw = [np.ascontiguousarray(a, a.dtype.newbyteorder("<")).tobytes() for a in arrays]
    return b"".join([len(text).to_bytes(_LENGTH, "little"), text, *raw])


def decode_plan(payload: bytes, graph: Graph, key: str) -> Plan:
    """The plan stored in `payload` for the cache `key`, checked against `graph`;
    PlanFormatError otherwise."""
    length = int.from_bytes(payload[:_LENGTH], "little")
    try:
        structure = json.loads(payload[_LENGTH:_LENGTH + length])
        if not isinstance(structure, dict) or structure.get("format") != PLAN_FORMAT or \
                structure.get("key") != key:
            raise PlanFormatError(f"not a stored plan of format {PLAN_FORMAT!r} for {key}")
        kernel = serialize.from_data(structure["kernel"])
        reader = _ArrayReader(payload, _LENGTH + length)
        made = Plan(kernel, tuple(reader.array(d) for d in structure["constants"]),
                    tuple((dtype, _shape(shape)) for dtype, shape in structure["outputs"]),
                    tuple((kind, reader.array(where) if kind == "constant" else where)
                          for kind, where in structure["sources"]))
        reader.finish()
        if not isinstance(kernel, loops.Kernel):
            raise PlanFormatError("the stored kernel is not a kernel")
        _check_fits(made, graph)
    except (ValueError, TypeError, KeyError, RecursionError) as error:  # JSON, nodes, arrays
        raise PlanFormatError(f"not a stored plan: {error}") from error
    return made


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or any(type(d) is not int or d < 0 for d in value):
        raise PlanFormatError(f"{value!r} is not a shape")
    return tuple(value)


class _ArrayReader:
    """Arrays from the raw bytes after a plan's JSON, in order."""

    def __init__(self, payload: bytes, start: int) -> None:
        self.payload, self.position = payload, start

    def array(self, description: Any) -> np.ndarray:
        dtype, shape = description
        if dtype not in ARRAY_DTYPES:
            raise PlanFormatError(f"{dtype!r} is not an array dtype of plans")
        shape = _shape(shape)
        stored = np.dtype(dtype).newbyteorder("<")
        size = stored.itemsize * math.prod(shape)
        if size > len(self.payload) - self.position:
            raise PlanFormatError("the arrays end early")
        raw = np.frombuffer(self.payload, stored, size // stored.itemsize, self.position)
        self.position += size
        if dtype == "bool":              # any byte but 0 and 1 is not a NumPy bool
            return (raw.view(np.uint8) != 0).reshape(shape)
        return raw.astype(np.dtype(dtype)).reshape(shape)   # a copy: aligned, writable

    def finish(self) -> None:
        if self.position != len(self.payload):
            raise PlanFormatError("bytes after the last array")


_LOOP_DTYPES = {"float32": "f32", "float64": "f64", "int64": "i64"}


def _check_fits(made: Plan, graph: Graph) -> None:
    """The plan's kernel, constants, outputs and sources match `graph`'s inputs and outputs."""
    arrays = [*((n.dtype, n.shape) for n in graph.inputs),
              *((c.dtype.name, c.shape) for c in made.constants)]
    if [(_LOOP_DTYPES.get(d), s) for d, s in arrays] != \
            [(b.dtype, b.shape) for b in made.kernel.inputs] or \
            [(_LOOP_DTYPES.get(d), s) for d, s in made.outputs] != \
            [(b.dtype, b.shape) for b in made.kernel.outputs]:
        raise PlanFormatError("the kernel's buffers do not match the inputs, constants and "
                              "outputs")
    if len(made.sources) != len(graph.outputs):
        raise PlanFormatError("not one source per graph output")
    for (kind, where), node in zip(made.sources, graph.outputs, strict=True):
        if _source_type(made, graph, kind, where) != (node.dtype, node.shape):
            raise PlanFormatError(f"output source {kind} {where!r} does not fit {node}")


def _source_type(made: Plan, graph: Graph, kind: Any, where: Any) -> tuple[str, tuple] | None:
    """The dtype and shape of what a source names, or None if it names nothing."""
    if kind == "constant":
        return where.dtype.name, where.shape
    places = {"kernel": made.outputs, "input": graph.inputs}.get(kind)
    if places is None or type(where) is not int or not 0 <= where < len(places):
        return None
    return tuple(places[where]) if kind == "kernel" else \
        (places[where].dtype, places[where].shape)
