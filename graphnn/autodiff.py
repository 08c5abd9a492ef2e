"""Reverse-mode differentiation as a graph transformation: nodes in, gradient nodes out.

The walker visits nodes from the output back to the inputs, asks each op's `vjp` rule for the
cotangents of its inputs (built from ordinary graph ops), sums the cotangents of a node used
more than once (fan-out), and un-broadcasts each cotangent to its operand's shape (the one
place this happens). Gradients are ordinary nodes, so they print, render, optimize, verify,
compile, and can be differentiated again.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphnn.errors import GradError, where
from graphnn.ir import FLOAT_DTYPES, Node, apply, constant, toposort
from graphnn.shapes import Shape


def sum_to_shape(part: Node, shape: Shape) -> Node:
    """Sum a broadcast cotangent back to `shape`: over added leading axes and stretched 1s."""
    if part.shape == shape:
        return part
    lead = part.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + k for k, d in enumerate(shape) if d == 1 and part.shape[lead + k] != 1)
    summed = apply("sum", part, axis=axes) if axes else part
    return summed if summed.shape == shape else apply("reshape", summed, shape=shape)


def full_like(node: Node, value: float) -> Node:
    """`value` in node's shape and dtype (a scalar constant broadcast like the node)."""
    scalar = constant(value, dtype=node.dtype)
    return scalar if node.shape == () else apply("broadcast_like", scalar, node)


def _input_cotangents(node: Node, g: Node, wanted: list[Node]) -> Sequence[Node | None]:
    """The cotangents of node's inputs given node's cotangent g (None where there is none)."""
    rule = node.opdef.vjp
    if rule is not None:
        return rule(g, node, *node.inputs, **node.attrs)
    if node.opdef.composite:
        # differentiate through the expansion, a graph of primitives over the same inputs,
        # stopping at those inputs: the outer walk carries the gradient on from there. An
        # input given twice (stack([x, x])) has one cotangent, its whole: the first position
        # takes it, the others none
        inner = backprop(node.expansion(), g, wanted, leaves=node.inputs)
        firsts = {id(i): k for k, i in reversed(list(enumerate(node.inputs)))}
        return [inner.get(i) if firsts[id(i)] == k else None for k, i in enumerate(node.inputs)]
    return [None] * len(node.inputs)


def backprop(root: Node, seed: Node, wrt: Sequence[Node],
             leaves: Sequence[Node] = ()) -> dict[Node, Node]:
    """Cotangents of every node between `wrt` and `root`, given root's cotangent `seed`.

    Only nodes that depend on some node of `wrt` receive a cotangent, so no gradient graph is
    built for constants (the log(x) term of pow's exponent gradient, say) that nobody needs.
    The walk does not go past `leaves`.
    """
    order = toposort([root], leaves)
    targets = {id(w) for w in wrt}
    relevant: set[int] = set()
    for node in order:
        # an int or bool node carries no gradient: a path through one contributes zero
        if node.dtype in FLOAT_DTYPES and \
                (id(node) in targets or any(id(i) in relevant for i in node.inputs)):
            relevant.add(id(node))
    cot: dict[Node, Node] = {root: seed} if id(root) in relevant else {}
    stop = {id(leaf) for leaf in leaves}
    for node in reversed(order):
        g = cot.get(node)
        wanted = [i for i in node.inputs if id(i) in relevant]
        if g is None or not wanted or id(node) in stop:
            continue
        parts = _input_cotangents(node, g, wanted)
        for src, part in zip(node.inputs, parts, strict=True):
            if part is None or id(src) not in relevant:
                continue
            part = sum_to_shape(part, src.shape)
            cot[src] = cot[src] + part if src in cot else part
    return cot


def grad(y: Node, wrt: Node | Sequence[Node]) -> list[Node] | Node:
    """Gradients of the scalar y with respect to each node of `wrt`, as graph nodes.

    Returns a list (or a single node when `wrt` is a single node), each of its node's shape; a
    node y does not depend on gets zeros. Gradients are graphs: print, evaluate, compile or
    differentiate them again.

    >>> import graphnn as gn
    >>> x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    >>> dx, dy, dz = gn.grad((x + y) * z, [x, y, z])
    >>> [float(v) for v in gn.evaluate([dx, dy, dz], {"x": -2.0, "y": 5.0, "z": -4.0})]
    [-4.0, -4.0, 3.0]
    """
    if not isinstance(y, Node):
        raise GradError(f"grad needs a graph node to differentiate, got {type(y).__name__}"
                        f"{where()}")
    if y.shape != ():
        raise GradError(f"grad needs a scalar output, but y is {y.describe()}; reduce it first "
                        f"(e.g. gn.sum(y) or gn.mean(y)){where()}")
    single = isinstance(wrt, Node)
    targets = [wrt] if single else list(wrt) if isinstance(wrt, (list, tuple)) else None
    if targets is None:
        raise GradError(f"wrt must be a node or a list of nodes, got {type(wrt).__name__}"
                        f"{where()}")
    for k, w in enumerate(targets):
        if not isinstance(w, Node):
            raise GradError(f"wrt[{k}] is a {type(w).__name__}, not a graph node; pass the "
                            f"nodes returned by gn.input(...){where()}")
        if w.dtype not in FLOAT_DTYPES:
            raise GradError(f"wrt[{k}] is {w.describe()}: {w.dtype} values carry no gradient "
                            f"(only float32 and float64 nodes do){where()}")
    if y.dtype not in FLOAT_DTYPES:
        raise GradError(f"grad needs a float output, but y is {y.describe()}; {y.dtype} "
                        f"values carry no gradient{where()}")
    cot = backprop(y, constant(1.0, dtype=y.dtype), targets)
    grads = [cot[w] if w in cot else full_like(w, 0.0) for w in targets]
    return grads[0] if single else grads
