"""The optimizer on deep graphs: every pass walks a graph thousands of nodes deep without
recursion, and a chain of rewrites along it (each link's rule can fire only once the link
before it was rewritten) takes a few rounds, not one round per link."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from graphnn.options import CompileOptions
from graphnn.passes import optimize
from tests.harness import shallow_stack

LINKS = 2_000


def _chain() -> tuple[gn.Node, gn.Node]:
    """y = tanh(-(-(y * 1) / 1)) per link: four rules per link, each on a rebuilt node."""
    x = gn.input("x", shape=(3,))
    y = x
    for _ in range(LINKS):
        y = gn.tanh(gn.neg(gn.neg(y * 1.0)) / 1.0)
    return x, y


def test_a_chain_of_rewrites_along_a_deep_graph_takes_a_few_rounds():
    few = CompileOptions(max_rounds=6)        # raises if rounds grew with the depth
    x, y = _chain()
    with shallow_stack():
        optimized = optimize(gn.Graph(y), options=few)
    assert {n.op for n in optimized.nodes} == {"input", "tanh"}
    assert len(optimized.nodes) == LINKS + 1
    value = np.array([-0.5, 0.0, 2.0])
    np.testing.assert_array_equal(gn.evaluate(optimized.outputs, {"x": value})[0],
                                  gn.evaluate([y], {"x": value})[0])


def test_a_deep_gradient_optimizes_and_prints():
    x, y = _chain()
    with shallow_stack():
        (dx,) = gn.grad(gn.sum(y), [x])
        optimized = optimize(gn.Graph([y, dx]))
        text = str(optimized)
    assert text.count(" = tanh ") == LINKS
    value = np.array([0.25, -1.0, 0.5])
    np.testing.assert_allclose(gn.evaluate(optimized.outputs, {"x": value})[1],
                               gn.evaluate([dx], {"x": value})[0], rtol=1e-12)
