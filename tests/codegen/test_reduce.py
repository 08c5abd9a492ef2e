"""Reductions (sum/max/min, NaN, nesting, empty) and accumulate statements (scatter gradients)."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops
from tests.codegen.support import NUMPY, compiled

# Reduction sums are reassociated so they vectorize: f32 results differ from NumPy's pairwise
# sums by a few float32 ulp of sum|x|, hence rtol 1e-5 for f32 (f64 stays at 1e-12).
SUM_RTOL = {"f32": 1e-5, "f64": 1e-12}
REFERENCE = {"sum": np.sum, "max": np.max, "min": np.min}


def rows(dtype: str, shape=(7, 300), seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(shape).astype(NUMPY[dtype])
    x[1, 17] = np.nan
    x[2, :] = -np.inf
    x[3, 5] = np.inf
    return x


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("axis", [0, 1])
def test_reduce_over_either_axis(kind, axis, dtype):
    x_values = rows(dtype)
    n, m = x_values.shape
    x = loops.Buffer("x", dtype, (n, m))
    out = loops.Buffer("out", dtype, (m if axis == 0 else n,))
    reduce = getattr(loops, f"reduce_{kind}")
    if axis == 1:
        body = loops.loop(n, lambda i: loops.store(out, i, reduce(m, lambda k: x[i, k])))
    else:
        body = loops.loop(m, lambda j: loops.store(out, j, reduce(n, lambda k: x[k, j])))
    got = compiled(loops.Kernel(f"{kind}{axis}", [x], [out], body=[body]))(x_values)
    with np.errstate(invalid="ignore"):
        expected = REFERENCE[kind](x_values, axis=axis)
    np.testing.assert_allclose(got, expected, rtol=SUM_RTOL[dtype], atol=0, equal_nan=True)


def test_empty_reductions_give_their_identity():
    out = loops.Buffer("out", "f64", (3,))
    body = [loops.store(out, p, r(0, lambda k: loops.const(1.0, "f64")))
            for p, r in enumerate((loops.reduce_sum, loops.reduce_max, loops.reduce_min))]
    np.testing.assert_array_equal(compiled(loops.Kernel("empty", [], [out], body=body))(),
                                  [0.0, -np.inf, np.inf])


def test_nested_reductions_and_integer_sums():
    x = loops.Buffer("x", "f64", (4, 5, 6))
    idx = loops.Buffer("idx", "i64", (10,))
    out = loops.Buffer("out", "f64", (4,))
    count = loops.Buffer("count", "i64", ())
    body = [
        loops.loop(4, lambda i: loops.store(out, i, loops.reduce_sum(
            5, lambda j: loops.reduce_max(6, lambda k: x[i, j, k])))),
        loops.store(count, (), loops.reduce_sum(10, lambda k: idx[k] * 2)),
    ]
    kernel = loops.Kernel("nested", [x, idx], [out, count], body=body)
    assert "sum(r1 in 0..5: max(r0 in 0..6: x[i, r1, r0]))" in str(kernel)
    values = np.random.default_rng(2).standard_normal((4, 5, 6))
    got, total = compiled(kernel)(values, np.arange(10, dtype=np.int64))
    np.testing.assert_allclose(got, values.max(axis=2).sum(axis=1), rtol=1e-12)
    assert total == 90


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_softmax_with_temps(dtype):
    n, m = 6, 50
    x = loops.Buffer("x", dtype, (n, m))
    out = loops.Buffer("out", dtype, (n, m))
    top = loops.Buffer("top", dtype, (n,))
    total = loops.Buffer("total", dtype, (n,))
    body = [
        loops.loop(n, lambda i: [
            loops.store(top, i, loops.reduce_max(m, lambda k: x[i, k])),
            loops.store(total, i, loops.reduce_sum(m, lambda k: loops.exp(x[i, k] - top[i]))),
        ]),
        loops.loop_nest((n, m), lambda i, j: loops.store(
            out, (i, j), loops.exp(x[i, j] - top[i]) / total[i])),
    ]
    kernel = loops.Kernel("softmax", [x], [out], [top, total], body)
    values = (np.random.default_rng(3).standard_normal((n, m)) * 30).astype(NUMPY[dtype])
    # subtract in the kernel's precision (that rounding is exact input to exp), the rest in f64
    shifted = np.exp((values - values.max(axis=1, keepdims=True)).astype(np.float64))
    expected = shifted / shifted.sum(axis=1, keepdims=True)
    # f32: exp and the division round to a few float32 ulp
    np.testing.assert_allclose(compiled(kernel)(values), expected,
                               rtol=2e-6 if dtype == "f32" else 1e-12, atol=1e-30)


def test_accumulate_scatters_overlapping_pool_windows():
    # average-pool gradient, 3x3 windows with stride 1: every input pixel gets several updates
    size, window = 6, 3
    out_size = size - window + 1
    g = loops.Buffer("g", "f64", (out_size, out_size))
    grad = loops.Buffer("grad", "f64", (size, size))
    body = [
        loops.loop_nest((size, size), lambda i, j: loops.store(grad, (i, j), 0.0)),
        loops.loop_nest((out_size, out_size, window, window), lambda i, j, k, l: loops.accumulate(
            grad, (i + k, j + l), g[i, j] / float(window * window))),
    ]
    kernel = loops.Kernel("avgpool_grad", [g], [grad], body=body)
    upstream = np.random.default_rng(4).standard_normal((out_size, out_size))
    expected = np.zeros((size, size))
    for i in range(out_size):
        for j in range(out_size):
            expected[i:i + window, j:j + window] += upstream[i, j] / window**2
    np.testing.assert_allclose(compiled(kernel)(upstream), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["f32", "f64", "i64"])
@pytest.mark.parametrize("kind", ["sum", "max", "min"])
def test_accumulate_kinds_in_every_dtype(kind, dtype):
    x = loops.Buffer("x", dtype, (4, 5))
    out = loops.Buffer("out", dtype, (5,))
    start = {"sum": 0, "max": -np.inf, "min": np.inf}[kind]
    if dtype == "i64":
        start = {"sum": 0, "max": -(2**63), "min": 2**63 - 1}[kind]
    body = [loops.loop(5, lambda j: loops.store(out, j, start), name="j"),
            loops.loop_nest((4, 5), lambda i, j: loops.accumulate(out, j, x[i, j], kind))]
    rng = np.random.default_rng(5)
    values = (rng.standard_normal((4, 5)) * 100).astype(NUMPY[dtype])
    if dtype != "i64":
        values[2, 3] = np.nan  # NaN wins in every kind
    got = compiled(loops.Kernel(f"acc_{kind}_{dtype}", [x], [out], body=body))(values)
    expected = sequential_sum(values) if kind == "sum" else REFERENCE[kind](values, axis=0)
    np.testing.assert_array_equal(got, expected)


def sequential_sum(values: np.ndarray) -> np.ndarray:
    total = np.zeros(values.shape[1], values.dtype)
    for row in values:  # accumulation order: one rounding per row, as the kernel does
        total = total + row
    return total
