"""Common-subexpression merging: what interning cannot see.

Stage: optimization. Input: a Graph. Output: the same graph with each value computed once.

Interning already merges nodes built with the same op, inputs, attributes, name and scope. It
cannot merge nodes that differ only in their name or scope (a label and a drawing cluster, not a
value), operand order of an exactly commutative op (x + y and y + x), or equal constants made in
different scopes. This pass keys every node by its value alone and keeps the first node of each
key, in topological order, with its name.

Only add and mul count as commutative here: np.maximum(0.0, -0.0) is -0.0 while
np.maximum(-0.0, 0.0) is 0.0, so merging maximum(x, y) with maximum(y, x) would change the sign
of a zero (see `rewrite.exactly_commutative`, which probes each op's reference).

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(2,))
    >>> print(merge_common(gn.Graph([x * 2.0, gn.mul(2.0, x, name="p")])))
    graph f(x: f64[2]) {
      %0 = mul x, 2.0  : f64[2]
      return %0, %0
    }
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable

from graphnn.graph import Graph
from graphnn.ir import Node
from graphnn.options import CompileOptions
from graphnn.passes.rewrite import exactly_commutative, rebuild


def value_key(node: Node, inputs: tuple[Node, ...] | None = None) -> Hashable:
    """What node computes, without name or scope: op, attributes and operands (sorted for an
    exactly commutative op). Two nodes with equal keys compute the same bits."""
    if node.op == "input":
        return ("input", id(node))
    if node.op == "constant":
        return ("constant", node.dtype, node.shape, node.value.tobytes())
    operands = [id(i) for i in (node.inputs if inputs is None else inputs)]
    if exactly_commutative(node.opdef):
        operands.sort()
    return (node.op, node.attr_items, tuple(operands))


def _reason(kept: Node, inputs: tuple[Node, ...]) -> str:
    """Why a node with these (already merged) inputs was merged into `kept`."""
    if kept.op == "constant":
        return "equal constants -> one constant"
    if kept.inputs != inputs:
        return "y op x -> x op y (commutative)"
    return "same value, other name or scope -> one node"


def merge_common(graph: Graph, fired: Counter | None = None,
                 options: CompileOptions | None = None) -> Graph:
    """Merge nodes that compute the same value (see the module docstring); the graph itself
    when there is nothing to merge. (No setting applies: `options` is the pass signature's.)"""
    fired = Counter() if fired is None else fired
    kept: dict[Hashable, Node] = {}
    new: dict[Node, Node] = {}
    for node in graph.nodes:
        inputs = tuple(new[i] for i in node.inputs)
        key = value_key(node, inputs)
        if key in kept:
            new[node] = kept[key]
            fired[_reason(kept[key], inputs)] += 1
        else:
            new[node] = kept[key] = rebuild(node, inputs)
    if all(new[n] is n for n in graph.nodes):
        return graph
    return Graph([new[o] for o in graph.outputs], graph.inputs, graph.name)


def duplicates(graph: Graph) -> list[tuple[Node, Node]]:
    """Pairs of nodes of graph that compute the same value (empty after merge_common)."""
    first: dict[Hashable, Node] = {}
    pairs = []
    for node in graph.nodes:
        key = value_key(node)
        if key in first:
            pairs.append((first[key], node))
        else:
            first[key] = node
    return pairs
