"""conv2d and its gradients as im2col + Gemm, one image at a time.

For image n, the columns buffer holds every receptive field, cols[c, p, q, i, j] =
xpad[n, c, i*sh + p*dh - top, j*sw + q*dw - left] (zeros in the padding); read as a
(C KH KW) x (OH OW) matrix it turns each op into one matrix product per image and group
(group k's rows of cols are its Cg KH KW channels' rows, its rows of W its Og output channels):

    conv2d:              out[n, k] (Og, OH OW)  = W_k (Og, Cg KH KW)   @ cols_k
    conv2d_grad_weight:  dW_k      (Og, Cg KH KW) += g[n, k] (Og, OH OW) @ cols_kᵀ
    conv2d_grad_input:   dcols_k   (Cg KH KW, OH OW) = W_kᵀ @ g[n, k], then col2im: each input
                         position sums the dcols entries of the windows that cover it

With groups the Gemms of one image run in a loop over the groups, each on its own slice of
the same buffers. The columns of one image fit in cache, so they are consumed right after they
are written. The Gemm runs as the compile options say (BLAS or graphnn's own kernel,
multi-threaded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codegen import loops
from codegen.native.runtime import available_cores
from graphnn.ir import Node
from graphnn.ops.common import clamped, when, window_load
from graphnn.options import CompileOptions


def worth_it(node: Node, options: CompileOptions) -> bool:
    """Whether conv_stage lowers the node (else the compute rule's direct loops do).

    im2col + Gemm pays when each output sums enough terms (Cg KH KW, Og, or N OH OW: the
    depth of one group's product): at least `options.conv_min_depth`. A grouped weight
    gradient also needs each group's product to write that many outputs (Og Cg KH KW): a
    depthwise 3x3 one writes 9 per group, and its many small Gemm calls cost more than they
    compute, so it takes the direct loops (as a depthwise conv2d does, by its depth of 9).
    A shallower conv2d runs as direct loops over a zero-padded copy of each image
    (`_direct`) when `options.conv_padded_direct`."""
    form = node.opdef.lowering.gemm
    groups = node.attrs["groups"]
    if form == "conv2d_grad_weight":
        x, g = node.inputs
        per_group = g.shape[1] // groups
        return math.prod(g.shape[2:]) * g.shape[0] >= options.conv_min_depth and (
            groups == 1 or per_group * x.shape[1] // groups * math.prod(node.shape[2:]) >=
            options.conv_min_depth)
    if form == "conv2d" and options.conv_padded_direct:
        return True
    return _deep(node, options)


def _deep(node: Node, options: CompileOptions) -> bool:
    """Whether a conv2d or conv2d_grad_input sums at least conv_min_depth terms per output."""
    weights, groups = node.inputs[1], node.attrs["groups"]
    depth = weights.shape[0] // groups if node.opdef.lowering.gemm == "conv2d_grad_input" \
        else math.prod(weights.shape[1:])
    return depth >= options.conv_min_depth


@dataclass(frozen=True)
class _Geometry:
    """A conv node's attributes, as the lowering reads them."""

    stride: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    groups: int

    @staticmethod
    def of(node: Node) -> _Geometry:
        attrs = node.attrs
        return _Geometry(attrs["stride"], attrs["padding"], attrs["dilation"], attrs["groups"])

    def rows(self, i, p) -> loops.Expr:
        """The input row of output row i's tap p (outside the input in the padding)."""
        return _times(i, self.stride[0]) + _times(p, self.dilation[0]) - self.padding[0][0]

    def cols(self, j, q) -> loops.Expr:
        return _times(j, self.stride[1]) + _times(q, self.dilation[1]) - self.padding[1][0]

    def groups_loop(self, body) -> loops.Stmt:
        """body(k) for every group k (body(0) alone when there is one)."""
        return body(0) if self.groups == 1 else loops.loop(self.groups, body, name="group")


def _times(index: loops.Expr, factor: int) -> loops.Expr:
    return index if factor == 1 else index * factor


def _offset(*terms) -> loops.Expr | int:
    """The sum of the terms that are not the literal 0 (one group, slot 0: no `+ 0` in the IR)."""
    kept = [t for t in terms if not (isinstance(t, int) and t == 0)]
    return sum(kept[1:], kept[0]) if kept else 0


def _im2col(cols: loops.Buffer, x, n, slot, kernel_hw, geometry: _Geometry,
            out_hw) -> loops.Stmt:
    """cols[slot, c, p, q, i, j] = xpad[n, c, i*sh + p*dh - top, j*sw + q*dw - left]."""
    guard = geometry.padding != ((0, 0), (0, 0))
    channels = cols.shape[1]

    def body(c, p, q, i, j):
        value = window_load(x, (n, c), geometry.rows(i, p), geometry.cols(j, q), guard=guard)
        return loops.store(cols, (slot, c, p, q, i, j), value)
    return loops.loop_nest((channels,) + tuple(kernel_hw) + tuple(out_hw), body,
                           names=("c", "p", "q", "i", "j"))


def _col2im(dx: loops.Buffer, dcols: loops.Buffer, n, slot, kernel_hw, geometry: _Geometry,
            out_hw) -> loops.Stmt:
    """dx[n, c, h, w] = sum over (p, q) of dcols[slot, c, p, q, i, j], i*sh + p*dh - top = h.

    A gather, so dx is written once. (A scatter with one guard-free loop nest per kernel
    offset vectorizes too, but its nine read-modify-write passes over dx measured slower.)"""
    (top, _), (left, _) = geometry.padding

    def body(c, h, w):
        def term(p, q):
            i, i_ok = clamped(h + top - _times(p, geometry.dilation[0]), out_hw[0],
                              geometry.stride[0])
            j, j_ok = clamped(w + left - _times(q, geometry.dilation[1]), out_hw[1],
                              geometry.stride[1])
            return when(i_ok + j_ok, dcols[slot, c, p, q, i, j])
        total = loops.reduce_sum(kernel_hw[0], lambda p: loops.reduce_sum(
            kernel_hw[1], lambda q: term(p, q)))
        return loops.store(dx, (n, c, h, w), total)
    return loops.loop_nest(dx.shape[1:], body, names=("c", "h", "w"))


class _Reshaped:
    """A buffer read as another shape of the same size: a reshape of a value in memory (the
    same bytes, row-major), such as conv1d's (N, C, L) input seen as (N, C, 1, L). Indexing
    it gives a flat load; `buffer` is what a Gemm reads by offsets."""

    def __init__(self, buffer: loops.Buffer, shape: tuple[int, ...]) -> None:
        self.buffer, self.shape, self.dtype = buffer, shape, buffer.dtype

    def __getitem__(self, index: tuple) -> loops.Expr:
        flat = index[0]
        for i, size in zip(index[1:], self.shape[1:]):
            flat = flat * size + i
        return self.buffer.flat[flat]


def _in_memory(node: Node, buffer_of):
    """node's elements in memory: its buffer, or a reshape's operand's read in node's shape
    (None when neither is in memory)."""
    source = node
    while buffer_of(source) is None and source.op == "reshape":
        source = source.inputs[0]
    buffer = buffer_of(source)
    if buffer is None or source is node:
        return buffer
    return _Reshaped(buffer, node.shape)


def _raw(operand) -> loops.Buffer:
    """The buffer a Gemm reads an operand from (by element offsets)."""
    return operand.buffer if isinstance(operand, _Reshaped) else operand


def conv_stage(lowering, node: Node, buffer_of) -> list[loops.Stmt] | None:
    """The statements computing a conv op into its buffer, or None when an operand is not in
    memory (the compute rule's direct loops are used then)."""
    first, second = (_in_memory(i, buffer_of) for i in node.inputs)
    if first is None or second is None:
        return None
    geometry = _Geometry.of(node)
    out = lowering.buffers[node]
    form = node.opdef.lowering.gemm
    if form == "conv2d":
        if not _deep(node, lowering.options):
            padded = geometry.padding != ((0, 0), (0, 0))   # else the compute rule has no checks
            return _direct(lowering, out, first, second, geometry) if padded else None
        return _forward(lowering, out, first, second, geometry)
    if form == "conv2d_grad_weight":
        return _weights(lowering, out, first, second, geometry)
    return _inputs(lowering, out, first, second, geometry)


class _Images:
    """The loop over images, each using one *slot* of scratch (its columns, its partial
    weight gradient). With the images in parallel there is one slot per core, and each slot's
    images run one after the other on that core: the scratch of a slot stays in the core's
    cache while the next image reuses it (a slot per image measured 2-4 ms slower on a 0.9
    GFLOP convolution, every image's columns going out to memory). Images run one after the
    other, sharing one slot (and multi-threaded Gemms), when there is one image or core, or
    when the slots would not fit `CompileOptions.conv_parallel_scratch` bytes.

    The batch splits into `slots` runs of `per` images, then `rest` single images, one slot
    each: `for t in 0..slots (parallel) { for k in 0..per { image t*per + k in slot t } }`,
    then `for t in 0..rest (parallel) { image slots*per + t in slot t }`. Two images in flight
    at once never share a slot, whatever thread count the call uses."""

    def __init__(self, lowering, batch: int, dtype: str, sizes: list[tuple[int, ...]]) -> None:
        itemsize = 4 if loops.normalize_dtype(dtype) == "f32" else 8
        cores = min(batch, available_cores())
        total = cores * sum(math.prod(shape) for shape in sizes) * itemsize
        self.parallel = cores > 1 and total <= lowering.options.conv_parallel_scratch
        self.slots = cores if self.parallel else 1
        self.batch = batch
        self.buffers = [lowering.scratch(dtype, (self.slots,) + shape) for shape in sizes]

    @staticmethod
    def offset(buffer: loops.Buffer, slot) -> loops.Expr | int:
        return slot * math.prod(buffer.shape[1:])

    def each(self, body) -> list[loops.Stmt]:
        """Statements running body(n, slot) for every image n."""
        if not self.parallel:
            return [loops.loop(self.batch, lambda n: body(n, 0), name="n")]
        per, rest = divmod(self.batch, self.slots)
        steps = []
        if per:
            steps.append(loops.loop(self.slots, lambda t: loops.loop(
                per, lambda k: body(_times(t, per) + k, t), name="k"), name="t", parallel=True))
        if rest:
            steps.append(loops.loop(rest, lambda t: body(t + self.slots * per, t), name="t",
                                    parallel=True))
        return steps


def _forward(lowering, out, x, w, geometry: _Geometry) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = out.shape
    depth = math.prod(w.shape[1:])                     # Cg KH KW
    per_group = channels_out // geometry.groups        # Og
    images = _Images(lowering, batch, x.dtype, [(x.shape[1],) + w.shape[2:] + (oh, ow)])
    (cols,) = images.buffers

    def image(n, slot):
        return [_im2col(cols, x, n, slot, w.shape[2:], geometry, (oh, ow)),
                geometry.groups_loop(lambda k: loops.Gemm(
                    out, _raw(w), cols, per_group, oh * ow, depth,
                    a_offset=_offset(_times(k, per_group * depth)),
                    b_offset=_offset(images.offset(cols, slot), _times(k, depth * oh * ow)),
                    c_offset=_offset(n * (channels_out * oh * ow),
                                     _times(k, per_group * oh * ow))))]
    return images.each(image)


def _direct(lowering, out, x, w, geometry: _Geometry) -> list[loops.Stmt]:
    """A shallow padded convolution (a depthwise one, one input channel) as direct loops:
    each image is first copied into a zero-padded scratch, so the loops over its outputs read
    it without a bounds check, and LLVM vectorizes them along the output row (the taps
    unrolled). The compute rule's loads are clamped and masked instead, which LLVM does not
    vectorize: a depthwise 3x3 ran 3x slower that way. Same sums, in the same order."""
    batch, channels_out, oh, ow = out.shape
    channels, height, width = x.shape[1:]
    (top, bottom), (left, right) = geometry.padding
    per_group, base_per_group = channels_out // geometry.groups, w.shape[1]
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    images = _Images(lowering, batch, x.dtype,
                     [(channels, height + top + bottom, width + left + right)])
    (xp,) = images.buffers

    def image(n, slot):
        # zeros, then the image inside them: two guard-free nests that vectorize
        fill = [loops.loop_nest(xp.shape[1:], lambda c, h, v: loops.store(
                    xp, (slot, c, h, v), 0.0), names=("c", "h", "w")),
                loops.loop_nest(x.shape[1:], lambda c, h, v: loops.store(
                    xp, (slot, c, h + top, v + left), x[n, c, h, v]), names=("c", "h", "w"))]

        def body(o, i, j):         # xp[c, i*sh + p*dh, j*sw + q*dw] is xpad's element
            base = 0 if geometry.groups == 1 else (o // per_group) * base_per_group
            return loops.store(out, (n, o, i, j), loops.reduce_sum(w.shape[1], lambda c: (
                loops.reduce_sum(w.shape[2], lambda p: loops.reduce_sum(w.shape[3], lambda q: (
                    xp[slot, base + c, _times(i, sh) + _times(p, dh), _times(j, sw) +
                       _times(q, dw)] * w[o, c, p, q]))))))
        return [*fill, loops.loop_nest((channels_out, oh, ow), body, names=("o", "i", "j"))]
    return images.each(image)


def _weights(lowering, dw, x, g, geometry: _Geometry) -> list[loops.Stmt]:
    """dW_kᵀ (Cg KH KW, Og) = cols_k @ g[n, k]ᵀ per image and group k: with the many columns
    of the receptive field as rows, the Gemm's tiles are full (Og is often one panel wide).
    Each slot accumulates the images it runs into its own partial, (groups, Cg KH KW, Og);
    the partials are summed and transposed back at the end, so parallel images never write
    the same memory."""
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(dw.shape[1:])                    # Cg KH KW
    groups = geometry.groups
    per_group = channels_out // groups                 # Og
    images = _Images(lowering, batch, x.dtype, [(x.shape[1],) + dw.shape[2:] + (oh, ow),
                                                (groups, depth, per_group)])
    cols, partial = images.buffers

    def image(n, slot):
        return [_im2col(cols, x, n, slot, dw.shape[2:], geometry, (oh, ow)),
                geometry.groups_loop(lambda k: loops.Gemm(
                    partial, cols, _raw(g), depth, per_group, oh * ow, trans_b=True, beta=1.0,
                    a_offset=_offset(images.offset(cols, slot), _times(k, depth * oh * ow)),
                    b_offset=_offset(n * (channels_out * oh * ow),
                                     _times(k, per_group * oh * ow)),
                    c_offset=_offset(images.offset(partial, slot),
                                     _times(k, depth * per_group))))]

    def total(e):        # dw.flat[e] = dW[o, r] with e = o * depth + r, from partial[., k, r, o']
        o, r = e // depth, e % depth
        k, within = (0, o) if groups == 1 else (o // per_group, o % per_group)
        return loops.store(dw, (e,), loops.reduce_sum(images.slots, lambda t: partial[
            t, k, r, within]))
    zero = loops.loop(partial.size, lambda e: loops.store(partial, (e,), 0.0))
    return [zero, *images.each(image), loops.loop(dw.size, total)]


def _inputs(lowering, dx, g, w, geometry: _Geometry) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(w.shape[1:])                     # Cg KH KW
    per_group = channels_out // geometry.groups        # Og
    images = _Images(lowering, batch, g.dtype, [(dx.shape[1],) + w.shape[2:] + (oh, ow)])
    (dcols,) = images.buffers

    def image(n, slot):
        return [geometry.groups_loop(lambda k: loops.Gemm(
                    dcols, _raw(w), _raw(g), depth, oh * ow, per_group, trans_a=True,
                    a_offset=_offset(_times(k, per_group * depth)),
                    b_offset=_offset(n * (channels_out * oh * ow),
                                     _times(k, per_group * oh * ow)),
                    c_offset=_offset(images.offset(dcols, slot), _times(k, depth * oh * ow)))),
                _col2im(dx, dcols, n, slot, w.shape[2:], geometry, (oh, ow))]
    return images.each(image)
