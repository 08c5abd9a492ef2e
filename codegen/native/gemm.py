"""Our own matrix multiply, generated in LLVM IR for a target's vector width (BLIS's scheme).

Input: a float dtype and the vector width of the target (codegen.llvm.target). Output: IR text
defining

    void graphnn_gemm_<f32|f64>_<nn|nt|tn|tt>(i64 m, i64 n, i64 k, ptr a, i64 lda,
                                               ptr b, i64 ldb, ptr c, i64 ldc,
                                               T alpha, T beta, i64 threads,
                                               ptr d, ptr bias, i64 flags)

computing row-major C = epilogue(alpha op(A) op(B) + beta D + bias) (beta == 0 never reads D),
where the suffix says whether op transposes A and B. D is C when `d` is null, else a matrix laid
out as C (leading dimension ldc): the SGD update w - lr g is one product writing straight into the
output, never a pass over the gradient. `bias` (null: none) is a vector added along the rows
(bias[j] to column j); flags bit 0 (RELU) clamps the result at 0 (NaN stays NaN), bit 1 (PACKED)
says `b` holds op(B) already packed by `pack_b` (a constant operand packed once, at compile
time, not on every call; ldb is then unused). The epilogue is applied as each tile of the last
depth block is stored, so the result is written once. Compiled once per process by
codegen.jit like the parallel runtime (codegen.native.runtime). The IR is built with
llvmlite's builder.

The scheme: depth blocks of at most KC (split evenly); for each, B[p:p+KC, :] is packed into
column panels NR wide and A[:, p:p+KC] into row panels MR tall (zero-padded), in parallel, then
work items (a block of MC rows x a chunk of columns) run in parallel on the graphnn_parallel_for
pool, each running the micro-kernel on every MR x NR tile of its block. When a row block is
split into several column chunks its A panels are packed in the shared step; otherwise the one
item packs them right before use, while they are still in cache. The micro-kernel holds
MR x NR/VL vector accumulators, and for each k does one vector
load of B per NR/VL, one broadcast of A per row and MR x NR/VL fused multiply-adds, so the
arithmetic stays in registers. A whole tile is written from the registers; tiles at the edges
are computed whole (the padding is zeros) and only their valid part is written, in masked
vector stores. The matrix's last rows run as one or two short tiles of 2/3 MR rows when they
fit (a 32-row product computes 32 rows, not 36 with AVX-512's 12-row tiles nor 34 with
AVX2's 6-row ones), their A panels packed 2/3 MR wide. Panels are packed in whole vectors:
along the panel's width where memory runs that way, else VL x VL blocks transposed in
registers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from codegen.cpu_caches import PORTABLE, CacheSizes
from codegen.native.runtime import MAX_THREADS
from codegen.stmts import PACK_WIDTH, pack_strip

I64, I32, I8 = ir.IntType(64), ir.IntType(32), ir.IntType(8)
PTR = ir.PointerType()
PARALLEL_FOR = "graphnn_parallel_for"
RELU, PACKED = 1, 2          # bits of the flags argument
# A prepacked B is padded to PACK_WIDTH columns, whatever the target's NR (which divides it),
# in panels of one cache line (codegen.stmts.pack_strip): the micro-kernel reads each vector's
# panel at a stride of one line, so one packed constant serves AVX2 and AVX-512 code alike and
# the plan that holds it stays target-free. (Panels 64 wide, an AVX-512 tile's B rows were 256
# bytes apart and used half of L1's sets; 32 wide, an AVX2 tile's were 128 apart.)
# depth block per dtype, the same for every vector width (pack_b's layout depends on it)
DEPTH_BLOCK = {"f32": 256, "f64": 192}


# the largest work item's row count: larger measured no faster (48 to 384 rows within 3% on one
# thread of a Zen 5, 1 MiB L2, for products from 64x784x256 to 2048^3) and splits a product into
# fewer items to spread over threads
MC_MOST = {512: 96, 256: 72}
KC_LEAST = 64               # a shallower depth block pays the C tile's reload too often


@dataclass(frozen=True)
class Blocking:
    vector: int       # lanes per vector register
    mr: int           # rows of a micro-tile
    nv: int           # vectors per micro-tile row (NR = nv * vector)
    kc: int           # depth block of a B the GEMM packs itself
    mc: int           # rows per work item (a multiple of mr)
    nc: int           # columns per work item (a multiple of NR)
    pack_depth: int   # depth block of a B packed ahead by pack_b (DEPTH_BLOCK, any target)

    @property
    def short(self) -> int:
        """Rows of a short tile (the matrix's last rows, when they fit in one or two)."""
        return self.mr * 2 // 3

    @property
    def nr(self) -> int:
        return self.nv * self.vector

    @property
    def depth_most(self) -> int:
        """The deepest depth block either kind of B may bring (what A's panels are sized for)."""
        return max(self.kc, self.pack_depth)


def blocking(dtype: str, vector_bits: int, caches: CacheSizes = PORTABLE) -> Blocking:
    """Tile sizes for a target's vector width and a CPU's caches (codegen.cpu_caches).

    MR x NR/VL accumulators fit the register file (32 zmm with AVX-512, 16 ymm or xmm below it)
    with room for the B vectors and one broadcast. A work item runs its column panels in the
    outer loop and its row tiles in the inner one, so:

    - KC: the B micro-panel (KC x NR), reread for every MR rows, stays in L1 with a third of L1
      left for the A micro-panel streaming past it and the C tile: KC * NR * size <= 2/3 L1d,
      a multiple of 8, at most DEPTH_BLOCK (the prepacked layout's depth, which a B packed
      ahead keeps whatever the caches: the plan that holds it is target-free).
    - MC: the item's A block (MC x KC), reread for every column panel, fills at most half of
      L2, the other half left to the B panels passing through; at most MC_MOST.

    >>> big = blocking("f32", 512, CacheSizes(l1_data=48 << 10, l2=1 << 20))
    >>> (big.mr, big.nr, big.kc, big.mc)
    (12, 32, 256, 96)
    >>> small = blocking("f32", 512, CacheSizes(l1_data=32 << 10, l2=64 << 10))
    >>> (small.kc, small.mc, small.pack_depth)
    (168, 48, 256)
    """
    lanes = vector_bits // (32 if dtype == "f32" else 64)
    size = 4 if dtype == "f32" else 8
    mr, nv = (12, 2) if vector_bits >= 512 else (6, 2)
    nr = nv * lanes
    kc = caches.l1_data * 2 // 3 // (nr * size) // 8 * 8
    kc = max(KC_LEAST, min(DEPTH_BLOCK[dtype], kc))
    mc = caches.l2 // 2 // (kc * size) // mr * mr
    mc = max(mr, min(MC_MOST[512 if vector_bits >= 512 else 256], mc))
    return Blocking(lanes, mr, nv, kc, mc, 256, DEPTH_BLOCK[dtype])


def depth_blocks(k: int, dtype: str) -> list[tuple[int, int]]:
    """(start, depth) of each depth block: ceil(k / KC) blocks of even size (784 = 4 x 196,
    not 256 + 256 + 256 + 16), as the driver splits them."""
    kc = DEPTH_BLOCK[dtype]
    depth = -(-k // max(-(-k // kc), 1)) if k > 0 else 0
    return [(p0, min(depth, k - p0)) for p0 in range(0, k, depth)] if k > 0 else []


def pack_b(b: np.ndarray, dtype: str) -> np.ndarray:
    """op(B), a (k, n) array, in the panel layout the GEMM reads with the PACKED flag: the
    columns padded with zeros to n_padded, a multiple of PACK_WIDTH, and for each depth block
    (p0, kc), panel P holds rows p0..p0+kc of columns P*S..P*S+S (S = pack_strip(dtype), one
    cache line), row after row, at element p0 * n_padded + P * kc * S.

    >>> pack_b(np.arange(6.0).reshape(2, 3), "f64")[:4].tolist()
    [0.0, 1.0, 2.0, 0.0]
    """
    k, n = b.shape
    strip = pack_strip(dtype)
    padded = np.zeros((k, -(-n // PACK_WIDTH) * PACK_WIDTH), dtype=b.dtype)
    padded[:, :n] = b
    panels = padded.shape[1] // strip
    parts = [padded[p0:p0 + kc].reshape(kc, panels, strip).transpose(1, 0, 2).ravel()
             for p0, kc in depth_blocks(k, dtype)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=b.dtype)


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


def gemm_ir(dtype: str, vector_bits: int,
            layouts: Sequence[tuple[bool, bool]] = tuple(VARIANTS),
            allocator: str = "aligned_alloc", caches: CacheSizes = PORTABLE) -> str:
    """The IR text of the GEMM for one dtype and `vector_bits` vectors: the entry
    graphnn_gemm_<dtype>_<layout> of each (trans_a, trans_b) in `layouts` (default: all
    four), blocked for `caches`. The entries are small drivers over shared functions: the
    micro-kernel's work items and the panel packers, which read the layout from the job (a
    branch per panel) and are compiled once for every layout. With all four layouts the module
    compiles in 0.17 s from an empty cache (float32, AVX-512), where a module per layout over
    a shared micro-kernel module took 0.08 s for the micro-kernel and 0.03-0.07 s per layout
    (an MLP training step needs three). The packing buffers come from `allocator`, a function with
    aligned_alloc's signature and contract."""
    module = ir.Module(name=f"graphnn_gemm_{dtype}")
    gemm = _Gemm(module, dtype, blocking(dtype, vector_bits, caches), allocator)
    gemm.build(sorted(set(layouts)))
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
        # masked vector loads and stores for the edge tiles: lanes masked off touch no memory
        suffix = f"v{block.vector}{'f32' if dtype == 'f32' else 'f64'}.p0"
        self.mask = ir.VectorType(ir.IntType(1), block.vector)
        self.masked_load = ir.Function(module, ir.FunctionType(
            self.vec, [PTR, I32, self.mask, self.vec]), f"llvm.masked.load.{suffix}")
        self.masked_store = ir.Function(module, ir.FunctionType(
            ir.VoidType(), [self.vec, PTR, I32, self.mask]), f"llvm.masked.store.{suffix}")
        self.aligned_alloc = ir.Function(module, ir.FunctionType(PTR, [I64, I64]), allocator)
        self.free = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), "free")
        self.parallel = ir.Function(module, ir.FunctionType(
            ir.VoidType(), [PTR, PTR, I64, I64, I64]), PARALLEL_FOR)

    def build(self, layouts: list[tuple[bool, bool]]) -> None:
        pack_a = _Panels(self, "a", sorted({trans_a for trans_a, _ in layouts})).build()
        pack_b = _Panels(self, "b", sorted({trans_b for _, trans_b in layouts})).build()
        packer = _Packer(self, pack_a, pack_b).build()
        item = _Item(self, pack_a).build()
        for trans_a, trans_b in layouts:
            _Driver(self, item, packer, trans_a, trans_b).build()


class _Builder:
    """A function being built, with counted loops and typed element access."""

    def __init__(self, gemm: _Gemm, function: ir.Function) -> None:
        self.gemm, self.function = gemm, function
        self.b = ir.IRBuilder(function.append_basic_block("entry"))

    @contextlib.contextmanager
    def loop(self, start, stop, step=1, name="i"):
        """for name in range(start, stop, step); yields the index (i64)."""
        with self._counted(start, stop, step, name, 0, 0) as (index, _, _):
            yield index

    @contextlib.contextmanager
    def accumulating(self, stop, rows: int, cols: int, name: str):
        """for name in range(stop), carrying rows x cols vector accumulators that start at
        zero (a micro-kernel's register tile over the depth). Yields (index, accumulators,
        updated): the body sets updated[r][c] to accumulator (r, c)'s next value; after the
        block the builder is past the loop and the accumulators hold the sums."""
        with self._counted(0, stop, 1, name, rows, cols) as state:
            yield state

    @contextlib.contextmanager
    def _counted(self, start, stop, step, name: str, rows: int, cols: int):
        b, vec = self.b, self.gemm.vec
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
        zero = ir.Constant(vec, [0.0] * vec.count)
        acc = [[b.phi(vec, f"acc{r}_{c}") for c in range(cols)] for r in range(rows)]
        for row in acc:
            for phi in row:
                phi.add_incoming(zero, before)
        b.cbranch(b.icmp_signed("<", index, stop), body, end)
        b.position_at_start(body)
        updated: list[list] = [[None] * cols for _ in range(rows)]
        yield index, acc, updated
        following = b.add(index, ir.Constant(I64, step))
        index.add_incoming(following, b.block)
        for r in range(rows):
            for c in range(cols):
                acc[r][c].add_incoming(updated[r][c], b.block)
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

    def splat(self, scalar, kind=None):
        """`scalar` in every lane of a vector of `kind` (default: the dtype's vector)."""
        b, kind = self.b, kind or self.gemm.vec
        vector = b.insert_element(ir.Constant(kind, ir.Undefined), scalar, ir.Constant(I32, 0))
        lanes = ir.Constant(ir.VectorType(I32, kind.count), [0] * kind.count)
        return b.shuffle_vector(vector, ir.Constant(kind, ir.Undefined), lanes)

    def below(self, count):
        """The lanes whose index is below `count` (an i32)."""
        kind = ir.VectorType(I32, self.gemm.block.vector)
        lanes = ir.Constant(kind, list(range(kind.count)))
        return self.b.icmp_signed("<", lanes, self.splat(count, kind))

    def masked_load(self, pointer, mask):
        """A vector at `pointer`: the masked-off lanes read as 0 and touch no memory (mask
        None: a whole vector)."""
        g = self.gemm
        if mask is None:
            load = self.b.load(self.as_vector(pointer), typ=g.vec)
            load.align = g.size
            return load
        return self.b.call(g.masked_load, [pointer, ir.Constant(I32, g.size), mask,
                                           ir.Constant(g.vec, [0.0] * g.block.vector)])

    def masked_store(self, value, pointer, mask) -> None:
        """The lanes of `value` under `mask` at `pointer`; the others touch no memory (mask
        None: a whole vector)."""
        if mask is None:
            self.b.store(value, self.as_vector(pointer)).align = self.gemm.size
            return
        self.b.call(self.gemm.masked_store, [value, pointer, ir.Constant(I32, self.gemm.size),
                                             mask])


# the job a parallel item reads: slots of the args array the driver fills
JOB = ("m", "n", "k", "a", "lda", "b", "ldb", "c", "ldc", "alpha", "beta", "p0", "kc", "bp",
       "items_n", "nc", "ap", "panels_b", "shared_a", "d", "bias", "has_bias", "relu", "last",
       "pw", "trans_a", "trans_b")
POINTERS = ("a", "b", "c", "bp", "ap", "d", "bias")


class _JobFunction(_Builder):
    """void fn(i64 *job, i64 start, i64 end), run by graphnn_parallel_for over a range."""

    def __init__(self, gemm: _Gemm, name: str) -> None:
        """An internal function, `name` a suffix of its symbol."""
        kind = ir.FunctionType(ir.VoidType(), [PTR, I64, I64])
        function = ir.Function(gemm.module, kind, f"{symbol(gemm.dtype)}.{name}")
        function.linkage = "internal"
        super().__init__(gemm, function)

    def load_job(self) -> dict:
        return {name: self.slot(name, PTR if name in POINTERS else
                                self.gemm.t if name in ("alpha", "beta") else I64)
                for name in JOB}

    def short_tail(self):
        """(two, one) as i1s: whether the matrix's last rows run as two short tiles (its last
        MR + m % MR rows, when they fit in two and the last row block holds them all) or as
        one (its last m % MR rows, when they fit in one); neither: the last MR tile is partial.
        Two short tiles of 4 rows compute a 32-row product's last 8 rows under AVX2, where one
        of 4 after five of 6 computed 34 rows."""
        b, blk, m = self.b, self.gemm.block, self.job["m"]
        left = b.srem(m, self.i64(blk.mr))
        some = b.icmp_signed(">", left, self.i64(0))
        two = ir.Constant(ir.IntType(1), 0)
        if 2 * blk.short > blk.mr:
            in_last_block = b.add(b.srem(b.sub(m, self.i64(1)), self.i64(blk.mc)),
                                  self.i64(1))
            two = b.and_(b.and_(some, b.icmp_signed("<=", left, self.i64(
                2 * blk.short - blk.mr))), b.icmp_signed(">=", in_last_block, b.add(
                    left, self.i64(blk.mr))))
        one = b.and_(b.and_(some, b.icmp_signed("<=", left, self.i64(blk.short))),
                     b.not_(two))
        return two, one

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

    def __init__(self, gemm: _Gemm, pack_a: ir.Function, pack_b: ir.Function) -> None:
        super().__init__(gemm, "pack")
        self.pack_a, self.pack_b = pack_a, pack_b

    def build(self) -> ir.Function:
        b = self.b
        job, start, end = self.function.args
        split = self.slot("panels_b")           # 0 when B comes packed
        b.call(self.pack_b, [job, start, self.min(end, split)])
        b.call(self.pack_a, [job, b.sub(self.max(start, split), split),
                             b.sub(self.max(end, split), split)])
        b.ret_void()
        return self.function


class _Panels(_JobFunction):
    """pack_a(job, first, last) or pack_b: A's row panels (or B's column panels) first..last
    of the current depth block, for each operand layout in `layouts` (the job's trans_a or
    trans_b chooses between two). Not inlined: the packer and the work items call one copy.

    A's panel P: ap[(P * kc + kk) * MR + r] = A[P * MR + r, p0 + kk], 0 past the rows.
    B's panel P: bp[(P * kc + kk) * NR + c] = B[p0 + kk, P * NR + c], 0 past the columns.
    A panel a short tile reads (`short_tail`) is SHORT rows wide: starting at row R, it is
    ap[R * kc + kk * SHORT + r] = A[R + r, p0 + kk]; the last two panels become the two
    short ones (R = (P - 1) MR and (P - 1) MR + SHORT), or the last one the only one."""

    def __init__(self, gemm: _Gemm, which: str, layouts: list[bool]) -> None:
        super().__init__(gemm, f"pack_{which}")
        self.function.attributes.add("noinline")
        self.which, self.layouts = which, layouts

    def build(self) -> ir.Function:
        b = self.b
        job = self.job = self.load_job()
        first, last = self.function.args[1], self.function.args[2]
        if len(self.layouts) == 1:
            self.panels(first, last, self.layouts[0])
        else:
            flag = job[f"trans_{self.which}"]
            with b.if_else(b.icmp_signed("!=", flag, self.i64(0))) as (transposed, plain):
                with plain:
                    self.panels(first, last, False)
                with transposed:
                    self.panels(first, last, True)
        b.ret_void()
        return self.function

    def panels(self, first, last, transposed: bool) -> None:
        b, job, blk = self.b, self.job, self.gemm.block
        if self.which == "a":
            two, one = self.short_tail()
            whole = b.sdiv(job["m"], self.i64(blk.mr))       # the panel of the last rows
        with self.loop(first, last, name=f"p{self.which}") as panel:
            if self.which == "b":
                self.copy_panel(b.mul(panel, self.i64(blk.nr)), blk.nr, job["n"], job["bp"],
                                job["b"], job["ldb"], along=not transposed)
            else:
                self.a_panel(panel, two, one, whole, transposed)

    def a_panel(self, panel, two, one, whole, transposed: bool) -> None:
        """A's panel `panel`: MR rows wide, or SHORT for a short tile (`short_tail`; `whole`
        is the panel of the matrix's last m % MR rows)."""
        b, job, blk = self.b, self.job, self.gemm.block
        short = b.or_(b.and_(two, b.icmp_signed(">=", panel, b.sub(whole, self.i64(1)))),
                      b.and_(one, b.icmp_signed("==", panel, whole)))
        # the second of two short panels starts SHORT rows after the first
        start = b.mul(panel, self.i64(blk.mr))
        start = b.select(b.and_(two, b.icmp_signed("==", panel, whole)),
                         b.sub(start, self.i64(blk.mr - blk.short)), start)
        with b.if_else(short) as (narrow, wide):
            for width, branch in ((blk.short, narrow), (blk.mr, wide)):
                with branch:
                    self.copy_panel(start, width, job["m"], job["ap"], job["a"], job["lda"],
                                    along=transposed)

    def copy_panel(self, start, width: int, limit, target, base, ld, along: bool) -> None:
        """target[start * kc + kk * width + c] = X[p0 + kk, start + c] for kk below kc and c
        below width, 0 where start + c >= limit, where X[kk, c] is
        base[kk * ld + c] (`along`: memory runs along the panel's width) or base[c * ld + kk]
        (it runs along the depth). Whole vectors either way: along the width, a row of the
        panel is a vector or two; along the depth, VL x VL blocks are transposed in registers.
        (Element by element, packing A took 10-14 % of a 32-row product's time.)

        Inside a full panel, a row narrower than whole vectors (A's 6 rows under AVX2, 12
        under AVX-512) is stored whole anyway: the lanes past it spill into the start of the
        panel's next row, which this packer writes afterwards. Masked loads and stores are
        kept for the edges (the last rows of the depth block, a panel past the matrix's
        edge), where a masked-off lane touches no memory and the padding reads 0: AVX2's
        masked loads and stores are slow on AMD's Zen 3 (masked, a 4096x576x64 product spent
        half its time packing A, and packing B was mostly its masked loads).
        """
        b, job = self.b, self.job
        lanes = self.gemm.block.vector
        columns = b.trunc(self.min(self.i64(width), b.sub(limit, start)), I32)
        full = b.icmp_signed("==", columns, ir.Constant(I32, width))
        kc = job["kc"]
        if not along:
            self.transposed(start, width, columns, full, target, base, ld)
            return
        # a full panel's whole vectors load unmasked (on Zen 3 masked loads took most of
        # packing B's time)
        with b.if_else(full) as (whole, edge):
            for inside, branch in ((True, whole), (False, edge)):
                with branch, self.loop(0, kc, name="pk.k") as kk:
                    source = b.add(b.mul(b.add(job["p0"], kk), ld), start)
                    at = b.add(b.mul(start, kc), b.mul(kk, self.i64(width)))
                    for first in range(0, width, lanes):
                        room = width - first
                        mask = (None if inside and room >= lanes else
                                self.below(b.sub(columns, ir.Constant(I32, first))))
                        value = self.masked_load(
                            self.element(base, b.add(source, self.i64(first))), mask)
                        pointer = self.element(target, b.add(at, self.i64(first)))
                        if room >= lanes:
                            self.masked_store(value, pointer, None)
                        elif inside:    # the spill lands in row kk + 1, stored next
                            self.spilling([(value, pointer)], b.icmp_signed(
                                "<", b.add(kk, self.i64(1)), kc), self.below(
                                    ir.Constant(I32, room)))
                        else:
                            self.masked_store(value, pointer, self.below(
                                ir.Constant(I32, room)))

    def transposed(self, start, width: int, columns, full, target, base, ld) -> None:
        """copy_panel where memory runs along the depth: VL x VL blocks (VL rows of depth, VL
        columns of the panel) loaded as rows, transposed in registers and stored as the
        panel's rows. The groups of VL columns run last first, so that a group's spill into
        the next panel row's first columns is overwritten by the groups after it."""
        b, job, g = self.b, self.job, self.gemm
        lanes = g.block.vector
        kc = job["kc"]
        groups = -(-width // lanes)
        none = ir.Constant(g.mask, [0] * lanes)
        with self.loop(0, kc, lanes, name="pk.k") as kk:
            depth = self.below(b.trunc(b.sub(kc, kk), I32))
            # a whole block: a full panel, and a row of the depth block after the block's
            # rows (where the last row's spill lands)
            whole = b.and_(full, b.icmp_signed("<", b.add(kk, self.i64(lanes)), kc))
            # a loop over the panel's groups of VL columns (NR = 32 is two with AVX-512), not
            # an unrolled one: the transposes are most of the packing module's compile time
            with self.loop(0, groups, name="pk.g") as step:
                first = b.mul(b.sub(self.i64(groups - 1), step), self.i64(lanes))
                sources, inside = [], []
                for t in range(lanes):
                    c = b.add(first, self.i64(t))
                    inside.append(b.icmp_signed("<", b.trunc(c, I32), columns))
                    # in a whole block the columns past the panel read its last one instead:
                    # valid memory, and those lanes only spill
                    c = self.min(c, self.i64(width - 1))
                    sources.append(self.element(base, b.add(
                        b.mul(b.add(start, c), ld), b.add(job["p0"], kk))))
                rows = self.loads(whole, sources, [b.select(inside[t], depth, none)
                                                   for t in range(lanes)])
                room = self.below(b.trunc(b.sub(self.i64(width), first), I32))
                stores, masks = [], []
                for q, column in enumerate(self.transpose(rows)):
                    at = b.add(b.add(b.mul(start, kc), b.mul(b.add(kk, self.i64(q)),
                                                             self.i64(width))), first)
                    stores.append((column, self.element(target, at)))
                    masks.append(b.select(b.icmp_signed("<", self.i64(q), b.sub(kc, kk)),
                                          room, none))
                self.spilling(stores, whole, masks)

    def loads(self, whole, pointers, masks) -> list:
        """A vector at each pointer: whole vectors when `whole`, else under its mask."""
        b, g = self.b, self.gemm
        with b.if_else(whole) as (plain, masked):
            with plain:
                values = [self.masked_load(p, None) for p in pointers]
                plain_end = b.block
            with masked:
                masked_values = [self.masked_load(p, m) for p, m in zip(pointers, masks)]
                masked_end = b.block
        merged = []
        for value, other in zip(values, masked_values):
            phi = b.phi(g.vec)
            phi.add_incoming(value, plain_end)
            phi.add_incoming(other, masked_end)
            merged.append(phi)
        return merged

    def spilling(self, stores, whole, masks) -> None:
        """Each (value, pointer) of `stores`: whole vectors when `whole` (their lanes past the
        panel row spill into memory written afterwards), else under its mask (an i1 vector,
        or one for all)."""
        b = self.b
        masks = masks if isinstance(masks, list) else [masks] * len(stores)
        with b.if_else(whole) as (plain, masked):
            for branch, chosen in ((plain, [None] * len(stores)), (masked, masks)):
                with branch:
                    for (value, pointer), mask in zip(stores, chosen):
                        self.masked_store(value, pointer, mask)

    def transpose(self, rows: list) -> list:
        """The VL x VL transpose of `rows` (VL vectors): result[q][t] = rows[t][q]. log2(VL)
        rounds of two-source shuffles, each swapping the off-diagonal blocks of size d."""
        b, lanes = self.b, self.gemm.block.vector
        rows, d = list(rows), lanes // 2
        while d >= 1:
            new = list(rows)
            for i in range(lanes):
                if i & d:
                    continue
                j = i + d
                low = [q if not q & d else lanes + q - d for q in range(lanes)]
                high = [q + d if not q & d else lanes + q for q in range(lanes)]
                new[i] = b.shuffle_vector(rows[i], rows[j], ir.Constant(
                    ir.VectorType(I32, lanes), low))
                new[j] = b.shuffle_vector(rows[i], rows[j], ir.Constant(
                    ir.VectorType(I32, lanes), high))
            rows, d = new, d // 2
        return rows


class _Item(_JobFunction):
    """Work items start..end of one depth block: a block of MC rows x a chunk of nc columns.
    One function for every layout of the module: the layout matters only to the A panels an
    item packs itself (pack_a reads it from the job)."""

    def __init__(self, gemm: _Gemm, pack_a: ir.Function) -> None:
        super().__init__(gemm, "item")
        self.pack_a = pack_a

    def build(self) -> ir.Function:
        b, blk = self.b, self.gemm.block
        job = self.job = self.load_job()
        # the epilogue's terms, read once: whether beta D is read, alpha and beta splatted
        self.read_d = b.fcmp_ordered("!=", job["beta"], ir.Constant(self.gemm.t, 0.0))
        self.alpha, self.beta = self.splat(job["alpha"]), self.splat(job["beta"])
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
                b.call(self.pack_a, [self.function.args[0], first, last])
            self.tiles(i0, rows, j0, columns)
        b.ret_void()
        return self.function

    def tiles(self, i0, rows, j0, columns) -> None:
        """Every MR x NR tile of the item; in the matrix's last row block, its last rows run
        as one or two short tiles of blk.short rows when they fit (`short_tail`): 8 of 12
        rows with AVX-512, so a 32-row product computes 32 rows, not 36, and with AVX2 two
        of 4 after four of 6."""
        b, blk = self.b, self.gemm.block
        two, one = self.short_tail()
        left = b.srem(rows, self.i64(blk.mr))
        tail = b.select(two, b.add(left, self.i64(blk.mr)), b.select(one, left, self.i64(0)))
        tail = b.select(b.icmp_signed("==", b.add(i0, rows), self.job["m"]), tail,
                        self.i64(0))
        main = b.sub(rows, tail)          # rows of MR-row tiles, the last one maybe partial
        with self.loop(0, columns, blk.nr, name="jr") as jr:
            j = b.add(j0, jr)
            width = self.min(self.i64(blk.nr), b.sub(columns, jr))
            with self.loop(0, main, blk.mr, name="ir") as ir_:
                i = b.add(i0, ir_)
                self.write(self.micro_kernel(i, j, blk.mr), i, j,
                           self.min(self.i64(blk.mr), b.sub(main, ir_)), width)
            with self.loop(0, tail, blk.short, name="is") as is_:
                i = b.add(b.add(i0, main), is_)
                self.write_edge(self.micro_kernel(i, j, blk.short), i, j,
                                self.min(self.i64(blk.short), b.sub(tail, is_)), width)

    def micro_kernel(self, i, j, height: int):
        """`height` x NR/VL vector accumulators over the depth block, as phi nodes of the k
        loop: an MR tile reads its rows' MR-wide A panel, a short tile its SHORT-wide one
        (both at ap[i * kc])."""
        b, blk, job, g = self.b, self.gemm.block, self.job, self.gemm
        a_panel = self.element(job["ap"], b.mul(i, job["kc"]))
        # panels pw columns wide (NR, or pack_strip's cache line when prepacked: then an
        # AVX-512 tile reads two side by side), rows pw apart; vector v's columns j + v VL
        # lie in one panel
        pw = job["pw"]
        b_panels = []
        for v in range(blk.nv):
            column = b.add(j, self.i64(v * blk.vector))
            b_panels.append(self.element(job["bp"], b.add(
                b.mul(b.sdiv(column, pw), b.mul(job["kc"], pw)), b.srem(column, pw))))
        with self.accumulating(job["kc"], height, blk.nv, "kk") as (kk, acc, updated):
            vectors = []
            for v in range(blk.nv):
                load = b.load(self.as_vector(self.element(b_panels[v], b.mul(kk, pw))),
                              typ=g.vec)
                # a prepacked constant is a NumPy array: aligned to its element, maybe no more
                load.align = g.size
                vectors.append(load)
            a_row = self.element(a_panel, b.mul(kk, self.i64(height)))
            for r in range(height):
                scalar = b.load(self.element(a_row, self.i64(r)), typ=g.t)
                splat = self.splat(scalar)
                updated[r] = [b.call(g.fma, [splat, vectors[v], acc[r][v]])
                              for v in range(blk.nv)]
        return acc

    def combine(self, scaled, read_d, with_d, at, mask):
        """alpha acc, or with_d(D[at]) when beta != 0. Branch-free (a select, not a diamond
        per vector, which tripled the micro-kernel's compile time): without beta the load
        reads C[at] instead (always valid memory, or masked off) and its value is dropped."""
        b, job = self.b, self.job
        old = self.masked_load(self.element(b.select(read_d, job["d"], job["c"]), at), mask)
        return b.select(read_d, with_d(old), scaled)

    def finish(self, value, column, mask):
        """The epilogue, in the last depth block: + bias[column...] and the ReLU (as the loop
        IR's max(x, 0): NaN stays NaN, -0 becomes 0)."""
        b, job, g = self.b, self.job, self.gemm
        last = b.icmp_signed("!=", job["last"], self.i64(0))
        add_bias = b.and_(last, b.icmp_signed("!=", job["has_bias"], self.i64(0)))
        relu = b.and_(last, b.icmp_signed("!=", job["relu"], self.i64(0)))
        # without a bias the load reads C's first row instead (always valid memory: column
        # is below n, or masked off) and its value is dropped
        bias = self.masked_load(self.element(b.select(add_bias, job["bias"], job["c"]), column),
                                mask)
        value = b.select(add_bias, b.fadd(value, bias), value)
        zero = ir.Constant(g.vec, [0.0] * g.block.vector)
        return b.select(relu, b.select(b.fcmp_unordered(">", value, zero), value, zero), value)

    def write(self, acc, i, j, rows, columns) -> None:
        """C[i:i+rows, j:j+columns] = epilogue(alpha acc + beta D) (beta == 0: D is not read).
        A whole tile (every row and column valid) is written from the registers in whole
        vectors. An edge tile goes through a stack tile: each of the `rows` valid rows in
        vectors masked to the `columns` valid columns (a masked-off lane touches no memory).
        One masked path for both cost about a tenth of the products' time on AMD's Zen 3
        with AVX2 (1024^3: 71-78 GFLOP/s against 85-89, best of 30), nothing measurable with
        AVX-512 on a Zen 5. The short tile takes the edge path only: a second copy of the
        whole path made the module's compile longer for little."""
        b, blk = self.b, self.gemm.block
        whole = b.and_(b.icmp_signed("==", rows, self.i64(len(acc))),
                       b.icmp_signed("==", columns, self.i64(blk.nr)))
        with b.if_else(whole) as (registers, edge):
            with registers:
                for r, row in enumerate(acc):
                    start = b.add(b.mul(b.add(i, self.i64(r)), self.job["ldc"]), j)
                    for v, value in enumerate(row):
                        self.store_vector(value, start, j, v, None)
            with edge:
                self.write_edge(acc, i, j, rows, columns)

    def write_edge(self, acc, i, j, rows, columns) -> None:
        """`write` for a tile at an edge, through a stack tile."""
        b, blk = self.b, self.gemm.block
        for r in range(len(acc)):
            for v in range(blk.nv):
                slot = self.element(self.tile, self.i64(r * blk.nr + v * blk.vector))
                b.store(acc[r][v], self.as_vector(slot)).align = 64
        valid = b.trunc(columns, I32)
        # only a tile at the right edge needs masks (a tile of fewer rows writes whole rows)
        with b.if_else(b.icmp_signed("==", columns, self.i64(blk.nr))) as (wide, narrow):
            for masked, branch in ((False, wide), (True, narrow)):
                with branch, self.loop(0, rows, name="wr") as r:
                    start = b.add(b.mul(b.add(i, r), self.job["ldc"]), j)
                    for v in range(blk.nv):
                        first = v * blk.vector
                        tile = self.element(self.tile, b.add(b.mul(r, self.i64(blk.nr)),
                                                             self.i64(first)))
                        value = b.load(self.as_vector(tile), typ=self.gemm.vec)
                        value.align = self.gemm.size
                        mask = self.below(b.sub(valid, ir.Constant(I32, first))) \
                            if masked else None
                        self.store_vector(value, start, j, v, mask)

    def store_vector(self, value, start, j, v: int, mask) -> None:
        """C[start + v VL ...] (row start, tile column j) = epilogue(alpha value + beta D[...])
        for the lanes under `mask` (None: all)."""
        b, g = self.b, self.gemm
        offset = self.i64(v * g.block.vector)
        at = b.add(start, offset)
        scaled = b.fmul(self.alpha, value)
        value = self.combine(scaled, self.read_d, lambda old: b.call(
            g.fma, [self.beta, old, scaled]), at, mask)
        value = self.finish(value, b.add(j, offset), mask)
        self.masked_store(value, self.element(self.job["c"], at), mask)


class _Driver(_Builder):
    """The exported entry: depth blocks, B packing, parallel work items."""

    def __init__(self, gemm: _Gemm, item: ir.Function, packer: ir.Function, trans_a: bool,
                 trans_b: bool) -> None:
        t = gemm.t
        kind = ir.FunctionType(ir.VoidType(), [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64,
                                               t, t, I64, PTR, PTR, I64])
        name = symbol(gemm.dtype, trans_a, trans_b)
        super().__init__(gemm, ir.Function(gemm.module, kind, name))
        self.item, self.packer = item, packer
        self.trans_a, self.trans_b = trans_a, trans_b

    def build(self) -> None:
        b, blk, g = self.b, self.gemm.block, self.gemm
        (m, n, k, a, lda, bm, ldb, c, ldc, alpha, beta, threads, d, bias,
         flags) = self.function.args
        threads = clamp_threads(b, threads)
        nothing = b.or_(b.icmp_signed("<=", m, self.i64(0)), b.icmp_signed("<=", n,
                                                                            self.i64(0)))
        done = self.function.append_basic_block("empty")
        work = self.function.append_basic_block("work")
        b.cbranch(nothing, done, work)
        b.position_at_start(done)
        b.ret_void()
        b.position_at_start(work)
        packed = b.icmp_signed("!=", b.and_(flags, self.i64(PACKED)), self.i64(0))
        # B's panels to pack per depth block: none when it comes packed
        panels = b.select(packed, self.i64(0), self.ceil_div(n, self.i64(blk.nr)))
        panels_a = self.ceil_div(m, self.i64(blk.mr))
        # 64-byte aligned: NR * KC * size and MR * KC * size are multiples of 64, as
        # aligned_alloc requires of the size (with B packed, a block of size 0 is allowed)
        bp = b.call(g.aligned_alloc, [self.i64(64), b.mul(b.mul(
            panels, self.i64(blk.nr * blk.kc)), self.i64(g.size))])
        ap = b.call(g.aligned_alloc, [self.i64(64), b.mul(b.mul(
            panels_a, self.i64(blk.mr * blk.depth_most)), self.i64(g.size))])
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
        null = ir.Constant(PTR, None)
        has_bias = b.zext(b.icmp_unsigned("!=", bias, null), I64)
        pw = b.select(packed, self.i64(pack_strip(g.dtype)), self.i64(blk.nr))
        fixed = {"m": m, "n": n, "k": k, "a": a, "lda": lda, "b": bm, "ldb": ldb, "c": c,
                 "ldc": ldc, "alpha": alpha, "items_n": items_n, "nc": nc, "ap": ap,
                 "panels_b": panels, "shared_a": shared_a, "bias": bias, "has_bias": has_bias,
                 "relu": b.and_(flags, self.i64(RELU)), "pw": pw,
                 "trans_a": self.i64(int(self.trans_a)),
                 "trans_b": self.i64(int(self.trans_b))}
        for name, value in fixed.items():
            self.store_slot(job, name, value)
        # depth blocks of even size (784 = 4 x 196, not 256 + 256 + 256 + 16); k == 0 still
        # scales C by beta: one depth block of zeros
        # (a B packed ahead comes in pack_b's depth blocks, not in this CPU's)
        most = b.select(packed, self.i64(blk.pack_depth), self.i64(blk.kc))
        blocks = b.select(b.icmp_signed("<=", k, self.i64(0)), self.i64(1),
                          self.ceil_div(k, most))
        depth = self.ceil_div(k, blocks)
        with self.loop(0, blocks, name="pc") as block:
            p0 = b.mul(block, depth)
            kc = b.select(b.icmp_signed("<=", k, self.i64(0)), self.i64(0),
                          self.min(depth, b.sub(k, p0)))
            first = b.icmp_signed("==", block, self.i64(0))
            self.store_slot(job, "beta", b.select(first, beta, ir.Constant(g.t, 1.0)))
            # the first block adds beta D, the later ones the partial sum already in C
            self.store_slot(job, "d", b.select(b.and_(first, b.icmp_unsigned(
                "!=", d, null)), d, c))
            self.store_slot(job, "last", b.zext(b.icmp_signed(
                "==", block, b.sub(blocks, self.i64(1))), I64))
            self.store_slot(job, "p0", p0)
            self.store_slot(job, "kc", kc)
            # prepacked: this block's panels start at row p0 of the padded matrix
            self.store_slot(job, "bp", b.select(packed, self.element(bm, b.mul(
                p0, b.mul(self.ceil_div(n, self.i64(PACK_WIDTH)), self.i64(PACK_WIDTH)))), bp))
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
