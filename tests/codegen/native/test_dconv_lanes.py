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
from codegen.native.dconv_lanes import (
    ARGS,
    POINTERS,
    dconv_lanes_ir,
    pooled_shape,
    symbol,
    tile_shape,
)
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
    with pytest.raises(TypeError, match="lanes must be 'positions', 'channels' or 'pool2x2'"):
        loops.DirectConv(out, w, x, taps, 2, 8, 8, 16, 10, 64, 8, lanes="rows")
    stmt = loops.DirectConv(out, w, x, taps, 2, 8, 8, 16, 10, 64, 8, lanes="channels")
    assert stmt.extents()["x"][1] == 22 + 7 * 10 + 7 < x.size
    assert stmt.extents()["w"][1] == 8 * 16 + 15
    loops.Kernel("fits", [x, w], [out], body=[stmt])
    # pooled: 4 x 4 outputs of 2x2 windows read the same 8 x 8 positions
    pooled = loops.DirectConv(out, w, x, taps, 2, 4, 4, 16, 10, 16, 4, lanes="pool2x2")
    assert pooled.extents()["x"] == stmt.extents()["x"]
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


# the pooled variant (lanes="pool2x2"): (channels in, channels out, height, width) of the
# convolution (3x3, padding 1), pooled 2x2; odd sizes leave a last row and column unpooled
POOLED = [(16, 32, 14, 14), (3, 13, 6, 10), (4, 8, 2, 2), (2, 20, 6, 14), (5, 9, 5, 7),
          (1, 17, 8, 4)]


def _check_pooled(dtype, case, gemm="native", cpu="host", batch=2, nan_at=None):
    """Each image's convolution, each 2x2 window's maximum (NumPy's: NaN wins), against
    NumPy; `nan_at` (c, h, w) puts a NaN into every image's input there."""
    numpy_dtype, tolerance = DTYPES[dtype]
    c, o, h, w = case
    hp, wp, _, _, taps = _geometry(c, h, w, 3, 1, 1)
    oh, ow = h // 2, w // 2
    image, depth, ldw = c * hp * wp, len(taps), loops.channel_row(o, dtype)
    x = loops.Buffer("x", dtype, (batch * image,))
    wt = loops.Buffer("w", dtype, (depth * ldw,))
    out = loops.Buffer("out", dtype, (batch, o, oh, ow))
    body = loops.loop(batch, lambda n: loops.DirectConv(
        out, wt, x, taps, o, oh, ow, ldw, wp, oh * ow, ow, out_offset=n * (o * oh * ow),
        x_offset=n * image, lanes="pool2x2"), name="n")
    kernel_ir = loops.Kernel("dconv_pooled", [x, wt], [out], body=[body])
    rng = np.random.default_rng(sum(case))
    images = rng.normal(size=(batch, c, h, w))
    if nan_at is not None:
        images[(slice(None), *nan_at)] = np.nan
    weights = rng.normal(size=(o, c, 3, 3))
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ws = np.full((depth, ldw), np.nan)
    ws[:, :o] = weights.reshape(o, depth).T
    got = compile_kernel(kernel_ir, gemm=gemm, target=Target.named(cpu))(
        padded.ravel().astype(numpy_dtype), ws.ravel().astype(numpy_dtype))
    conv = sum(np.einsum("oc,nchw->nohw", weights[:, :, p, q], padded[:, :, p:p + h, q:q + w])
               for p in range(3) for q in range(3))
    want = conv[:, :, :2 * oh, :2 * ow].reshape(batch, o, oh, 2, ow, 2).max(axis=(3, 5))
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * np.sqrt(depth) * 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOLED, ids=str)
def test_pooled_matches_numpy(dtype, case):
    _check_pooled(dtype, case)


def test_pooled_propagates_nan():
    # a NaN input reaches every output whose window's positions read it (a 3x3 window)
    _check_pooled("f64", (2, 9, 6, 6), nan_at=(1, 2, 3))


@pytest.mark.parametrize("case", POOLED[1:3], ids=str)
def test_pooled_plain_loops_match_numpy(case):
    _check_pooled("f64", case, gemm="loops")


@pytest.mark.parametrize("cpu", cpu_levels())
@pytest.mark.parametrize("dtype", DTYPES)
def test_pooled_each_vector_width(cpu, dtype):
    """Every count of output channels up to two tiles and a vector, at pooled outputs ending
    in every partial tile, on each level."""
    mv, windows = pooled_shape(Target.named(cpu).vector_bits)
    lanes = Target.named(cpu).vector_bits // (32 if dtype == "f32" else 64)
    for outs in range(1, 2 * mv * lanes + lanes + 2, 3):
        _check_pooled(dtype, (2, outs, 4, 2 * (windows + outs % windows) + 1), cpu=cpu,
                      batch=1)


@pytest.mark.parametrize("bits", [512, 256])
def test_pooled_wider_vectors_legalized_for_this_cpu(bits):
    """The pooled kernel's IR for a vector width this CPU may lack, compiled for this CPU,
    against NumPy (as test_wider_vectors_legalized_for_this_cpu)."""
    name = symbol("f32", pooled=True)
    tracker = jit.link_entry(f"test {name} at {bits} bits", lambda: dconv_lanes_ir(
        "f32", bits, pooled=True), name, Target.host(), level="gemm")
    kinds = [ctypes.c_void_p if arg in POINTERS else ctypes.c_int64 for arg in ARGS]
    run = ctypes.CFUNCTYPE(None, *kinds)(tracker[name])
    rng = np.random.default_rng(bits)
    for outs, (rows, cols) in ((3, (3, 5)), (17, (2, 2)), (33, (1, 7))):
        channels, h, w = 2, 2 * rows, 2 * cols
        padded = np.pad(rng.normal(size=(channels, h, w)), ((0, 0), (1, 1), (1, 1)))
        hp, wp = h + 2, w + 2
        taps = np.array([c * hp * wp + p * wp + q for c in range(channels)
                         for p in range(3) for q in range(3)], np.int64)
        x = padded.ravel().astype(np.float32)
        ldw = loops.channel_row(outs, "f32")
        weights = rng.normal(size=(outs, channels, 3, 3))
        wt = np.full((taps.size, ldw), np.nan, np.float32)
        wt[:, :outs] = weights.reshape(outs, -1).T
        out = np.full((outs, rows * cols + 1), np.nan, np.float32)
        run(outs, wt.ctypes.data, ldw, taps.size, taps.ctypes.data, x.ctypes.data, rows, cols,
            wp, out.ctypes.data, rows * cols + 1, cols)
        conv = sum(np.einsum("oc,chw->ohw", weights[:, :, p, q], padded[:, p:p + h, q:q + w])
                   for p in range(3) for q in range(3))
        want = conv.reshape(outs, rows, 2, cols, 2).max(axis=(2, 4))
        assert np.isnan(out[:, -1]).all(), f"outs {outs}: wrote past a channel's run"
        np.testing.assert_allclose(out[:, :-1].reshape(want.shape), want, rtol=2e-5,
                                   atol=2e-4, err_msg=f"outs {outs}, {rows}x{cols}")


@pytest.mark.parametrize("level", X86_LEVELS)
def test_pooled_compiles_to_object_code_the_checks_accept(level):
    target = Target.named(level)
    data = jit.emit(dconv_lanes_ir("f32", target.vector_bits, pooled=True), target, "gemm")
    objectfile.check(data, [symbol("f32", pooled=True)], ["_GLOBAL_OFFSET_TABLE_"])
