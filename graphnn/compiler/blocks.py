"""A compiled function over the blocks of dask arrays: batch inference (`map_blocks`) and sums
of per-block results (`sum_blocks`, the full-batch gradients of `gn.distributed.grad_sum`).

Stage: calling. Input: a compiled `Function`, dask arrays chunked along their leading (batch)
axis, and arrays given whole to every block (weights). Output: a lazy dask array per output
(`map_blocks`), or NumPy arrays summed over the blocks (`sum_blocks`).

Before any task is built, every block size is checked against the graph (compiler/rebatch.py:
only a graph whose leading dimension is provably the batch runs at another batch size), so a
graph that cannot follow the blocks is refused here, not in a worker. The function and each
whole argument are one key of the task graph each, so a scheduler ships them once per worker
(a worker unpickles the function once: graphnn/compiler/function.py `rebuild`).

dask is imported only when these functions are called.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphnn.compiler.rebatch import NotBatchGeneric, batch_shapes, rebatch
from graphnn.errors import InputError
from graphnn.graph import Graph
from graphnn.ir import Node

REDUCTIONS = ("sum", "mean")
_FAN_IN = 8                  # partial results added per task of a sum's tree


def dask_modules() -> tuple[Any, Any]:
    """(dask, dask.array), or an ImportError saying how to install them."""
    try:
        import dask
        import dask.array
    except ImportError:
        raise ImportError("running compiled functions on dask arrays needs dask: "
                          "pip install 'graphnn[dask]' (or 'dask[array,distributed]')"
                          ) from None
    return dask, dask.array


def _whole(node: Node, value: Any) -> np.ndarray:
    """An argument given whole to every block, checked against its input."""
    number = isinstance(value, (bool, int, float, np.generic)) and node.ndim == 0
    array = np.asarray(value, dtype=node.dtype if number else None)
    if array.shape != node.shape or array.dtype != np.dtype(node.dtype):
        raise InputError(f"input {node.name!r} expects a {node.dtype} array of shape "
                         f"{node.shape}, got a {array.dtype} array of shape {array.shape} "
                         "(an argument that is not a dask array goes whole to every block)")
    return array


def _split(graph: Graph, arguments: Sequence[Any], da: Any) -> tuple[list, dict[int, Any]]:
    """(the batched dask arrays, aligned with the first, one block across every other axis;
    the whole arguments by input position)."""
    inputs = graph.inputs
    if len(arguments) != len(inputs):
        raise InputError(f"{graph.name} takes {len(inputs)} inputs "
                         f"({', '.join(n.name for n in inputs)}), got {len(arguments)}")
    first = arguments[0]
    if not isinstance(first, da.Array):
        raise InputError(f"map_blocks applies {graph.name} to the blocks of a dask array; its "
                         f"first argument is a {type(first).__name__}")
    batched, whole = [], {}
    for position, (node, value) in enumerate(zip(inputs, arguments)):
        if not isinstance(value, da.Array):
            whole[position] = _whole(node, value)
            continue
        if value.ndim != node.ndim or value.ndim == 0 or value.shape[1:] != node.shape[1:] \
                or value.dtype != np.dtype(node.dtype):
            raise InputError(f"input {node.name!r} expects a {node.dtype} dask array of shape "
                             f"(n, {', '.join(map(str, node.shape[1:]))}), got a {value.dtype} "
                             f"array of shape {value.shape}")
        if value.shape[0] != first.shape[0]:
            raise InputError(f"input {node.name!r} has {value.shape[0]} rows but "
                             f"{inputs[0].name!r} has {first.shape[0]}: batched arguments go "
                             "block by block together")
        whole_axes = {axis: -1 for axis in range(1, value.ndim)}
        batched.append((position, value.rechunk({0: first.chunks[0], **whole_axes})))
    return batched, whole


def _sizes_checked(graph: Graph, batched: list, whole: dict[int, Any]) -> dict[Node, tuple]:
    """Every block size runs the graph (rebatch), and the batch factors of each node."""
    nodes = [graph.inputs[p] for p, _ in batched]
    declared = {n.shape[0] for n in nodes}
    if len(declared) > 1:
        raise InputError(f"the batched inputs {', '.join(repr(n.name) for n in nodes)} are "
                         f"declared with different leading sizes {sorted(declared)}")
    for size in sorted(set(batched[0][1].chunks[0]) - {0}):
        shapes = [n.shape for n in graph.inputs]
        for node in nodes:
            shapes[graph.inputs.index(node)] = (size, *node.shape[1:])
        rebatch(graph, shapes)           # an InputError saying why the graph fixes the batch
    try:
        return batch_shapes(graph, nodes, declared.pop()).factors
    except NotBatchGeneric as reason:
        raise InputError(f"{graph.name} cannot run on blocks of other sizes than declared: "
                         f"{reason}") from None


def _blocks(array: Any) -> list:
    """The keys of an array's blocks along axis 0 (one block across every other axis)."""
    keys = array.__dask_keys__()
    for _ in range(array.ndim - 1):
        keys = [k[0] for k in keys]
    return keys


def _call(function: Any, rows: int, empty: Sequence[tuple], *arrays: Any) -> tuple:
    """One block's results, as a tuple; a block of no rows gives empty results, no call."""
    if rows == 0:
        return tuple(np.empty((0, *tail), dtype) for tail, dtype in empty)
    values = function(*arrays)
    return (values,) if function.single else tuple(values)


def _tasks(function: Any, batched: list, whole: dict[int, Any], name: str, dask: Any,
           empty: Sequence[tuple]) -> tuple[dict, list]:
    """The per-block tasks (key (name, i)) and the collections they depend on."""
    function_key = dask.delayed(function, pure=True)
    whole_keys = {p: dask.delayed(v, pure=True) for p, v in whole.items()}
    block_keys = {p: _blocks(a) for p, a in batched}
    count = len(function.graph.inputs)
    layer = {}
    for i, rows in enumerate(batched[0][1].chunks[0]):
        arguments = [block_keys[p][i] if p in block_keys else whole_keys[p].key
                     for p in range(count)]
        layer[(name, i)] = (_call, function_key.key, rows, empty, *arguments)
    return layer, [a for _, a in batched] + [function_key, *whole_keys.values()]


def map_blocks(function: Any, *arguments: Any) -> Any:
    """`Function.map_blocks`: see its docstring."""
    dask, da = dask_modules()
    from dask.highlevelgraph import HighLevelGraph

    graph = function.graph
    batched, whole = _split(graph, arguments, da)
    factors = _sizes_checked(graph, batched, whole)
    for k, node in enumerate(graph.outputs):
        if node.ndim == 0 or factors[node] != (1,) + (0,) * (node.ndim - 1):
            label = f"output {k}" + (f" ({node.name!r})" if node.name else f" ({node.op})")
            raise InputError(f"{label} of {graph.name} has shape {node.shape}, which does not "
                             "follow the batch: map_blocks joins the blocks' results along "
                             "axis 0, so every output needs the batch as its leading axis alone")
    token = dask.base.tokenize(function, *arguments)
    name = f"graphnn-{graph.name}-{token}"
    empty = [(n.shape[1:], n.dtype) for n in graph.outputs]
    layer, dependencies = _tasks(function, batched, whole, name, dask, empty)
    blocks = HighLevelGraph.from_collections(name, layer, dependencies=dependencies)
    rows = batched[0][1].chunks[0]
    results = []
    for k, node in enumerate(graph.outputs):
        out_name = f"{name}-{k}"
        getters = {(out_name, i) + (0,) * (node.ndim - 1): (operator.getitem, (name, i), k)
                   for i in range(len(rows))}
        out_graph = HighLevelGraph({**blocks.layers, out_name: getters},
                                   {**blocks.dependencies, out_name: {name}})
        chunks = (rows, *((d,) for d in node.shape[1:]))
        results.append(da.Array(out_graph, out_name, chunks, dtype=np.dtype(node.dtype)))
    return results[0] if function.single else results


def _weighted(function: Any, rows: int, total: int, reduce: str, *arrays: Any) -> tuple:
    """One block's results as a tuple, times rows / total for a mean."""
    if rows == 0:
        return ()
    values = function(*arrays)
    values = (values,) if function.single else tuple(values)
    if reduce == "mean":
        values = tuple(np.asarray(v * (rows / total), dtype=v.dtype) for v in values)
    return values


def _add(*parts: tuple) -> tuple:
    """Partial results added output by output (blocks of no rows gave ())."""
    parts = [p for p in parts if p]
    return tuple(functools.reduce(np.add, column) for column in zip(*parts))


def sum_blocks(function: Any, batched: Sequence[Any], whole: Sequence[Any],
               reduce: str = "sum") -> Any:
    """The function's outputs summed over the blocks of the `batched` dask arrays (its first
    inputs, split alike along axis 0), with `whole` (its other inputs) given to every block;
    with reduce="mean", each block's outputs weighted by its share of the rows (the mean over
    all rows when the outputs are means over a block's rows). Computed now, with dask's
    current scheduler; NumPy arrays (one for a single output)."""
    dask, da = dask_modules()
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    graph = function.graph
    batched = [b if isinstance(b, da.Array) else da.from_array(np.asarray(b), chunks=-1)
               for b in batched]
    arguments = [*batched, *whole]
    parts, positions = _split(graph, arguments, da)
    _sizes_checked(graph, parts, positions)
    total = parts[0][1].shape[0]
    if total == 0:
        raise InputError(f"{graph.name}: there are no rows to sum over")
    function_key = dask.delayed(function, pure=True)
    whole_keys = [dask.delayed(v, pure=True) for _, v in sorted(positions.items())]
    blocks = [a.to_delayed().reshape(-1) for _, a in parts]
    pending = [dask.delayed(_weighted, pure=True)(function_key, rows, total, reduce,
                                                  *(b[i] for b in blocks), *whole_keys)
               for i, rows in enumerate(parts[0][1].chunks[0])]
    while len(pending) > 1:
        pending = [dask.delayed(_add, pure=True)(*pending[i:i + _FAN_IN])
                   for i in range(0, len(pending), _FAN_IN)]
    (found,) = dask.compute(pending[0])
    return found[0] if function.single else list(found)


__all__ = ["REDUCTIONS", "dask_modules", "map_blocks", "sum_blocks"]
