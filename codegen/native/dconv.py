"""A direct convolution's micro-kernel, generated in LLVM IR for a target's vector width.

Input: a float dtype and the vector width of the target (codegen.llvm.target). Output: IR text
defining

    void graphnn_dconv_<f32|f64>(i64 outs, ptr w, i64 ldw, i64 depth, ptr offsets,
                                 ptr x, i64 rows, i64 cols, i64 row_stride,
                                 ptr out, i64 out_stride, i64 out_row)

computing, for o < outs, i < rows, j < cols,

    out[o * out_stride + i * out_row + j] =
        sum_{k < depth} w[o * ldw + k] * x[offsets[k] + i * row_stride + j]

which is a convolution of one image at unit stride: k runs over the (input channel, tap) pairs,
offsets[k] is where that pair's input sits relative to the output position (channel c's
plane, tap (p, q) p rows and q columns further), and x is the image with its padding written
out (graphnn/lower/conv_direct.py makes that copy, and a strided convolution's stride phases,
so every tap reads contiguous memory). It is the product of the weights (outs x depth) with
the image's implicit im2col matrix (depth x positions), whose row k is the image shifted by
offsets[k]: no columns are written.

The scheme is our GEMM's (codegen.native.gemm): a tile of MR output channels x NR positions
of one output row stays in MR x NR/VL vector registers over the whole depth; each k loads
NR/VL vectors of the shifted image (plain unaligned loads: the shift is a different address,
not a shuffle) and broadcasts MR weights, MR x NR/VL fused multiply-adds. The loop over k is
one loop over the offsets table, whatever the kernel size, dilation or phases. Tiles run
along the output row (the row's input, C x KH rows, stays in L1 while every block of output
channels passes over it), then down the rows. Rows that fit in one vector (a 16x16 image's
under AVX-512) run in narrow tiles of one vector and more channels (`narrow_shape`) instead
of computing half a tile of nothing. A row's last tile, narrower than NR, is computed whole
and its first positions stored: under a mask with AVX-512, in plain stores of 4, 2 and 1
lanes with AVX2 (whose masked stores are slow on a Zen 3). Its loads read past the row (into
the next one, or the copy's slack): the caller leaves codegen.stmts.CONV_SLACK elements (at
least NR) readable past the last output's taps. The last output channels (outs % MR) run as
a tile of that many rows, or with the last MR in two tiles of about equal height when they
are few (`rows`).
"""

from __future__ import annotations

from llvmlite import ir

from codegen.native.gemm import I32, I64, PTR, _Builder
from codegen.stmts import CONV_SLACK


def symbol(dtype: str) -> str:
    """The micro-kernel's entry for a dtype (one module per dtype and vector width).

    >>> symbol("f32")
    'graphnn_dconv_f32'
    """
    return f"graphnn_dconv_{dtype}"


def tile_shape(vector_bits: int) -> tuple[int, int]:
    """(MR, NV): output channels and vectors of positions per tile. MR x NV accumulators
    leave AVX2's 16 registers room for the NV loads and a broadcast (AVX-512 has 32), and
    are more than an FMA's latency times its throughput (4 x 2 on a Zen 3), so the chains
    never wait: 6 x 2 measured no slower than 4 x 2 on the Zen 3 and is safer where the
    latency is 5 (Haswell).

    >>> tile_shape(256), tile_shape(512)
    ((6, 2), (8, 2))
    """
    return (8, 2) if vector_bits >= 512 else (6, 2)


def narrow_shape(vector_bits: int) -> tuple[int, int]:
    """(MR, 1): the tile of rows that fit in one vector (16 positions or fewer with AVX-512,
    8 with AVX2), where NR = 2 vectors would compute half a tile of nothing (a 16x16 image's
    rows with AVX-512): more output channels instead, each broadcast feeding one FMA (a load
    per FMA, within two loads a cycle).

    >>> narrow_shape(256), narrow_shape(512)
    ((12, 1), (16, 1))
    """
    return (16, 1) if vector_bits >= 512 else (12, 1)


class _Shape:
    """What _Builder reads of the GEMM's blocking: the lanes per vector."""

    def __init__(self, vector: int) -> None:
        self.vector = vector


class _Types:
    """A convolution module's types and its FMA intrinsic, as codegen.native.gemm._Gemm
    holds them (this kernel's and codegen.native.dconv_lanes')."""

    def __init__(self, module: ir.Module, dtype: str, vector_bits: int) -> None:
        self.module, self.dtype = module, dtype
        self.t = ir.FloatType() if dtype == "f32" else ir.DoubleType()
        self.size = 4 if dtype == "f32" else 8
        self.lanes = vector_bits // (8 * self.size)
        self.block = _Shape(self.lanes)
        self.vec = ir.VectorType(self.t, self.lanes)
        self.vector_name = f"v{self.lanes}{dtype}"
        self.fma = ir.Function(module, ir.FunctionType(self.vec, [self.vec] * 3),
                               f"llvm.fmuladd.{self.vector_name}")


class _Conv(_Types):
    """The types, the tile shapes and the masked store of this kernel."""

    def __init__(self, module: ir.Module, dtype: str, vector_bits: int,
                 shape: tuple[int, int] | None = None) -> None:
        super().__init__(module, dtype, vector_bits)
        self.mr, self.nv = shape or tile_shape(vector_bits)
        self.narrow = narrow_shape(vector_bits)[0]
        # AVX-512's masked stores are plain stores under a mask register; AVX2's (vmaskmovps)
        # are slow on a Zen 3, so there a row's partial tile is stored in pieces (store_part)
        self.masked_stores = vector_bits >= 512
        if self.nv * self.lanes > CONV_SLACK[dtype]:
            raise ValueError(f"a tile of {self.nv * self.lanes} positions reads past the "
                             f"slack of {CONV_SLACK[dtype]} that callers leave")
        self.mask = ir.VectorType(ir.IntType(1), self.lanes)
        self.masked_store = ir.Function(module, ir.FunctionType(
            ir.VoidType(), [self.vec, PTR, I32, self.mask]),
            f"llvm.masked.store.{self.vector_name}.p0")


def dconv_ir(dtype: str, vector_bits: int, shape: tuple[int, int] | None = None) -> str:
    """The IR text of graphnn_dconv_<dtype> for `vector_bits` vectors (`shape`: the wide
    tile's (MR, NV), default `tile_shape`; narrow tiles as `narrow_shape`).

    >>> text = dconv_ir("f64", 256)
    >>> 'define void @"graphnn_dconv_f64"(' in text and "<4 x double>" in text
    True
    """
    module = ir.Module(name=symbol(dtype))
    _Kernel(_Conv(module, dtype, vector_bits, shape)).build()
    return str(module)


ARGS = ("outs", "w", "ldw", "depth", "offsets", "x", "rows", "cols", "row_stride", "out",
        "out_stride", "out_row")
POINTERS = ("w", "offsets", "x", "out")


class _ConvKernel(_Builder):
    """A convolution micro-kernel's function (`ARGS`, the pointers noalias) being built, with
    what this kernel and codegen.native.dconv_lanes both use: multi-way branches and stores
    of part of a vector."""

    def __init__(self, conv: _Types, name: str) -> None:
        kinds = [PTR if arg in POINTERS else I64 for arg in ARGS]
        function = ir.Function(conv.module, ir.FunctionType(ir.VoidType(), kinds), name)
        for arg, label in zip(function.args, ARGS):
            arg.name = label
            if label in POINTERS:
                arg.add_attribute("noalias")
        function.attributes.add("nounwind")
        # the multi-way branches (`cases`) as compares: a jump table would be data in .rodata
        # with relocations the object code's checks (codegen.objectfile) do not accept
        # (llvmlite's attribute set knows no string attributes: added past its check)
        set.add(function.attributes, '"no-jump-tables"="true"')
        super().__init__(conv, function)
        self.conv = conv
        self.args = dict(zip(ARGS, function.args))

    def cases(self, value, values, name: str, body) -> None:
        """body(n) where value == n, for each n of `values` (none: nothing)."""
        b = self.b
        end = self.function.append_basic_block(f"{name}.end")
        for n in values:
            then = self.function.append_basic_block(f"{name}{n}")
            other = self.function.append_basic_block(f"{name}.not{n}")
            b.cbranch(b.icmp_signed("==", value, self.i64(n)), then, other)
            b.position_at_start(then)
            body(n)
            b.branch(end)
            b.position_at_start(other)
        b.branch(end)
        b.position_at_start(end)

    def store_pieces(self, value, pointer, n: int) -> None:
        """Lanes 0..n of `value` at `pointer`, in stores of powers of two (largest first)."""
        first, size = 0, 1 << (n.bit_length() - 1)
        while size >= 1:
            if n & size:
                self.store_lanes(value, pointer, first, size)
                first += size
            size //= 2

    def store_lanes(self, value, pointer, first: int, size: int) -> None:
        """Lanes first..first+size of `value` at pointer + first."""
        b, c = self.b, self.conv
        at = self.element(pointer, self.i64(first))
        if size == 1:
            b.store(b.extract_element(value, ir.Constant(I32, first)), at).align = c.size
            return
        kind = ir.VectorType(c.t, size)
        part = b.shuffle_vector(value, ir.Constant(value.type, ir.Undefined), ir.Constant(
            ir.VectorType(I32, size), list(range(first, first + size))))
        b.store(part, b.bitcast(at, kind.as_pointer())).align = c.size


class _Kernel(_ConvKernel):
    def __init__(self, conv: _Conv) -> None:
        super().__init__(conv, symbol(conv.dtype))

    def build(self) -> None:
        """Rows that fit in one vector in narrow tiles (`narrow_shape`), others in wide ones."""
        b, c, a = self.b, self.conv, self.args
        narrow = b.icmp_signed("<=", a["cols"], self.i64(c.block.vector))
        with b.if_else(narrow) as (one, two):
            with one:
                self.rows(c.narrow, 1)
            with two:
                self.rows(c.mr, c.nv)
        b.ret_void()

    def rows(self, mr: int, nv: int) -> None:
        """Every output row in tiles of mr channels x nv vectors of positions. The channels
        past the mr tiles: outs % mr of them in one tile, or, when that is at most mr / 2 (a
        tile of few accumulators runs at the FMA's latency, not its throughput), the last mr
        tile's with them in two (32 = 4 x 6 + 4 + 4, not + 2)."""
        b, a = self.b, self.args
        nr = nv * self.conv.block.vector
        outs, step = a["outs"], self.i64(mr)
        full, left = b.sdiv(outs, step), b.srem(outs, step)
        split = b.and_(b.and_(b.icmp_signed(">", left, self.i64(0)),
                              b.icmp_signed("<=", b.mul(left, self.i64(2)), step)),
                       b.icmp_signed(">", full, self.i64(0)))
        main = b.mul(b.sub(full, b.zext(split, I64)), step)
        rest = b.sub(outs, main)
        first = b.select(split, b.sdiv(b.add(rest, self.i64(1)), self.i64(2)), rest)
        second = b.sub(rest, first)
        with self.loop(0, a["rows"], name="i") as i:
            with self.loop(0, a["cols"], nr, name="j") as j:
                width = self.min(self.i64(nr), b.sub(a["cols"], j))
                source = self.element(a["x"], b.add(b.mul(i, a["row_stride"]), j))
                target = self.element(a["out"], b.add(b.mul(i, a["out_row"]), j))
                whole = b.icmp_signed("==", width, self.i64(nr))
                with self.loop(0, main, mr, name="o") as o:
                    self.tile(o, mr, nv, source, target, whole, width)
                # the rest: one or two tiles of fewer rows, their heights chosen at run time
                for at, height in ((main, first), (b.add(main, first), second)):
                    self.cases(height, range(1, mr), "tail", lambda rows, at=at: self.tile(
                        at, rows, nv, source, target, whole, width))

    def tile(self, o, rows: int, nv: int, source, target, whole, width) -> None:
        """Output channels o..o+rows at the nv vectors of positions from `target` (reading
        `source`): the accumulators over the depth, then stored (whole vectors, or the
        first `width` positions at the row's end)."""
        b, c, a = self.b, self.conv, self.args
        weights = [self.element(a["w"], b.mul(b.add(o, self.i64(r)), a["ldw"]))
                   for r in range(rows)]
        with self.accumulating(a["depth"], rows, nv, "k") as (k, acc, updated):
            shift = b.load(self.element(a["offsets"], k, I64), typ=I64)
            at = self.element(source, shift)
            vectors = []
            for v in range(nv):
                load = b.load(self.as_vector(self.element(at, self.i64(v * c.block.vector))),
                              typ=c.vec)
                load.align = c.size
                vectors.append(load)
            for r in range(rows):
                splat = self.splat(b.load(self.element(weights[r], k), typ=c.t))
                updated[r] = [b.call(c.fma, [splat, vectors[v], acc[r][v]]) for v in range(nv)]
        with b.if_else(whole) as (plain, edge):
            with plain:
                self.store(acc, o, target, None)
            with edge:
                self.store(acc, o, target, width)

    def store(self, acc, o, target, width) -> None:
        """The tile at `target`: whole vectors, or (`width` given) its first `width`
        positions: the vectors below it whole, the one it ends in by `store_part`."""
        b, c, a = self.b, self.conv, self.args
        lanes = c.block.vector
        lines = [self.element(target, b.mul(b.add(o, self.i64(r)), a["out_stride"]))
                 for r in range(len(acc))]
        if width is None:
            for line, row in zip(lines, acc):
                for v, value in enumerate(row):
                    self.masked_store(value, self.element(line, self.i64(v * lanes)), None)
            return
        if c.masked_stores:
            for line, row in zip(lines, acc):
                for v, value in enumerate(row):
                    mask = self.below(b.trunc(b.sub(width, self.i64(v * lanes)), I32))
                    self.masked_store(value, self.element(line, self.i64(v * lanes)), mask)
            return
        for v in range(len(acc[0])):
            start = self.i64(v * lanes)
            with b.if_then(b.icmp_signed(">", width, start)):
                part = b.sub(width, start)
                with b.if_else(b.icmp_signed(">=", part, self.i64(lanes))) as (whole, some):
                    with whole:
                        for line, row in zip(lines, acc):
                            self.masked_store(row[v], self.element(line, start), None)
                    with some:
                        self.store_part([row[v] for row in acc],
                                        [self.element(line, start) for line in lines], part)

    def store_part(self, values, pointers, count) -> None:
        """The first `count` (1 to VL - 1) lanes of each value at its pointer, in plain stores
        of 4, 2 and 1 lanes chosen by the count (AVX2's masked stores, vmaskmovps, are
        slow on Zen 3: a 14-wide row's every tile ends in one)."""
        def stores(n: int) -> None:
            for value, pointer in zip(values, pointers):
                self.store_pieces(value, pointer, n)
        self.cases(count, range(1, self.conv.block.vector), "part", stores)
