"""Fusion, seen from the graph side: an elementwise chain with broadcast operands, and its
gradient, become one loop nest with no intermediate arrays, vectorized by LLVM."""

from __future__ import annotations

import re

import numpy as np

import graphnn as gn
from codegen import loops
from graphnn.compiler import compile


def _nests_and_temps(f) -> tuple[int, tuple]:
    kernel = f.base.kernel.kernel
    return sum(isinstance(s, loops.Loop) for s in kernel.body), kernel.temps


def test_a_broadcasting_chain_is_one_vectorized_loop_nest():
    x = gn.input("x", shape=(64, 100), dtype="float32")
    b = gn.input("b", shape=(100,), dtype="float32")       # broadcast along rows
    c = gn.input("c", shape=(64, 1), dtype="float32")      # broadcast along columns
    y = gn.tanh(gn.relu(x * b + c) * 2.0 - gn.exp(-x)) / (1.0 + gn.sigmoid(x))
    f = compile(y, [x, b, c])
    assert _nests_and_temps(f) == (1, ())
    assert len(f.base.kernel.kernel.body) == 1
    assert re.search(r"<\d+ x float>", f.optimized_llvm_ir)    # any width: this CPU's
    rng = np.random.default_rng(0)
    feed = {"x": rng.normal(size=(64, 100)).astype(np.float32),
            "b": rng.normal(size=100).astype(np.float32),
            "c": rng.normal(size=(64, 1)).astype(np.float32)}
    np.testing.assert_allclose(f(**feed), gn.evaluate(y, feed), rtol=2e-6, atol=1e-6)


def test_value_and_gradient_share_one_loop():
    """The benchmark's chain: y and d sum(y)/dx are written by the same loop, with the
    sigmoid computed from the same expression (LLVM emits it once)."""
    x = gn.input("x", shape=(1000,), dtype="float32")
    y = gn.sigmoid(1.5 * x - 0.25) * gn.maximum(x, 0.0) + x * x
    f = compile([y, gn.grad(gn.sum(y), x)], [x])
    assert _nests_and_temps(f) == (1, ())
    (nest,) = f.base.kernel.kernel.body
    stored = {n.buffer.name for n in loops.walk(nest) if isinstance(n, loops.Store)}
    assert stored == {"out0", "out1"}
    value = np.linspace(-3, 3, 1000, dtype=np.float32)
    for got, want in zip(f(value), gn.evaluate([y, gn.grad(gn.sum(y), x)], {"x": value})):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
