"""Our packed GEMM (codegen.native.gemm) against NumPy: edge tiles, transposes, alpha and beta,
k = 0, batched offsets, both dtypes, for this CPU and for each x86-64 level it runs (the
micro-kernel is generated per vector width); and the same bits whatever the thread count."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops
from codegen.cpu_caches import PORTABLE, CacheSizes, host_sizes
from codegen.jit import compile_kernel
from codegen.llvm.target import Target
from codegen.native.gemm import DEPTH_BLOCK, KC_LEAST, blocking
from codegen.options import CodegenOptions
from tests.harness import cpu_levels

DTYPES = {"f32": (np.float32, 2e-5), "f64": (np.float64, 1e-12)}
SHAPES = [(1, 1, 1), (5, 7, 3), (13, 33, 17), (12, 32, 256), (97, 65, 300), (64, 256, 784),
          (3, 2, 0), (200, 3, 513),
          # the last rows as short tiles (AVX2's MC of 72 rows): two and no whole tile (8),
          # one alone in the last row block (73), two alone in it (79)
          (8, 40, 20), (73, 300, 20), (79, 33, 70)]
LAYOUTS = [(False, False), (True, False), (False, True), (True, True)]


def _kernel(dtype, m, n, k, trans_a, trans_b, alpha, beta):
    a = loops.Buffer("a", dtype, (k, m) if trans_a else (m, k))
    b = loops.Buffer("b", dtype, (n, k) if trans_b else (k, n))
    c_in = loops.Buffer("c_in", dtype, (m, n))
    c = loops.Buffer("c", dtype, (m, n))
    body = [loops.loop_nest((m, n), lambda i, j: loops.store(c, (i, j), c_in[i, j])),
            loops.Gemm(c, a, b, m, n, k, trans_a=trans_a, trans_b=trans_b, alpha=alpha,
                       beta=beta)]
    return loops.Kernel("gemm", [a, b, c_in], [c], body=body)


def _check(dtype, m, n, k, trans_a, trans_b, cpu="host", options=None):
    numpy_dtype, tolerance = DTYPES[dtype]
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = rng.normal(size=(k, m) if trans_a else (m, k)).astype(numpy_dtype)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(numpy_dtype)
    c = rng.normal(size=(m, n)).astype(numpy_dtype)
    for alpha, beta in ((1.0, 0.0), (0.5, 0.25), (-2.0, 1.0)):
        got = compile_kernel(_kernel(dtype, m, n, k, trans_a, trans_b, alpha, beta),
                             gemm="native", target=Target.named(cpu), options=options)(a, b, c)
        want = alpha * (a.T if trans_a else a).astype(float) @ (b.T if trans_b else b) + \
            beta * c.astype(float)
        scale = max(1.0, np.sqrt(k))
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", LAYOUTS)
def test_matches_numpy(dtype, m, n, k, trans_a, trans_b):
    _check(dtype, m, n, k, trans_a, trans_b)


@pytest.mark.parametrize("cpu", cpu_levels())
@pytest.mark.parametrize("dtype,trans_a,trans_b", [  # each layout and dtype at least once (a
    ("f32", False, False), ("f32", False, True),     # variant compiles in about a second)
    ("f32", True, False), ("f64", True, True)])
def test_matches_numpy_on_each_cpu_level(cpu, dtype, trans_a, trans_b):
    # edge tiles in both directions, several work items and depth blocks, and k = 0
    for m, n, k in [(13, 33, 17), (97, 65, 300), (3, 2, 0)]:
        _check(dtype, m, n, k, trans_a, trans_b, cpu)


def test_beta_zero_never_reads_c():
    a, b = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)
    c = np.full((4, 5), np.nan, np.float32)
    got = compile_kernel(_kernel("f32", 4, 5, 3, False, False, 1.0, 0.0), gemm="native")(a, b, c)
    assert np.array_equal(got, np.full((4, 5), 3.0, np.float32))


def test_batched_offsets():
    a = loops.Buffer("a", "f64", (3, 10, 6))
    b = loops.Buffer("b", "f64", (3, 6, 9))
    c = loops.Buffer("c", "f64", (3, 10, 9))
    body = [loops.loop(3, lambda i: loops.Gemm(c, a, b, 10, 9, 6, a_offset=i * 60,
                                               b_offset=i * 54, c_offset=i * 90), name="b")]
    kernel = loops.Kernel("bmm", [a, b], [c], body=body)
    rng = np.random.default_rng(1)
    av, bv = rng.normal(size=(3, 10, 6)), rng.normal(size=(3, 6, 9))
    np.testing.assert_allclose(compile_kernel(kernel, gemm="native")(av, bv), av @ bv,
                               rtol=1e-12)


def test_same_bits_with_any_thread_count():
    m, n, k = 300, 530, 400         # several work items in both directions
    kernel = _kernel("f32", m, n, k, False, True, 1.0, 0.0)
    rng = np.random.default_rng(2)
    args = (rng.normal(size=(m, k)).astype(np.float32),
            rng.normal(size=(n, k)).astype(np.float32), np.zeros((m, n), np.float32))
    compiled = compile_kernel(kernel, gemm="native")
    one = compiled(*args, threads=1)
    assert np.array_equal(one, compiled(*args, threads=2))
    assert np.array_equal(one, compiled(*args, threads=5))


CACHES = [PORTABLE, CacheSizes(48 << 10, 1 << 20), CacheSizes(32 << 10, 2 << 20),
          CacheSizes(16 << 10, 64 << 10), CacheSizes(4 << 10, 8 << 10), host_sizes()]


@pytest.mark.parametrize("caches", CACHES)
def test_blocking_fits_the_registers_and_the_caches(caches):
    for dtype in DTYPES:
        size = 4 if dtype == "f32" else 8
        for bits, registers in ((512, 32), (256, 16), (128, 16)):
            tile = blocking(dtype, bits, caches)
            assert tile.mr * tile.nv + tile.nv + 1 <= registers
            assert tile.mc % tile.mr == 0 and tile.nc % tile.nr == 0
            assert tile.kc % 8 == 0 and KC_LEAST <= tile.kc <= tile.pack_depth == DEPTH_BLOCK[
                dtype]
            # the B micro-panel in 2/3 of L1 and the A block in half of L2, unless at the least
            assert tile.kc == KC_LEAST or tile.kc * tile.nr * size <= caches.l1_data * 2 // 3
            assert tile.mc == tile.mr or tile.mc * tile.kc * size <= caches.l2 // 2


def test_smaller_caches_never_give_larger_blocks():
    for dtype in DTYPES:
        for bits in (512, 256):
            tiles = [blocking(dtype, bits, CacheSizes(l1 << 10, l2 << 10))
                     for l1, l2 in ((64, 2048), (48, 1024), (32, 256), (16, 64), (4, 8))]
            assert all(a.kc >= b.kc and a.mc >= b.mc for a, b in zip(tiles, tiles[1:]))
            assert tiles[0].kc > tiles[-1].kc and tiles[0].mc > tiles[-1].mc


@pytest.mark.parametrize("cpu", cpu_levels())
def test_matches_numpy_blocked_for_small_caches(cpu):
    """Shallow depth blocks and short row blocks (4 KiB L1, 32 KiB L2): more blocks and work
    items than the host's caches give, with the same results."""
    small = CodegenOptions(l1_data_cache=4 << 10, l2_cache=32 << 10)
    tile = blocking("f32", Target.named(cpu).vector_bits, small.cache_sizes(PORTABLE))
    assert tile.kc < tile.pack_depth
    for dtype, trans_a, trans_b in (("f32", False, False), ("f64", True, True)):
        for m, n, k in [(13, 33, 17), (97, 65, 300), (200, 3, 513), (3, 2, 0)]:
            _check(dtype, m, n, k, trans_a, trans_b, cpu, small)


@pytest.mark.parametrize("dtype", DTYPES)
def test_avx512_code_legalized_for_this_cpu(dtype):
    """The GEMM generated for 512-bit vectors (12 x 32 tiles, 8-row short tiles, two panels
    of a packed constant per tile), compiled for this CPU: LLVM splits each vector into the
    ones this CPU has, with the same results, so the generator's logic for AVX-512 runs on
    any machine (its instructions run on the CI's AVX-512 machines:
    test_matches_numpy_on_each_cpu_level): every layout, edge and short tiles, alpha and
    beta, the epilogue (a source D, bias, ReLU) and a B packed ahead."""
    import ctypes

    from codegen import jit
    from codegen.native.gemm import PACKED, RELU, VARIANTS, gemm_ir, pack_b, symbol

    names = [symbol(dtype, a, b) for a, b in VARIANTS]
    tracker = jit._link_generated(f"test {dtype} gemm at 512 bits", lambda: gemm_ir(
        dtype, 512, caches=PORTABLE), f"test_gemm_{dtype}_512", names, jit._parallel_symbols(),
        Target.host(), level="gemm")
    scalar = ctypes.c_float if dtype == "f32" else ctypes.c_double
    kinds = [ctypes.c_int64] * 3 + [ctypes.c_void_p, ctypes.c_int64] * 3 + [
        scalar, scalar, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    numpy_dtype, tolerance = DTYPES[dtype]
    rng = np.random.default_rng(5)
    for (trans_a, trans_b), name in zip(VARIANTS, names):
        run = ctypes.CFUNCTYPE(None, *kinds)(tracker[name])
        for m, n, k in [(13, 33, 17), (97, 65, 300), (8, 40, 20), (79, 33, 70), (3, 2, 0)]:
            a = rng.normal(size=(k, m) if trans_a else (m, k)).astype(numpy_dtype)
            b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(numpy_dtype)
            op_a, op_b = (a.T if trans_a else a).astype(float), (b.T if trans_b else b)
            d = rng.normal(size=(m, n)).astype(numpy_dtype)
            bias = rng.normal(size=n).astype(numpy_dtype)
            for alpha, beta, with_bias, relu, packed in ((1.0, 0.0, False, False, False),
                                                        (0.5, 0.25, True, True, False),
                                                        (-2.0, 1.0, True, False, True)):
                c = np.full((m, n), np.nan, numpy_dtype)
                operand = pack_b(np.ascontiguousarray(op_b), dtype) if packed else b
                flags = (RELU if relu else 0) | (PACKED if packed else 0)
                run(m, n, k, a.ctypes.data, a.shape[1], operand.ctypes.data, b.shape[1],
                    c.ctypes.data, n, alpha, beta, 2, d.ctypes.data,
                    bias.ctypes.data if with_bias else None, flags)
                want = alpha * op_a @ op_b + beta * d.astype(float) + (bias if with_bias else 0)
                want = np.maximum(want, 0) if relu else want
                np.testing.assert_allclose(c, want, rtol=tolerance,
                                           atol=tolerance * max(1.0, np.sqrt(k)) * 4,
                                           err_msg=f"{name} {m}x{n}x{k} {alpha} {beta}")
