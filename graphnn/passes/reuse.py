"""Reuse of forward results by the backward pass.

Stage: optimization. Input: a Graph holding a forward computation and its gradients. Output: the
same values, with backward masks computed from forward outputs where that is exact.

Several gradient rules already read the forward output: sigmoid's is g out (1 - out), tanh's
g (1 - out²), exp's g out, softmax's out (g - sum(g out)), and interning plus `merge common`
make sure such an `out` is the forward's node itself, whatever its name or scope. What remains
are the masks that routing ops build from their *input*: relu's step(x), the max gate's
above(x, y). relu's mask equals the same mask of relu's output, and with these rules the
backward pass reads only the forward's output, so the pre-activation need not be kept for it:

    step(x) = step(relu(x))               relu(x) > 0 exactly when x > 0; NaN stays NaN
    step(x) = step(leaky_relu(x, a))      for a > 0 (a x <= 0 for x <= 0; a = 0 gives 0 (-inf))
    step(x) = step(elu(x, a))             for 0 <= a < inf (a (e^x - 1) <= 0 for x <= 0)

step works because it gives 0 both at 0 and below. A rule fires only when the forward op is
already in the graph (it is looked up, never built). Not rules, because they are not exact:

    above(x, y, tie) -> above(maximum(x, y), y, tie)       for x < y the right side is a tie
    exp(log_softmax(x)) -> softmax(x)                       differs in the last bits

Softmax cross-entropy's gradient is (softmax(z) sum(t) - t) g / N, which is (p - t) / N only
when every row of t sums to 1. For a constant one-hot t, folding proves it (sum(t) folds to
ones, and `x * 1 -> x`); for an input t nothing does, so the general form stays.
"""

from __future__ import annotations

import math
from collections import Counter

from graphnn.graph import Graph
from graphnn.ir import Node, apply
from graphnn.options import CompileOptions
from graphnn.passes.rewrite import P, Rule, Var, find, rewrite

x = Var("x")


def _mask_of_output(op: str, admissible=lambda attrs: True):
    """Builder of step(x) -> step(op(x)) when op(x) is in the graph with admissible attrs."""
    def build(x: Node) -> Node | None:
        forward = find(op, x)
        if forward is None or not admissible(forward.attrs):
            return None
        return apply("step", forward)
    return build


def _positive(attrs) -> bool:
    return 0 < attrs["alpha"] < math.inf


def _nonnegative(attrs) -> bool:
    return 0 <= attrs["alpha"] < math.inf


REUSE = (
    Rule("step(x) -> step(relu(x))", P.step(x), _mask_of_output("relu")),
    Rule("step(x) -> step(leaky_relu(x))", P.step(x), _mask_of_output("leaky_relu", _positive)),
    Rule("step(x) -> step(elu(x))", P.step(x), _mask_of_output("elu", _nonnegative)),
)


def reuse_forward(graph: Graph, fired: Counter | None = None,
                  options: CompileOptions | None = None) -> Graph:
    """Compute backward masks from forward outputs (see the module docstring).

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(3,))
    >>> h = gn.relu(x)
    >>> graph = gn.Graph([h, gn.grad(gn.sum(h), x)])
    >>> [str(n.inputs[0]) for n in graph.nodes if n.op == "step"]
    ["<Node input 'x' f64[3]>"]
    >>> [str(n.inputs[0]) for n in reuse_forward(graph).nodes if n.op == "step"]
    ['<Node relu f64[3]>']
    """
    return rewrite(graph, REUSE, fired, options)
