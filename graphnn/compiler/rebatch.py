"""Specializing a graph for another batch size (the leading dimension of some inputs).

A graph is declared with static shapes, say x: (64, 784). Called with a (32, 784) array, the
compiled function rebuilds the graph for the new shapes: every node is re-applied to the new
inputs, so shape rules run again and `size` nodes (the counts that means divide by) take the
new values. Shape-valued attributes follow their input: a reshape to (64, 1, 28, 28) keeps its
element count in step with its input's (so a reshape of an unbatched bias is left alone), and
a broadcast_to stretches the axis its input's leading dimension feeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from graphnn.errors import GraphnnError, InputError
from graphnn.graph import Graph
from graphnn.ir import Node, apply, input, toposort
from graphnn.shapes import Shape


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


def _rescaled(node: Node, inputs: tuple[Node, ...]) -> dict:
    """Attributes for `node` applied to its new inputs: a reshape keeps its element count
    in step with its input (the leading entry takes the ratio); a broadcast stretches the axes
    its input's leading dimension feeds."""
    attrs = dict(node.attrs)
    if node.op == "reshape":
        before, after = math.prod(node.inputs[0].shape), math.prod(inputs[0].shape)
        shape = attrs["shape"]
        if before != after and shape and (shape[0] * after) % before == 0:
            attrs["shape"] = (shape[0] * after // before,) + tuple(shape[1:])
    elif node.op == "broadcast_to":
        source, target = node.inputs[0].shape, list(attrs["shape"])
        lead = len(target) - len(source)
        if source and inputs[0].shape[0] != source[0] and target[lead] == source[0]:
            target[lead] = inputs[0].shape[0]
        attrs["shape"] = tuple(target)
    return attrs


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
        attrs = _rescaled(node, inputs)
        try:
            memo[node] = apply(node.op, *inputs, name=node.name, **attrs)
        except GraphnnError as error:
            raise InputError(f"cannot run this graph with batch size {new} (declared {old}): "
                             f"{node.op} does not fit the new shapes: {error}") from None
    return Graph([memo[o] for o in graph.outputs], [memo[i] for i in graph.inputs],
                 name=graph.name)
