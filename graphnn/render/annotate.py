"""The numbers on a drawing: forward values, gradients, local derivatives, gradient flow.

Stage: rendering. Input: the nodes of a scene, a feed, the nodes to differentiate with
respect to. Output: `Numbers`, computed exactly from the graph with the NumPy reference:

- the value of every node;
- the gradient of the output (the first output, a scalar) with respect to every node that
  lies between `wrt` and the output, from `autodiff.backprop`;
- for every drawn edge that gradient flows along, the part of the input's gradient that comes
  through that edge (the input's gradient is the sum over its edges: fan-out adds), and for
  scalar elementwise gates the local derivative, the op's vjp rule applied to g = 1.

So the chain rule can be read off an edge: upstream gradient × local derivative = the
gradient flowing down the edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphnn.autodiff import backprop, full_like, sum_to_shape
from graphnn.errors import GradError
from graphnn.evaluate import bind_feed, run
from graphnn.graph import reached_inputs
from graphnn.ir import Node, constant, toposort
from graphnn.render.scene import Edge

EdgeKey = tuple[Node, int]      # (consumer, operand position)


@dataclass
class Numbers:
    """Values and gradients for a drawing; empty dictionaries when there is no feed."""

    values: dict[Node, np.ndarray] = field(default_factory=dict)
    grads: dict[Node, np.ndarray] = field(default_factory=dict)
    local: dict[EdgeKey, np.ndarray] = field(default_factory=dict)
    flow: dict[EdgeKey, np.ndarray] = field(default_factory=dict)
    carries_gradient: set[EdgeKey] = field(default_factory=set)   # known without a feed


def _operand_parts(node: Node, g: Node, relevant: Mapping[Node, Node]) -> list[Node | None]:
    """The cotangent of each operand of `node` given node's cotangent g (None: none).

    As in the autodiff walker: the op's vjp rule, or for a composite without one, reverse
    mode through its expansion down to its operands.
    """
    if node.opdef.vjp is not None:
        return list(node.opdef.vjp(g, node, *node.inputs, **node.attrs))
    if node.opdef.composite:
        wanted = [i for i in node.inputs if i in relevant]
        inner = backprop(node.expansion(), g, wanted, leaves=node.inputs)
        return [inner.get(i) for i in node.inputs]
    return [None] * len(node.inputs)


def _edge_nodes(edges: Sequence[Edge], cot: Mapping[Node, Node]
                ) -> tuple[dict[EdgeKey, Node], dict[EdgeKey, Node]]:
    """Graph nodes for each edge's gradient flow and, on scalar gates, local derivative."""
    flow: dict[EdgeKey, Node] = {}
    local: dict[EdgeKey, Node] = {}
    consumers = {e.consumer: None for e in edges if e.consumer in cot and e.source in cot}
    for node in consumers:
        parts = _operand_parts(node, cot[node], cot)
        unit = (_operand_parts(node, full_like(node, 1.0), cot)
                if node.opdef.elementwise and node.shape == () else [None] * len(parts))
        for position, source in enumerate(node.inputs):
            if source in cot and parts[position] is not None:
                flow[(node, position)] = sum_to_shape(parts[position], source.shape)
                if unit[position] is not None:
                    local[(node, position)] = unit[position]
    return flow, local


def gradients(root: Node, wrt: Sequence[Node]) -> dict[Node, Node]:
    """The gradient node of every node between `wrt` and the scalar `root`."""
    if root.shape != ():
        raise GradError(f"gradients are drawn for a scalar output, but the first output is "
                        f"{root.describe()}; reduce it first (e.g. gn.sum or gn.mean)")
    return backprop(root, constant(1.0, dtype=root.dtype), list(wrt))


def backward_scopes(root: Node, wrt: Sequence[Node]) -> dict[Node, tuple[str, ...]]:
    """A scope for each node of the gradient graph: "∇ layer1" for what layer1's ops built.

    Walks the output's ancestors in the walker's order and credits each new node to the
    forward op whose rule created it (interning makes these the nodes gn.grad built). A node
    computed from forward values alone (a transposed weight, relu's step) joins the op's own
    scope; one that carries the gradient joins its backward scope, so the drawing of a
    gradient graph has a backward cluster for every forward one.
    """
    cot = gradients(root, wrt)
    forward = toposort([root])
    known = set(forward)
    # the gradient flows through the cotangents (not the seed: constants are shared, and
    # the seed 1.0 is also the 1 of sigmoid's 1 - out)
    carries = {g for g in cot.values() if g.op != "constant"}
    scopes: dict[Node, tuple[str, ...]] = {}
    for node in reversed(forward):
        if node not in cot or not node.inputs:
            continue
        parts = [sum_to_shape(part, source.shape) for part, source in
                 zip(_operand_parts(node, cot[node], cot), node.inputs) if part is not None]
        for new in toposort(parts):
            if new in known:
                continue
            known.add(new)
            if new in carries or any(i in carries for i in new.inputs):
                carries.add(new)
                scopes[new] = (f"∇ {node.scope[0]}",) + node.scope[1:] if node.scope else ()
            else:
                scopes[new] = node.scope
    return scopes


def annotate(nodes: Sequence[Node], edges: Sequence[Edge], root: Node,
             feed: Mapping[str | Node, Any] | None, wrt: Sequence[Node] = ()) -> Numbers:
    """Evaluate the values, gradients and edge flows of a drawing in one reference run.

    >>> import graphnn as gn
    >>> x, y = gn.input("x"), gn.input("y")
    >>> f = x * y
    >>> numbers = annotate([x, y, f], [], f, {"x": 3.0, "y": -2.0}, [x, y])
    >>> float(numbers.values[f]), float(numbers.grads[x]), float(numbers.grads[y])
    (-6.0, -2.0, 3.0)
    """
    cot = gradients(root, wrt) if wrt else {}
    flow, local = _edge_nodes(edges, cot)
    numbers = Numbers(carries_gradient=set(flow))
    if feed is None:
        return numbers
    wanted = [*nodes, *cot.values(), *flow.values(), *local.values()]
    order = toposort(wanted)
    inputs = reached_inputs(order)
    values = run(order, bind_feed(inputs, feed))
    numbers.values = {n: values[n] for n in nodes}
    numbers.grads = {n: values[g] for n, g in cot.items() if n in numbers.values}
    numbers.flow = {key: values[node] for key, node in flow.items()}
    numbers.local = {key: values[node] for key, node in local.items()}
    return numbers
