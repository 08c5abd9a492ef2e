"""Whether a graph's rows are independent along its batch: the condition for running its
kernel, compiled for the declared batch size B, over any number of rows in chunks of B.

Stage: export (NAME_batch of an exported function). Input: a graph and the names of its
batched inputs (or None: inferred). Output: `Rows`, the batched inputs and the declared size,
or the reason the graph's rows are not independent.

A graph qualifies when every output row b depends only on row b of the batched inputs (and on
the unbatched ones), for every batch size. The proof, on the graph with composites expanded
to the primitives that are lowered:

1. The graph is batch-generic for those inputs (compiler/rebatch.py's `batch_shapes`: every
   node's batch axes, found by rebuilding the graph at a probe size).
2. Every node that depends on a batched input (through its value or its shape) has exactly
   one batch axis, holding one example per index (not a multiple: a (B, 784) input flattened
   to (784 B,) is refused), and every output has it first.
3. Each such node reads each batch-dependent operand only at its own batch index: checked on
   the node rebuilt at the (prime, large) probe size, through the op's own lowering rule,
   called with symbolic indices. An elementwise op reads its operands at the broadcast
   index; a `view` (layout) op at the index its rule returns; a `compute` op (reductions,
   matmul, convolution, pooling) at every index its loop expression loads. The batch index of
   the operand must be the output's batch index itself. A reshape that moves whole examples
   (the elements before and after the batch axis agree) passes too.

A sum over the batch, a mean loss, a batch norm, a matmul contracting the batch or a softmax
along it fails 2 or 3; the error names the node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from codegen import loops
from graphnn.compiler.rebatch import (
    PROBES,
    BatchShapes,
    NotBatchGeneric,
    batch_shapes,
    rebuilt_nodes,
)
from graphnn.errors import GraphnnError
from graphnn.graph import Graph
from graphnn.ir import Node, toposort
from graphnn.lower.expand import expand_composites


@dataclass(frozen=True)
class Rows:
    """The batch of a graph: its batched inputs and declared size, and `reason` ("" when the
    rows are independent)."""

    batched: tuple[str, ...]
    declared: int | None
    reason: str = ""

    @property
    def independent(self) -> bool:
        return not self.reason


def batch_rows(graph: Graph, names: Sequence[str] | None = None) -> Rows:
    """The batch of `graph` with the inputs `names` batched (None: every input of two or more
    dimensions whose leading size is that of the first such input)."""
    try:
        batched = _batched(graph, names)
    except _Refused as reason:
        return Rows((), None, str(reason))
    declared = batched[0].shape[0]
    chosen = tuple(n.name for n in batched)
    if declared == 0:
        return Rows(chosen, declared, "the declared batch size is 0")
    expanded = Graph(expand_composites(list(graph.outputs)), graph.inputs, name=graph.name)
    try:
        shapes = batch_shapes(expanded, batched, declared)
        probe = rebuilt_nodes(expanded, shapes, PROBES[0])
        _check(expanded, batched, shapes, probe)
    except (NotBatchGeneric, _Refused) as reason:
        return Rows(chosen, declared, f"with {', '.join(chosen)} batched: {reason}")
    return Rows(chosen, declared)


class _Refused(Exception):
    """Why the rows are not independent."""


def _batched(graph: Graph, names: Sequence[str] | None) -> list[Node]:
    inputs = {n.name: n for n in graph.inputs}
    if names is None:
        first = next((n for n in graph.inputs if n.ndim >= 2), None)
        if first is None:
            raise _Refused("no input has two or more dimensions (a batch of examples)")
        return [n for n in graph.inputs if n.ndim >= 2 and n.shape[0] == first.shape[0]]
    unknown = [name for name in names if name not in inputs]
    if unknown or not names:
        raise _Refused(f"batch names no input of the graph: {list(names)} (inputs: "
                       f"{', '.join(inputs)})")
    nodes = [inputs[name] for name in names]
    if any(n.ndim == 0 or n.shape[0] != nodes[0].shape[0] for n in nodes):
        raise _Refused(f"the batched inputs {list(names)} do not share a leading dimension: "
                       f"{[n.shape for n in nodes]}")
    return nodes


def _check(graph: Graph, batched: list[Node], shapes: BatchShapes,
           probe: dict[Node, Node]) -> None:
    """Conditions 2 and 3 of the module docstring, for every node."""
    dependent = set(batched)
    axis: dict[Node, int] = {n: 0 for n in batched}
    for node in toposort(graph.outputs):
        if node in dependent or not any(i in dependent for i in node.inputs):
            continue
        dependent.add(node)
        axes = [a for a, k in enumerate(shapes.factors[node]) if k]
        if len(axes) != 1 or shapes.factors[node][axes[0]] != 1:
            raise _Refused(f"{shapes.call(node)} gives {shapes.text(node)}: "
                           + ("it combines the rows" if not axes else
                              "the batch is not one axis of one example per index"))
        axis[node] = axes[0]
        ignored = node.opdef.shape_only
        for position, source in enumerate(node.inputs):
            if source in dependent and position not in ignored and \
                    not _same_row(probe[node], probe[source], axis[node], axis[source],
                                  position):
                raise _Refused(f"{shapes.call(node)} reads other rows of its operand "
                               f"{node.opdef.input_names(len(node.inputs))[position]!r} to "
                               "compute a row")
    for k, out in enumerate(graph.outputs):
        if out not in dependent or axis[out] != 0:
            where = "does not depend on the batch" if out not in dependent else \
                f"has the batch in axis {axis[out]}"
            raise _Refused(f"output {k} ({shapes.text(out)}) {where}")


def _same_row(node: Node, source: Node, out_axis: int, in_axis: int, position: int) -> bool:
    """Whether `node` (at the probe size) reads `source` (its operand at `position`) only at
    the node's own index along the batch axis."""
    op = node.opdef
    if op.scalar is not None:                         # broadcast index, numpy's rule
        lead = node.ndim - source.ndim
        return in_axis + lead == out_axis and source.shape[in_axis] == node.shape[out_axis]
    index = tuple(loops.Var(f"o{d}") for d in range(node.ndim))
    target = index[out_axis]
    if op.view is not None:
        read = tuple(op.view(index, source.shape, **node.attrs))
        return _is(read[in_axis], target) or (node.op == "reshape" and _moves_examples(
            source.shape, node.shape, in_axis, out_axis))
    if op.compute is None:
        return False
    operands = [_Recorder(f"operand{k}", i) for k, i in enumerate(node.inputs)]
    try:
        value = op.compute(index, *operands, **node.attrs)
    except GraphnnError:
        return False
    name = operands[position].buffer.name
    loads = [n for n in loops.walk(value) if isinstance(n, loops.Load) and
             n.buffer.name == name] if isinstance(value, loops.Node) else []
    # a flat index (one component for several axes) is not read as a row: refused
    return all(len(load.index) == source.ndim and _is(load.index[in_axis], target)
               for load in loads)


def _is(read: object, target: loops.Var) -> bool:
    return isinstance(read, loops.Var) and read == target


def _moves_examples(before: tuple, after: tuple, in_axis: int, out_axis: int) -> bool:
    """A reshape keeps examples whole when as many elements precede the batch axis, and
    follow each index of it, before as after."""
    return math.prod(before[:in_axis]) == math.prod(after[:out_axis]) and \
        math.prod(before[in_axis + 1:]) == math.prod(after[out_axis + 1:])


class _Recorder:
    """An operand of a compute rule whose elements are loads of a named stand-in buffer."""

    def __init__(self, name: str, node: Node) -> None:
        self.shape = node.shape
        self.dtype = loops.normalize_dtype(node.dtype)
        self.buffer = loops.Buffer(name, self.dtype, node.shape)

    def __getitem__(self, index: object) -> loops.Expr:
        return self.buffer[index]
