"""DirectConv statements -> LLVM IR: a call to our micro-kernel, or plain loops.

Input: a ``loops.DirectConv`` and the ``Emitter`` positioned where it runs. Output: IR computing
it: a call to graphnn_dconv_<dtype> (codegen.native.dconv, linked by codegen.jit like our GEMM),
or graphnn_dconv_lanes_<dtype> for lanes="channels" (codegen.native.dconv_lanes), or, with
gemm="loops", a loop nest with the sum over k innermost. Either way the tap offsets
are a private constant table of the kernel's module, one per distinct table.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from llvmlite import ir

from codegen import loops
from codegen.llvm.mathcore import declare
from codegen.native import dconv as native_dconv
from codegen.native import dconv_lanes as native_dconv_lanes

if TYPE_CHECKING:
    from codegen.llvm.emitter import Emitter

I64 = ir.IntType(64)
PTR = ir.PointerType()
FLOAT = {"f32": ir.FloatType(), "f64": ir.DoubleType()}


def _table(module: ir.Module, taps: tuple[int, ...]) -> ir.Value:
    """The module's constant i64 array of `taps` (named by its content: deterministic, shared
    by the statements with the same table)."""
    digest = hashlib.sha256(",".join(map(str, taps)).encode()).hexdigest()[:16]
    name = f"graphnn.taps.{digest}"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    kind = ir.ArrayType(I64, max(len(taps), 1))
    table = ir.GlobalVariable(module, kind, name)
    table.global_constant = True
    table.linkage = "private"
    table.initializer = ir.Constant(kind, list(taps) or [0])
    table.align = 8
    return table


def _element(em: Emitter, buffer: loops.Buffer, offset: loops.Expr) -> ir.Value:
    return em.builder.gep(em.pointers[buffer.name], [em.value(offset)],
                          source_etype=FLOAT[buffer.dtype])


def call_native(em: Emitter, s: loops.DirectConv) -> None:
    if s.empty:
        return
    module = em.builder.module
    native = native_dconv if s.lanes == "positions" else native_dconv_lanes
    name = native_dconv.symbol(s.out.dtype) if s.lanes == "positions" else \
        native_dconv_lanes.symbol(s.out.dtype, s.lanes == "pool2x2")
    fn = declare(module, name, ir.VoidType(),
                 [PTR if name in native.POINTERS else I64 for name in native.ARGS])
    values = {"outs": s.outs, "w": _element(em, s.w, s.w_offset), "ldw": s.ldw,
              "depth": len(s.taps), "offsets": _table(module, s.taps),
              "x": _element(em, s.x, s.x_offset), "rows": s.rows, "cols": s.cols,
              "row_stride": s.row_stride, "out": _element(em, s.out, s.out_offset),
              "out_stride": s.out_stride, "out_row": s.out_row}
    em.builder.call(fn, [ir.Constant(I64, v) if isinstance(v, int) else v
                         for v in (values[name] for name in native.ARGS)])


def emit_loops(em: Emitter, s: loops.DirectConv) -> None:
    """for o, i, j: out = sum over k, in k's order (as the micro-kernel sums); pooled, the
    maximum of four such sums."""
    if s.empty:
        return
    b, t = em.builder, FLOAT[s.out.dtype]
    table = _table(b.module, s.taps)
    w, x, out = (_element(em, s.w, s.w_offset), _element(em, s.x, s.x_offset),
                 _element(em, s.out, s.out_offset))

    def const(value: int) -> ir.Value:
        return ir.Constant(I64, value)
    # w[o ldw + k], or transposed (the lanes kernels) w[k ldw + o]
    across, along = (const(s.ldw), const(1)) if s.lanes == "positions" else \
        (const(1), const(s.ldw))
    # the convolution's positions each output takes the maximum of: one, or a 2x2 window's
    corners = ((0, 0), (0, 1), (1, 0), (1, 1)) if s.lanes == "pool2x2" else ((0, 0),)
    step = 2 if s.lanes == "pool2x2" else 1
    with em.counted_loop(const(0), const(s.outs), "dc.o") as o, \
            em.counted_loop(const(0), const(s.rows), "dc.i") as i, \
            em.counted_loop(const(0), const(s.cols), "dc.j") as j:
        row = b.gep(w, [b.mul(o, across)], source_etype=t)
        best = None
        for r, c in corners:
            position = b.add(b.mul(b.add(b.mul(i, const(step)), const(r)), const(s.row_stride)),
                             b.add(b.mul(j, const(step)), const(c)))
            total = _sum(em, table, x, row, along, position, len(s.taps), t)
            # NumPy's maximum, as the pooling: the first where it is larger or NaN
            best = total if best is None else b.select(b.or_(
                b.fcmp_ordered(">", best, total), b.fcmp_unordered("uno", best, best)),
                best, total)
        b.store(best, b.gep(out, [b.add(b.add(b.mul(o, const(s.out_stride)),
                                                b.mul(i, const(s.out_row))), j)],
                            source_etype=t))


def _sum(em: Emitter, table, x, row, along, position, depth: int, t) -> ir.Value:
    """sum over k of row[k along] x[taps[k] + position]: a loop whose header carries k and
    the running sum, in k's order (as the micro-kernels sum)."""
    b = em.builder

    def const(value: int) -> ir.Value:
        return ir.Constant(I64, value)
    fn, before = b.function, b.block
    head, body, end = (fn.append_basic_block(f"dc.k.{part}") for part in ("head", "body", "end"))
    b.branch(head)
    b.position_at_end(head)
    k, acc = b.phi(I64, "dc.k"), b.phi(t, "dc.acc")
    k.add_incoming(const(0), before)
    acc.add_incoming(ir.Constant(t, 0.0), before)
    b.cbranch(b.icmp_signed("<", k, const(depth)), body, end)
    b.position_at_end(body)
    shift = b.load(b.gep(table, [const(0), k], source_etype=table.value_type), typ=I64)
    value = b.load(b.gep(x, [b.add(shift, position)], source_etype=t), typ=t)
    weight = b.load(b.gep(row, [b.mul(k, along)], source_etype=t), typ=t)
    acc.add_incoming(b.fadd(acc, b.fmul(weight, value)), b.block)
    k.add_incoming(b.add(k, const(1)), b.block)
    b.branch(head)
    b.position_at_end(end)
    return acc
