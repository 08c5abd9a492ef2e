"""A direct convolution's micro-kernel with the output channels in the vector lanes.

Input: a float dtype and the vector width of the target (codegen.llvm.target). Output: IR text
defining

    void graphnn_dconv_lanes_<f32|f64>(i64 outs, ptr w, i64 ldw, i64 depth, ptr offsets,
                                       ptr x, i64 rows, i64 cols, i64 row_stride,
                                       ptr out, i64 out_stride, i64 out_row)

computing, for o < outs and each output position p = i * cols + j (i < rows, j < cols),

    out[o * out_stride + p] = sum_{k < depth} w[k * ldw + o] * x[offsets[k] + i * row_stride + j]

the convolution of codegen.native.dconv (the same arguments; out_row must equal cols: the
outputs of a channel are one contiguous run) with the weights stored transposed, a row of
output channels per (input channel, tap) pair k.

Why a second kernel: codegen.native.dconv holds positions of one output row in the lanes, so
a row that is not whole vectors wastes lanes: 14 of 16 on a 14x14 image, 7 of 16 on a 7x7
one. Here a tile is MV vectors of output channels x NP output positions, the positions
counted flat over the image, so they run on from one row into the next and every lane holds
an output channel: each k loads MV vectors of weights (one row of the transposed weights) and
broadcasts NP inputs (one scalar load each, at the position's own address), MV x NP fused
multiply-adds. The lanes past `outs` compute with whatever the padding of w holds and are
never stored, so w must hold readable elements up to k * ldw + outs rounded up to the vector
(codegen.stmts.CHANNEL_PAD: callers round ldw up to 64 bytes, the widest vector).

A tile's accumulators hold positions by channels; they are stored transposed, one run of NP
outputs per channel, through a transpose of log2(VL) rounds of interleaving shuffles. That
costs some 3-5 % of a tile over a depth of 144 (a 3x3 convolution of 16 channels), and too
much for a shallow convolution (few terms per output): callers keep those in
codegen.native.dconv. The last positions of the image (fewer than NP) run as a whole tile,
the positions past the end reading the last one's inputs and stored for none; the last
output channels (outs % (MV VL)) as a tile of as many vectors as they need, each channel
stored only when below `outs`.
"""

from __future__ import annotations

from llvmlite import ir

from codegen.native.dconv import ARGS, POINTERS, _ConvKernel, _Types
from codegen.native.gemm import I32, I64
from codegen.stmts import CHANNEL_PAD

# the arguments are codegen.native.dconv's: codegen.llvm.direct_conv calls either kernel alike
__all__ = ["ARGS", "POINTERS", "dconv_lanes_ir", "pooled_shape", "symbol", "tile_shape"]


def symbol(dtype: str, pooled: bool = False) -> str:
    """The micro-kernel's entry for a dtype (one module per dtype and vector width), or with
    `pooled` the one storing each 2x2 window's maximum (`POOLED`).

    >>> symbol("f64"), symbol("f32", pooled=True)
    ('graphnn_dconv_lanes_f64', 'graphnn_dconv_pool2x2_f32')
    """
    return f"graphnn_dconv_{'pool2x2' if pooled else 'lanes'}_{dtype}"


def tile_shape(vector_bits: int) -> tuple[int, int]:
    """(MV, NP): vectors of output channels and output positions per tile. MV x NP
    accumulators, the MV weight vectors and a broadcast within the registers (AVX2's 16,
    AVX-512's 32), and at least an FMA's latency times its throughput (4 x 2) of them.

    >>> tile_shape(256), tile_shape(512)
    ((2, 6), (2, 12))
    """
    return (2, 12) if vector_bits >= 512 else (2, 6)


def pooled_shape(vector_bits: int) -> tuple[int, int]:
    """(MV, NW) of the pooled kernel: vectors of output channels and 2x2 windows per tile,
    4 NW positions each (the window's four positions reduced to their maximum before the
    transposed store: a quarter of the stores). On the Zen 3, for the MNIST CNN's second
    convolution with its pooling: 2 x 1 (8 accumulators, 2 weight vectors and 4 broadcasts
    per pair) 19.8 us per image, as fast as `tile_shape`'s convolution alone; 1 x 3 (12
    position pointers) 23.2, 1 x 2 24.5.

    >>> pooled_shape(256), pooled_shape(512)
    ((2, 1), (2, 2))
    """
    return (2, 2) if vector_bits >= 512 else (2, 1)


class _Conv(_Types):
    """The types and the tile shape of this kernel."""

    def __init__(self, module: ir.Module, dtype: str, vector_bits: int,
                 shape: tuple[int, int] | None = None) -> None:
        super().__init__(module, dtype, vector_bits)
        if CHANNEL_PAD[dtype] % self.lanes:
            raise ValueError(f"{vector_bits}-bit vectors of {dtype} read past the padding of "
                             f"{CHANNEL_PAD[dtype]} elements that callers leave")
        self.mv, self.np = shape or tile_shape(vector_bits)


def dconv_lanes_ir(dtype: str, vector_bits: int, shape: tuple[int, int] | None = None,
                   pooled: bool = False) -> str:
    """The IR text of graphnn_dconv_lanes_<dtype> (`pooled`: graphnn_dconv_pool2x2_<dtype>)
    for `vector_bits` vectors (`shape`: the tile's (MV, NP), default `tile_shape`, or
    (MV, NW), default `pooled_shape`).

    >>> text = dconv_lanes_ir("f32", 256)
    >>> 'define void @"graphnn_dconv_lanes_f32"(' in text and "<8 x float>" in text
    True
    """
    module = ir.Module(name=symbol(dtype, pooled))
    if pooled:
        shape = shape or pooled_shape(vector_bits)
        shape = (shape[0], 4 * shape[1])
    _Kernel(_Conv(module, dtype, vector_bits, shape), pooled).build()
    return str(module)


class _Kernel(_ConvKernel):
    def __init__(self, conv: _Conv, pooled: bool = False) -> None:
        super().__init__(conv, symbol(conv.dtype, pooled))
        self.pooled = pooled
        # outputs per tile: positions, or 2x2 windows of four positions each
        self.outputs = conv.np // 4 if pooled else conv.np

    def build(self) -> None:
        """Tiles of NP positions along the flattened output; at each, every block of MV
        vectors of channels (the positions' inputs stay in L1 while the weights pass)."""
        b, c, a = self.b, self.conv, self.args
        total = b.mul(a["rows"], a["cols"])
        block = c.mv * c.lanes
        main = b.mul(b.sdiv(a["outs"], self.i64(block)), self.i64(block))
        rest = b.sub(a["outs"], main)
        vectors = b.sdiv(b.add(rest, self.i64(c.lanes - 1)), self.i64(c.lanes))
        with self.loop(0, total, self.outputs, name="p") as p:
            sources = self.windows(p, total) if self.pooled else self.sources(p, total)
            count = self.min(self.i64(self.outputs), b.sub(total, p))
            target = self.element(a["out"], p)
            with self.loop(0, main, block, name="o") as o:
                self.tile(o, c.mv, sources, target, count, None)
            self.cases(vectors, range(1, c.mv + 1), "tail", lambda nv: self.tile(
                main, nv, sources, target, count, a["outs"]))
        b.ret_void()

    def sources(self, p, total) -> list[ir.Value]:
        """Where positions p..p+NP read x: position q = i cols + j at x + i row_stride + j,
        (i, j) carried from one position to the next (a division per tile, not per
        position); positions past the last read the last one's."""
        b, a = self.b, self.args
        row, col = b.sdiv(p, a["cols"]), b.srem(p, a["cols"])
        last = b.sub(total, self.i64(1))
        pointers = []
        for n in range(self.conv.np):
            if n:
                stepped = b.add(col, self.i64(1))
                wrap = b.icmp_signed("==", stepped, a["cols"])
                inside = b.icmp_signed("<=", b.add(p, self.i64(n)), last)
                col = b.select(inside, b.select(wrap, self.i64(0), stepped), col)
                row = b.select(inside, b.add(row, b.zext(wrap, I64)), row)
            pointers.append(self.element(a["x"], b.add(b.mul(row, a["row_stride"]), col)))
        return pointers

    def windows(self, p, total) -> list[ir.Value]:
        """Where the four positions of the 2x2 windows of outputs p..p+NW read x: output
        q = i cols + j pools the convolution's positions (2i + r, 2j + s), read at
        x + (2i + r) row_stride + 2j + s; (i, j) carried as in `sources`."""
        b, a = self.b, self.args
        row, col = b.sdiv(p, a["cols"]), b.srem(p, a["cols"])
        last = b.sub(total, self.i64(1))
        pointers = []
        for n in range(self.outputs):
            if n:
                stepped = b.add(col, self.i64(1))
                wrap = b.icmp_signed("==", stepped, a["cols"])
                inside = b.icmp_signed("<=", b.add(p, self.i64(n)), last)
                col = b.select(inside, b.select(wrap, self.i64(0), stepped), col)
                row = b.select(inside, b.add(row, b.zext(wrap, I64)), row)
            corner = b.add(b.mul(b.add(row, row), a["row_stride"]), b.add(col, col))
            for r, s in ((0, 0), (0, 1), (1, 0), (1, 1)):
                pointers.append(self.element(a["x"], b.add(corner, b.add(
                    b.mul(self.i64(r), a["row_stride"]), self.i64(s)))))
        return pointers

    def maximum(self, x, y):
        """NumPy's maximum of two vectors: x where x > y or x is NaN, else y."""
        b = self.b
        return b.select(b.or_(b.fcmp_ordered(">", x, y), b.fcmp_unordered("uno", x, x)), x, y)

    def tile(self, o, nv: int, sources, target, count, outs) -> None:
        """Output channels o..o + nv VL at the NP positions from `target`, reading
        `sources`: the accumulators over the depth, then stored (the first `count`
        positions; with `outs` given, only the channels below it)."""
        b, c, a = self.b, self.conv, self.args
        with self.accumulating(a["depth"], nv, c.np, "k") as (k, acc, updated):
            shift = b.load(self.element(a["offsets"], k, I64), typ=I64)
            weights = self.element(a["w"], b.add(b.mul(k, a["ldw"]), o))
            vectors = []
            for v in range(nv):
                load = b.load(self.as_vector(self.element(weights, self.i64(v * c.lanes))),
                              typ=c.vec)
                load.align = c.size
                vectors.append(load)
            # each broadcast feeds its FMAs at once: built all first, the broadcasts stay
            # live together and spill (AVX2 has 16 registers for MV x NP accumulators and MV
            # weights)
            for n, source in enumerate(sources):
                splat = self.splat(b.load(self.element(source, shift), typ=c.t))
                for v in range(nv):
                    updated[v][n] = b.call(c.fma, [vectors[v], splat, acc[v][n]])
        if self.pooled:     # each window's maximum, in the order the pooling reduces
            acc = [[self.maximum(self.maximum(row[4 * w], row[4 * w + 1]),
                                 self.maximum(row[4 * w + 2], row[4 * w + 3]))
                    for w in range(self.outputs)] for row in acc]
        # one branch per tile: every channel's outputs, or (the image's last tile) its first
        # `count`
        whole = b.icmp_signed("==", count, self.i64(self.outputs))
        with b.if_else(whole) as (plain, edge):
            with plain:
                self.store(acc, o, target, count, outs, True)
            with edge:
                self.store(acc, o, target, count, outs, False)

    def store(self, acc, o, target, count, outs, whole: bool) -> None:
        """The tile transposed, VL positions at a time: each channel's run of them (when
        below `outs`, if given), all NP (`whole`) or the first `count`."""
        b, c, a = self.b, self.conv, self.args
        undefined = ir.Constant(c.vec, ir.Undefined)
        for v in range(len(acc)):
            for first in range(0, self.outputs, c.lanes):
                chunk = acc[v][first:first + c.lanes]
                size = len(chunk)
                columns = _transpose(b, chunk + [undefined] * (c.lanes - size), c.lanes)
                valid = None if whole else self.max(self.i64(0), self.min(
                    self.i64(size), b.sub(count, self.i64(first))))
                for lane in range(c.lanes):
                    channel = b.add(o, self.i64(v * c.lanes + lane))
                    line = self.element(target, b.add(b.mul(channel, a["out_stride"]),
                                                      self.i64(first)))
                    if outs is None:
                        self.store_run(columns[lane], line, size, valid)
                    else:
                        with b.if_then(b.icmp_signed("<", channel, outs)):
                            self.store_run(columns[lane], line, size, valid)

    def store_run(self, column, line, size: int, valid) -> None:
        """The column's first `size` lanes at `line`, or (`valid` given) its first `valid`."""
        if valid is None:
            self.store_pieces(column, line, size)
        else:
            self.cases(valid, range(1, size + 1), "part",
                       lambda n: self.store_pieces(column, line, n))


def _transpose(b: ir.IRBuilder, rows: list[ir.Value], lanes: int) -> list[ir.Value]:
    """The columns of the lanes x lanes matrix whose rows are `rows`. Eight lanes (AVX2's
    float32): the shuffles within 128-bit halves and one exchange of halves that x86 does
    in one instruction each (`_transpose8`). Otherwise log2(lanes) rounds, each
    interleaving row r with row r + lanes/2, their first halves into row 2r and their
    second halves into row 2r + 1 (log2 n such perfect shuffles transpose an n x n matrix:
    element (r, l) moves to (l, r))."""
    if lanes == 8:
        return _transpose8(b, rows)
    kind = ir.VectorType(I32, lanes)
    half = lanes // 2
    low = ir.Constant(kind, [v for n in range(half) for v in (n, lanes + n)])
    high = ir.Constant(kind, [v for n in range(half, lanes) for v in (n, lanes + n)])
    for _ in range(lanes.bit_length() - 1):
        paired = []
        for r in range(half):
            paired += [b.shuffle_vector(rows[r], rows[r + half], low),
                       b.shuffle_vector(rows[r], rows[r + half], high)]
        rows = paired
    return rows


def _transpose8(b: ir.IRBuilder, rows: list[ir.Value]) -> list[ir.Value]:
    """An 8 x 8 transpose in 24 two-input shuffles: pairs of rows interleaved within each
    128-bit half (unpcklps/unpckhps), pairs of those combined two elements at a time
    (shufps), then the halves exchanged (vperm2f128). The perfect shuffles of `_transpose`
    cross the halves at every round, which AVX2 does in several instructions."""
    def shuffle(x, y, mask):
        return b.shuffle_vector(x, y, ir.Constant(ir.VectorType(I32, 8), mask))
    pairs = []
    for r in range(0, 8, 2):
        pairs += [shuffle(rows[r], rows[r + 1], [0, 8, 1, 9, 4, 12, 5, 13]),
                  shuffle(rows[r], rows[r + 1], [2, 10, 3, 11, 6, 14, 7, 15])]
    quads = []
    for x, y in ((0, 2), (1, 3), (4, 6), (5, 7)):
        quads += [shuffle(pairs[x], pairs[y], [0, 1, 8, 9, 4, 5, 12, 13]),
                  shuffle(pairs[x], pairs[y], [2, 3, 10, 11, 6, 7, 14, 15])]
    return [shuffle(quads[r], quads[r + 4], [0, 1, 2, 3, 8, 9, 10, 11]) for r in range(4)] + \
        [shuffle(quads[r], quads[r + 4], [4, 5, 6, 7, 12, 13, 14, 15]) for r in range(4)]
