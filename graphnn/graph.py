"""`Graph`: named inputs and ordered outputs over interned nodes, with its text form.

A Graph is the unit that passes transform, the renderer draws and the compiler lowers. It holds
no state of its own beyond its outputs, its inputs (in call order) and a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphnn.errors import InputError, OpError
from graphnn.ir import Node, toposort
from graphnn.shapes import format_shape
from graphnn.text import graph_text, without_unit_factors

if TYPE_CHECKING:
    import networkx as nx


def reached_inputs(order: Sequence[Node]) -> list[Node]:
    """The inputs among `order` (a toposort of some outputs) in the order it reaches them:
    depth first, following each node's arguments in order, so x @ w reaches x before w.

    The default input order of graphs, evaluation and drawings: it follows from the graph
    alone, not from when (or in which order) the process declared its inputs.

    >>> import graphnn as gn
    >>> x, w = gn.input("x"), gn.input("w")
    >>> [n.name for n in reached_inputs(toposort([w * x]))]
    ['w', 'x']
    """
    return [n for n in order if n.op == "input"]


def check_input_names(inputs: Sequence[Node]) -> None:
    """Two different input nodes may not share a name (a feed could not tell them apart)."""
    seen: dict[str, Node] = {}
    for node in inputs:
        other = seen.setdefault(node.name, node)
        if other is not node:
            raise InputError(f"two different inputs are named {node.name!r}: "
                             f"{node.dtype}{format_shape(node.shape)} and "
                             f"{other.dtype}{format_shape(other.shape)}")


class Graph:
    """A computation: output nodes, and the inputs they are called with.

    `inputs` defaults to every input the outputs reach, in the order they are reached: depth
    first from the outputs in order, following each node's arguments in order (so the inputs
    of `loss(f(x, w), y)` come as x, w, y). The order follows from the graph alone, whatever
    the process declared before or in which order. Given explicitly, `inputs` fixes the call
    order and may include inputs no output uses.

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(2, 3)); w = gn.input("w", shape=(3, 4))
    >>> print(gn.Graph(gn.sigmoid(x @ w)))
    graph f(x: f64[2,3], w: f64[3,4]) {
      %0 = matmul x, w  : f64[2,4]
      %1 = sigmoid %0   : f64[2,4]
      return %1
    }
    """

    def __init__(self, outputs: Node | Sequence[Node], inputs: Sequence[Node] | None = None,
                 name: str = "f") -> None:
        outs = (outputs,) if isinstance(outputs, Node) else tuple(outputs)
        if not outs:
            raise OpError("a Graph needs at least one output")
        for k, node in enumerate(outs):
            if not isinstance(node, Node):
                raise OpError(f"Graph outputs must be graph nodes; output {k} is a "
                              f"{type(node).__name__}")
        self.outputs: tuple[Node, ...] = outs
        self.nodes: tuple[Node, ...] = tuple(toposort(outs))
        reached = reached_inputs(self.nodes)
        self.inputs: tuple[Node, ...] = reached if inputs is None else self._given(inputs, reached)
        self.inputs = tuple(self.inputs)
        check_input_names(self.inputs)
        self.name = name

    @staticmethod
    def _given(inputs: Sequence[Node], reached: list[Node]) -> tuple[Node, ...]:
        inputs = tuple(inputs)
        for node in inputs:
            if not isinstance(node, Node) or node.op != "input":
                what = node.describe() if isinstance(node, Node) else type(node).__name__
                raise OpError(f"Graph inputs must be nodes made by gn.input; got {what}")
        listed = {id(n) for n in inputs}
        for node in reached:
            if id(node) not in listed:
                names = ", ".join(repr(n.name) for n in inputs)
                raise InputError(f"the outputs depend on input {node.name!r}, which is not "
                                 f"among the given inputs ({names})")
        if len(listed) != len(inputs):
            raise InputError("an input is listed twice in inputs")
        return inputs

    @property
    def output(self) -> Node:
        """The output of a single-output graph."""
        if len(self.outputs) != 1:
            raise OpError(f"this graph has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph for networkx algorithms: nodes 0..n-1 in topological order with attributes
        op, shape, dtype, name and the Node itself; one edge per argument (x * x has two),
        carrying its position."""
        import networkx as nx  # on use: importing networkx costs 0.2 s

        index = {node: k for k, node in enumerate(self.nodes)}
        graph = nx.MultiDiGraph(name=self.name)
        for node, k in index.items():
            graph.add_node(k, op=node.op, shape=node.shape, dtype=node.dtype, name=node.name,
                           node=node)
            for position, source in enumerate(node.inputs):
                graph.add_edge(index[source], k, position=position)
        return graph

    def text(self, raw: bool = False) -> str:
        """The text form. By default as print shows it, for reading: without products and
        quotients by a scalar 1 (the `mul 1.0, x` that gn.grad's seed leaves until gn.optimize
        removes it). With raw=True, the graph exactly as built: the canonical form that the
        plan cache's keys and an export's version hash are made from.

        >>> import graphnn as gn
        >>> x, y = gn.input("x"), gn.input("y")
        >>> g = gn.Graph(gn.grad(x * y, [x, y]), name="dxy")
        >>> print(g.text(raw=True))
        graph dxy(y: f64[], x: f64[]) {
          %0 = mul 1.0, y  : f64[]
          %1 = mul 1.0, x  : f64[]
          return %0, %1
        }
        >>> print(g)
        graph dxy(y: f64[], x: f64[]) {
          return y, x
        }
        """
        if raw:
            return graph_text(self.name, self.inputs, self.outputs, self.nodes)
        outputs, _ = without_unit_factors(self.outputs)
        if all(new is old for new, old in zip(outputs, self.outputs)):
            return graph_text(self.name, self.inputs, self.outputs, self.nodes)
        return graph_text(self.name, self.inputs, outputs, toposort(outputs))

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return (f"<Graph {self.name}: {len(self.inputs)} inputs, {len(self.nodes)} nodes, "
                f"{len(self.outputs)} outputs>")
