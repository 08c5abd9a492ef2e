"""Each schedule transform gives identical results, and declines where it would not."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops, schedule
from tests.codegen.support import NUMPY, compiled


def sequential_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """Sum in index order, one rounding per addition, in x's dtype: what accumulation does."""
    moved = np.moveaxis(x, axis, 0)
    total = np.zeros(moved.shape[1:], x.dtype)
    for row in moved:
        total = total + row
    return total


def column_reduce(kind: str, dtype: str, n: int = 300, m: int = 37) -> loops.Kernel:
    x, out = loops.Buffer("x", dtype, (n, m)), loops.Buffer("out", dtype, (m,))
    reduce = getattr(loops, f"reduce_{kind}")
    body = loops.loop(m, lambda j: loops.store(out, j, reduce(n, lambda r: x[r, j])), name="j")
    return loops.Kernel(f"column_{kind}", [x], [out], body=[body])


def data(shape, dtype: str, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(NUMPY[dtype])


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_interchanged_column_sums_are_the_sequential_sums(dtype):
    kernel = column_reduce("sum", dtype)
    scheduled = schedule.interchange_reductions(kernel)
    assert "out[j] += x[r0, j]" in str(scheduled)
    x = data((300, 37), dtype)
    np.testing.assert_array_equal(compiled(scheduled)(x), sequential_sum(x, 0))
    # the original reassociates its sums: equal within rounding only
    np.testing.assert_allclose(compiled(kernel)(x), compiled(scheduled)(x),
                               rtol=1e-4 if dtype == "f32" else 1e-12)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_interchanged_max_and_min_are_bit_identical(kind):
    kernel = column_reduce(kind, "f64")
    scheduled = schedule.interchange_reductions(kernel)
    assert scheduled is not kernel
    x = data((300, 37), "f64")
    x[5, 3], x[7, 4], x[9, 6] = np.nan, -0.0, 0.0
    np.testing.assert_array_equal(compiled(scheduled)(x), compiled(kernel)(x))


def test_a_sum_over_two_leading_axes_runs_along_the_contiguous_axis():
    """A bias gradient, sum over (batch, time) of (32, 6, 40): both reductions move out of
    the loop over the 40 columns, each element added in index order."""
    x, out = loops.Buffer("x", "f32", (32, 6, 40)), loops.Buffer("out", "f32", (40,))
    body = loops.loop(40, lambda j: loops.store(out, j, loops.reduce_sum(
        32, lambda a: loops.reduce_sum(6, lambda b: x[a, b, j]))), name="j")
    kernel = loops.Kernel("bias_sum", [x], [out], body=[body])
    scheduled = schedule.interchange_reductions(kernel)
    assert "      for j in 0..40 {\n        out[j] += x[r1, r0, j]" in str(scheduled)
    values = data((32, 6, 40), "f32")
    np.testing.assert_array_equal(compiled(scheduled)(values),
                                  sequential_sum(values.reshape(192, 40), 0))
    np.testing.assert_allclose(compiled(kernel)(values), compiled(scheduled)(values),
                               rtol=1e-4, atol=1e-5)


def matmul(dtype: str, n: int = 12, k: int = 40, m: int = 24) -> loops.Kernel:
    a, b = loops.Buffer("a", dtype, (n, k)), loops.Buffer("b", dtype, (k, m))
    c = loops.Buffer("c", dtype, (n, m))
    nest = loops.loop_nest((n, m), lambda i, j: loops.store(
        c, (i, j), loops.reduce_sum(k, lambda r: a[i, r] * b[r, j])))
    return loops.Kernel("matmul", [a, b], [c], body=[nest])


def test_matmul_becomes_i_k_j_order():
    kernel = matmul("f32")
    scheduled = schedule.interchange_reductions(kernel)
    text = str(scheduled)
    assert "for r0 in 0..40 {\n      for j in 0..24 {\n        c[i, j] += a[i, r0] * b[r0, j]" \
        in text
    a, b = data((12, 40), "f32", 1), data((40, 24), "f32", 2)
    expected = np.zeros((12, 24), np.float32)
    for r in range(40):  # sequential accumulation in f32, one rounding per step
        expected = expected + a[:, r:r + 1] * b[r]
    np.testing.assert_array_equal(compiled(scheduled)(a, b), expected)


def test_interchange_declines_row_sums_and_dependences():
    x, out = loops.Buffer("x", "f64", (8, 100)), loops.Buffer("out", "f64", (8,))
    rows = loops.Kernel("rows", [x], [out], body=[loops.loop(8, lambda i: loops.store(
        out, i, loops.reduce_sum(100, lambda r: x[i, r])))])
    assert schedule.interchange_reductions(rows) is rows  # already contiguous in r
    y = loops.Buffer("y", "f64", (8,))
    reads_itself = loops.Kernel("self", [x], [y], body=[loops.loop(8, lambda j: loops.store(
        y, j, loops.reduce_sum(8, lambda r: x[r, j] * y[r])), name="j")])
    assert schedule.interchange_reductions(reads_itself) is reads_itself


def test_flatten_collapses_identically_shaped_nests():
    x, y = loops.Buffer("x", "f32", (30, 7, 3)), loops.Buffer("y", "f32", (30, 7, 3))
    out = loops.Buffer("out", "f32", (30, 7, 3))
    nest = loops.loop_nest((30, 7, 3), lambda i, j, k: loops.store(
        out, (i, j, k), loops.tanh(x[i, j, k]) * y[i, j, k] + loops.fmax(x[i, j, k], 0.0)))
    kernel = loops.Kernel("fused", [x, y], [out], body=[nest])
    flat = schedule.flatten_elementwise(kernel)
    assert str(flat).splitlines()[1:3] == ["  for i in 0..630 {",
                                           "    out.flat[i] = tanh(x.flat[i]) * y.flat[i] + "
                                           "max(x.flat[i], 0.0)"]
    xs, ys = data((30, 7, 3), "f32", 3), data((30, 7, 3), "f32", 4)
    np.testing.assert_array_equal(compiled(flat)(xs, ys), compiled(kernel)(xs, ys))


def test_flatten_declines_broadcasts_and_index_arithmetic():
    x, b = loops.Buffer("x", "f64", (4, 5)), loops.Buffer("b", "f64", (5,))
    out = loops.Buffer("out", "f64", (4, 5))
    bias = loops.Kernel("bias", [x, b], [out], body=[loops.loop_nest(
        (4, 5), lambda i, j: loops.store(out, (i, j), x[i, j] + b[j]))])
    assert schedule.flatten_elementwise(bias) is bias
    transposed = loops.Kernel("transposed", [x], [out], body=[loops.loop_nest(
        (4, 5), lambda i, j: loops.store(out, (i, j), x[i, j] + x[3 - i, j]))])
    assert schedule.flatten_elementwise(transposed) is transposed
    ramp = loops.Kernel("ramp", [x], [out], body=[loops.loop_nest(
        (4, 5), lambda i, j: loops.store(out, (i, j), x[i, j] * loops.cast(j, "f64")))])
    assert schedule.flatten_elementwise(ramp) is ramp


def test_flatten_collapses_the_inner_run_of_a_broadcast():
    # a conv's per-channel bias and ReLU: images of 5x6 are one run of 30 elements, so the
    # loops over them become one (a short inner loop of 6 is what LLVM leaves scalar)
    x, b = loops.Buffer("x", "f32", (4, 3, 5, 6)), loops.Buffer("b", "f32", (1, 3, 1, 1))
    out = loops.Buffer("out", "f32", (4, 3, 5, 6))
    kernel = loops.Kernel("bias_relu", [x, b], [out], body=[loops.loop_nest(
        (4, 3, 5, 6), lambda i, j, k, l: loops.store(
            out, (i, j, k, l), loops.fmax(x[i, j, k, l] + b[0, j, 0, 0], 0.0)))])
    flat = schedule.flatten_elementwise(kernel)
    assert str(flat).splitlines()[1:5] == [
        "  for i in 0..4 {", "    for j in 0..3 {", "      for k in 0..30 {",
        "        out.flat[(i * 3 + j) * 30 + k] = max(x.flat[(i * 3 + j) * 30 + k] + "
        "b[0, j, 0, 0], 0.0)"]
    xs, bs = data((4, 3, 5, 6), "f32", 1), data((1, 3, 1, 1), "f32", 2)
    np.testing.assert_array_equal(compiled(flat)(xs, bs), compiled(kernel)(xs, bs))
    np.testing.assert_array_equal(compiled(flat)(xs, bs), np.maximum(xs + bs, 0))


def test_parallelize_marks_independent_loops_only():
    x, out = loops.Buffer("x", "f64", (512, 512)), loops.Buffer("out", "f64", (512, 512))
    rows = loops.Kernel("rows", [x], [out], body=[loops.loop_nest(
        (512, 512), lambda i, j: loops.store(out, (i, j), loops.exp(x[i, j])))])
    marked = schedule.parallelize(rows)
    assert marked.body[0].parallel
    values = data((512, 512), "f64", 5)
    np.testing.assert_array_equal(compiled(marked)(values, threads=2), compiled(rows)(values))

    grad = loops.Buffer("grad", "f64", (513, 512))
    scatter = loops.Kernel("scatter", [x], [grad], body=[
        loops.loop_nest((513, 512), lambda i, j: loops.store(grad, (i, j), 0.0)),
        loops.loop_nest((512, 512), lambda i, j: loops.accumulate(grad, (i + 1, j), x[i, j]))])
    assert not any(s.parallel for s in schedule.parallelize(scatter).body[1:])  # overlapping
    tiny = loops.Kernel("tiny", [x], [out], body=[loops.loop_nest(
        (2, 2), lambda i, j: loops.store(out, (i, j), x[i, j]))])
    assert schedule.parallelize(tiny) is tiny  # not worth threads


def test_parallelize_batched_gemm_with_private_blocks():
    a, b = loops.Buffer("a", "f64", (8, 64, 64)), loops.Buffer("b", "f64", (8, 64, 64))
    c = loops.Buffer("c", "f64", (8, 64, 64))
    body = loops.loop(8, lambda q: loops.Gemm(c, a, b, 64, 64, 64, a_offset=q * 4096,
                                              b_offset=q * 4096, c_offset=q * 4096), name="q")
    kernel = loops.Kernel("bmm", [a, b], [c], body=[body])
    marked = schedule.parallelize(kernel)
    assert marked.body[0].parallel
    av, bv = data((8, 64, 64), "f64", 6), data((8, 64, 64), "f64", 7)
    np.testing.assert_array_equal(compiled(marked)(av, bv, threads=2), compiled(kernel)(av, bv))


def test_default_schedule_keeps_results():
    kernel = matmul("f64", 64, 128, 96)
    scheduled = schedule.schedule(kernel)
    a, b = data((64, 128), "f64", 8), data((128, 96), "f64", 9)
    np.testing.assert_allclose(compiled(scheduled)(a, b, threads=2), a @ b, rtol=1e-12,
                               atol=1e-12)
