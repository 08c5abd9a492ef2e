"""gn.compile's `optimize` option: the graph it lowers is gn.optimize's result by default, the
graph as built with optimize=False, and both compute the same values."""

from __future__ import annotations

import numpy as np

import graphnn as gn


def test_compile_optimizes_by_default_and_optimize_false_compiles_the_graph_as_built():
    # the gradient's seed (reshape, broadcast_like) and the two products by 1 are what
    # gn.optimize removes: 11 nodes as built, 6 optimized (inputs and constants counted).
    # `base.graph` is the graph the kernel for the declared shapes was lowered from.
    x = gn.input("x", shape=(3,))
    y = gn.sum(gn.sigmoid(x) * 1.0)
    outputs = [y, *gn.grad(y, [x])]
    optimized, as_built = gn.compile(outputs), gn.compile(outputs, optimize=False)
    assert len(as_built.base.graph.nodes) == len(gn.Graph(outputs).nodes) == 11
    assert len(optimized.base.graph.nodes) == len(gn.optimize(gn.Graph(outputs)).nodes) == 6
    assert "broadcast_like" in str(as_built.base.graph)
    assert "broadcast_like" not in str(optimized.base.graph)
    value = np.array([-1.0, 0.0, 2.0])
    want = gn.evaluate(outputs, {"x": value})
    for fast, plain, reference in zip(optimized(value), as_built(value), want, strict=True):
        # the rules are exact and drop only products by 1, so both kernels round alike
        np.testing.assert_allclose(fast, plain, rtol=1e-15, atol=0)
        np.testing.assert_allclose(fast, reference, rtol=1e-12)
