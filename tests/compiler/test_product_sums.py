"""A sum of matrix products (a recurrent weight's gradient, sum over t of h_tᵀ dz_t) is
accumulated in one buffer: the first product's Gemm writes it, each later one adds to it
(beta = 1), and neither the products nor the partial sums get buffers of their own."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from codegen import loops
from graphnn.compiler import compile


def _gemms(f) -> list[loops.Gemm]:
    return [n for s in f.base.kernel.kernel.body for n in loops.walk(s)
            if isinstance(n, loops.Gemm)]


def _check(f, outputs, feed, rtol=1e-12):
    for got, want in zip(f(**feed), gn.evaluate(outputs, feed), strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def test_a_weight_gradient_over_steps_is_one_buffer_of_accumulating_products():
    xs = [gn.input(f"x{t}", (4, 8)) for t in range(5)]
    gs = [gn.input(f"g{t}", (4, 16)) for t in range(5)]
    total = xs[0].T @ gs[0]
    for x, g in zip(xs[1:], gs[1:]):
        total = total + gn.tanh(x).T @ g
    f = compile([total * 0.5], [*xs, *gs], gemm="native")
    gemms = _gemms(f)
    assert len(gemms) == 5 and len({g.c.name for g in gemms}) == 1
    assert [g.beta for g in gemms] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert [t.shape for t in f.base.kernel.kernel.temps].count((8, 16)) == 1   # the sum's
    rng = np.random.default_rng(0)
    _check(f, [total * 0.5], {n.name: rng.normal(size=n.shape) for n in [*xs, *gs]})


def test_a_product_read_elsewhere_or_broadcast_into_the_sum_is_not_accumulated():
    a, b, c = gn.input("a", (3, 5)), gn.input("b", (5, 4)), gn.input("c", (5, 4))
    shared = a @ b                               # also an output of its own
    outputs = [shared + a @ c, shared, a @ c + gn.input("row", (4,))]
    f = compile(outputs, gemm="native")
    assert all(g.beta == 0.0 for g in _gemms(f))
    rng = np.random.default_rng(1)
    _check(f, outputs, {"a": rng.normal(size=(3, 5)), "b": rng.normal(size=(5, 4)),
                        "c": rng.normal(size=(5, 4)), "row": rng.normal(size=4)})


def test_empty_and_loop_computed_products_in_a_sum():
    """k = 0 (a sum of nothing: 0), and a product whose operand is a broadcast constant (an
    initial state of zeros: computed by loops, accumulated all the same; NaN in w stays)."""
    empty_a, empty_b = gn.input("ea", (3, 0)), gn.input("eb", (0, 4))
    a, w = gn.input("a", (3, 2)), gn.input("w", (2, 4))
    zeros = gn.broadcast_to(gn.constant(0.0), (3, 2))
    outputs = [empty_a @ empty_b + a @ w + zeros @ w]
    for mode in ("native", "blas", "loops"):
        f = compile(outputs, [empty_a, empty_b, a, w], gemm=mode)
        w_value = np.array([[1.0, np.nan, 2.0, -3.0], [0.5, 1.0, np.inf, 4.0]])
        _check(f, outputs, {"ea": np.zeros((3, 0)), "eb": np.zeros((0, 4)),
                            "a": np.arange(6.0).reshape(3, 2), "w": w_value})


def test_a_weight_gradient_summed_over_the_batch_is_one_deeper_product():
    """d/dw of x @ w for x of shape (batch, t, d) is sum_b x_bᵀ g_b: one Gemm of depth
    batch * t over x's and g's memory, with no (batch, d, n) temporary."""
    x, w = gn.input("x", (3, 5, 4)), gn.input("w", (4, 6))
    g = gn.input("g", (3, 5, 6))
    (dw,) = gn.grad(gn.sum(gn.tanh(x @ w) * g), [w])
    f = compile([dw], [x, w, g], gemm="native")
    gemms = _gemms(f)
    assert [(p.m, p.n, p.k, p.trans_a) for p in gemms] == [(3 * 5, 6, 4, False),
                                                           (4, 6, 3 * 5, True)]
    assert (3, 4, 6) not in [t.shape for t in f.base.kernel.kernel.temps]
    rng = np.random.default_rng(2)
    _check(f, [dw], {"x": rng.normal(size=(3, 5, 4)), "w": rng.normal(size=(4, 6)),
                     "g": rng.normal(size=(3, 5, 6))})


def test_batch_sums_that_cannot_be_one_product_are_summed_as_before():
    """aᵀ-free or broadcast batches: a product per batch item, then the sum."""
    a, b = gn.input("a", (2, 3, 4)), gn.input("b", (2, 4, 5))
    c = gn.input("c", (3, 4))
    outputs = [gn.sum(a @ b, axis=0), gn.sum(gn.transpose(a, (0, 2, 1)) @ gn.input(
        "d", (1, 3, 5)), axis=0), gn.sum(c @ b, axis=0)]
    f = compile(outputs, gemm="native")
    assert all(p.k in (3, 4) for p in _gemms(f))
    rng = np.random.default_rng(3)
    _check(f, outputs, {"a": rng.normal(size=(2, 3, 4)), "b": rng.normal(size=(2, 4, 5)),
                        "c": rng.normal(size=(3, 4)), "d": rng.normal(size=(1, 3, 5))})
