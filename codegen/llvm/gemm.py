"""Gemm statements -> LLVM IR: a call to BLAS sgemm/dgemm, to our own GEMM, or plain loops.

Input: a ``loops.Gemm`` and the ``Emitter`` positioned where it runs. Output: IR that computes
``C = alpha op(A) op(B) + beta C`` on row-major operands at element offsets, with the
statement's epilogue (beta times a source matrix instead of C, a bias along the rows, a ReLU):
in our GEMM's store; around a BLAS call or the plain loops, as a copy of the source into C
before and a pass over C after (BLAS has no such epilogue).

BLAS is reached through the symbols ``blas_sgemm``/``blas_dgemm``, which ``codegen.jit`` binds to
SciPy's Cython BLAS capsules: the Fortran ABI, every argument by pointer (transa, transb, m, n,
k, alpha, A, lda, B, ldb, beta, C, ldc) with 32-bit integers. Scalars are passed as pointers to
private constants. The fallback loops run i, k, j so the innermost loop is contiguous in C and
(untransposed) B and vectorizes; it accumulates ``alpha * a[i, k] * b[k, j]`` term by term, which
rounds differently from BLAS within the usual O(k eps) bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from codegen import loops
from codegen.llvm.mathcore import declare
from codegen.native import gemm as native_gemm
from codegen.native.gemm import symbol as native_symbol

if TYPE_CHECKING:
    from codegen.llvm.emitter import Emitter

FLOAT = {"f32": ir.FloatType(), "f64": ir.DoubleType()}
BLAS_SYMBOLS = {"f32": "blas_sgemm", "f64": "blas_dgemm"}
I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)


def _constant(module: ir.Module, kind: str, t: ir.Type, value: int | float) -> ir.GlobalVariable:
    name = f"blas.{kind}.{value!r}"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    g = ir.GlobalVariable(module, t, name)
    g.linkage = "private"
    g.global_constant = True
    g.unnamed_addr = True
    g.initializer = ir.Constant(t, value)
    return g


# Under gemm "auto" every product runs on graphnn's GEMM, on the kernel's own threads (a
# single row as loops: `row_product`), and BLAS is never loaded. OpenBLAS wakes its thread pool
# for any product above about 0.5 MFLOP, and its threads then spin on the cores graphnn's
# parallel loops need next: the LSTM workload (a 1600x64x512 input projection and its
# gradients among per-step loops) took 10.3-10.8 ms with its large products on BLAS against
# 6.1-6.3 ms on our GEMM, the Transformer 17.8-18.2 against 14.9-16.0, on AVX-512 (Zen 5);
# with AVX2 code on the same machine (cpu="x86-64-v3") 13.7-14.5 against 7.9-12.0 and
# 21.7-27.0 against 19.3-22.3 (python -m benchmarks --gemm auto|native [--cpu]). Tiny products
# (2 m n k <= 2^19, which OpenBLAS runs on the calling thread) stayed on BLAS until our GEMM
# had masked edge tiles and short tiles, and a module holding every layout: the MLP step,
# whose 10-unit layer's products are tiny, now runs as fast either way (best of 7 x 3 rounds:
# 246-250 against 249-250 us on one thread, 140-146 on two, with AVX-512 code; 427-428 and
# 238-245 us with AVX2 code), and without BLAS it loads no SciPy: 10.9 ms from the disk
# cache to its first result instead of 16-18.


def runs_native(mode: str, g: loops.Gemm) -> bool:
    """Whether `g` runs on graphnn's GEMM under gemm `mode` ("auto", "blas", "native" or
    "loops"): always under "native", and under "auto" unless it is a single row."""
    return mode == "native" or (mode == "auto" and not row_product(g))


def row_product(g: loops.Gemm) -> bool:
    """A product of one row by a row-major matrix (an inference at batch 1): under "auto" it
    runs as plain loops, one pass over B's rows vectorized along them. A GEMM would pack all
    of B on every call and fill a register tile of a dozen rows for this one (graphnn's: 74 us
    for 1x784 @ 784x256, against 8 us for the loops); SciPy's sgemm has no matrix-vector
    path."""
    return g.m == 1 and not g.trans_b


def call_blas(em: Emitter, g: loops.Gemm) -> None:
    if g.m * g.n == 0:
        return
    if g.source is not None and g.beta != 0:
        _over_c(em, g, lambda at, j: em.builder.load(at("source"), typ=FLOAT[g.c.dtype]))
    module, dtype = em.builder.module, g.c.dtype
    fn = declare(module, BLAS_SYMBOLS[dtype], ir.VoidType(), [ir.PointerType()] * 13)

    def flag(transposed: bool) -> ir.Value:
        return _constant(module, "char", I8, ord("T" if transposed else "N"))

    def int32(value: int) -> ir.Value:
        return _constant(module, "i32", I32, value)

    def scalar(value: float) -> ir.Value:
        return _constant(module, dtype, FLOAT[dtype], value)

    def element(buffer: loops.Buffer, offset: loops.Expr) -> ir.Value:
        # Not inbounds: with k == 0 BLAS never dereferences A or B, whose offsets may then be
        # anywhere, and an out-of-bounds inbounds GEP would be poison.
        return em.builder.gep(em.pointers[buffer.name], [em.value(offset)],
                              source_etype=FLOAT[dtype])

    # Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and the column-major view
    # of a row-major operand is its transpose: so pass B before A, keep each flag, swap m and n.
    args = [flag(g.trans_b), flag(g.trans_a), int32(g.n), int32(g.m), int32(g.k),
            scalar(g.alpha), element(g.b, g.b_offset), int32(g.ldb),
            element(g.a, g.a_offset), int32(g.lda),
            scalar(g.beta), element(g.c, g.c_offset), int32(g.ldc)]
    em.builder.call(fn, args)
    _finish(em, g)


def _over_c(em: Emitter, g: loops.Gemm, value) -> None:
    """C[i, j] = value(at, j) for every element, `at(name)` addressing [i, j] of C's layout
    in "c" or "source"."""
    b, t = em.builder, FLOAT[g.c.dtype]
    offset, zero = em.value(g.c_offset), ir.Constant(I64, 0)
    with em.counted_loop(zero, ir.Constant(I64, g.m), "gemm.i") as i:
        with em.counted_loop(zero, ir.Constant(I64, g.n), "gemm.j") as j:
            index = b.add(b.add(offset, b.mul(i, ir.Constant(I64, g.ldc), flags=("nuw", "nsw")),
                                flags=("nuw", "nsw")), j, flags=("nuw", "nsw"))

            def at(name: str, index=index) -> ir.Value:
                buffer = g.source if name == "source" else g.c
                return b.gep(em.pointers[buffer.name], [index], inbounds=True, source_etype=t)
            b.store(value(at, j), at("c"))


def _finish(em: Emitter, g: loops.Gemm) -> None:
    """The bias and the ReLU, as a pass over C (after BLAS or the plain loops)."""
    if g.bias is None and not g.relu:
        return
    b, t = em.builder, FLOAT[g.c.dtype]

    def value(at, j) -> ir.Value:
        v = b.load(at("c"), typ=t)
        if g.bias is not None:
            bias = b.gep(em.pointers[g.bias.name], [j], inbounds=True, source_etype=t)
            v = b.fadd(v, b.load(bias, typ=t))
        if g.relu:          # max(v, 0) as FMax: NaN stays NaN, -0 becomes 0
            zero = ir.Constant(t, 0.0)
            v = b.select(b.fcmp_unordered(">", v, zero), v, zero)
        return v
    _over_c(em, g, value)


def call_native(em: Emitter, g: loops.Gemm, threads: ir.Value) -> None:
    """A call to graphnn_gemm_<dtype> (codegen.native.gemm), linked by codegen.jit."""
    if g.m * g.n == 0 and g.beta == 1.0:
        return
    module, dtype, t = em.builder.module, g.c.dtype, FLOAT[g.c.dtype]
    fn = declare(module, native_symbol(dtype, g.trans_a, g.trans_b), ir.VoidType(), [
        I64, I64, I64, ir.PointerType(), I64, ir.PointerType(), I64, ir.PointerType(), I64,
        t, t, I64, ir.PointerType(), ir.PointerType(), I64])

    def element(buffer: loops.Buffer, offset: loops.Expr) -> ir.Value:
        return em.builder.gep(em.pointers[buffer.name], [em.value(offset)], source_etype=t)

    def integer(value: int) -> ir.Value:
        return ir.Constant(I64, value)

    null = ir.Constant(ir.PointerType(), None)
    zero = loops.lift(0, "i64")
    b = element(g.packed_b, zero) if g.packed_b is not None else element(g.b, g.b_offset)
    flags = (native_gemm.RELU if g.relu else 0) | \
        (native_gemm.PACKED if g.packed_b is not None else 0)
    em.builder.call(fn, [integer(g.m), integer(g.n), integer(g.k),
                         element(g.a, g.a_offset), integer(g.lda), b, integer(g.ldb),
                         element(g.c, g.c_offset), integer(g.ldc),
                         ir.Constant(t, g.alpha), ir.Constant(t, g.beta), threads,
                         null if g.source is None else element(g.source, g.c_offset),
                         null if g.bias is None else element(g.bias, zero), integer(flags)])


def emit_loops(em: Emitter, g: loops.Gemm) -> None:
    if g.m * g.n == 0:
        return
    b, t = em.builder, FLOAT[g.c.dtype]
    offsets = {"a": em.value(g.a_offset), "b": em.value(g.b_offset), "c": em.value(g.c_offset)}
    offsets["source"] = offsets["c"]

    def element(operand: str, row: ir.Value, ld: int, column: ir.Value) -> ir.Value:
        scaled = b.mul(row, ir.Constant(I64, ld), flags=("nuw", "nsw"))
        index = b.add(b.add(offsets[operand], scaled, flags=("nuw", "nsw")), column,
                      flags=("nuw", "nsw"))
        buffer = {"a": g.a, "b": g.b, "c": g.c, "source": g.source}[operand]
        return b.gep(em.pointers[buffer.name], [index], inbounds=True, source_etype=t)

    def load(pointer: ir.Value) -> ir.Value:
        return b.load(pointer, typ=t, align=4 if g.c.dtype == "f32" else 8)

    zero = ir.Constant(I64, 0)
    with em.counted_loop(zero, ir.Constant(I64, g.m), "gemm.i") as i:
        with em.counted_loop(zero, ir.Constant(I64, g.n), "gemm.j") as j:
            c_ij = element("c", i, g.ldc, j)
            # beta == 0 does not read C (BLAS convention: uninitialized NaN must not leak).
            d_ij = c_ij if g.source is None else element("source", i, g.ldc, j)
            scaled = ir.Constant(t, 0.0) if g.beta == 0 else b.fmul(ir.Constant(t, g.beta),
                                                                      load(d_ij))
            b.store(scaled, c_ij)
        with em.counted_loop(zero, ir.Constant(I64, g.k), "gemm.k") as k:
            a_ik = load(element("a", k, g.lda, i) if g.trans_a else element("a", i, g.lda, k))
            if g.alpha != 1.0:
                a_ik = b.fmul(ir.Constant(t, g.alpha), a_ik)
            with em.counted_loop(zero, ir.Constant(I64, g.n), "gemm.j") as j:
                b_kj = load(element("b", j, g.ldb, k) if g.trans_b else element("b", k, g.ldb, j))
                c_ij = element("c", i, g.ldc, j)
                b.store(b.fadd(load(c_ij), b.fmul(a_ik, b_kj)), c_ij)
    _finish(em, g)
