"""Gemm through BLAS and through the native loop fallback; conv2d direct and as im2col + GEMM."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from codegen import loops
from codegen.jit import compile_kernel
from codegen.llvm.gemm import runs_native
from tests.codegen.support import NUMPY, compiled

# BLAS and the fallback round differently from np.matmul (blocking, FMA): the f32 bound is a
# few float32 ulp of sum|a b| over k <= 40 terms.
RTOL = {"f32": 2e-5, "f64": 1e-12}
BLAS = [pytest.param(True, id="blas"), pytest.param(False, id="loops")]
TRANSPOSES = list(itertools.product([False, True], repeat=2))


def operand(rows: int, cols: int, transposed: bool, ld_pad: int, offset: int):
    """Stored shape of an operand whose logical (untransposed) view is rows x cols."""
    stored_rows, stored_cols = (cols, rows) if transposed else (rows, cols)
    ld = stored_cols + ld_pad
    return ld, offset + stored_rows * ld


def logical(storage: np.ndarray, rows: int, cols: int, transposed: bool, ld: int, offset: int):
    stored_rows, stored_cols = (cols, rows) if transposed else (rows, cols)
    block = storage[offset: offset + stored_rows * ld].reshape(stored_rows, ld)[:, :stored_cols]
    return block.T if transposed else block


@pytest.mark.parametrize("blas", BLAS)
@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_gemm_transposes_offsets_and_leading_dimensions(trans_a, trans_b, dtype, blas):
    m, n, k = 5, 7, 11
    lda, a_size = operand(m, k, trans_a, ld_pad=2, offset=3)
    ldb, b_size = operand(k, n, trans_b, ld_pad=1, offset=4)
    ldc, c_size = operand(m, n, False, ld_pad=3, offset=5)
    a, b = loops.Buffer("a", dtype, (a_size,)), loops.Buffer("b", dtype, (b_size,))
    c0, c = loops.Buffer("c0", dtype, (c_size,)), loops.Buffer("c", dtype, (c_size,))
    body = [loops.loop(c_size, lambda i: loops.store(c, i, c0[i])),
            loops.Gemm(c, a, b, m, n, k, trans_a, trans_b, alpha=0.5, beta=-2.0, a_offset=3,
                       b_offset=4, c_offset=5, lda=lda, ldb=ldb, ldc=ldc)]
    kernel = loops.Kernel(f"gemm_{int(trans_a)}{int(trans_b)}", [a, b, c0], [c], body=body)
    rng = np.random.default_rng(0)
    av, bv, cv = (rng.standard_normal(s).astype(NUMPY[dtype]) for s in (a_size, b_size, c_size))
    got = compiled(kernel, blas)(av, bv, cv)
    expected = cv.astype(np.float64).copy()
    block = logical(expected, m, n, False, ldc, 5)
    block[...] = 0.5 * logical(av, m, k, trans_a, lda, 3).astype(np.float64) @ logical(
        bv, k, n, trans_b, ldb, 4) - 2.0 * block
    np.testing.assert_allclose(got, expected, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("blas", BLAS)
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_batched_matmul_is_a_loop_around_gemm(dtype, blas):
    batch, m, n, k = 4, 6, 5, 3
    a, b = loops.Buffer("a", dtype, (batch, m, k)), loops.Buffer("b", dtype, (batch, k, n))
    c = loops.Buffer("c", dtype, (batch, m, n))
    body = loops.loop(batch, lambda q: loops.Gemm(
        c, a, b, m, n, k, a_offset=q * (m * k), b_offset=q * (k * n), c_offset=q * (m * n)),
        name="q")
    kernel = loops.Kernel("bmm", [a, b], [c], body=[body])
    rng = np.random.default_rng(1)
    av = rng.standard_normal((batch, m, k)).astype(NUMPY[dtype])
    bv = rng.standard_normal((batch, k, n)).astype(NUMPY[dtype])
    np.testing.assert_allclose(compiled(kernel, blas)(av, bv), av @ bv, rtol=RTOL[dtype],
                               atol=RTOL[dtype])


@pytest.mark.parametrize("blas", BLAS)
def test_beta_zero_never_reads_c_and_k_zero_scales_c(blas):
    a, b = loops.Buffer("a", "f64", (2, 3)), loops.Buffer("b", "f64", (3, 2))
    c, d = loops.Buffer("c", "f64", (2, 2)), loops.Buffer("d", "f64", (2, 2))
    body = [loops.loop(4, lambda i: [loops.store(c, (i // 2, i % 2), float("nan")),
                                     loops.store(d, (i // 2, i % 2),
                                                 loops.cast(i, "f64") + 1.0)]),
            loops.Gemm(c, a, b, 2, 2, 3),  # beta = 0: the NaN in c must not leak
            loops.Gemm(d, a, b, 2, 2, 0, beta=3.0)]  # k = 0: d = 3 d
    kernel = loops.Kernel("gemm_edges", [a, b], [c, d], body=body)
    av, bv = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)
    got_c, got_d = compiled(kernel, blas)(av, bv)
    np.testing.assert_array_equal(got_c, av @ bv)
    np.testing.assert_array_equal(got_d, 3.0 * np.arange(1.0, 5.0).reshape(2, 2))


def conv_reference(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    n, ci, h, wd = x.shape
    co, _, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    out = np.zeros((n, co, oh, ow))
    for i, j in itertools.product(range(kh), range(kw)):
        out += np.einsum("nchw,oc->nohw", padded[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out


SHAPE = dict(n=2, ci=3, h=6, w=5, co=4, k=3, pad=1)


def test_conv2d_direct_loops_with_clamped_padding():
    s = SHAPE
    oh, ow = s["h"] + 2 * s["pad"] - s["k"] + 1, s["w"] + 2 * s["pad"] - s["k"] + 1
    x = loops.Buffer("x", "f64", (s["n"], s["ci"], s["h"], s["w"]))
    w = loops.Buffer("w", "f64", (s["co"], s["ci"], s["k"], s["k"]))
    out = loops.Buffer("out", "f64", (s["n"], s["co"], oh, ow))

    def pixel(b, o, i, j):
        def term(c, p, q):
            row, col = i + p - s["pad"], j + q - s["pad"]
            inside = loops.ge(loops.fmin(row, col), 0)
            inside = loops.select(inside, loops.lt(row, s["h"]), inside)
            inside = loops.select(inside, loops.lt(col, s["w"]), inside)
            value = x[b, c, loops.clamp(row, 0, s["h"] - 1), loops.clamp(col, 0, s["w"] - 1)]
            return loops.select(inside, value, 0.0) * w[o, c, p, q]

        taps = s["ci"] * s["k"] ** 2
        return loops.store(out, (b, o, i, j), loops.reduce_sum(taps, lambda r: term(
            r // (s["k"] ** 2), r // s["k"] % s["k"], r % s["k"])))

    kernel = loops.Kernel("conv_direct", [x, w], [out],
                          body=[loops.loop_nest((s["n"], s["co"], oh, ow), pixel)])
    rng = np.random.default_rng(2)
    xv, wv = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    np.testing.assert_allclose(compiled(kernel)(xv, wv), conv_reference(xv, wv, s["pad"]),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("blas", BLAS)
def test_conv2d_as_im2col_and_gemm(blas):
    s = SHAPE
    oh, ow = s["h"] + 2 * s["pad"] - s["k"] + 1, s["w"] + 2 * s["pad"] - s["k"] + 1
    rows, cols = s["ci"] * s["k"] ** 2, oh * ow
    x = loops.Buffer("x", "f64", (s["n"], s["ci"], s["h"], s["w"]))
    w = loops.Buffer("w", "f64", (s["co"], rows))
    out = loops.Buffer("out", "f64", (s["n"], s["co"], oh, ow))
    columns = loops.Buffer("columns", "f64", (s["n"], rows, cols))

    def unfold(b, r, p):
        c, i, j = r // s["k"] ** 2, r // s["k"] % s["k"] + p // ow - s["pad"], \
            r % s["k"] + p % ow - s["pad"]
        inside = loops.select(loops.ge(loops.fmin(i, j), 0), loops.lt(loops.fmax(
            i - s["h"], j - s["w"]), 0), loops.ge(loops.fmin(i, j), 0))
        value = x[b, c, loops.clamp(i, 0, s["h"] - 1), loops.clamp(j, 0, s["w"] - 1)]
        return loops.store(columns, (b, r, p), loops.select(inside, value, 0.0))

    body = [loops.loop_nest((s["n"], rows, cols), unfold),
            loops.loop(s["n"], lambda b: loops.Gemm(out, w, columns, s["co"], cols, rows,
                       b_offset=b * (rows * cols), c_offset=b * (s["co"] * cols)), name="b")]
    kernel = loops.Kernel("conv_im2col", [x, w], [out], [columns], body)
    rng = np.random.default_rng(3)
    xv, wv = rng.standard_normal(x.shape), rng.standard_normal((s["co"], s["ci"], s["k"], s["k"]))
    got = compiled(kernel, blas)(xv, wv.reshape(s["co"], rows))
    np.testing.assert_allclose(got, conv_reference(xv, wv, s["pad"]), rtol=1e-12, atol=1e-12)


def test_gemm_rejects_out_of_bounds_operands():
    a, b, c = (loops.Buffer(name, "f64", (4, 4)) for name in "abc")
    with pytest.raises(loops.KernelError, match="gemm operand c"):
        loops.Kernel("bad_gemm", [a, b], [c], body=[loops.Gemm(c, a, b, 4, 4, 4, c_offset=1)])
    with pytest.raises(TypeError, match="must not also be an operand"):
        loops.Gemm(a, a, b, 4, 4, 4)


@pytest.mark.parametrize("m,n,k", [(32, 512, 128), (256, 256, 256), (64, 10, 256),
                                   (1, 256, 784)])
def test_auto_never_calls_blas(m, n, k):
    """gemm "auto": every product runs on graphnn's GEMM (an LSTM step's 32x512x128, a 256^3,
    an MLP's tiny 10-unit layer), so OpenBLAS's threads are never woken and SciPy is never
    loaded for it; a single row runs as loops."""
    a, b = loops.Buffer("a", "f32", (m, k)), loops.Buffer("b", "f32", (k, n))
    c = loops.Buffer("c", "f32", (m, n))
    product = loops.Gemm(c, a, b, m, n, k)
    assert runs_native("auto", product) is (m > 1)
    assert runs_native("native", product) and not runs_native("blas", product)
    kernel = loops.Kernel(f"auto_{m}_{n}_{k}", [a, b], [c], body=[product])
    compiled_kernel = compile_kernel(kernel, gemm="auto")
    assert "blas_sgemm" not in compiled_kernel.llvm_ir
    assert ("graphnn_gemm_f32_nn" in compiled_kernel.llvm_ir) is (m > 1)
    rng = np.random.default_rng(0)
    av, bv = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    np.testing.assert_allclose(compiled_kernel(av, bv), av.astype(np.float64) @ bv,
                               rtol=1e-4, atol=1e-4 * np.sqrt(k))    # float32 sums of k terms
