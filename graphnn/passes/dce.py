"""Dead-node elimination: drop what no output reads.

Stage: optimization. Input: a Graph. Output: the graph with only the nodes its outputs read.

A Graph lists the nodes its outputs reach, so most dead code vanishes as soon as a rewrite
stops referring to it. What stays is a node reached only for its *shape*: `size(x)` (an element
count, which gradient rules divide by) and `broadcast_like(g, like)` (a gradient seed spread to
like's shape) read a static shape, never the value, yet keep their operand and everything it
depends on in the graph. This pass replaces such reads by what they read, when the operand's
value is needed nowhere else, then keeps only the nodes the outputs reach:

    size(x) -> N                                     always: N is a number, and it folds
    broadcast_like(g, like) -> broadcast_to(g, s)    when nothing reads like's value

The result is specialized to the graph's declared shapes: re-specialize (compiler.rebatch)
before optimizing, not after.

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(4, 3))
    >>> print(eliminate_dead(gn.Graph(gn.sum(x) / gn.ops.size(gn.exp(x), axis=0))))
    graph f(x: f64[4,3]) {
      %0 = sum x {axis=(0, 1)}  : f64[]
      %1 = div %0, 4.0          : f64[]
      return %1
    }
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from graphnn.graph import Graph
from graphnn.ir import Node, apply, constant, toposort
from graphnn.options import CompileOptions
from graphnn.passes.rewrite import P, Rule, Var, rewrite, value_read

x, like = Var("x"), Var("like")


def _count(x: Node, node: Node) -> Node:
    # size(x) -> N: the reference reads only x.shape, so a stand-in of that shape (a broadcast
    # view, no memory) gives the same count in the node's dtype
    stand_in = np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)
    value = node.opdef.reference(stand_in, **node.attrs)
    return constant(np.asarray(value, dtype=node.dtype), dtype=node.dtype, name=node.name)


def _static_broadcast(x: Node, like: Node, node: Node) -> Node | None:
    # broadcast_like(x, like) -> broadcast_to(x, shape): the same elements, without keeping
    # like (whose value nothing reads) alive for its shape
    return None if value_read(like) else apply("broadcast_to", x, shape=node.shape)


DEAD = (
    Rule("size(x) -> N", P.size(x), _count),
    Rule("broadcast_like(x, unread) -> broadcast_to(x)", P.broadcast_like(x, like),
         _static_broadcast),
)


def dead_nodes(graph: Graph) -> list[Node]:
    """Nodes listed in graph.nodes that no output reaches (empty for a well-formed Graph)."""
    live = {id(n) for n in toposort(graph.outputs)}
    return [n for n in graph.nodes if id(n) not in live]


def eliminate_dead(graph: Graph, fired: Counter | None = None,
                   options: CompileOptions | None = None) -> Graph:
    """Replace shape-only reads by what they read (see the module docstring) and keep only
    the nodes the outputs reach."""
    fired = Counter() if fired is None else fired
    unreachable = len(dead_nodes(graph))
    if unreachable:
        fired["unreachable node -> removed"] += unreachable
        graph = Graph(graph.outputs, graph.inputs, graph.name)
    return rewrite(graph, DEAD, fired, options)
