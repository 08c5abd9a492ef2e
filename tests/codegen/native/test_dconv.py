"""Our direct convolution's micro-kernel (codegen.native.dconv) through DirectConv statements,
against NumPy: kernel sizes, dilation, channel counts that leave a partial block of output
channels (every tail height), rows that end in a partial tile, several images at offsets,
both dtypes, for this CPU and for each x86-64 level it runs; and the plain loops of
gemm="loops" on the same cases."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import jit, loops, objectfile
from codegen.jit import compile_kernel
from codegen.llvm.target import X86_LEVELS, Target
from codegen.native.dconv import ARGS, POINTERS, dconv_ir, narrow_shape, symbol, tile_shape
from tests.harness import cpu_levels, run_docstring_examples

DTYPES = {"f32": (np.float32, 2e-5), "f64": (np.float64, 1e-12)}
# (channels in, channels out, height, width, kernel, dilation, padding)
CASES = [(1, 1, 1, 1, 1, 1, 0), (3, 16, 8, 8, 3, 1, 1), (16, 16, 32, 32, 3, 1, 1),
         (5, 7, 9, 13, 3, 1, 1), (4, 9, 6, 40, 3, 2, 2), (2, 11, 7, 7, 5, 1, 2),
         (8, 13, 12, 17, 1, 1, 0), (6, 3, 5, 33, 3, 1, 0), (3, 5, 4, 70, 2, 1, 1),
         # rows in one vector (narrow tiles: 8 and fewer positions under AVX2, 16 under
         # AVX-512), whole and partial, with every tail of their taller tiles
         (4, 29, 8, 8, 3, 1, 1), (3, 37, 6, 5, 3, 1, 1), (2, 21, 4, 14, 3, 1, 1)]


def _geometry(c, h, w, kernel, dilation, padding):
    hp, wp = h + 2 * padding, w + 2 * padding
    span = dilation * (kernel - 1)
    oh, ow = hp - span, wp - span
    taps = tuple(ci * hp * wp + p * dilation * wp + q * dilation
                 for ci in range(c) for p in range(kernel) for q in range(kernel))
    return hp, wp, oh, ow, taps


def _kernel(dtype, batch, c, o, h, w, kernel, dilation, padding):
    """Each image's padded copy at its own offset of one buffer (with the slack after the
    last), the weights (o, c * k * k) with a wider row (ldw), the outputs at offsets."""
    hp, wp, oh, ow, taps = _geometry(c, h, w, kernel, dilation, padding)
    image = c * hp * wp + 3          # 3: images not at a multiple of a vector
    depth, ldw = len(taps), len(taps) + 2
    x = loops.Buffer("x", dtype, (batch * image + loops.CONV_SLACK[dtype],))
    wt = loops.Buffer("w", dtype, (o * ldw,))
    out = loops.Buffer("out", dtype, (batch, o, oh, ow))
    body = loops.loop(batch, lambda n: loops.DirectConv(
        out, wt, x, taps, o, oh, ow, ldw, wp, oh * ow, ow, out_offset=n * (o * oh * ow),
        x_offset=n * image), name="n")
    return loops.Kernel("dconv", [x, wt], [out], body=[body]), (hp, wp, oh, ow, image, depth,
                                                               ldw)


def _check(dtype, case, gemm="native", cpu="host"):
    numpy_dtype, tolerance = DTYPES[dtype]
    c, o, h, w, kernel, dilation, padding = case
    batch = 2
    k, (hp, wp, oh, ow, image, depth, ldw) = _kernel(dtype, batch, *case)
    rng = np.random.default_rng(sum(case))
    images = rng.normal(size=(batch, c, h, w))
    weights = rng.normal(size=(o, c, kernel, kernel))
    x = np.full(k.inputs[0].shape, np.nan)   # what no output reads stays NaN
    for n in range(batch):
        padded = np.pad(images[n], ((0, 0), (padding, padding), (padding, padding)))
        x[n * image:n * image + c * hp * wp] = padded.ravel()
    x[batch * image - 3:] = 7.0              # the slack: read by partial tiles, dropped
    wt = np.full((o, ldw), np.nan)
    wt[:, :depth] = weights.reshape(o, depth)
    got = compile_kernel(k, gemm=gemm, target=Target.named(cpu))(
        x.astype(numpy_dtype), wt.ravel().astype(numpy_dtype))
    want = np.zeros((batch, o, oh, ow))
    for p in range(kernel):
        for q in range(kernel):
            for n in range(batch):
                padded = np.pad(images[n], ((0, 0), (padding, padding), (padding, padding)))
                window = padded[:, p * dilation:p * dilation + oh, q * dilation:q * dilation + ow]
                want[n] += np.einsum("oc,chw->ohw", weights[:, :, p, q], window)
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * np.sqrt(depth) * 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_numpy(dtype, case):
    _check(dtype, case)


@pytest.mark.parametrize("case", CASES[:5], ids=str)
def test_plain_loops_match_numpy(case):
    _check("f64", case, gemm="loops")


@pytest.mark.parametrize("cpu", cpu_levels())
@pytest.mark.parametrize("dtype", DTYPES)
def test_each_vector_width(cpu, dtype):
    """Every tail of the widest tile (outs % MR from 1 to MR - 1: one short tile, or the last
    whole one split with them in two), and fewer channels than a tile, on each level."""
    bits = Target.named(cpu).vector_bits
    for width, mr in ((37, tile_shape(bits)[0]), (bits // 64, narrow_shape(bits)[0])):
        for outs in [*range(1, mr), *range(mr + 1, 2 * mr), 3 * mr + 1]:
            _check(dtype, (3, outs, 5, width, 3, 1, 1), cpu=cpu)


def test_tile_wider_than_the_slack_is_refused():
    with pytest.raises(ValueError, match="slack"):
        dconv_ir("f32", 512, (4, 3))


def test_statement_checks_its_reach():
    x = loops.Buffer("x", "f32", (100,))
    w = loops.Buffer("w", "f32", (9,))
    out = loops.Buffer("out", "f32", (1, 8, 8))
    taps = tuple(p * 10 + q for p in range(3) for q in range(3))
    stmt = loops.DirectConv(out, w, x, taps, 1, 8, 8, 9, 10, 64, 8)
    with pytest.raises(loops.KernelError, match="operand x reaches x elements"):
        loops.Kernel("short", [x, w], [out], body=[stmt])
    with pytest.raises(TypeError, match="ldw=4 is smaller than the depth 9"):
        loops.DirectConv(out, w, x, taps, 1, 8, 8, 4, 10, 64, 8)
    wide = loops.Buffer("x", "f32", (100 + 29 + loops.CONV_SLACK["f32"],))
    loops.Kernel("enough", [wide, w], [out], body=[loops.DirectConv(
        out, w, wide, taps, 1, 8, 8, 9, 10, 64, 8)])


@pytest.mark.parametrize("level", X86_LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_level_compiles_to_object_code_the_checks_accept(level, dtype):
    """Whatever this CPU runs: the module for each level's vector width compiles, and its
    object code (no jump tables: `cases` branches by compares) passes codegen.objectfile."""
    target = Target.named(level)
    data = jit.emit(dconv_ir(dtype, target.vector_bits), target, "gemm")
    objectfile.check(data, [symbol(dtype)], ["_GLOBAL_OFFSET_TABLE_"])


@pytest.mark.parametrize("bits", [512, 256])
@pytest.mark.parametrize("dtype", DTYPES)
def test_wider_vectors_legalized_for_this_cpu(bits, dtype):
    """The IR generated for a vector width this CPU may lack (AVX-512's 8 x 2 and 16 x 1
    tiles, its masked stores), compiled for this CPU: LLVM splits the wide vectors into the
    ones it has, with the same results, so the generator's logic for every width runs here
    (its own instructions run on the CI's AVX-512 machines: test_each_vector_width)."""
    import ctypes

    target = Target.host()
    name = symbol(dtype)
    tracker = jit.link_entry(f"test {name} at {bits} bits", lambda: dconv_ir(dtype, bits),
                             name, target, level="gemm")
    kinds = [ctypes.c_void_p if arg in POINTERS else ctypes.c_int64 for arg in ARGS]
    run = ctypes.CFUNCTYPE(None, *kinds)(tracker[name])
    numpy_dtype, tolerance = DTYPES[dtype]
    rng = np.random.default_rng(bits)
    lanes = bits // (32 if dtype == "f32" else 64)
    mr, narrow = tile_shape(bits)[0], narrow_shape(bits)[0]
    # rows wider than a tile (a partial last tile), of a partial vector, narrow whole and
    # partial; channel counts with every kind of tail
    for cols in (2 * lanes + 3, lanes + 1, lanes, lanes - 3):
        for outs in (1, mr - 1, mr + 1, 2 * mr + 3, narrow + 2, 2 * narrow - 1):
            channels, rows, k = 3, 4, 3
            wp, hp = cols + k - 1, rows + k - 1
            taps = np.array([c * hp * wp + p * wp + q for c in range(channels)
                             for p in range(k) for q in range(k)], np.int64)
            x = rng.normal(size=channels * hp * wp + loops.CONV_SLACK[dtype]).astype(
                numpy_dtype)
            w = rng.normal(size=(outs, taps.size)).astype(numpy_dtype)
            out = np.full((outs, rows, cols), np.nan, numpy_dtype)
            run(outs, w.ctypes.data, taps.size, taps.size, taps.ctypes.data, x.ctypes.data,
                rows, cols, wp, out.ctypes.data, rows * cols, cols)
            image = x[:channels * hp * wp].reshape(channels, hp, wp).astype(float)
            want = np.zeros((outs, rows, cols))
            for p in range(k):
                for q in range(k):
                    want += np.einsum("oc,chw->ohw", w.reshape(outs, channels, k, k)[
                        :, :, p, q], image[:, p:p + rows, q:q + cols])
            np.testing.assert_allclose(out, want, rtol=tolerance, atol=tolerance * 8,
                                       err_msg=f"cols {cols}, outs {outs}")


@pytest.mark.parametrize("name", ["codegen.native.dconv", "codegen.native.gemm",
                                  "codegen.stmts"])
def test_docstring_examples(name):
    result = run_docstring_examples(name)
    assert result.attempted > 0 and result.failed == 0
