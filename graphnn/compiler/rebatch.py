"""Specializing a graph for another batch size: which dimensions may change, and the graph
rebuilt for them.

A graph is declared with static shapes, say x: (64, 784). Called with a (32, 784) array, a
compiled function rebuilds the graph for the new shapes and compiles that. It does so only where
the batch is provable, and refuses every other shape change with the error `gn.evaluate` gives:

1. The inputs whose shape differs from the declared one differ only in their leading dimension,
   all from one declared size B to one new size N (B may be 0 or 1, and so may N).
2. One of them has two or more dimensions: a batch of examples. A vector's length alone is not a
   batch (a (3,) weight called with 7 numbers is a mistake, not a batch of 7); a batch of
   scalars is declared as shape (B, 1). Vectors that change with a batched input (labels for
   its rows) follow it.
3. The graph is batch-generic in those leading axes: `batch_shapes` rebuilds it with the batch
   at a probe size and finds, for every node, which axes are the batch, and by what factor
   (a (B, 784) input flattened to (784 B,) has the factor 784 there). Every other axis keeps
   its size. A graph that fixes the batch (a constant of the batch's size, an input left at
   the old size, a reshape that mixes examples) fails here.
4. Rebuilt at N, every node has exactly those shapes at N: a size-1 batch may not stand in for
   a larger axis by broadcasting, and an op that refuses the new shapes (a max over a batch of
   0) refuses the call.

The rebuild re-applies every node to its new inputs, so shape rules run again and `size` nodes
(the counts means divide by) take the new values. An op whose attribute holds its result's
shape (reshape, broadcast_to) declares it (OpDef.rebatch): the attribute becomes the node's own
shape at N, and the op's rule says which of its axes hold the batch. A call that passes all
four equals `gn.evaluate` of the graph declared at the new shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphnn.errors import GraphnnError, InputError, ShapeError
from graphnn.graph import Graph
from graphnn.ir import Node, apply, input, toposort
from graphnn.shapes import Shape

# Batch sizes the analysis rebuilds the graph at: primes, so a batch axis (a multiple of the
# probe) cannot pass for a fixed one of another size; the second when the first is declared.
PROBES = (10_007, 10_009)


class NotBatchGeneric(Exception):
    """Why a graph cannot run at another batch size (turned into an InputError)."""


@dataclass(frozen=True)
class BatchShapes:
    """Every node's shape as a function of the batch size B: per axis, a fixed size (factor 0)
    or factor * B."""

    declared: int                              # the declared batch size
    factors: dict[Node, tuple[int, ...]]

    def shape(self, node: Node, size: int) -> Shape:
        return tuple(d if k == 0 else k * size for d, k in zip(node.shape, self.factors[node]))

    def text(self, node: Node) -> str:
        """The node's shape with the batch as B: [B,784], [784B]."""
        dims = [str(d) if k == 0 else f"{k if k > 1 else ''}B"
                for d, k in zip(node.shape, self.factors[node])]
        return "[" + ",".join(dims) + "]"

    def call(self, node: Node) -> str:
        """The node's op and operands with symbolic shapes: mul(x [B,2], y [5,2])."""
        labels = node.opdef.input_names(len(node.inputs))
        operands = ", ".join(f"{label} {self.text(x)}" for label, x in zip(labels, node.inputs))
        return f"{node.op}({operands})"


def _expects(node: Node, shape: Shape) -> str:
    """The error `gn.evaluate` gives for a wrong shape."""
    return (f"input {node.name!r} expects a {node.dtype} array of shape {node.shape}, got "
            f"shape {tuple(shape)}")


def batch_change(inputs: Sequence[Node], shapes: Sequence[Shape]) -> tuple[int, int] | None:
    """(declared, new) leading size when `shapes` differ from the inputs' declared shapes only
    there, consistently, in at least one input of two or more dimensions (conditions 1 and 2
    of the module docstring); None when they are the declared shapes. Otherwise an InputError
    with the message `gn.evaluate` gives (about the first input that differs), and why."""
    changed = [(n, tuple(s)) for n, s in zip(inputs, shapes) if tuple(s) != n.shape]
    if not changed:
        return None
    first, got = changed[0]

    def refuse(reason: str) -> InputError:
        return InputError(f"{_expects(first, got)}; {reason}")

    for node, shape in changed:
        if len(shape) != node.ndim or node.ndim == 0 or shape[1:] != node.shape[1:]:
            which = "" if node is first else f" (input {node.name!r} got shape {shape})"
            raise refuse("only the leading (batch) dimension may differ from the declared "
                         f"shape{which}")
    for node, shape in changed[1:]:
        if (node.shape[0], shape[0]) != (first.shape[0], got[0]):
            raise refuse(f"the batch changes from {first.shape[0]} to {got[0]} here but input "
                         f"{node.name!r} changes from {node.shape[0]} to {shape[0]}: every "
                         "batched input changes its leading dimension alike")
    if all(node.ndim < 2 for node, _ in changed):
        raise refuse("the length of a vector is not a batch: only inputs of two or more "
                     "dimensions (examples x features) have a batch dimension that may differ "
                     "(declare a batch of scalars as shape (n, 1))")
    return first.shape[0], got[0]


def _observed(node: Node, probed: Node, probe: int, declared: int) -> tuple[int, ...]:
    """The factors of a node from its shape at the declared batch and at the probe."""
    if probed.ndim != node.ndim:
        raise NotBatchGeneric(f"{node.op} has rank {probed.ndim} at another batch size")
    factors = []
    for axis, (d, s) in enumerate(zip(node.shape, probed.shape)):
        k = s // probe
        if d == s:
            factors.append(0)
        elif s % probe == 0 and k >= 1 and d == k * declared:
            factors.append(k)
        else:
            raise NotBatchGeneric(f"{node.op} gives axis {axis} the size {d} at batch "
                                  f"{declared} but {s} at batch {probe}: not a multiple of the "
                                  "batch")
    return tuple(factors)


def _attrs(node: Node, shape: Shape) -> dict:
    """The node's attributes for a rebuild where it has `shape`."""
    attrs = dict(node.attrs)
    if node.opdef.rebatch is not None:
        attrs[node.opdef.rebatch.attribute] = shape
    return attrs


def _declared_factors(node: Node, factors: dict[Node, tuple[int, ...]], declared: int
                      ) -> tuple[int, ...]:
    """The batch factors an op with a shape attribute declares (OpDef.rebatch)."""
    x = node.inputs[0]
    try:
        return node.opdef.rebatch.factors(x, factors[x], node.shape, declared)
    except ShapeError as error:
        raise NotBatchGeneric(str(error)) from None


def _short(error: Exception) -> str:
    """An error's message without the source line graphnn appends (it would be this module's
    caller, not where the node was declared)."""
    return str(error).split("\n  at ")[0]


def batch_shapes(graph: Graph, batched: Sequence[Node], declared: int) -> BatchShapes:
    """Which axes of every node are the batch, when the leading axes of `batched` are (see the
    module docstring, condition 3); NotBatchGeneric when the graph fixes the batch."""
    probe = PROBES[0] if declared != PROBES[0] else PROBES[1]
    factors: dict[Node, tuple[int, ...]] = {}
    memo: dict[Node, Node] = {}
    for node in graph.inputs:
        factors[node] = (int(node in batched),) + (0,) * (node.ndim - 1) if node.ndim else ()
        memo[node] = input(node.name, (probe,) + node.shape[1:], node.dtype) \
            if node in batched else node
    for node in toposort(graph.outputs):
        if node in memo:
            continue
        inputs = tuple(memo.get(i, i) for i in node.inputs)
        if inputs == node.inputs:
            factors[node], memo[node] = (0,) * node.ndim, node
            continue
        shaped = node.shape
        if node.opdef.rebatch is not None:
            factors[node] = _declared_factors(node, factors, declared)
            shaped = BatchShapes(declared, factors).shape(node, probe)
        try:
            memo[node] = apply(node.op, *inputs, name=node.name, **_attrs(node, shaped))
        except GraphnnError:
            call = BatchShapes(declared, factors).call(node)
            raise NotBatchGeneric(f"{call} holds only at B = {declared}: the graph fixes the "
                                  "batch there") from None
        factors[node] = _observed(node, memo[node], probe, declared)
    return BatchShapes(declared, factors)


def _rebuild(graph: Graph, shapes: BatchShapes, size: int) -> Graph:
    """The graph at batch `size` (condition 4 of the module docstring)."""
    memo = rebuilt_nodes(graph, shapes, size)
    return Graph([memo[o] for o in graph.outputs], [memo[i] for i in graph.inputs],
                 name=graph.name)


def rebuilt_nodes(graph: Graph, shapes: BatchShapes, size: int) -> dict[Node, Node]:
    """Every node of the graph, rebuilt at batch `size`: node -> its rebuilt twin."""
    memo: dict[Node, Node] = {}
    for node in graph.inputs:
        new = shapes.shape(node, size)
        memo[node] = input(node.name, new, node.dtype) if new != node.shape else node
    for node in toposort(graph.outputs):
        if node in memo:
            continue
        inputs = tuple(memo.get(i, i) for i in node.inputs)
        if inputs == node.inputs:
            memo[node] = node
            continue
        want = shapes.shape(node, size)
        try:
            memo[node] = apply(node.op, *inputs, name=node.name, **_attrs(node, want))
        except GraphnnError as error:
            raise NotBatchGeneric(_short(error)) from None
        if memo[node].shape != want:
            raise NotBatchGeneric(f"{node.op} gives shape {memo[node].shape} at batch {size}, "
                                  f"not {want}: a batch of {size} would broadcast against a "
                                  "fixed axis")
    return memo


def rebatch(graph: Graph, shapes: Sequence[Shape]) -> Graph:
    """The graph rebuilt for inputs of `shapes` (see the module docstring), or an InputError
    with the message `gn.evaluate` gives and the reason."""
    change = batch_change(graph.inputs, shapes)
    if change is None:
        return graph
    declared, size = change
    batched = [n for n, s in zip(graph.inputs, shapes) if tuple(s) != n.shape]
    try:
        return _rebuild(graph, batch_shapes(graph, batched, declared), size)
    except NotBatchGeneric as reason:
        node = batched[0]
        raise InputError(f"{_expects(node, (size,) + node.shape[1:])}; the graph cannot run "
                         f"at batch size {size} (declared {declared}): {reason}") from None
