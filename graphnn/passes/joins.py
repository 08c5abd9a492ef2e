"""Joining rules: a sum of slice gradients that tile an axis becomes one concat.

Stage: optimization (part of the `simplify` pass's rule table). Input: a graph. Output: the
same values with fewer passes over memory.

The gradient of a value cut into parts along an axis (an LSTM's four gates cut from one
(batch, 4 units) product, a Transformer's q, k and v cut from one (batch, time, 3 dim)
product) is a sum of `slice_grad`s, each its part's gradient in place and zeros elsewhere.
Lowered as written, every element of the sum evaluates each part's select: for n parts, n
clamped loads and n selects per element, in one loop whose index arithmetic (a merged head's
`//` and `%`) is repeated for each part. A concat writes each part into its box instead, one
copy loop per part (`Lowering.pieces`).

Bit for bit: an element of the sum is its part's value plus one or more zeros, and
g + 0 + 0 = g + 0 (g + 0 differs from g only for g = -0, which becomes +0); so the concat's
parts are g + 0, which costs nothing in the copy loop.
"""

from __future__ import annotations

from graphnn.ir import Node, apply
from graphnn.ops.indexing import resolved
from graphnn.passes.rewrite import Rule, Where, scalar, uses


def _box(node: Node) -> tuple[int, int, int] | None:
    """(axis, start, stop) when `node` is a slice_grad whose slice is a contiguous range of
    one axis or one position on it (x[:, t], which drops the axis), every other axis whole
    and no new axis; None otherwise. An index taking every axis whole is a box on axis 0."""
    if node.op != "slice_grad" or node.ndim == 0:
        return None
    shape = node.shape
    cut = []
    for axis, where in resolved(node.attrs["index"], shape):
        if axis is None:
            return None
        if isinstance(where, int):
            cut.append((axis, where, where + 1))
        elif where.step != 1:
            return None
        elif len(where) != shape[axis]:
            cut.append((axis, where.start, where.stop))
    if len(cut) > 1:
        return None
    return cut[0] if cut else (0, 0, shape[0])


def _part(node: Node, axis: int) -> Node:
    """The gradient a slice_grad places, in the rank of its output (a position's dropped
    axis restored as length 1)."""
    g = node.inputs[0]
    if g.ndim == node.ndim:
        return g
    return apply("reshape", g, shape=node.shape[:axis] + (1,) + node.shape[axis + 1:])


def _terms(node: Node, root: bool = True) -> list[Node]:
    """The operands of a tree of additions of one shape and dtype (an inner addition read
    only here, so none is computed twice)."""
    if node.op == "add" and (root or uses(node) == 1) and all(
            i.shape == node.shape and i.dtype == node.dtype for i in node.inputs):
        return [t for i in node.inputs for t in _terms(i, False)]
    return [node]


def _tiled_concat(node: Node) -> Node | None:
    # slice_grad(g_1) + ... + slice_grad(g_n) -> concat(g_1 + 0, ..., g_n + 0) when the
    # slices are disjoint ranges (or positions) of one axis that together cover it
    terms = _terms(node)
    boxes = [_box(t) for t in terms]
    if len(terms) < 2 or None in boxes or len({b[0] for b in boxes}) != 1:
        return None
    axis = boxes[0][0]
    order = sorted(range(len(terms)), key=lambda k: boxes[k][1])
    reached = 0
    for k in order:                        # each part starts where the previous one stopped
        if boxes[k][1] != reached:
            return None
        reached = boxes[k][2]
    if reached != node.shape[axis]:
        return None
    parts = [_part(terms[k], axis) for k in order]
    return apply("concat", *(apply("add", p, scalar(0, p)) for p in parts), axis=axis)


JOINS = (
    Rule("sum of slice_grads tiling an axis -> concat",
         Where("node", lambda n: n.op == "add"), _tiled_concat),
)
