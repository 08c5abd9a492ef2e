"""Constant folding: nodes whose inputs are all constants become constants.

Stage: optimization. Input: a Graph. Output: the same graph with constant subexpressions
replaced by their values, computed by each op's NumPy `reference` through the evaluator, so a
folded value is bit for bit what evaluation would have produced.

Two things keep folding from being a pessimization or a change of semantics:

- Size. A folded array may hold at most `CompileOptions.fold_limit` elements (256), or as many
  as its largest constant input (folding never grows the constants). A uniform result (every
  element the same bits) is kept as a *splat*, `broadcast_to(c, shape)` of a scalar constant,
  whatever its size: folding the gradient seed `broadcast_to(1.0)` into a 784x256 array would
  only cost memory.
- Layout. The evaluator's value of a layout op is a NumPy view (a transpose is a strided view)
  and a later reduction sums in memory order, so replacing the view with a contiguous array
  could change the last bit of a sum. Only contiguous values are folded into arrays.

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> print(fold_constants(gn.Graph(x * (gn.constant(2.0) + 1.0))))
    graph f(x: f64[]) {
      %0 = mul x, 3.0  : f64[]
      return %0
    }
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from graphnn.evaluate import run
from graphnn.graph import Graph
from graphnn.ir import Node, apply, constant
from graphnn.options import CompileOptions
from graphnn.passes.rewrite import SPLATS, Rule, Where, rebuild, rewrite, splat_core


def _uniform(value: np.ndarray) -> bool:
    """Every element has the same bits (so -0.0 and 0.0 are not uniform)."""
    bits = np.ascontiguousarray(value).reshape(-1).view(f"u{value.itemsize}")
    return bits.size > 0 and bool((bits == bits[0]).all())


def _splat(value: np.ndarray, node: Node) -> Node:
    """broadcast_to(c, node.shape) for a uniform value, or c itself for a scalar node."""
    core = constant(np.asarray(value).reshape(-1)[0], dtype=node.dtype)
    return core if node.shape == () else apply("broadcast_to", core, shape=node.shape)


def _fold(node: Node, options: CompileOptions) -> Node | None:
    # f(c1, ..., cn) -> c: the reference applied to constants, by the evaluator
    if not node.inputs or not all(i.op == "constant" for i in node.inputs) or \
            splat_core(node) is not None:
        return None
    limit = max([options.fold_limit] + [i.value.size for i in node.inputs])
    if math.prod(node.shape) > limit:
        return None            # too big to hold; a uniform one is the splat rules' business
    value = run([*node.inputs, node], {})[node]
    if value.size <= 1 or value.flags.c_contiguous:
        return constant(value, dtype=node.dtype, name=node.name)
    return _splat(value, node) if _uniform(value) else None


def _fold_elementwise_splats(node: Node) -> Node | None:
    # f(splat(a), splat(b), c) -> splat(f(a, b, c)): an elementwise op computes every element
    # from the same scalars, so computing it once on the scalars gives every element's bits
    found = [splat_core(i) for i in node.inputs]
    if all(core is None for core in found):
        return None
    cores = [i if core is None else core for i, core in zip(node.inputs, found)]
    if not all(c.op == "constant" and c.shape == () for c in cores):
        return None
    on_scalars = apply(node.op, *cores, **node.attrs)
    return _splat(run([*cores, on_scalars], {})[on_scalars], node)


def _move_splat(node: Node) -> Node | None:
    # layout(splat(c)) -> splat(c) of the new shape, for every op with a view rule (reshape,
    # transpose, broadcast_to: each output element is an input element) and broadcast_like:
    # every element is c whatever the layout op does
    core = splat_core(node.inputs[0])
    return None if core is None else _splat(core.value, node)


def _uniform_array(node: Node) -> Node | None:
    # broadcast_to(C, s) with every element of C the same c -> broadcast_to(c, s), and
    # broadcast_like(C, like) -> broadcast_like(c, like) likewise
    source = node.inputs[0]
    if source.op != "constant" or source.shape == () or not _uniform(source.value):
        return None
    core = constant(source.value.reshape(-1)[0], dtype=node.dtype)
    return rebuild(node, [core, *node.inputs[1:]])


FOLD = (
    Rule("broadcast(C) -> broadcast(c) for uniform C", Where("node", lambda n: n.op in SPLATS),
         _uniform_array),
    Rule("f(constants) -> constant", Where("node", lambda n: bool(n.inputs)), _fold),
    Rule("f(splat a, splat b) -> splat f(a, b)",
         Where("node", lambda n: n.opdef.elementwise), _fold_elementwise_splats),
    Rule("layout(splat c) -> splat c",
         Where("node", lambda n: n.opdef.view is not None or n.op in SPLATS), _move_splat),
)


def fold_constants(graph: Graph, fired: Counter | None = None,
                   options: CompileOptions | None = None) -> Graph:
    """Replace constant subexpressions by their values (see the module docstring).

    >>> import graphnn as gn
    >>> n = gn.constant(2.0) * gn.constant(3.0)
    >>> print(fold_constants(gn.Graph(n)))
    graph f() {
      return 6.0
    }
    """
    return rewrite(graph, FOLD, fired, options)
