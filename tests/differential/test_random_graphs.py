"""Whole random graphs: the compiled function agrees with the NumPy reference, for values and
for gradients, with broadcasting, fan-out and edge values (NaN, ±inf, ties, large numbers).

Tolerance: 1e-9 relative in float64 (chains of ops compound the compiler's last-bit
differences: polynomial exp/log/tanh, reassociated sums); 5e-5 in float32. NaN and inf must be
at the same places.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile
from tests.differential.random_graphs import (
    BINARY,
    INTO_DOMAIN,
    TERNARY,
    UNARY,
    elementwise_float_ops,
    random_graph,
    random_values,
)

TOLERANCE = {"float64": 1e-9, "float32": 5e-5}


def _compare(outputs, inputs, feed, dtype, what):
    with np.errstate(all="ignore"):
        want = gn.evaluate(gn.Graph(outputs, inputs), feed)
    assert_agree(compile(outputs, inputs)(**feed), want, dtype, what)


def assert_agree(got, want, dtype, what):
    """Compiled results `got` equal the reference `want`: NaN and inf at the same places, the
    rest within TOLERANCE (relative to the largest finite value)."""
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype
        finite = np.isfinite(w)
        assert np.array_equal(np.isnan(g), np.isnan(w)), f"{what}: NaN places differ (out {k})"
        assert np.array_equal(g[~finite & ~np.isnan(w)], w[~finite & ~np.isnan(w)]), \
            f"{what}: infinities differ (output {k})"
        scale = max(1.0, float(np.max(np.abs(w[finite]), initial=0.0)))
        np.testing.assert_allclose(g[finite], w[finite], rtol=TOLERANCE[dtype],
                                   atol=TOLERANCE[dtype] * scale, err_msg=f"{what} output {k}")


def test_every_elementwise_op_is_drawn():
    # a new elementwise op joins the random graphs by itself; one this generator cannot draw
    # (four inputs, a domain it has no way into, an attribute without a default) fails here
    drawn = {f.__name__ for f in UNARY + BINARY + TERNARY}
    assert drawn == {op.name for op in elementwise_float_ops()}
    for op in elementwise_float_ops():
        assert all(op.domain(k) in INTO_DOMAIN for k in range(op.arity)), op.name
        assert all(default is not gn.ir.REQUIRED for _, default in op.params), op.name


@pytest.mark.parametrize("seed", range(30))
def test_values(seed):
    inputs, outputs = random_graph(seed)
    for edges in (False, True):
        _compare(outputs, inputs, random_values(seed, inputs, edges), "float64",
                 f"graph {seed}, edges={edges}")


@pytest.mark.parametrize("seed", range(30))
def test_gradients(seed):
    inputs, outputs = random_graph(seed)
    weights = np.random.default_rng(seed).normal(size=3)
    loss = sum(gn.sum(o) * float(w) for o, w in zip(outputs, weights))
    grads = gn.grad(loss, inputs)
    _compare([loss, *grads], inputs, random_values(seed, inputs, edges=False), "float64",
             f"gradients of graph {seed}")


@pytest.mark.parametrize("seed", range(10))
def test_float32(seed):
    inputs, outputs = random_graph(seed, dtype="float32")
    _compare(outputs, inputs, random_values(seed, inputs, edges=True), "float32",
             f"float32 graph {seed}")
