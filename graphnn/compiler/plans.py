"""Plans: what compilation derives from a graph before native code, cached on disk.

Stage: compilation. Input: a graph with fixed input shapes, its name and whether to optimize
it. Output: a `Plan`, the scheduled loop-IR kernel with its constant arrays and, for each graph
output, where its value comes from. Optimizing, lowering and scheduling are pure functions of
the graph's text (`print(graph)`, which is the same in every process), the full bytes of its
constants, the option and graphnn's and codegen's source, so a plan is stored in the disk cache
(codegen.cache, beside the object code) under a hash of exactly those, and a graph compiled
before skips all three: about 30 ms of Python for the MLP step, 15 ms for the lecture neuron.

The plan is pickled: the cache directory is the user's own, and it already holds the object
code graphnn runs natively, so unpickling adds no trust that loading object code does not. An
entry that does not unpickle into a plan (damaged, or written by another Python) is rebuilt.

Not cached: a graph with an op registered outside graphnn (its lowering is the user's code,
which no stamp covers), a plan whose constants exceed PLAN_CONSTANTS_LIMIT bytes (they would be
stored again for every batch size and every change of a baked-in weight; the object code is
still cached), and any graph while the optimizer's invariant checks are on (the checks run in
the optimizer a cached plan skips).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import graphnn.ops  # noqa: F401  (every built-in op registered before the snapshot below)
from codegen import cache, cost, loops
from codegen.jit import codegen_version, host
from codegen.runtime import available_cores
from codegen.schedule import schedule
from graphnn.graph import Graph
from graphnn.ir import REGISTRY
from graphnn.lower import conv, lower
from graphnn.lower import kernel as lower_kernel
from graphnn.passes import fold, rewrite, verify
from graphnn.passes import optimize as optimize_graph

PLAN_FORMAT = "plan 1"
PLAN_CONSTANTS_LIMIT = 1 << 20
# graphnn's own ops, as registered when graphnn was imported (before any user code could add
# one): a node whose op is not one of these objects keeps its graph out of the cache
_BUILTIN_OPS = dict(REGISTRY)
# The module-level settings a plan depends on besides the source, read at each compile (tests
# change some of them); tests/compiler/test_plans.py checks that every numeric setting of the
# modules that make plans is listed here.
SETTINGS = (
    (conv, "MIN_DEPTH"), (conv, "PARALLEL_SCRATCH"), (lower_kernel, "PARALLEL_ELEMENTS"),
    (lower_kernel, "_FUSED_COMPUTE_COST"), (fold, "FOLD_LIMIT"), (rewrite, "MAX_ROUNDS"),
    (cost, "PARALLEL_MIN_WORK"), (lower_kernel, "MAX_INLINE_COST"),
    (lower_kernel, "MAX_GROUP_COST"),
)


@dataclass(frozen=True)
class Plan:
    kernel: loops.Kernel                       # scheduled, ready for codegen.jit.compile_kernel
    constants: tuple[np.ndarray, ...]          # C-contiguous, passed after the inputs
    outputs: tuple[tuple[str, tuple[int, ...]], ...]  # (dtype, shape) of each kernel output
    # for each graph output: ("kernel", k), ("input", position) or ("constant", value)
    sources: tuple[tuple[str, Any], ...]


def make_plan(graph: Graph, name: str, optimize: bool) -> Plan:
    """Optimize (when asked), lower and schedule `graph`."""
    prepared = optimize_graph(graph) if optimize else graph
    lowered = lower(prepared, name=name)
    computed = {node: k for k, node in enumerate(lowered.outputs)}
    sources = []
    for node in lowered.results:
        if node in computed:
            sources.append(("kernel", computed[node]))
        elif node.op == "input":
            sources.append(("input", prepared.inputs.index(node)))
        else:
            sources.append(("constant", node.value))
    return Plan(schedule(lowered.kernel),
                tuple(np.ascontiguousarray(c) for c in lowered.constants),
                tuple((n.dtype, n.shape) for n in lowered.outputs), tuple(sources))


def cacheable(graph: Graph) -> bool:
    """Whether a plan of `graph` may come from (and go to) the disk cache."""
    return not verify.CHECKS and all(n.opdef is _BUILTIN_OPS.get(n.op) for n in graph.nodes)


def plan(graph: Graph, name: str, optimize: bool) -> Plan:
    """The plan for `graph`, from the disk cache when it has one."""
    if not cacheable(graph):
        return make_plan(graph, name, optimize)
    key = plan_key(graph, name, optimize)
    payload = cache.load(key)
    if payload is not None:
        try:
            found = pickle.loads(payload)
        except Exception:       # noqa: BLE001 - any unpickling failure means: rebuild it
            found = None
        if isinstance(found, Plan):
            return found
    made = make_plan(graph, name, optimize)
    if sum(c.nbytes for c in made.constants) <= PLAN_CONSTANTS_LIMIT:
        cache.store(key, pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))
    return made


def plan_key(graph: Graph, name: str, optimize: bool) -> str:
    """A hash of everything a plan follows from: the graph's text (which names a large constant
    by a short digest, so constants' full bytes are hashed too), the name, the option, the
    SETTINGS, the core count (convolutions size their scratch by it), the sources, NumPy's
    version and the CPU."""
    constants = [hashlib.sha256(np.ascontiguousarray(n.value).tobytes()).hexdigest()
                 for n in graph.nodes if n.op == "constant"]
    settings = [f"{module.__name__}.{attribute}={getattr(module, attribute)!r}"
                for module, attribute in SETTINGS]
    # NumPy's version and the CPU: constant folding runs NumPy, whose SIMD kernels may round
    # transcendental functions differently per CPU and release (a cache directory can be
    # shared between machines)
    return cache.cache_key([PLAN_FORMAT, str(graph), name, str(optimize), *constants,
                            *settings, f"cores={available_cores()}", _graphnn_version(),
                            codegen_version(), np.__version__, host()])


@functools.cache
def _graphnn_version() -> str:
    """A stamp of graphnn's source: how a graph is optimized and lowered follows from it."""
    return cache.source_stamp(Path(__file__).parents[1])
