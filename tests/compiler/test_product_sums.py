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
