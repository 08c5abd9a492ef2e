"""Our own matrix multiply, generated in LLVM IR for a target's vector width (BLIS's scheme).

Input: a float dtype and the vector width of the target (codegen.llvm.target). Output: IR text
defining

    void graphnn_gemm_<f32|f64>_<nn|nt|tn|tt>(i64 m, i64 n, i64 k, ptr a, i64 lda,
                                               ptr b, i64 ldb, ptr c, i64 ldc,
                                               T alpha, T beta, i64 threads)

computing row-major C = alpha op(A) op(B) + beta C (beta == 0 never reads C), where the suffix
says whether op transposes A and B; compiled once per process by codegen.jit like the parallel
runtime (codegen.native.runtime). The IR is built with llvmlite's builder.

The scheme: depth blocks of at most KC (split evenly); for each, B[p:p+KC, :] is packed into
column panels NR wide and A[:, p:p+KC] into row panels MR tall (zero-padded), in parallel, then
work items (a block of MC rows x a chunk of columns) run in parallel on the graphnn_parallel_for
pool, each running the micro-kernel on every MR x NR tile of its block. When a row block is
split into several column chunks its A panels are packed in the shared step; otherwise the one
item packs them right before use, while they are still in cache. The micro-kernel holds
MR x NR/VL vector accumulators, and for each k does one vector
load of B per NR/VL, one broadcast of A per row and MR x NR/VL fused multiply-adds, so the
arithmetic stays in registers. Tiles at the edges are computed whole (the padding is zeros) and
only their valid part is written.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from llvmlite import ir

from codegen.native.runtime import MAX_THREADS

I64, I32, I8 = ir.IntType(64), ir.IntType(32), ir.IntType(8)
PTR = ir.PointerType()
PARALLEL_FOR = "graphnn_parallel_for"


@dataclass(frozen=True)
class Blocking:
    vector: int       # lanes per vector register
    mr: int           # rows of a micro-tile
    nv: int           # vectors per micro-tile row (NR = nv * vector)
    kc: int           # depth block
    mc: int           # rows per work item (a multiple of mr)
    nc: int           # columns per work item (a multiple of NR)

    @property
    def nr(self) -> int:
        return self.nv * self.vector


def blocking(dtype: str, vector_bits: int) -> Blocking:
    """Tile sizes: MR x NR/VL accumulators fit the register file (32 zmm with AVX-512, 16 ymm
    or xmm below it) with room for the B vectors and one broadcast; KC keeps an A and a B
    micro-panel in L1."""
    lanes = vector_bits // (32 if dtype == "f32" else 64)
    if vector_bits >= 512:
        return Blocking(lanes, 12, 2, 256 if dtype == "f32" else 192, 96, 256)
    return Blocking(lanes, 6, 2, 256 if dtype == "f32" else 192, 72, 256)


def clamp_threads(b: ir.IRBuilder, threads: ir.Value) -> ir.Value:
    """`threads` within 1..MAX_THREADS: callers validate it, and native code still never
    divides by, or overflows on, a count it was handed (the kernel entry and our GEMM's)."""
    one, most = ir.Constant(I64, 1), ir.Constant(I64, MAX_THREADS)
    low = b.select(b.icmp_signed("<", threads, one), one, threads)
    return b.select(b.icmp_signed(">", low, most), most, low, name="threads.clamped")


def symbol(dtype: str, trans_a: bool = False, trans_b: bool = False) -> str:
    """graphnn_gemm_<dtype>_<nn|nt|tn|tt>: one entry per operand layout, so that packing
    addresses its operands with constant strides (and vectorizes where memory is contiguous)."""
    return f"graphnn_gemm_{dtype}_{'t' if trans_a else 'n'}{'t' if trans_b else 'n'}"


VARIANTS = [(trans_a, trans_b) for trans_a in (False, True) for trans_b in (False, True)]


def gemm_ir(dtype: str, vector_bits: int, trans_a: bool, trans_b: bool,
            allocator: str = "aligned_alloc") -> str:
    """The IR text of one variant, graphnn_gemm_<dtype>_<layout>, for `vector_bits` vectors
    (one module per variant: a program compiles only the layouts it uses). The packing
    buffers come from `allocator`, a function with aligned_alloc's signature and contract."""
    module = ir.Module(name=symbol(dtype, trans_a, trans_b))
    _Gemm(module, dtype, blocking(dtype, vector_bits), allocator).build(trans_a, trans_b)
    return str(module)


class _Gemm:
    def __init__(self, module: ir.Module, dtype: str, block: Blocking,
                 allocator: str = "aligned_alloc") -> None:
        self.module, self.block = module, block
        self.t = ir.FloatType() if dtype == "f32" else ir.DoubleType()
        self.size = 4 if dtype == "f32" else 8
        self.vec = ir.VectorType(self.t, block.vector)
        self.dtype = dtype
        # fmuladd, not fma: one fused instruction where the target has FMA, a multiply and an
        # add where it has not (x86-64-v2), where llvm.fma would call libm's fmaf per lane
        self.fma = ir.Function(module, ir.FunctionType(self.vec, [self.vec] * 3),
                               f"llvm.fmuladd.v{block.vector}{'f32' if dtype == 'f32' else 'f64'}")
        self.aligned_alloc = ir.Function(module, ir.FunctionType(PTR, [I64, I64]), allocator)
        self.free = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), "free")
        self.parallel = ir.Function(module, ir.FunctionType(
            ir.VoidType(), [PTR, PTR, I64, I64, I64]), PARALLEL_FOR)

    def build(self, trans_a: bool, trans_b: bool) -> None:
        item = _Item(self, trans_a, trans_b).build()
        packer = _Packer(self, trans_a, trans_b).build()
        _Driver(self, item, packer, trans_a, trans_b).build()


class _Builder:
    """A function being built, with counted loops and typed element access."""

    def __init__(self, gemm: _Gemm, function: ir.Function) -> None:
        self.gemm, self.function = gemm, function
        self.b = ir.IRBuilder(function.append_basic_block("entry"))

    @contextlib.contextmanager
    def loop(self, start, stop, step=1, name="i"):
        """for name in range(start, stop, step); yields the index (i64)."""
        b = self.b
        start = start if isinstance(start, ir.Value) else ir.Constant(I64, start)
        stop = stop if isinstance(stop, ir.Value) else ir.Constant(I64, stop)
        before = b.block
        head = self.function.append_basic_block(f"{name}.head")
        body = self.function.append_basic_block(f"{name}.body")
        end = self.function.append_basic_block(f"{name}.end")
        b.branch(head)
        b.position_at_start(head)
        index = b.phi(I64, name)
        index.add_incoming(start, before)
        b.cbranch(b.icmp_signed("<", index, stop), body, end)
        b.position_at_start(body)
        yield index
        following = b.add(index, ir.Constant(I64, step))
        index.add_incoming(following, b.block)
        b.branch(head)
        b.position_at_start(end)

    def element(self, base, index, kind=None):
        return self.b.gep(base, [index], source_etype=kind or self.gemm.t)

    def as_vector(self, pointer):
        """The same address, typed for whole-vector loads and stores."""
        return self.b.bitcast(pointer, self.gemm.vec.as_pointer())

    def min(self, x, y):
        return self.b.select(self.b.icmp_signed("<", x, y), x, y)

    def max(self, x, y):
        return self.b.select(self.b.icmp_signed(">", x, y), x, y)

    def ceil_div(self, x, y):
        return self.b.sdiv(self.b.add(x, self.b.sub(y, self.i64(1))), y)

    def i64(self, value: int) -> ir.Constant:
        return ir.Constant(I64, value)

    def operand(self, base, ld, transposed: bool, row, column):
        """Address of op(X)[row, column]: X[row * ld + column], or X[column * ld + row]."""
        b = self.b
        if transposed:
            return self.element(base, b.add(b.mul(column, ld), row))
        return self.element(base, b.add(b.mul(row, ld), column))


# the job a parallel item reads: slots of the args array the driver fills
JOB = ("m", "n", "k", "a", "lda", "b", "ldb", "c", "ldc", "alpha", "beta", "p0", "kc", "bp",
       "items_n", "nc", "ap", "panels_b", "shared_a")


class _JobFunction(_Builder):
    """void fn(i64 *job, i64 start, i64 end), run by graphnn_parallel_for over a range."""

    def __init__(self, gemm: _Gemm, name: str) -> None:
        kind = ir.FunctionType(ir.VoidType(), [PTR, I64, I64])
        function = ir.Function(gemm.module, kind, f"{symbol(gemm.dtype)}.{name}")
        function.linkage = "internal"
        super().__init__(gemm, function)

    def load_job(self) -> dict:
        return {name: self.slot(name, PTR if name in ("a", "b", "c", "bp", "ap") else
                                self.gemm.t if name in ("alpha", "beta") else I64)
                for name in JOB}

    def slot(self, name: str, kind=I64):
        address = self.element(self.function.args[0], self.i64(JOB.index(name)), I64)
        value = self.b.load(address, typ=I64)
        if kind is PTR:
            return self.b.inttoptr(value, PTR)
        if kind is self.gemm.t:
            return self.b.bitcast(self.b.trunc(value, I32) if self.gemm.size == 4 else value,
                                  self.gemm.t)
        return value


class _Packer(_JobFunction):
    """Packs units start..end of the current depth block, in parallel: units below panels_b
    are B's column panels, the rest A's row panels (packed once, shared by every item)."""

    def __init__(self, gemm: _Gemm, trans_a: bool, trans_b: bool,
                 builder: _JobFunction | None = None) -> None:
        """With `builder`, a helper emitting A packing into that function instead."""
        if builder is None:
            super().__init__(gemm, f"pack_{'t' if trans_a else 'n'}{'t' if trans_b else 'n'}")
        else:
            self.gemm, self.function, self.b, self.host = gemm, builder.function, None, builder
        self.trans_a, self.trans_b = trans_a, trans_b

    def build(self) -> ir.Function:
        b, blk = self.b, self.gemm.block
        job = self.job = self.load_job()
        start, end = self.function.args[1], self.function.args[2]
        split = job["panels_b"]
        full_b = b.sdiv(job["n"], self.i64(blk.nr))
        with self.loop(start, self.min(end, full_b), name="pb.full") as panel:
            self.b_panel(panel, masked=False)
        with self.loop(self.max(start, full_b), self.min(end, split), name="pb.edge") as panel:
            self.b_panel(panel, masked=True)
        self.pack_a(b.sub(self.max(start, split), split), b.sub(self.max(end, split), split))
        b.ret_void()
        return self.function

    def pack_a(self, first, last) -> None:
        """A's row panels first..last of the depth block, the one past the rows masked."""
        if getattr(self, "host", None) is not None:      # emitting into an item function
            self.b, self.job = self.host.b, self.host.job
        b, blk = self.b, self.gemm.block
        full = b.sdiv(self.job["m"], self.i64(blk.mr))
        with self.loop(first, self.min(last, full), name="pa.full") as panel:
            self.a_panel(panel, masked=False)
        with self.loop(self.max(first, full), last, name="pa.edge") as panel:
            self.a_panel(panel, masked=True)

    def b_panel(self, panel, masked: bool) -> None:
        """bp[(panel * kc + kk) * NR + c] = B[p0 + kk, panel * NR + c], 0 past the columns;
        unmasked, the loops have constant strides (contiguous along B's rows when B is not
        transposed, so the copy vectorizes)."""
        self.copy_panel(panel, self.gemm.block.nr, self.job["n"], self.job["bp"], masked,
                        lambda kk, j: self.operand(self.job["b"], self.job["ldb"], self.trans_b,
                                                   kk, j))

    def a_panel(self, panel, masked: bool) -> None:
        """ap[(panel * kc + kk) * MR + r] = A[panel * MR + r, p0 + kk], 0 past the rows."""
        self.copy_panel(panel, self.gemm.block.mr, self.job["m"], self.job["ap"], masked,
                        lambda kk, i: self.operand(self.job["a"], self.job["lda"], self.trans_a,
                                                   i, kk))

    def copy_panel(self, panel, width: int, limit, target, masked: bool, source) -> None:
        """A loop, not Python-unrolled: LLVM vectorizes it where the source is contiguous, and
        the library stays small enough to compile quickly."""
        b, job, g = self.b, self.job, self.gemm
        with self.loop(0, job["kc"], name="pk.k") as kk:
            base = b.mul(b.add(b.mul(panel, job["kc"]), kk), self.i64(width))
            with self.loop(0, width, name="pk.c") as offset:
                index = b.add(b.mul(panel, self.i64(width)), offset)
                if masked:
                    inside = b.icmp_signed("<", index, limit)
                    index = b.select(inside, index, self.i64(0))
                value = b.load(source(b.add(job["p0"], kk), index), typ=g.t)
                if masked:
                    value = b.select(inside, value, ir.Constant(g.t, 0.0))
                b.store(value, self.element(target, b.add(base, offset)))


class _Item(_JobFunction):
    """Work items start..end of one depth block: a block of MC rows x a chunk of nc columns."""

    def __init__(self, gemm: _Gemm, trans_a: bool, trans_b: bool) -> None:
        super().__init__(gemm, f"item_{'t' if trans_a else 'n'}{'t' if trans_b else 'n'}")
        self.trans_a = trans_a
        self.packer = _Packer(gemm, trans_a, trans_b, builder=self)

    def build(self) -> ir.Function:
        b, blk = self.b, self.gemm.block
        job = self.job = self.load_job()
        self.tile = b.alloca(self.gemm.t, blk.mr * blk.nr, name="tile")
        self.tile.align = 64
        start, end = self.function.args[1], self.function.args[2]
        with self.loop(start, end, name="item") as item:
            row_block = b.sdiv(item, job["items_n"])
            column_chunk = b.srem(item, job["items_n"])
            i0 = b.mul(row_block, self.i64(blk.mc))
            j0 = b.mul(column_chunk, job["nc"])
            rows = self.min(self.i64(blk.mc), b.sub(job["m"], i0))
            columns = self.min(job["nc"], b.sub(job["n"], j0))
            with b.if_then(b.icmp_signed("==", job["shared_a"], self.i64(0))):
                first = b.sdiv(i0, self.i64(blk.mr))
                last = b.add(first, self.ceil_div(rows, self.i64(blk.mr)))
                self.packer.pack_a(first, last)
            self.tiles(i0, rows, j0, columns)
        b.ret_void()
        return self.function

    def tiles(self, i0, rows, j0, columns) -> None:
        b, blk = self.b, self.gemm.block
        with self.loop(0, columns, blk.nr, name="jr") as jr:
            with self.loop(0, rows, blk.mr, name="ir") as ir_:
                accumulators = self.micro_kernel(b.add(i0, ir_), b.add(j0, jr))
                self.write(accumulators, b.add(i0, ir_), b.add(j0, jr),
                           self.min(self.i64(blk.mr), b.sub(rows, ir_)),
                           self.min(self.i64(blk.nr), b.sub(columns, jr)))

    def micro_kernel(self, i, j):
        """MR x NR/VL vector accumulators over the depth block, as phi nodes of the k loop."""
        b, blk, job, g = self.b, self.gemm.block, self.job, self.gemm
        a_panel = self.element(job["ap"], b.mul(b.sdiv(i, self.i64(blk.mr)),
                                                b.mul(job["kc"], self.i64(blk.mr))))
        b_panel = self.element(job["bp"], b.mul(b.sdiv(j, self.i64(blk.nr)),
                                                b.mul(job["kc"], self.i64(blk.nr))))
        before = b.block
        head = self.function.append_basic_block("kk.head")
        body = self.function.append_basic_block("kk.body")
        end = self.function.append_basic_block("kk.end")
        b.branch(head)
        b.position_at_start(head)
        kk = b.phi(I64, "kk")
        kk.add_incoming(self.i64(0), before)
        zero = ir.Constant(g.vec, [0.0] * blk.vector)
        acc = [[b.phi(g.vec, f"acc{r}_{v}") for v in range(blk.nv)] for r in range(blk.mr)]
        for row in acc:
            for phi in row:
                phi.add_incoming(zero, before)
        b.cbranch(b.icmp_signed("<", kk, job["kc"]), body, end)
        b.position_at_start(body)
        b_row = self.element(b_panel, b.mul(kk, self.i64(blk.nr)))
        vectors = []
        for v in range(blk.nv):
            load = b.load(self.as_vector(self.element(b_row, self.i64(v * blk.vector))),
                          typ=g.vec)
            load.align = 64
            vectors.append(load)
        a_row = self.element(a_panel, b.mul(kk, self.i64(blk.mr)))
        updated = []
        for r in range(blk.mr):
            scalar = b.load(self.element(a_row, self.i64(r)), typ=g.t)
            splat = self.splat(scalar)
            updated.append([b.call(g.fma, [splat, vectors[v], acc[r][v]])
                            for v in range(blk.nv)])
        following = b.add(kk, self.i64(1))
        kk.add_incoming(following, b.block)
        for r in range(blk.mr):
            for v in range(blk.nv):
                acc[r][v].add_incoming(updated[r][v], b.block)
        b.branch(head)
        b.position_at_start(end)
        return acc

    def write(self, acc, i, j, rows, columns) -> None:
        """C[i:i+rows, j:j+columns] = alpha acc + beta C (beta == 0: C is not read): whole
        vectors for a full tile, element by element through a stack tile at the edges."""
        b, blk = self.b, self.gemm.block
        full = b.and_(b.icmp_signed("==", rows, self.i64(blk.mr)),
                      b.icmp_signed("==", columns, self.i64(blk.nr)))
        with b.if_else(full) as (whole, edge):
            with whole:
                self.write_full(acc, i, j)
            with edge:
                self.write_edge(acc, i, j, rows, columns)

    def write_full(self, acc, i, j) -> None:
        b, blk, job, g = self.b, self.gemm.block, self.job, self.gemm
        alpha = self.splat(job["alpha"])
        beta = self.splat(job["beta"])
        read_c = b.fcmp_ordered("!=", job["beta"], ir.Constant(g.t, 0.0))
        for r in range(blk.mr):
            row = b.add(b.mul(b.add(i, self.i64(r)), job["ldc"]), j)
            for v in range(blk.nv):
                target = self.as_vector(self.element(job["c"], b.add(row, self.i64(
                    v * blk.vector))))
                scaled = b.fmul(alpha, acc[r][v])
                with b.if_else(read_c) as (keep, overwrite):
                    with keep:
                        old = b.load(target, typ=g.vec)
                        old.align = self.gemm.size
                        b.store(b.call(g.fma, [beta, old, scaled]), target).align = g.size
                    with overwrite:
                        b.store(scaled, target).align = g.size

    def splat(self, scalar):
        b, g = self.b, self.gemm
        vector = b.insert_element(ir.Constant(g.vec, ir.Undefined), scalar, ir.Constant(I32, 0))
        lanes = ir.Constant(ir.VectorType(I32, g.block.vector), [0] * g.block.vector)
        return b.shuffle_vector(vector, ir.Constant(g.vec, ir.Undefined), lanes)

    def write_edge(self, acc, i, j, rows, columns) -> None:
        b, blk, job, g = self.b, self.gemm.block, self.job, self.gemm
        for r in range(blk.mr):
            for v in range(blk.nv):
                slot = self.element(self.tile, self.i64(r * blk.nr + v * blk.vector))
                b.store(acc[r][v], self.as_vector(slot)).align = 64
        read_c = b.fcmp_ordered("!=", job["beta"], ir.Constant(g.t, 0.0))
        with self.loop(0, rows, name="wr") as r:
            with self.loop(0, columns, name="wc") as c:
                value = b.load(self.element(self.tile, b.add(b.mul(r, self.i64(blk.nr)), c)),
                               typ=g.t)
                target = self.element(job["c"], b.add(b.mul(b.add(i, r), job["ldc"]),
                                                      b.add(j, c)))
                scaled = b.fmul(job["alpha"], value)
                with b.if_then(read_c):
                    old = b.load(target, typ=g.t)
                    b.store(b.fadd(scaled, b.fmul(job["beta"], old)), target)
                with b.if_then(b.not_(read_c)):
                    b.store(scaled, target)


class _Driver(_Builder):
    """The exported entry: depth blocks, B packing, parallel work items."""

    def __init__(self, gemm: _Gemm, item: ir.Function, packer: ir.Function, trans_a: bool,
                 trans_b: bool) -> None:
        t = gemm.t
        kind = ir.FunctionType(ir.VoidType(), [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64,
                                               t, t, I64])
        name = symbol(gemm.dtype, trans_a, trans_b)
        super().__init__(gemm, ir.Function(gemm.module, kind, name))
        self.item, self.packer = item, packer

    def build(self) -> None:
        b, blk, g = self.b, self.gemm.block, self.gemm
        (m, n, k, a, lda, bm, ldb, c, ldc, alpha, beta, threads) = self.function.args
        threads = clamp_threads(b, threads)
        nothing = b.or_(b.icmp_signed("<=", m, self.i64(0)), b.icmp_signed("<=", n,
                                                                            self.i64(0)))
        done = self.function.append_basic_block("empty")
        work = self.function.append_basic_block("work")
        b.cbranch(nothing, done, work)
        b.position_at_start(done)
        b.ret_void()
        b.position_at_start(work)
        panels = self.ceil_div(n, self.i64(blk.nr))
        panels_a = self.ceil_div(m, self.i64(blk.mr))
        # 64-byte aligned (the micro-kernel's aligned vector loads): NR * KC * size and
        # MR * KC * size are multiples of 64, as aligned_alloc requires of the size
        bp = b.call(g.aligned_alloc, [self.i64(64), b.mul(b.mul(
            panels, self.i64(blk.nr * blk.kc)), self.i64(g.size))])
        ap = b.call(g.aligned_alloc, [self.i64(64), b.mul(b.mul(
            panels_a, self.i64(blk.mr * blk.kc)), self.i64(g.size))])
        job = b.alloca(I64, len(JOB), name="job")
        items_m = self.ceil_div(m, self.i64(blk.mc))
        # columns per item: enough items for two per thread, whole panels, at most NC
        wanted = b.select(b.icmp_signed(">", items_m, self.i64(0)),
                          self.ceil_div(b.mul(threads, self.i64(2)), items_m), self.i64(1))
        nc = b.mul(self.ceil_div(self.ceil_div(n, wanted), self.i64(blk.nr)),
                   self.i64(blk.nr))
        nc = self.min(self.i64(blk.nc), nc)
        items_n = self.ceil_div(n, nc)
        shared_a = b.zext(b.icmp_signed(">", items_n, self.i64(1)), I64)
        fixed = {"m": m, "n": n, "k": k, "a": a, "lda": lda, "b": bm, "ldb": ldb, "c": c,
                 "ldc": ldc, "alpha": alpha, "items_n": items_n, "bp": bp, "nc": nc, "ap": ap,
                 "panels_b": panels, "shared_a": shared_a}
        for name, value in fixed.items():
            self.store_slot(job, name, value)
        # depth blocks of even size (784 = 4 x 196, not 256 + 256 + 256 + 16); k == 0 still
        # scales C by beta: one depth block of zeros
        blocks = b.select(b.icmp_signed("<=", k, self.i64(0)), self.i64(1),
                          self.ceil_div(k, self.i64(blk.kc)))
        depth = self.ceil_div(k, blocks)
        with self.loop(0, blocks, name="pc") as block:
            p0 = b.mul(block, depth)
            kc = b.select(b.icmp_signed("<=", k, self.i64(0)), self.i64(0),
                          self.min(depth, b.sub(k, p0)))
            first = b.icmp_signed("==", block, self.i64(0))
            self.store_slot(job, "beta", b.select(first, beta, ir.Constant(g.t, 1.0)))
            self.store_slot(job, "p0", p0)
            self.store_slot(job, "kc", kc)
            units = b.add(panels, b.mul(panels_a, shared_a))
            b.call(g.parallel, [self.packer, job, units, self.i64(1), threads])
            b.call(g.parallel, [self.item, job, b.mul(items_m, items_n), self.i64(1), threads])
        b.call(g.free, [bp])
        b.call(g.free, [ap])
        b.ret_void()

    def store_slot(self, job, name, value) -> None:
        b, g = self.b, self.gemm
        if isinstance(value.type, ir.PointerType):
            value = b.ptrtoint(value, I64)
        elif value.type == g.t:
            bits = b.bitcast(value, I32 if g.size == 4 else I64)
            value = b.zext(bits, I64) if g.size == 4 else bits
        b.store(value, self.element(job, self.i64(JOB.index(name)), I64))
