"""Algebraic simplification: rule tables applied until no rule fires.

Stage: optimization. Input: a Graph. Output: an equivalent Graph with fewer or cheaper nodes.

Every rule keeps the NumPy reference semantics bit for bit, NaN and inf included (a NaN may
come out with another sign bit, which is still NaN). So these are not rules, and never will be:

    x * 0 -> 0       wrong for x = inf or NaN (inf * 0 is NaN)
    x - x -> 0       wrong for x = inf or NaN
    x / x -> 1       wrong for 0, inf and NaN
    x + 0 -> x       wrong for x = -0.0 (-0.0 + 0.0 is +0.0)
    -(x - y) -> y - x, sum(-x) -> -sum(x)       wrong for a zero result: -(+0) is -0
    (x * c1) * c2 -> x * (c1 c2)                 reassociation: x * c1 may overflow first
    x ** 2 -> square(x)                          pow is not correctly rounded in every libm

The table `SIMPLIFY` runs together with the folding rules (`simplify = FOLD + SIMPLIFY`), so
constants a rule creates (the -c of `-(c * x) -> (-c) * x`) are folded in the same pass, and
with common-subexpression merging: a rewrite can make two nodes equal, and merging them can
enable a rule (x * y with y merged into x is x * x), so the pass repeats both until neither
changes the graph. Its result is a fixpoint: simplify(simplify(g)) is simplify(g).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from graphnn.graph import Graph
from graphnn.ir import Node, apply
from graphnn.options import CompileOptions
from graphnn.passes.cse import merge_common
from graphnn.passes.fold import FOLD
from graphnn.passes.joins import JOINS
from graphnn.passes.rewrite import (
    SPLATS,
    AnyConst,
    P,
    Rule,
    Var,
    Where,
    is_constant_like,
    rebuild,
    rewrite,
    scalar,
    uniform_value,
    uses,
)

x, y = Var("x"), Var("y")
c = AnyConst("c")


def _identity_layout(node: Node) -> Node | None:
    # reshape(x, x.shape) -> x, broadcast_to(x, x.shape) -> x, transpose(x, (0, 1, ..)) -> x,
    # broadcast_like(x, like) -> x when x already has the result's shape
    source = node.inputs[0]
    if node.op == "transpose":
        return source if node.attrs["axes"] == tuple(range(source.ndim)) else None
    return source if source.shape == node.shape else None


def _layout_chain(node: Node) -> Node | None:
    # reshape(reshape(x, s1), s2) -> reshape(x, s2): both keep row-major element order
    # broadcast_to(broadcast_to(x, s1), s2) -> broadcast_to(x, s2)
    # transpose(transpose(x, a), b) -> transpose(x, a[b]): axis k of the result is axis b[k]
    # of the middle, which is axis a[b[k]] of x
    middle = node.inputs[0]
    if middle.op != node.op:
        return None
    source = middle.inputs[0]
    if node.op == "transpose":
        axes = tuple(middle.attrs["axes"][k] for k in node.attrs["axes"])
        return apply("transpose", source, axes=axes)
    return apply(node.op, source, shape=node.shape)


def _implicit_broadcast(node: Node) -> Node | None:
    # f(broadcast_to(v, s), y) -> f(v, y): an elementwise op broadcasts its operands itself,
    # element by element the same values (if the result is smaller, the engine broadcasts it);
    # broadcast_like(v, like) likewise
    if node.op in SPLATS:
        return None                       # layout chains are the rule above
    inputs = [i.inputs[0] if i.op in SPLATS else i for i in node.inputs]
    return None if all(a is b for a, b in zip(inputs, node.inputs)) else rebuild(node, inputs)


def _reciprocal(x: Node, c: Node) -> Node | None:
    # x / 2^k -> x * 2^-k: both are the exact real x 2^-k rounded once, so they agree to the
    # bit, subnormal results included, as long as 2^-k is itself a normal number
    value = uniform_value(c)
    if value is None or not np.isfinite(value) or value == 0:
        return None
    mantissa, _ = np.frexp(value)
    inverse = (1 / value).astype(value.dtype)
    tiny = np.finfo(value.dtype).tiny
    if abs(mantissa) != 0.5 or not np.isfinite(inverse) or min(abs(value), abs(inverse)) < tiny:
        return None
    return apply("mul", x, scalar(inverse, x))


def _zero_product(x: Node, y: Node) -> Node | None:
    # zeros @ b -> sum_k (b[k, j] * 0) + 0 in every row: each term 0 b[k, j] is ±0, or NaN
    # where b[k, j] is inf or NaN, so the product is +0 (its sum starts at +0), or NaN where
    # a column of b holds a non-finite value; the "+ 0" makes a sum of -0 terms +0 as well.
    # That costs k n, not m k n (an RNN's h_0 @ w_hh with h_0 = 0). a @ zeros likewise by row.
    if x.ndim < 2 or y.ndim < 2:
        return None
    for zero, other, axis in ((x, y, -2), (y, x, -1)):
        value = uniform_value(zero)
        if value is not None and value == 0:
            terms = apply("mul", other, scalar(0, other))
            summed = apply("sum", terms, axis=(other.ndim + axis,), keepdims=True)
            return apply("broadcast_to", apply("add", summed, scalar(0, summed)),
                         shape=apply("matmul", x, y).shape)
    return None


def _negated(e: Node, depth: int = 3) -> Node | None:
    """-e built without a neg node, or None: -(-a) = a; a constant is negated exactly; and
    -(a b) = (-a) b, -(a / b) = (-a) / b = a / (-b), since IEEE rounding is sign-symmetric.
    Products are rebuilt only when e is read once, so no work is duplicated."""
    if e.op == "neg":
        return e.inputs[0]
    if is_constant_like(e):
        return apply("neg", e)            # folded by the FOLD rules in the same pass
    if e.op not in ("mul", "div") or uses(e) != 1 or depth == 0:
        return None
    for k, operand in enumerate(e.inputs):
        inner = _negated(operand, depth - 1)
        if inner is not None:
            return rebuild(e, [inner if j == k else i for j, i in enumerate(e.inputs)])
    return None


def _absorb_negation(x: Node) -> Node | None:
    # -(e) -> e with the negation absorbed by a neg, a constant or a product inside e
    return _negated(x) if x.op != "neg" else x.inputs[0]


def _hoist_negation(node: Node) -> Node | None:
    # (-x) y -> -(x y), (-x) / y -> -(x / y), x / (-y) -> -(x / y), for a neg read only here:
    # moving negations outward lets two of them meet and cancel, or a sum absorb one
    for k, operand in enumerate(node.inputs):
        if operand.op == "neg" and uses(operand) == 1:
            inputs = [operand.inputs[0] if j == k else i for j, i in enumerate(node.inputs)]
            return apply("neg", rebuild(node, inputs))
    return None


def _single_use_neg(node: Node) -> bool:
    return node.op == "neg" and uses(node) == 1


def _along_planes(b: Node) -> bool:
    # b is constant along an NCHW image's height and width: its broadcast repeats it there
    return all(size == 1 for size in b.shape[-2:])


def _pool_first(node: Node) -> Node | None:
    # max_pool2d(relu(x)) -> relu(max_pool2d(x)), max_pool2d(x + b) -> max_pool2d(x) + b for
    # b constant along height and width, when relu(x) or x + b is read only there: each is
    # non-decreasing in x, and rounding to nearest keeps that (a <= c gives fl(a + b) <=
    # fl(c + b)), so the window's largest input gives its largest output, the same value;
    # NaN in a window gives NaN either way, and the -inf padding never wins. Pooling first
    # applies them to a quarter of the values (a 2x2 pooling) and leaves the pooling a plain
    # maximum of the stored values (a convolution's bias and ReLU, otherwise computed on
    # every output the pooling reads).
    inner = node.inputs[0]
    if uses(inner) != 1:
        return None
    if inner.op == "relu":
        return apply("relu", rebuild(node, [inner.inputs[0]]))
    if inner.op == "add":
        for k, b in enumerate(inner.inputs):
            x = inner.inputs[1 - k]
            if x.shape == inner.shape and _along_planes(b) and b.ndim <= inner.ndim:
                return apply("add", rebuild(node, [x]), b)
    return None


SIMPLIFY = (
    # identities: operations that return their operand bit for bit
    Rule("x * 1 -> x", P.mul(x, 1.0), lambda x: x),          # 1 x = x, also NaN, ±inf, -0
    Rule("x / 1 -> x", P.div(x, 1.0), lambda x: x),          # x / 1 = x
    Rule("x + -0 -> x", P.add(x, -0.0), lambda x: x),        # x + (-0) = x, x = +0 included
    Rule("x - 0 -> x", P.sub(x, 0.0), lambda x: x),          # x - (+0) = x + (-0) = x
    # pow(x, 1) is exactly representable, so a libm within 1 ulp returns it; C99 F.9.4.4 fixes
    # pow(±0, 1) = ±0 and pow(-inf, 1) = -inf, and NaN stays NaN
    Rule("x ** 1 -> x", P.pow(x, 1.0), lambda x: x),
    # max(x, x) = min(x, x) = x: both operands are the same value, sign of zero included (the
    # signed-zero ties that keep maximum(x, y) and maximum(y, x) apart need two values), and
    # NaN propagates as NaN
    Rule("maximum(x, x) -> x", P.maximum(x, x), lambda x: x),
    Rule("minimum(x, x) -> x", P.minimum(x, x), lambda x: x),
    Rule("layout(x) -> x for an identity layout op",
         Where("node", lambda n: n.op in ("reshape", "transpose") + SPLATS),
         _identity_layout),
    Rule("layout(layout(x)) -> layout(x)",
         Where("node", lambda n: n.op in ("reshape", "broadcast_to", "transpose")),
         _layout_chain),
    Rule("f(broadcast_to(v), y) -> f(v, y) for elementwise f",
         Where("node", lambda n: n.opdef.elementwise and any(i.op in SPLATS for i in n.inputs)),
         _implicit_broadcast),
    # cheaper forms
    Rule("x * x -> square(x)", P.mul(x, x), lambda x: apply("square", x)),   # one rounding each
    Rule("x / 2^k -> x * 2^-k", P.div(x, c), _reciprocal),
    # (-x)^2 = x^2: neg is exact, and both squares are the same positive magnitude rounded
    # once the same way (-0 and ±inf included; NaN stays NaN)
    Rule("square(-x) -> square(x)", P.square(P.neg(x)), lambda x: apply("square", x)),
    # |-x| = |x|: abs clears the sign bit, the only bit neg changes
    Rule("abs(-x) -> abs(x)", P.abs(P.neg(x)), lambda x: apply("abs", x)),
    Rule("zeros @ y -> sum(y * 0) + 0", P.matmul(x, y), _zero_product),
    # negations: -(-x) = x and (-x) y = -(x y) hold exactly, so negations can move and cancel
    Rule("-(-x) -> x", P.neg(P.neg(x)), lambda x: x),
    Rule("x * -1 -> -x", P.mul(x, -1.0), lambda x: apply("neg", x)),
    Rule("x / -1 -> -x", P.div(x, -1.0), lambda x: apply("neg", x)),
    Rule("(-x) * (-y) -> x * y", P.mul(P.neg(x), P.neg(y)), lambda x, y: apply("mul", x, y)),
    Rule("(-x) / (-y) -> x / y", P.div(P.neg(x), P.neg(y)), lambda x, y: apply("div", x, y)),
    Rule("x - (-y) -> x + y", P.sub(x, P.neg(y)), lambda x, y: apply("add", x, y)),
    # x - y is defined as x + (-y): sub computes it without materializing -y
    Rule("x + (-y) -> x - y", P.add(x, Where("y", _single_use_neg)),
         lambda x, y: apply("sub", x, y.inputs[0])),
    Rule("-(e) -> e with the negation absorbed", P.neg(x), _absorb_negation),
    Rule("(-x) * y -> -(x * y)", Where("node", lambda n: n.op in ("mul", "div")),
         _hoist_negation),
    Rule("max_pool2d(relu(x) or x + b) -> relu(max_pool2d(x)) or max_pool2d(x) + b",
         P.max_pool2d(x), lambda x, node: _pool_first(node)),
    # joins (graphnn.passes.joins): gradients of the parts of a cut value, as one concat
    *JOINS,
)


def simplify(graph: Graph, fired: Counter | None = None,
             options: CompileOptions | None = None) -> Graph:
    """Apply FOLD and SIMPLIFY until no rule fires.

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> print(simplify(gn.Graph(-(-x * gn.exp(x)) * 1.0)))
    graph f(x: f64[]) {
      %0 = exp x      : f64[]
      %1 = mul x, %0  : f64[]
      return %1
    }
    """
    fired = Counter() if fired is None else fired
    while True:
        graph = rewrite(graph, FOLD + SIMPLIFY, fired, options)
        merged = merge_common(graph, fired, options)
        if merged is graph:
            return graph
        graph = merged
