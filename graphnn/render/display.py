"""Gradient graphs as a reader wants them: without the seed gradient's `× 1`.

Stage: rendering. Input: output nodes (typically what gn.grad returned). Output: the same
values rebuilt without multiplications by the scalar 1 (`mul 1.0, x` is x, `mul 1.0, 1.0` is
1.0) and divisions by it, for printing and drawing only. Reverse mode seeds the output's
gradient with 1 and every rule multiplies by its upstream gradient, so gn.grad's graphs hold
such products until gn.optimize removes them; the graphs gn.grad returns are not changed
here, and the raw form stays available (`raw=True`).

    >>> import graphnn as gn
    >>> x, y = gn.input("x"), gn.input("y")
    >>> print(display_text(gn.Graph(gn.grad(x * y, [x, y]), [x, y], name="dxy")))
    graph dxy(x: f64[], y: f64[]) {
      return y, x
    }
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from graphnn.graph import Graph
from graphnn.ir import Node, apply, toposort


def _is_one(node: Node) -> bool:
    return node.op == "constant" and node.shape == () and float(node.value) == 1.0


def _identity_operand(node: Node, inputs: tuple[Node, ...]) -> Node | None:
    """The operand `node` equals when it multiplies or divides it by a scalar 1 (None: none).

    Only when that operand already has the node's shape and dtype: 1 * x with x broadcast
    to a larger shape is not x.
    """
    if node.op == "mul":
        candidates = [b for a, b in (inputs, inputs[::-1]) if _is_one(a)]
    elif node.op == "div":
        candidates = [inputs[0]] if _is_one(inputs[1]) else []
    else:
        return None
    for other in candidates:
        if other.shape == node.shape and other.dtype == node.dtype:
            return other
    return None


def simplify_for_display(outputs: Sequence[Node]) -> tuple[list[Node], dict[Node, Node]]:
    """`outputs` without products and quotients by a scalar 1; and original -> shown node.

    A rebuilt node keeps its name; a removed `× 1` that was named passes its name on only
    when the operand it leaves has none.
    """
    mapping: dict[Node, Node] = {}
    for node in toposort(list(outputs)):
        inputs = tuple(mapping[i] for i in node.inputs)
        same = _identity_operand(node, inputs)
        if same is not None:
            mapping[node] = same
        elif all(new is old for new, old in zip(inputs, node.inputs)):
            mapping[node] = node
        else:
            mapping[node] = apply(node.op, *inputs, name=node.name, **node.attrs)
    return [mapping[o] for o in outputs], mapping


def carry_scopes(scopes: Mapping[Node, tuple[str, ...]], mapping: Mapping[Node, Node]
                 ) -> dict[Node, tuple[str, ...]]:
    """Scopes of original nodes moved to the nodes shown for them (rebuilt nodes are made
    outside the user's gn.scope)."""
    moved = dict(scopes)
    for old, new in mapping.items():
        if new is not old and old in scopes:
            moved.setdefault(new, scopes[old])
        elif new is not old:
            moved.setdefault(new, old.scope)
    return moved


def display_text(graph: Graph, raw: bool = False) -> str:
    """The text form of `graph` for reading: without `× 1` (unless `raw`); see the module."""
    if raw:
        return str(graph)
    outputs, _ = simplify_for_display(graph.outputs)
    return str(Graph(outputs, inputs=graph.inputs, name=graph.name))
