"""The Gemm statement's epilogue (a source matrix for the beta term, a bias along the rows, a
ReLU) and its prepacked B operand, against NumPy, through our GEMM, BLAS and plain loops: edge
tiles, several depth blocks, both dtypes, for this CPU and for each x86-64 level it runs."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops
from codegen.cpu_caches import PORTABLE
from codegen.jit import compile_kernel
from codegen.llvm.target import Target
from codegen.native.gemm import blocking, pack_b
from codegen.options import CodegenOptions
from codegen.stmts import packed_size
from tests.harness import cpu_levels

DTYPES = {"f32": (np.float32, 2e-5), "f64": (np.float64, 1e-12)}
SHAPES = [(5, 7, 3), (13, 70, 300), (32, 256, 784), (3, 2, 0)]


def _kernel(dtype, m, n, k, trans_a, trans_b, alpha, beta, relu, packed):
    a = loops.Buffer("a", dtype, (k, m) if trans_a else (m, k))
    b = loops.Buffer("b", dtype, (n, k) if trans_b else (k, n))
    d = loops.Buffer("d", dtype, (m, n))
    bias = loops.Buffer("bias", dtype, (n,))
    p = loops.Buffer("p", dtype, (max(packed_size(k, n), 1),))
    c = loops.Buffer("c", dtype, (m, n))
    gemm = loops.Gemm(c, a, b, m, n, k, trans_a=trans_a, trans_b=trans_b, alpha=alpha,
                      beta=beta, source=d, bias=bias, relu=relu, packed_b=p if packed else None)
    return loops.Kernel("epilogue", [a, b, d, bias, p], [c], body=[gemm])


def _check(dtype, m, n, k, trans_a, trans_b, mode, cpu="host", packed=True, options=None):
    numpy_dtype, tolerance = DTYPES[dtype]
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = rng.normal(size=(k, m) if trans_a else (m, k)).astype(numpy_dtype)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(numpy_dtype)
    d = rng.normal(size=(m, n)).astype(numpy_dtype)
    bias = rng.normal(size=n).astype(numpy_dtype)
    op_b = b.T if trans_b else b
    p = pack_b(np.ascontiguousarray(op_b), dtype)
    p = np.concatenate([p, np.zeros(1 - p.size, numpy_dtype)]) if p.size == 0 else p
    for alpha, beta, relu in ((1.0, 0.0, True), (-0.1, 1.0, False), (0.5, 0.25, True)):
        kernel = _kernel(dtype, m, n, k, trans_a, trans_b, alpha, beta, relu, packed)
        got = compile_kernel(kernel, gemm=mode, target=Target.named(cpu),
                             options=options)(a, b, d, bias, p)
        want = alpha * (a.T if trans_a else a).astype(float) @ op_b + beta * d + bias
        want = np.maximum(want, 0) if relu else want
        scale = max(1.0, np.sqrt(k))
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, True)])
def test_native_epilogue_and_packed_b(dtype, m, n, k, trans_a, trans_b):
    _check(dtype, m, n, k, trans_a, trans_b, "native")


@pytest.mark.parametrize("mode", ["blas", "loops"])
@pytest.mark.parametrize("m,n,k", [(13, 70, 300), (3, 2, 0)])
def test_epilogue_around_blas_and_loops(mode, m, n, k):
    _check("f32", m, n, k, False, True, mode)


def test_native_epilogue_without_packing():
    _check("f32", 13, 70, 300, True, False, "native", packed=False)


@pytest.mark.parametrize("cpu", cpu_levels())
def test_packed_layout_on_each_cpu_level(cpu):
    # one packed constant for every target: panels as wide as the widest register tile
    _check("f32", 13, 70, 300, False, False, "native", cpu)


@pytest.mark.parametrize("packed", [True, False])
def test_blocked_for_small_caches(packed):
    """Caches small enough that this CPU's depth block is shallower than the packed layout's:
    a B packed ahead keeps pack_b's depth blocks, one packed by the GEMM takes the shallow
    ones, and A's panels hold the deeper of the two."""
    small = CodegenOptions(l1_data_cache=8 << 10, l2_cache=16 << 10)
    for dtype in DTYPES:
        block = blocking(dtype, Target.host().vector_bits, small.cache_sizes(PORTABLE))
        assert block.kc < block.pack_depth
        _check(dtype, 13, 70, 300, False, False, "native", packed=packed, options=small)
        _check(dtype, 32, 40, 784, True, True, "native", packed=packed, options=small)


def test_relu_keeps_nan_and_source_is_not_read_at_beta_zero():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    a[0, 0] = np.nan
    d = np.full((2, 4), np.nan, np.float32)
    p = pack_b(b, "f32")
    got = compile_kernel(_kernel("f32", 2, 4, 3, False, False, -1.0, 0.0, True, True),
                         gemm="native")(a, b, d, np.zeros(4, np.float32), p)
    assert np.isnan(got[0]).all() and np.array_equal(got[1], np.zeros(4, np.float32))


def test_text_and_round_trip_name_the_epilogue():
    from codegen.serialize import from_data, to_data

    kernel = _kernel("f32", 4, 5, 3, False, False, -0.1, 1.0, True, True)
    assert "relu(-0.1 * a[0, ld=3] @ b[0, ld=5] (packed p) + 1.0 * d + bias[j])" in str(kernel)
    assert from_data(to_data(kernel)) == kernel
