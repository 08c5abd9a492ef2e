"""Loop IR -> LLVM IR: the ``Emitter`` has one ``emit_<Node>`` method per loop node class.

Input: expressions and statements of a verified ``Kernel``. Output: instructions appended through
an ``llvmlite.ir.IRBuilder``; ``codegen.llvm.module`` assembles whole functions and the module.

- Equal subexpressions inside one loop body are emitted once: values are memoized per loop
  scope, and a memoized value that reads a buffer is dropped when that buffer is stored to (and
  hidden inside loops that write it), so a load never returns a stale value.
- No fast-math flag on elementwise arithmetic, so results, NaN and inf match NumPy operation by
  operation; a ``MulAdd`` (which lowering writes where it allows it) is LLVM's ``fmuladd``.
  Reduction sums carry ``reassoc contract`` so they vectorize: they may differ from a
  sequential sum by the usual O(n eps sum|x|) bound.
- Loops are counted ``for i in start..stop`` context managers with blocks ``i.cond``,
  ``i.body``, ``i.end``.
- No recursion as deep as the loop IR: an ``emit_*`` method that needs the value of a child
  yields ``self.sub(child)`` and is resumed with it (``loops.iterate`` runs the calls), so a
  chain of thousands of operations emits in the same order as a recursive walk would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import GeneratorType

from llvmlite import ir

from codegen import loops
from codegen.llvm import direct_conv, gemm
from codegen.llvm.mathcore import declare
from codegen.llvm.mathlib import math_function
from codegen.llvm.trig import trig_function
from codegen.llvm.vecmath import called_math_function

TYPES: dict[str, ir.Type] = {
    "f32": ir.FloatType(), "f64": ir.DoubleType(), "i32": ir.IntType(32), "i64": ir.IntType(64),
    "i1": ir.IntType(1),
}
# in memory an i1 (a NumPy bool) is a byte: loaded as byte != 0, stored as 0 or 1
MEMORY = {**TYPES, "i1": ir.IntType(8)}
ALIGN = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "i1": 1}
I64 = ir.IntType(64)
I32 = ir.IntType(32)
INTS = ("i32", "i64")
REDUCE_FLAGS = ("reassoc", "contract")
# float max/min reductions of fewer terms than this (a pooling window's row or column) combine
# by NumPy's rule, `a if a > b or isnan(a) else b`: three x86 instructions (maxps, a NaN test,
# a blend) where llvm.maximum takes five or six to also order -0 below +0. Longer ones keep
# llvm.maximum, which LLVM vectorizes as a reduction. Both propagate NaN; they differ only in
# which zero a tie of -0 and +0 gives (NumPy's rule: the later term, as np.max does).
SHORT_REDUCE = 8
_FLOAT_COMPARE = {"Lt": "<", "Le": "<=", "Gt": ">", "Ge": ">=", "Eq": "=="}
_INT_COMPARE = {**_FLOAT_COMPARE, "Ne": "!="}


class LoweringError(Exception):
    """A loop node the emitter cannot lower; the message names the node."""


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def _loop_id(module: ir.Module, *properties: str) -> ir.MDValue:
    """A new loop's ``llvm.loop`` metadata: a node distinct from every other loop's, whose
    first operand is itself (LLVM's convention for loop IDs), then the properties."""
    listed = [module.add_metadata([ir.MetaDataString(module, p)]) for p in properties]
    loop_id = ir.values.MDValue(module, listed, name=str(len(module.metadata)))
    loop_id.operands = (loop_id, *listed)
    return loop_id


@dataclass
class _Scope:
    values: dict[loops.Expr, ir.Value]
    written: frozenset[str]  # buffers stored to anywhere inside this loop
    # memoized values by the buffers they read: a store forgets only what reads its buffer
    # (scanning every value at every store was quadratic in a long loop body)
    readers: dict[str, list[loops.Expr]] = field(default_factory=dict)

    def remember(self, e: loops.Expr, value: ir.Value) -> None:
        self.values[e] = value
        for name in e.reads:
            self.readers.setdefault(name, []).append(e)

    def forget(self, names: frozenset[str] | set[str]) -> None:
        for name in names:
            for e in self.readers.pop(name, ()):
                self.values.pop(e, None)


def written_buffers(stmts: tuple[loops.Stmt, ...]) -> frozenset[str]:
    names: set[str] = set()
    for s in stmts:
        for node in loops.walk(s):
            if isinstance(node, (loops.Store, loops.Accumulate)):
                names.add(node.buffer.name)
            elif isinstance(node, loops.Gemm):
                names.add(node.c.name)
            elif isinstance(node, loops.DirectConv):
                names.add(node.out.name)
    return frozenset(names)


class Emitter:
    """Emit llvmlite IR for loop IR nodes at the position of ``builder``.

    ``pointers`` maps every buffer name to its base pointer in the current function. ``gemm``
    chooses how ``Gemm`` is lowered: "blas", "native" (our packed micro-kernel, run on
    ``threads``; single-threaded inside parallel loops), "auto" (native, a single row as
    loops: ``gemm.runs_native``) or "loops" (see ``codegen.llvm.gemm``).
    ``call_math`` calls exp, log and tanh (with vector variants,
    ``codegen.llvm.vecmath``) instead of inlining them: for long kernels.

    Loops (not reductions, whose order unrolling may change) of ``unroll_below`` iterations or
    more are never unrolled (``CodegenOptions.unroll_below``; None: LLVM decides), nor any loop
    of a long kernel.
    """

    def __init__(self, builder: ir.IRBuilder, pointers: dict[str, ir.Value], gemm: str,
                 threads: ir.Value | None = None, call_math: bool = False,
                 unroll_below: int | None = None) -> None:
        self.builder = builder
        self.pointers = pointers
        self.gemm = gemm
        self.threads = threads
        self.call_math = call_math
        self.unroll_below = unroll_below
        self.vars: dict[str, ir.Value] = {}
        self.scopes = [_Scope({}, frozenset())]

    # -- dispatch and memoization -------------------------------------------------------------

    def emit(self, node: loops.Node) -> ir.Value | None:
        return loops.iterate(self.sub(node))

    def sub(self, node: loops.Node) -> loops.Recursive:
        """The emission of ``node`` as a call for ``loops.iterate``: ``yield self.sub(x)``."""
        if isinstance(node, loops.Expr):
            cached = self.lookup(node)
            if cached is not None:
                return cached
        method = getattr(self, f"emit_{type(node).__name__}", None)
        if method is None:
            raise LoweringError(f"no LLVM emitter for {type(node).__name__}: {node}")
        value = method(node)
        if isinstance(value, GeneratorType):
            value = yield from value
        if isinstance(node, loops.Expr):
            self.scopes[-1].remember(node, value)
        return value

    def value(self, e: loops.Expr) -> ir.Value:
        result = self.emit(e)
        assert result is not None  # expressions always produce a value
        return result

    def lookup(self, e: loops.Expr) -> ir.Value | None:
        blocked: frozenset[str] = frozenset()
        for scope in reversed(self.scopes):
            cached = scope.values.get(e)
            if cached is not None and not (e.reads & blocked):
                return cached
            blocked |= scope.written
        return None

    def invalidate(self, names: frozenset[str] | set[str]) -> None:
        """Forget memoized values that read any of ``names`` (they were just written)."""
        for scope in self.scopes:
            scope.forget(names)

    @contextmanager
    def scope(self, written: frozenset[str] = frozenset()) -> Iterator[None]:
        self.scopes.append(_Scope({}, written))
        try:
            yield
        finally:
            self.scopes.pop()
        if written:
            self.invalidate(written)

    @contextmanager
    def counted_loop(self, start: ir.Value, stop: ir.Value, name: str,
                     unroll: bool = True) -> Iterator[ir.Value]:
        """``for name in start..stop``: yields the i64 index inside the body block. With
        ``unroll=False`` the loop carries ``llvm.loop.unroll.disable``."""
        b = self.builder
        header = b.function.append_basic_block(f"{name}.cond")
        body = b.function.append_basic_block(f"{name}.body")
        end = b.function.append_basic_block(f"{name}.end")
        preheader = b.block
        b.branch(header)
        b.position_at_end(header)
        index = b.phi(I64, name=name)
        b.cbranch(b.icmp_signed("<", index, stop), body, end)
        b.position_at_end(body)
        yield index
        following = b.add(index, i64(1), name=f"{name}.next", flags=("nuw", "nsw"))
        index.add_incoming(start, preheader)
        index.add_incoming(following, b.block)
        latch = b.branch(header)
        if not unroll:
            latch.set_metadata("llvm.loop", _loop_id(b.module, "llvm.loop.unroll.disable"))
        b.position_at_end(end)

    def unrolls(self, extent: int) -> bool:
        """Whether LLVM may unroll a loop of `extent` iterations."""
        return self.unroll_below is None or extent < self.unroll_below

    @contextmanager
    def bind(self, name: str, value: ir.Value) -> Iterator[None]:
        previous = self.vars.get(name)
        self.vars[name] = value
        try:
            yield
        finally:
            if previous is None:
                del self.vars[name]
            else:
                self.vars[name] = previous

    # -- memory ---------------------------------------------------------------------------------

    def address(self, buffer: loops.Buffer, index: tuple[loops.Expr, ...]) -> loops.Recursive:
        """Element pointer of a row-major access; verified in bounds, hence nuw/nsw/inbounds."""
        offset: ir.Value = i64(0)
        if len(index) == buffer.ndim:
            for position, e in enumerate(index):
                if position == 0:
                    offset = yield self.sub(e)
                else:
                    scaled = self.builder.mul(offset, i64(buffer.shape[position]),
                                              flags=("nuw", "nsw"))
                    offset = self.builder.add(scaled, (yield self.sub(e)), flags=("nuw", "nsw"))
        else:
            offset = yield self.sub(index[0])
        return self.builder.gep(self.pointers[buffer.name], [offset], inbounds=True,
                                source_etype=MEMORY[buffer.dtype])

    def emit_Load(self, e: loops.Load) -> loops.Recursive:
        pointer = yield from self.address(e.buffer, e.index)
        value = self.builder.load(pointer, typ=MEMORY[e.dtype], align=ALIGN[e.dtype])
        if e.dtype == "i1":     # any nonzero byte is true, as NumPy reads a bool
            return self.builder.icmp_unsigned("!=", value, ir.Constant(MEMORY["i1"], 0))
        return value

    def emit_Store(self, s: loops.Store) -> loops.Recursive:
        value = yield self.sub(s.value)
        pointer = yield from self.address(s.buffer, s.index)
        if s.buffer.dtype == "i1":
            value = self.builder.zext(value, MEMORY["i1"])
        self.builder.store(value, pointer, align=ALIGN[s.buffer.dtype])
        self.invalidate({s.buffer.name})

    def emit_Check(self, s: loops.Check) -> loops.Recursive:
        # the function returns i32 (codegen.llvm.module): 0 when it ran to the end
        ok = yield self.sub(s.cond)
        with self.builder.if_then(self.builder.not_(ok), likely=False):
            self.builder.ret(ir.Constant(I32, s.code))

    def emit_Accumulate(self, s: loops.Accumulate) -> loops.Recursive:
        value = yield self.sub(s.value)
        pointer = yield from self.address(s.buffer, s.index)
        dtype = s.buffer.dtype
        old = self.builder.load(pointer, typ=TYPES[dtype], align=ALIGN[dtype])
        self.builder.store(self.combine(s.kind, old, value, dtype, ()), pointer, align=ALIGN[dtype])
        self.invalidate({s.buffer.name})

    def combine(self, kind: str, acc: ir.Value, value: ir.Value, dtype: str,
                flags: tuple[str, ...]) -> ir.Value:
        """acc + value, or the NaN-propagating max/min (llvm.maximum/minimum on floats)."""
        if kind == "sum":
            if dtype in INTS:
                return self.builder.add(acc, value)
            return self.builder.fadd(acc, value, flags=flags)
        prefix = ("s" if dtype in INTS else "") + ("max" if kind == "max" else "min")
        name = f"llvm.{prefix}imum" if dtype not in INTS else f"llvm.{prefix}"
        fn = declare(self.builder.module, f"{name}.{dtype}", TYPES[dtype], [TYPES[dtype]] * 2)
        return self.builder.call(fn, [acc, value])

    # -- statements -----------------------------------------------------------------------------

    def emit_Loop(self, s: loops.Loop) -> loops.Recursive:
        if s.parallel:
            raise LoweringError(f"parallel loop {s.var.name} must be outlined by the module "
                                "builder (only top-level loops may be parallel)")
        yield from self._serial_loop(s, i64(0), i64(s.extent))

    def serial_loop(self, s: loops.Loop, start: ir.Value, stop: ir.Value) -> None:
        loops.iterate(self._serial_loop(s, start, stop))

    def _serial_loop(self, s: loops.Loop, start: ir.Value, stop: ir.Value) -> loops.Recursive:
        unroll = not self.call_math and self.unrolls(s.extent)
        with self.scope(written_buffers(s.body)), \
                self.counted_loop(start, stop, s.var.name, unroll) as i:
            with self.bind(s.var.name, i):
                for child in s.body:
                    yield self.sub(child)

    def emit_Gemm(self, g: loops.Gemm) -> None:
        if self.gemm == "blas":
            gemm.call_blas(self, g)
        elif gemm.runs_native(self.gemm, g):
            # inside a parallel loop there is no threads value: the product runs on this
            # thread alone (the loop already uses every core)
            gemm.call_native(self, g, self.threads if self.threads is not None else i64(1))
        else:
            gemm.emit_loops(self, g)
        self.invalidate({g.c.name})

    def emit_DirectConv(self, s: loops.DirectConv) -> None:
        if self.gemm == "loops":
            direct_conv.emit_loops(self, s)
        else:
            direct_conv.call_native(self, s)
        self.invalidate({s.out.name})

    # -- scalar expressions ---------------------------------------------------------------------

    def emit_Const(self, e: loops.Const) -> ir.Value:
        return ir.Constant(TYPES[e.dtype], int(e.value) if e.dtype == "i1" else e.value)

    def emit_Var(self, e: loops.Var) -> ir.Value:
        if e.name not in self.vars:
            raise LoweringError(f"variable {e.name} is not bound here")
        return self.vars[e.name]

    def _arith(self, e: loops.Expr, float_op: str, int_op: str) -> loops.Recursive:
        a = yield self.sub(e.a)  # type: ignore[attr-defined]
        b = yield self.sub(e.b)  # type: ignore[attr-defined]
        op = int_op if e.dtype in INTS else float_op
        return getattr(self.builder, op)(a, b)

    def emit_Add(self, e: loops.Add) -> loops.Recursive:
        return self._arith(e, "fadd", "add")

    def emit_Sub(self, e: loops.Sub) -> loops.Recursive:
        return self._arith(e, "fsub", "sub")

    def emit_Mul(self, e: loops.Mul) -> loops.Recursive:
        return self._arith(e, "fmul", "mul")

    def emit_Div(self, e: loops.Div) -> loops.Recursive:
        return self._arith(e, "fdiv", "fdiv")

    def _floor_parts(self, e: loops.FloorDiv | loops.Mod) -> loops.Recursive:
        # LLVM's sdiv/srem truncate; Python floors: when the remainder is negative (the divisor is
        # a positive constant), step the quotient down by one and the remainder up by d.
        b = self.builder
        a = yield self.sub(e.a)
        d = yield self.sub(e.b)
        remainder = b.srem(a, d)
        return b.sdiv(a, d), remainder, b.icmp_signed("<", remainder, i64(0))

    def emit_FloorDiv(self, e: loops.FloorDiv) -> loops.Recursive:
        quotient, _, negative = yield from self._floor_parts(e)
        return self.builder.sub(quotient, self.builder.zext(negative, I64))

    def emit_Mod(self, e: loops.Mod) -> loops.Recursive:
        _, remainder, negative = yield from self._floor_parts(e)
        return self.builder.select(negative, self.builder.add(remainder, (yield self.sub(e.b))),
                                   remainder)

    def emit_Neg(self, e: loops.Neg) -> loops.Recursive:
        x = yield self.sub(e.x)
        if e.dtype in INTS:
            return self.builder.sub(ir.Constant(TYPES[e.dtype], 0), x)
        return self.builder.fneg(x)

    def _pick(self, e: loops.FMax | loops.FMin, op: str) -> loops.Recursive:
        # np.maximum(a, b) is `a if (a > b or isnan(a)) else b`: NaN from either side wins, and
        # on ties (including -0.0 vs 0.0) the second operand is returned, exactly as NumPy does.
        b = self.builder
        x = yield self.sub(e.a)
        y = yield self.sub(e.b)
        if e.dtype in INTS:
            return b.select(b.icmp_signed(op, x, y), x, y)
        pick_x = b.or_(b.fcmp_ordered(op, x, y), b.fcmp_unordered("uno", x, x))
        return b.select(pick_x, x, y)

    def emit_FMax(self, e: loops.FMax) -> loops.Recursive:
        return self._pick(e, ">")

    def emit_FMin(self, e: loops.FMin) -> loops.Recursive:
        return self._pick(e, "<")

    def emit_MulAdd(self, e: loops.MulAdd) -> loops.Recursive:
        return self._intrinsic("fmuladd", e, e.a, e.b, e.c)

    def _intrinsic(self, name: str, e: loops.Expr, *args: loops.Expr) -> loops.Recursive:
        t = TYPES[e.dtype]
        fn = declare(self.builder.module, f"llvm.{name}.{e.dtype}", t, [t] * len(args))
        values = []
        for a in args:
            values.append((yield self.sub(a)))
        return self.builder.call(fn, values)

    def emit_Sqrt(self, e: loops.Sqrt) -> loops.Recursive:
        return self._intrinsic("sqrt", e, e.x)

    def emit_Abs(self, e: loops.Abs) -> loops.Recursive:
        if e.dtype in INTS:     # wraps at the most negative int, as NumPy's abs
            x = yield self.sub(e.x)
            negative = self.builder.icmp_signed("<", x, ir.Constant(TYPES[e.dtype], 0))
            return self.builder.select(negative, self.builder.neg(x), x)
        return (yield from self._intrinsic("fabs", e, e.x))

    def emit_Floor(self, e: loops.Floor) -> loops.Recursive:
        return self._intrinsic("floor", e, e.x)

    def emit_Ceil(self, e: loops.Ceil) -> loops.Recursive:
        return self._intrinsic("ceil", e, e.x)

    def emit_RoundEven(self, e: loops.RoundEven) -> loops.Recursive:
        return self._intrinsic("roundeven", e, e.x)

    def emit_Pow(self, e: loops.Pow) -> loops.Recursive:
        return self._intrinsic("pow", e, e.a, e.b)  # libm pow: C99 semantics, as np.power

    def _math(self, name: str, e: loops.Expr) -> loops.Recursive:
        function = called_math_function if self.call_math else math_function
        fn = function(self.builder.module, name, e.dtype)
        return self.builder.call(fn, [(yield self.sub(e.x))])  # type: ignore[attr-defined]

    def _trig(self, name: str, e: loops.Sin | loops.Cos) -> loops.Recursive:
        # always called: the function branches (codegen.llvm.trig), vector variants included
        fn = trig_function(self.builder.module, name, e.dtype)
        return self.builder.call(fn, [(yield self.sub(e.x))])

    def emit_Exp(self, e: loops.Exp) -> loops.Recursive:
        return self._math("exp", e)

    def emit_Expm1(self, e: loops.Expm1) -> loops.Recursive:
        return self._math("expm1", e)

    def emit_Log(self, e: loops.Log) -> loops.Recursive:
        return self._math("log", e)

    def emit_Tanh(self, e: loops.Tanh) -> loops.Recursive:
        return self._math("tanh", e)

    def emit_Log1p(self, e: loops.Log1p) -> loops.Recursive:
        return self._math("log1p", e)

    def emit_Erf(self, e: loops.Erf) -> loops.Recursive:
        return self._math("erf", e)

    def emit_NormalCdf(self, e: loops.NormalCdf) -> loops.Recursive:
        return self._math("normal_cdf", e)

    def emit_Softplus(self, e: loops.Softplus) -> loops.Recursive:
        return self._math("softplus", e)

    def emit_Sin(self, e: loops.Sin) -> loops.Recursive:
        return self._trig("sin", e)

    def emit_Cos(self, e: loops.Cos) -> loops.Recursive:
        return self._trig("cos", e)

    def _compare(self, e: loops.Expr) -> loops.Recursive:
        a = yield self.sub(e.a)  # type: ignore[attr-defined]
        b = yield self.sub(e.b)  # type: ignore[attr-defined]
        kind = type(e).__name__
        if e.a.dtype in INTS:  # type: ignore[attr-defined]
            return self.builder.icmp_signed(_INT_COMPARE[kind], a, b)
        if e.a.dtype == "i1":  # type: ignore[attr-defined]  (False < True)
            return self.builder.icmp_unsigned(_INT_COMPARE[kind], a, b)
        if kind == "Ne":
            return self.builder.fcmp_unordered("!=", a, b)  # true when either side is NaN
        return self.builder.fcmp_ordered(_FLOAT_COMPARE[kind], a, b)

    emit_Lt = emit_Le = emit_Gt = emit_Ge = emit_Eq = emit_Ne = _compare

    def emit_Select(self, e: loops.Select) -> loops.Recursive:
        cond = yield self.sub(e.cond)
        a = yield self.sub(e.a)
        return self.builder.select(cond, a, (yield self.sub(e.b)))

    def emit_Cast(self, e: loops.Cast) -> loops.Recursive:
        b, x, source, target = self.builder, (yield self.sub(e.x)), e.x.dtype, e.dtype
        t = TYPES[target]
        if target == "i1":  # nonzero (or NaN) is true
            if source in INTS:
                return b.icmp_signed("!=", x, ir.Constant(TYPES[source], 0))
            return b.fcmp_unordered("!=", x, ir.Constant(TYPES[source], 0.0))
        if source == "i1":
            return b.zext(x, t) if target in INTS else b.uitofp(x, t)
        if source in INTS and target in INTS:  # i64 -> i32 keeps the low bits, as NumPy
            return b.trunc(x, t) if target == "i32" else b.sext(x, t)
        if source in INTS:
            return b.sitofp(x, t)
        if target in INTS:  # saturating: NaN -> 0, out of range -> the nearest int
            fn = declare(b.module, f"llvm.fptosi.sat.{target}.{source}", t, [TYPES[source]])
            return b.call(fn, [x])
        return b.fpext(x, t) if target == "f64" else b.fptrunc(x, t)

    def emit_Reduce(self, e: loops.Reduce) -> loops.Recursive:
        b, t = self.builder, TYPES[e.dtype]
        with b.goto_entry_block():
            acc = b.alloca(t, name=f"{e.var.name}.acc")
        initial = {"sum": 0, "max": float("-inf"), "min": float("inf")}[e.kind]
        if e.dtype in INTS and e.kind != "sum":
            bits = t.width - 1
            initial = -(2**bits) if e.kind == "max" else 2**bits - 1
        b.store(ir.Constant(t, initial), acc)
        with self.scope(), self.counted_loop(i64(0), i64(e.extent), e.var.name) as r:
            with self.bind(e.var.name, r):
                term = yield self.sub(e.body)
                old = b.load(acc, typ=t)
                if e.kind != "sum" and e.dtype not in INTS and e.extent < SHORT_REDUCE:
                    picked = b.or_(b.fcmp_ordered(">" if e.kind == "max" else "<", old, term),
                                   b.fcmp_unordered("uno", old, old))
                    b.store(b.select(picked, old, term), acc)
                else:
                    b.store(self.combine(e.kind, old, term, e.dtype, REDUCE_FLAGS), acc)
        return b.load(acc, typ=t)
