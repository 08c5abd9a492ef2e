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


def _recurrent_products_read(f, weight: str) -> list[set[str]]:
    """For each top-level loop of the kernel: which products by the input `weight` it reads."""
    kernel = f.base.kernel.kernel
    products = {s.c.name for s in kernel.body if isinstance(s, loops.Gemm)
                and s.b.name.endswith(f"_{weight}")}
    return [{n.buffer.name for n in loops.walk(s) if isinstance(n, loops.Load)
             and n.buffer.name in products} for s in kernel.body if isinstance(s, loops.Loop)]


def test_an_lstm_cell_state_is_stored_not_recomputed_in_later_steps():
    """c_t is read by tanh(c_t) -> h_t -> h_t @ w_hh and by f * c_t after that product: stored
    once, so each step's gate loop reads its own step's product only (inlined, it read every
    earlier step's product and recomputed those steps' gates), forward and backward."""
    from graphnn import nn
    x = gn.input("x", (4, 6, 5), "float32")
    w_ih, w_hh = gn.input("w_ih", (5, 32), "float32"), gn.input("w_hh", (8, 32), "float32")
    b = gn.input("b", (32,), "float32")
    _, (h, c) = nn.lstm(x, w_ih, w_hh, b, b)
    loss = gn.sum(h * h) + gn.sum(c)
    outputs = [loss, *gn.grad(loss, [w_ih, w_hh, b])]
    f = compile(outputs, [x, w_ih, w_hh, b], gemm="native")
    reads = _recurrent_products_read(f, "w_hh")
    assert sum(len(r) == 1 for r in reads) >= 5          # a gate loop per step after the first
    assert all(len(r) <= 1 for r in reads)
    rng = np.random.default_rng(0)
    feed = {"x": rng.normal(size=(4, 6, 5)), "w_ih": rng.normal(size=(5, 32)) * 0.5,
            "w_hh": rng.normal(size=(8, 32)) * 0.5, "b": rng.normal(size=32) * 0.1}
    feed = {k: v.astype(np.float32) for k, v in feed.items()}
    for got, want in zip(f(**feed), gn.evaluate(outputs, feed), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)     # float32, 6 steps


def test_a_transposed_matmul_operand_is_read_from_its_buffer_not_copied():
    """h is stored for h @ w; hᵀ @ g (a weight gradient's shape) reads the same buffer with the
    GEMM's transpose flag, although the product is larger than hᵀ."""
    x, w = gn.input("x", (4, 8)), gn.input("w", (8, 32))
    g = gn.input("g", (4, 32))
    h = gn.tanh(x)
    outputs = [h @ w, gn.transpose(h) @ g]
    f = compile(outputs, [x, w, g], gemm="native")
    kernel = f.base.kernel.kernel
    assert [t.shape for t in kernel.temps] == [(4, 8)]
    gemms = [s for s in kernel.body if isinstance(s, loops.Gemm)]
    assert [(s.a.name, s.trans_a) for s in gemms] == [(kernel.temps[0].name, False),
                                                      (kernel.temps[0].name, True)]
    rng = np.random.default_rng(1)
    feed = {"x": rng.normal(size=(4, 8)), "w": rng.normal(size=(8, 32)),
            "g": rng.normal(size=(4, 32))}
    for got, want in zip(f(**feed), gn.evaluate(outputs, feed), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_product_of_merged_heads_is_a_gemm_on_a_copy_not_loops():
    """Attention's heads merged by a transpose and a reshape are no matrix in memory: that
    operand is copied once and the product is a Gemm (it was loops that recomputed the view's
    index arithmetic for every term)."""
    x, w0, w = gn.input("x", (2, 3, 4, 5)), gn.input("w0", (5, 5)), gn.input("w", (15, 6))
    heads = x @ w0                                             # (batch, heads, t, d), stored
    merged = gn.reshape(gn.transpose(heads, (0, 2, 1, 3)), (8, 15))
    f = compile(merged @ w, [x, w0, w], gemm="native")
    gemms = [s for s in f.base.kernel.kernel.body if isinstance(s, loops.Gemm)]
    assert [(g.m, g.n, g.k) for g in gemms] == [(24, 5, 5), (8, 6, 15)]
    rng = np.random.default_rng(4)
    feed = {"x": rng.normal(size=(2, 3, 4, 5)), "w0": rng.normal(size=(5, 5)),
            "w": rng.normal(size=(15, 6))}
    np.testing.assert_allclose(f(**feed), gn.evaluate(merged @ w, feed), rtol=1e-12, atol=1e-12)


def test_a_computed_operand_and_its_transpose_share_one_buffer():
    """x used as xᵀ by one product and as x by another is stored once, as x: the Gemm
    reads xᵀ with the transpose flag (graphnn.lower.storage)."""
    a = gn.input("a", shape=(3, 6, 5), dtype="float32")
    x = a * 2.0 + 1.0                                  # computed: stored for the products
    b = gn.input("b", shape=(3, 6, 4), dtype="float32")
    c = gn.input("c", shape=(3, 5, 2), dtype="float32")
    outputs = [gn.transpose(x, (0, 2, 1)) @ b, x @ c]
    f = compile(outputs, [a, b, c])
    assert [t.shape for t in f.base.kernel.kernel.temps] == [(3, 6, 5)]
    rng = np.random.default_rng(0)
    feed = {"a": rng.normal(size=(3, 6, 5)).astype(np.float32),
            "b": rng.normal(size=(3, 6, 4)).astype(np.float32),
            "c": rng.normal(size=(3, 5, 2)).astype(np.float32)}
    for found, expected in zip(f(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)
