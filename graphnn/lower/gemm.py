"""matmul as `Gemm` statements: operands read straight from memory, transposes as flags.

A matmul operand is "in memory" when it is a graph input, a constant array, a node with a
buffer, a reshape of one (same bytes), or one with its last two axes swapped (the transpose
flag of BLAS): so the G Bᵀ and Aᵀ G of a backward pass never copy a transposed matrix.

A constant right operand (imported weights, params="constants") is also packed once, here,
into the panels our GEMM reads (codegen.native.gemm.pack_b): a kernel input of its own that
the Gemm names as `packed_b`, so no call re-packs it (onnxruntime's MLAS prepacks likewise).
BLAS and the plain loops still read the constant itself, which stays a kernel input too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codegen import loops
from codegen.native.gemm import depth_blocks, pack_b
from codegen.stmts import PACK_WIDTH, pack_strip, packed_size
from graphnn.ir import Node
from graphnn.shapes import broadcast


def _layout(node: Node, kept) -> tuple[Node, bool] | None:
    """(node whose buffer holds the value, transposed) when the value is readable from memory."""
    if node.op == "input" or (node.op == "constant" and node.shape != ()) or node in kept:
        return node, False
    if node.op not in ("reshape", "transpose"):
        return None
    inner = _layout(node.inputs[0], kept)
    if inner is None:
        return None
    axes = node.attrs.get("axes")
    identity = node.op == "reshape" or axes == tuple(range(node.ndim))
    if identity:
        return inner if not inner[1] else None
    swap_last = node.ndim >= 2 and axes == tuple(range(node.ndim - 2)) + (node.ndim - 1,
                                                                         node.ndim - 2)
    return (inner[0], not inner[1]) if swap_last else None


def memory_of(node: Node, kept) -> bool:
    """Whether a matmul can read `node` from memory without a copy."""
    return _layout(node, kept) is not None


# BLAS (and so a Gemm statement) takes its sizes and leading dimensions as 32-bit ints
GEMM_MAX_DIMENSION = 2**31 - 1


@dataclass(frozen=True)
class Operand:
    buffer: loops.Buffer
    transposed: bool
    shape: tuple[int, ...]      # the operand's value shape (matrices promoted from vectors)


@dataclass(frozen=True)
class GemmOperands:
    a: Operand
    b: Operand
    packed_b: loops.Buffer | None = None     # b, a constant, packed once (see the docstring)

    @staticmethod
    def of(lowering, node: Node) -> GemmOperands | None:
        a, b = node.inputs
        kept = lowering.buffers
        la, lb = _layout(a, kept), _layout(b, kept)
        if la is None or lb is None:
            return None
        a_shape, b_shape = _matrix_shapes(a, b)
        if max(a_shape[-2:] + b_shape[-1:]) > GEMM_MAX_DIMENSION:
            return None         # computed by loops over 64-bit indices instead
        packed = None
        if packable(a_shape, b_shape):
            if lb[0].op == "constant":
                packed = lowering.packed_constant(lb[0], lb[1], b_shape)
            elif lb[0].op == "input":
                packed = lowering.packed_inputs.get((lb[0], lb[1], b_shape))
        return GemmOperands(Operand(kept[la[0]], la[1], a_shape),
                            Operand(kept[lb[0]], lb[1], b_shape), packed)


def _matrix_shapes(a: Node, b: Node) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The operands' shapes as matrices: a vector a is one row, a vector b one column."""
    return (1,) + a.shape if a.ndim == 1 else a.shape, b.shape + (1,) if b.ndim == 1 else b.shape


def packable(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> bool:
    """Whether our GEMM may read B prepacked: a 2-D B (one matrix for every product of a
    batch) and more than one row of A (a single row runs as plain loops, see
    codegen.llvm.gemm.row_product)."""
    return len(b_shape) == 2 and a_shape[-2] > 1 and 0 not in b_shape


def b_operand(lowering, node: Node) -> tuple[Node, bool, tuple[int, int]] | None:
    """(input node, transposed, (k, n)) of matmul `node`'s B when it is a kernel input our
    GEMM may read prepacked (Lowering.packed_inputs in lower.kernel); else None."""
    a, b = node.inputs
    lb = _layout(b, lowering.buffers)
    a_shape, b_shape = _matrix_shapes(a, b)
    if lb is None or lb[0].op != "input" or not packable(a_shape, b_shape):
        return None
    return lb[0], lb[1], b_shape


def pack_stage(packed: loops.Buffer, b: loops.Buffer, transposed: bool,
               shape: tuple[int, int]) -> list[loops.Stmt]:
    """Loops writing op(b), a (k, n) operand stored (k, n), or (n, k) when `transposed`, into
    `packed` in the layout of codegen.native.gemm.pack_b: columns padded with zeros to
    n_padded (a multiple of PACK_WIDTH), and for each depth block (p0, kc), panel P holds rows
    p0..p0+kc of columns P*S..P*S+S (S = pack_strip, one cache line), row after row, from
    element p0 * n_padded + P * kc * S. Run once per call, it spares every product reading
    the operand its own packing (an LSTM's W_hh, read by 100 products)."""
    k, n = shape
    dtype = loops.normalize_dtype(b.dtype)
    width = pack_strip(dtype)
    padded = -(-n // PACK_WIDTH) * PACK_WIDTH
    ld = k if transposed else n

    def element(row, column):             # op(b)[row, column]
        return b.flat[column * ld + row] if transposed else b.flat[row * ld + column]

    stmts: list[loops.Stmt] = []
    for p0, kc in depth_blocks(k, dtype):
        base = p0 * padded
        full = n // width
        if full:
            stmts.append(loops.loop_nest((full, kc, width), lambda P, r, c, p0=p0, kc=kc, base=base:
                loops.store(packed, base + (P * kc + r) * width + c,
                            element(p0 + r, P * width + c))))
        rest = n - full * width
        if rest:                          # the last panel: rest columns, then zeros
            start = base + full * kc * width
            stmts.append(loops.loop_nest((kc, rest), lambda r, c, p0=p0, start=start, full=full:
                loops.store(packed, start + r * width + c, element(p0 + r, full * width + c))))
            stmts.append(loops.loop_nest((kc, width - rest), lambda r, c, start=start, rest=rest:
                loops.store(packed, start + r * width + rest + c, 0)))
        used = -(-n // width)
        if padded // width > used:        # whole panels of zeros up to n_padded
            start = base + used * kc * width
            stmts.append(loops.loop(kc * (padded - used * width), lambda e, start=start:
                loops.store(packed, start + e, 0)))
    return stmts


def packed_value(constant: Node, transposed: bool, shape: tuple[int, int]) -> np.ndarray:
    """op(B) of a constant matmul operand of value shape `shape` (k, n), packed for
    Gemm.packed_b: the stored matrix is (n, k) when `transposed`."""
    k, n = shape
    stored = np.reshape(constant.value, (n, k) if transposed else (k, n))
    packed = pack_b(stored.T if transposed else stored, loops.normalize_dtype(constant.dtype))
    assert packed.size == packed_size(k, n)
    return packed


def _leading(op: Operand) -> int:
    """Row length of the stored matrix: (M, K) stored, or (K, M) when transposed."""
    rows, cols = op.shape[-2:]
    return rows if op.transposed else cols


def gemm_stage(c: loops.Buffer, operands: GemmOperands,
               accumulate: bool = False) -> list[loops.Stmt]:
    """Gemm statements computing c = a @ b (batched over broadcast leading dimensions), or
    c += a @ b with `accumulate` (2-D operands only)."""
    a, b = operands.a, operands.b
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch = broadcast(a.shape[:-2], b.shape[:-2])
    if 0 in (m, n, k) or 0 in batch:
        # an empty product: no element of c (m, n or the batch 0), or every element a sum of
        # nothing (k = 0), which is 0 as in NumPy; BLAS would reject the leading dimension 0
        return [] if c.size == 0 or accumulate else \
            [loops.loop_nest(c.shape, lambda *i: loops.store(c, i, 0))]
    common = dict(trans_a=a.transposed, trans_b=b.transposed, lda=_leading(a),
                  ldb=_leading(b), ldc=n, packed_b=operands.packed_b)
    if not batch:
        return [loops.Gemm(c, a.buffer, b.buffer, m, n, k, beta=float(accumulate), **common)]
    assert not accumulate, "a sum of products accumulates 2-D products only"
    count = math.prod(batch)
    if not b.shape[:-2] and not a.transposed and a.shape[:-2] == batch:
        # (batch, M, K) @ (K, N): one (batch * M, K) @ (K, N) product over the same memory
        return [loops.Gemm(c, a.buffer, b.buffer, count * m, n, k, **common)]

    def body(index):
        return loops.Gemm(c, a.buffer, b.buffer, m, n, k, a_offset=_offset(index, batch, a),
                          b_offset=_offset(index, batch, b), c_offset=index * (m * n), **common)
    return [loops.loop(count, body, name="b")]


def _offset(flat: loops.Expr, batch: tuple[int, ...], op: Operand):
    """Element offset of matrix number `flat` (over the broadcast batch) in an operand."""
    own = op.shape[:-2]
    lead = len(batch) - len(own)
    offset, stride, rest = 0, math.prod(op.shape[-2:]), flat
    for axis in reversed(range(len(batch))):
        size = batch[axis]
        index = rest % size if size > 1 else 0
        rest = rest // size if size > 1 else rest
        if axis >= lead and own[axis - lead] != 1:
            offset = offset + index * stride
            stride *= own[axis - lead]
    return offset


def folds_batch(node: Node, kept) -> bool:
    """Whether the sum over the batch of the batched matmul `node` is one product over the same
    memory: its aᵀ stored as (batch..., t, d) and its b as (batch..., t, n), both unbroadcast,
    are a (batch * t, d)ᵀ and a (batch * t, n) matrix."""
    a, b = node.inputs
    la, lb = _layout(a, kept), _layout(b, kept)
    if la is None or lb is None:
        return False
    depth = math.prod(a.shape[:-2]) * a.shape[-1]
    return la[1] and not lb[1] and a.shape[:-2] == b.shape[:-2] and 0 not in a.shape + b.shape \
        and max(depth, a.shape[-2], b.shape[-1]) <= GEMM_MAX_DIMENSION


def batch_sum_stage(c: loops.Buffer, operands: GemmOperands) -> list[loops.Stmt]:
    """c = the sum over the batch of a_i @ b_i, as one Gemm (when `folds_batch`)."""
    a, b = operands.a, operands.b
    m, n = a.shape[-2], b.shape[-1]
    depth = math.prod(a.shape[:-2]) * a.shape[-1]
    return [loops.Gemm(c, a.buffer, b.buffer, m, n, depth, trans_a=True, lda=m, ldb=n, ldc=n)]
