"""Specializing a graph for another batch size (the leading dimension of some inputs).

A graph is declared with static shapes, say x: (64, 784). Called with a (32, 784) array, the
compiled function rebuilds the graph for the new shapes: every node is re-applied to the new
inputs, so shape rules run again and `size` nodes (the counts that means divide by) take the
new values. Shape-valued attributes that carried the old batch size (a reshape to (64, 1, 28,
28), the broadcast in a gradient rule) are rescaled in their leading entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphnn.errors import GraphnnError, InputError
from graphnn.graph import Graph
from graphnn.ir import Node, apply, input, toposort
from graphnn.shapes import Shape

_SHAPE_ATTRS = ("shape",)      # attributes holding a full output shape (reshape, broadcast_to)


def batch_change(inputs: Sequence[Node], shapes: Sequence[Shape]) -> tuple[int, int] | None:
    """(old, new) leading size when `shapes` differ from the inputs' only there, consistently;
    None when they equal the declared shapes. Raises InputError naming the first misfit."""
    change = None
    for node, shape in zip(inputs, shapes):
        if tuple(shape) == node.shape:
            continue
        fits = len(shape) == node.ndim and node.ndim > 0 and tuple(shape[1:]) == node.shape[1:]
        pair = (node.shape[0], shape[0]) if fits else None
        if pair is None or (change is not None and pair != change):
            expected = f"shape {node.shape}"
            if change is not None and fits:
                expected += f" with leading dimension {change[1]} like the other inputs"
            raise InputError(f"input {node.name!r} expects a {node.dtype} array of {expected} "
                             f"(the leading, batch, dimension may differ), got shape "
                             f"{tuple(shape)}")
        change = pair
    return change


def _rescaled(value, old: int, new: int):
    """A shape attribute with its leading entry scaled from batch `old` to `new`."""
    if not value or value[0] % old:
        return value
    return (value[0] // old * new,) + tuple(value[1:])


def rebatch(graph: Graph, shapes: Sequence[Shape]) -> Graph:
    """The graph rebuilt for inputs of `shapes` (see the module docstring)."""
    change = batch_change(graph.inputs, shapes)
    if change is None:
        return graph
    old, new = change
    memo: dict[Node, Node] = {}
    for node, shape in zip(graph.inputs, shapes):
        memo[node] = input(node.name, tuple(shape), node.dtype) if tuple(shape) != node.shape \
            else node
    for node in toposort(graph.outputs):
        if node in memo:
            continue
        inputs = tuple(memo.get(i, i) for i in node.inputs)
        if inputs == node.inputs:
            memo[node] = node
            continue
        attrs = {k: _rescaled(v, old, new) if k in _SHAPE_ATTRS else v
                 for k, v in node.attrs.items()}
        try:
            memo[node] = apply(node.op, *inputs, name=node.name, **attrs)
        except GraphnnError as error:
            raise InputError(f"cannot run this graph with batch size {new} (declared {old}): "
                             f"{node.op} does not fit the new shapes: {error}") from None
    return Graph([memo[o] for o in graph.outputs], [memo[i] for i in graph.inputs],
                 name=graph.name)
