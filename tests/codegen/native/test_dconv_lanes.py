"""The direct convolution's micro-kernel with output channels in the lanes
(codegen.native.dconv_lanes), through DirectConv statements with lanes="channels", against
NumPy: output channel counts with every tail (fewer than a vector, between vectors, past whole
tiles), positions that run from row to row and end in a partial tile, rows shorter than a
tile, dilation, several images at offsets, both dtypes, for this CPU and each x86-64 level it
runs, the IR of wider vectors legalized for this CPU, and the plain loops of gemm="loops".
What no output may read holds NaN, and so does what none may write where the test
owns the output."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from codegen import jit, loops, objectfile
from codegen.jit import compile_kernel
from codegen.llvm.target import X86_LEVELS, Target
from codegen.native.dconv_lanes import ARGS, POINTERS, dconv_lanes_ir, symbol, tile_shape
from tests.codegen.native.test_dconv import _geometry
from tests.harness import cpu_levels, run_docstring_examples

DTYPES = {"f32": (np.float32, 2e-5), "f64": (np.float64, 1e-12)}
# (channels in, channels out, height, width, kernel, dilation, padding)
CASES = [(16, 32, 14, 14, 3, 1, 1), (4, 9, 6, 7, 3, 1, 1), (3, 1, 5, 5, 3, 1, 0),
         (5, 17, 3, 11, 3, 2, 2), (2, 40, 1, 3, 3, 1, 1), (6, 13, 4, 2, 2, 1, 0),
         (1, 8, 1, 1, 1, 1, 0), (8, 24, 7, 7, 5, 1, 2)]


def _check(dtype, case, gemm="native", cpu="host", batch=2):
    """Each image's padded copy at its own offset of one buffer (no slack: this kernel
    broadcasts single elements), the weights transposed with their rows padded by NaN, a
    channel's outputs at a stride wider than its run."""
    numpy_dtype, tolerance = DTYPES[dtype]
    c, o, h, w, kernel, dilation, padding = case
    hp, wp, oh, ow, taps = _geometry(c, h, w, kernel, dilation, padding)
    image, depth = c * hp * wp + 3, len(taps)
    ldw, stride = loops.channel_row(o, dtype) + 3, oh * ow + 5
    x = loops.Buffer("x", dtype, (batch * image,))
    wt = loops.Buffer("w", dtype, (depth * ldw,))
    out = loops.Buffer("out", dtype, (batch, o * stride))
    body = loops.loop(batch, lambda n: loops.DirectConv(
        out, wt, x, taps, o, oh, ow, ldw, wp, stride, ow, out_offset=n * (o * stride),
        x_offset=n * image, lanes="channels"), name="n")
    kernel_ir = loops.Kernel("dconv_lanes", [x, wt], [out], body=[body])
    rng = np.random.default_rng(sum(case))
    images = rng.normal(size=(batch, c, h, w))
    weights = rng.normal(size=(o, c, kernel, kernel))
    xs = np.full(x.shape, np.nan)
    for n in range(batch):
        padded = np.pad(images[n], ((0, 0), (padding, padding), (padding, padding)))
        xs[n * image:n * image + c * hp * wp] = padded.ravel()
    ws = np.full((depth, ldw), np.nan)      # lanes past o read NaN and are dropped
    ws[:, :o] = weights.reshape(o, depth).T
    got = compile_kernel(kernel_ir, gemm=gemm, target=Target.named(cpu))(
        xs.astype(numpy_dtype), ws.ravel().astype(numpy_dtype)).reshape(batch, o, stride)
    want = np.zeros((batch, o, oh, ow))
    for n in range(batch):
        padded = np.pad(images[n], ((0, 0), (padding, padding), (padding, padding)))
        for p in range(kernel):
            for q in range(kernel):
                window = padded[:, p * dilation:p * dilation + oh,
                                q * dilation:q * dilation + ow]
                want[n] += np.einsum("oc,chw->ohw", weights[:, :, p, q], window)
    np.testing.assert_allclose(got[:, :, :oh * ow].reshape(want.shape), want,
                               rtol=tolerance, atol=tolerance * np.sqrt(depth) * 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_numpy(dtype, case):
    _check(dtype, case)


@pytest.mark.parametrize("case", CASES[1:4], ids=str)
def test_plain_loops_match_numpy(case):
    _check("f64", case, gemm="loops")


@pytest.mark.parametrize("cpu", cpu_levels())
@pytest.mark.parametrize("dtype", DTYPES)
def test_each_vector_width(cpu, dtype):
    """Every count of output channels up to two tiles and a vector (each tail of vectors,
    each partial vector), at positions ending in every partial tile, on each level."""
    mv, np_ = tile_shape(Target.named(cpu).vector_bits)
    lanes = Target.named(cpu).vector_bits // (32 if dtype == "f32" else 64)
    for outs in range(1, 2 * mv * lanes + lanes + 2, 3):
        _check(dtype, (2, outs, 3, np_ + outs % np_, 3, 1, 1), cpu=cpu, batch=1)


@pytest.mark.parametrize("bits", [512, 256])
@pytest.mark.parametrize("dtype", DTYPES)
def test_wider_vectors_legalized_for_this_cpu(bits, dtype):
    """The IR generated for a vector width this CPU may lack (AVX-512's 2 x 12 tiles and
    their 16-lane transposes), compiled for this CPU: LLVM splits the wide vectors into the
    ones it has, with the same results, so the generator's logic for every width runs here
    (its own instructions run on AVX-512 machines: test_each_vector_width)."""
    name = symbol(dtype)
    tracker = jit.link_entry(f"test {name} at {bits} bits", lambda: dconv_lanes_ir(
        dtype, bits), name, Target.host(), level="gemm")
    kinds = [ctypes.c_void_p if arg in POINTERS else ctypes.c_int64 for arg in ARGS]
    run = ctypes.CFUNCTYPE(None, *kinds)(tracker[name])
    numpy_dtype, tolerance = DTYPES[dtype]
    rng = np.random.default_rng(bits)
    lanes = bits // (32 if dtype == "f32" else 64)
    mv, np_ = tile_shape(bits)
    for cols in (np_ + 5, 3, 1):
        for outs in (1, lanes - 1, lanes + 2, mv * lanes, mv * lanes + 3):
            channels, rows, k = 3, 4, 3
            wp, hp = cols + k - 1, rows + k - 1
            taps = np.array([c * hp * wp + p * wp + q for c in range(channels)
                             for p in range(k) for q in range(k)], np.int64)
            x = rng.normal(size=channels * hp * wp).astype(numpy_dtype)
            ldw = loops.channel_row(outs, dtype)
            w = np.full((taps.size, ldw), np.nan, numpy_dtype)
            w[:, :outs] = rng.normal(size=(taps.size, outs))
            out = np.full((outs, rows * cols + 1), np.nan, numpy_dtype)
            run(outs, w.ctypes.data, ldw, taps.size, taps.ctypes.data, x.ctypes.data,
                rows, cols, wp, out.ctypes.data, rows * cols + 1, cols)
            image = x.reshape(channels, hp, wp).astype(float)
            want = np.zeros((outs, rows, cols))
            weights = w[:, :outs].T.reshape(outs, channels, k, k).astype(float)
            for p in range(k):
                for q in range(k):
                    want += np.einsum("oc,chw->ohw", weights[:, :, p, q],
                                      image[:, p:p + rows, q:q + cols])
            assert np.isnan(out[:, -1]).all(), f"cols {cols}, outs {outs}: wrote past"
            np.testing.assert_allclose(out[:, :-1].reshape(want.shape), want,
                                       rtol=tolerance, atol=tolerance * 8,
                                       err_msg=f"cols {cols}, outs {outs}")


def test_statement_checks_its_layout():
    """The transposed weights' rows must reach the channels rounded up to CHANNEL_PAD, a
    channel's outputs must be one run, and the reach counts no slack."""
    x = loops.Buffer("x", "f32", (100,))
    w = loops.Buffer("w", "f32", (9 * 16,))
    out = loops.Buffer("out", "f32", (2, 8, 8))
    taps = tuple(p * 10 + q for p in range(3) for q in range(3))
    with pytest.raises(TypeError, match="ldw=8 is smaller than its 2 channels rounded up"):
        loops.DirectConv(out, w, x, taps, 2, 8, 8, 8, 10, 64, 8, lanes="channels")
    with pytest.raises(TypeError, match="out_row=10 must equal cols=8"):
        loops.DirectConv(out, w, x, taps, 2, 8, 8, 16, 10, 80, 10, lanes="channels")
    with pytest.raises(TypeError, match="lanes must be 'positions' or 'channels'"):
        loops.DirectConv(out, w, x, taps, 2, 8, 8, 16, 10, 64, 8, lanes="rows")
    stmt = loops.DirectConv(out, w, x, taps, 2, 8, 8, 16, 10, 64, 8, lanes="channels")
    assert stmt.extents()["x"][1] == 22 + 7 * 10 + 7 < x.size
    assert stmt.extents()["w"][1] == 8 * 16 + 15
    loops.Kernel("fits", [x, w], [out], body=[stmt])
    with pytest.raises(loops.KernelError, match="operand w reaches w elements"):
        short = loops.Buffer("w", "f32", (9 * 16 - 1,))
        loops.Kernel("short", [x, short], [out], body=[loops.DirectConv(
            out, short, x, taps, 2, 8, 8, 16, 10, 64, 8, lanes="channels")])


@pytest.mark.parametrize("level", X86_LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_level_compiles_to_object_code_the_checks_accept(level, dtype):
    """Whatever this CPU runs: the module for each level's vector width compiles, and its
    object code (no jump tables) passes codegen.objectfile."""
    target = Target.named(level)
    data = jit.emit(dconv_lanes_ir(dtype, target.vector_bits), target, "gemm")
    objectfile.check(data, [symbol(dtype)], ["_GLOBAL_OFFSET_TABLE_"])


def test_docstring_examples():
    result = run_docstring_examples("codegen.native.dconv_lanes")
    assert result.attempted > 0 and result.failed == 0
