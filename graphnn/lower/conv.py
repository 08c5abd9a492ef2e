"""conv2d and its gradients as im2col + Gemm, one image at a time (or as the direct loops of
graphnn/lower/conv_direct.py, where `conv_stage` finds them faster).

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

from codegen import loops
from graphnn.ir import Node
from graphnn.lower import conv_direct
from graphnn.lower.conv_common import Geometry, Images, finished, offset, padded_copy, times
from graphnn.ops.common import clamped, when, window_load
from graphnn.options import CompileOptions


def worth_it(node: Node, options: CompileOptions) -> bool:
    """Whether conv_stage lowers the node (else the compute rule's direct loops do).

    im2col + Gemm pays when each output sums enough terms (Cg KH KW, Og, or N OH OW: the
    depth of one group's product): at least `options.conv_min_depth`. A grouped weight
    gradient also needs each group's product to write that many outputs (Og Cg KH KW): a
    depthwise 3x3 one writes 9 per group, and its many small Gemm calls cost more than they
    compute, so it takes the direct loops (as a depthwise conv2d does, by its depth of 9).
    With `options.conv_direct`, conv_stage also chooses direct loops over a zero-padded copy
    of each image for conv2d and conv2d_grad_input where they are faster (`_direct`)."""
    form = node.opdef.lowering.gemm
    groups = node.attrs["groups"]
    if form == "conv2d_grad_weight":
        x, g = node.inputs
        per_group = g.shape[1] // groups
        return math.prod(g.shape[2:]) * g.shape[0] >= options.conv_min_depth and (
            groups == 1 or per_group * x.shape[1] // groups * math.prod(node.shape[2:]) >=
            options.conv_min_depth)
    return options.conv_direct or _deep(node, options)


def epilogues(computed: list[Node], users: dict[Node, list[Node]],
              outputs: list[Node]) -> dict[Node, Node]:
    """conv2d -> the node whose buffer it writes, computing that node's elementwise chain
    (the bias add and ReLU after an imported Conv) as each output is finished, while the
    image is in cache, instead of a pass over the whole activation afterwards.

    A chain qualifies when the convolution and each member up to the last have one user, the
    next member, elementwise and of the same shape; the members before the last get no
    buffer; and the members' other operands are the same along rows and columns (a bias per
    channel, a scalar: the epilogue is then computed per image and channel, in any loop
    order) and need nothing computed after the convolution."""
    position = {node: k for k, node in enumerate(computed)}
    fused = {}
    for node in computed:
        if node.op != "conv2d" or node in outputs:
            continue
        chain, last = [], node
        while len(users[last]) == 1 and _elementwise(users[last][0], node.shape) and \
                (last is node or last not in position):
            last = users[last][0]
            chain.append(last)
        others = [operand for member in chain for operand in member.inputs
                  if operand not in chain and operand is not node]
        if chain and last in position and all(
                operand.shape[-2:] in ((), (1,), (1, 1)) and
                _ready(operand, position, position[node]) for operand in others):
            fused[node] = last
    return fused


def pooled(computed: list[Node], users: dict[Node, list[Node]], outputs: list[Node],
           buffer_of, options: CompileOptions) -> dict[Node, Node]:
    """conv2d -> the max pooling it computes too, writing the pooling's buffer: a convolution
    in one group whose only reader is a 2x2 max_pool2d of windows tiling its output
    (lower.pool.tiles), run by the micro-kernel with output channels in the lanes
    (conv_direct.across_channels), however shallow (an MNIST CNN's first layer: 9 terms per
    output). The kernel then holds each window's four positions in its tile and stores their
    maximum (a DirectConv with lanes="pool2x2"): the convolution's output is never stored,
    and its transposed stores are a quarter. (A bias and ReLU
    between them move after the pooling first: graphnn.passes.simplify, `_pool_first`.)"""
    from graphnn.lower.pool import tiles

    position = {node: k for k, node in enumerate(computed)}
    fused = {}
    for node in computed:
        if node.op != "conv2d" or node in outputs or len(users[node]) != 1 or \
                node.attrs["groups"] != 1 or not options.conv_direct:
            continue
        pool = users[node][0]
        if pool.op != "max_pool2d" or not tiles(pool) or pool not in position or \
                tuple(pool.attrs["kernel"]) != (2, 2) or \
                _in_memory(node.inputs[1], buffer_of) is None:
            continue     # (an input not in memory is computed in the padded copy: tiled's)
        geometry = Geometry.of(node)
        conv = conv_direct.Direct.forward(node, node.inputs[0], node.inputs[1], geometry)
        kind = _direct_kind(conv, "conv2d", geometry, options, _deep(node, options))
        if kind == "tiled" and conv_direct.across_channels(conv, pooled=True):
            fused[node] = pool
    return fused


def _elementwise(node: Node, shape: tuple[int, ...]) -> bool:
    return node.opdef.scalar is not None and node.opdef.indexing is None and \
        node.shape == shape


def _ready(operand: Node, position: dict[Node, int], before: int) -> bool:
    """Whether every computed node operand depends on is computed before position `before`."""
    stack, seen = [operand], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if position.get(node, -1) >= before:
            return False
        stack.extend(node.inputs)
    return True


def _deep(node: Node, options: CompileOptions) -> bool:
    """Whether a conv2d or conv2d_grad_input sums at least conv_min_depth terms per output."""
    weights, groups = node.inputs[1], node.attrs["groups"]
    depth = weights.shape[0] // groups if node.opdef.lowering.gemm == "conv2d_grad_input" \
        else math.prod(weights.shape[1:])
    return depth >= options.conv_min_depth


def _im2col(cols: loops.Buffer, x, n, slot, kernel_hw, geometry: Geometry,
            out_hw, xp: loops.Buffer | None = None) -> list[loops.Stmt]:
    """cols[slot, c, p, q, i, j] = xpad[n, c, i*sh + p*dh - top, j*sw + q*dw - left]. Given
    xp, image n is first copied into xp[slot] with its zeros, and the columns read that copy
    without bounds checks (checked loads do not vectorize); else the loads are checked where
    there is padding."""
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    if xp is None:
        steps, guard = [], geometry.padding != ((0, 0), (0, 0))

        def value(c, p, q, i, j):
            return window_load(x, (n, c), geometry.rows(i, p), geometry.cols(j, q), guard=guard)
    else:
        steps = padded_copy(xp, x, n, slot, geometry.padding)

        def value(c, p, q, i, j):
            return xp[slot, c, times(i, sh) + times(p, dh), times(j, sw) + times(q, dw)]
    return [*steps, loops.loop_nest(
        (cols.shape[1],) + tuple(kernel_hw) + tuple(out_hw),
        lambda c, p, q, i, j: loops.store(cols, (slot, c, p, q, i, j), value(c, p, q, i, j)),
        names=("c", "p", "q", "i", "j"))]


def _padded_size(x, geometry: Geometry) -> list[tuple[int, ...]]:
    """The shape of one image's zero-padded copy for the columns, [] when nothing is padded or
    the stride is not 1 (strided reads gather either way, and the copy then cost more than
    the checks: the strided 3x3 of tests/onnx/zoo.py's ResNet took 0.87 ms instead of 0.7)."""
    (top, bottom), (left, right) = geometry.padding
    if geometry.padding == ((0, 0), (0, 0)) or geometry.stride != (1, 1):
        return []
    return [(x.shape[1], x.shape[2] + top + bottom, x.shape[3] + left + right)]


def _col2im(dx: loops.Buffer, dcols: loops.Buffer, n, slot, kernel_hw, geometry: Geometry,
            out_hw) -> loops.Stmt:
    """dx[n, c, h, w] = sum over (p, q) of dcols[slot, c, p, q, i, j], i*sh + p*dh - top = h.

    A gather, so dx is written once. (A scatter with one guard-free loop nest per kernel
    offset vectorizes too, but its nine read-modify-write passes over dx measured slower.)"""
    (top, _), (left, _) = geometry.padding

    def body(c, h, w):
        def term(p, q):
            i, i_ok = clamped(h + top - times(p, geometry.dilation[0]), out_hw[0],
                              geometry.stride[0])
            j, j_ok = clamped(w + left - times(q, geometry.dilation[1]), out_hw[1],
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
    memory or the op is shallow and no direct form fits (the compute rule's loops are used
    then)."""
    first, second = (_in_memory(i, buffer_of) for i in node.inputs)
    form = node.opdef.lowering.gemm
    computed = first is None and copies_input(node, lowering.options)
    if computed:     # an elementwise chain the storage plan left to the padded copy
        first = lowering.operand(node.inputs[0])
    if first is None or second is None:
        return None
    geometry = Geometry.of(node)
    out = lowering.buffers[node]
    pool = lowering.pooled.get(node)
    if pool is not None:     # `pooled` chose the lanes micro-kernel: tiled takes it
        conv = conv_direct.Direct.forward(out, first, second, geometry)
        return conv_direct.tiled(lowering, conv, pool=lowering.buffers[pool])
    if form == "conv2d_grad_weight":
        return _weights(lowering, out, first, second, geometry)
    finish = None
    if node in lowering.epilogues:
        def finish(value, n, o):
            return lowering.finish(node, value, n, o)
    deep = _deep(node, lowering.options)
    if lowering.options.conv_direct:
        stmts = _direct(lowering, form, out, first, second, geometry, finish, deep)
        if stmts is not None or computed:
            return stmts
    if not deep:
        return None
    if form == "conv2d":
        return _forward(lowering, out, first, second, geometry, finish)
    return _inputs(lowering, out, first, second, geometry)


def _direct(lowering, form: str, out, first, second, geometry: Geometry, finish=None,
            deep: bool = True) -> list[loops.Stmt] | None:
    """A conv2d or conv2d_grad_input as our micro-kernel or direct loops
    (graphnn/lower/conv_direct.py) where they beat the other lowerings: the micro-kernel
    where rows fill a tile (and, for a shallow one, there are channels for its height);
    loops for shallow ones (each output sums fewer than conv_min_depth terms) that the
    compute rule would read with bounds checks, deep ones at stride 1 in blocks of output
    channels, and the rest that im2col + Gemm would not take (not `deep`:
    a transposed convolution back to one input channel sums 9 taps of each of few output
    channels' gradients, and took the compute rule's checked loads, 1.8 ms of the conv
    benchmark's small case)."""
    if form == "conv2d":
        conv = conv_direct.Direct.forward(out, first, second, geometry)
    else:
        conv = conv_direct.Direct.transposed(out, first, second, geometry)
        if conv is None:
            return None
    kind = _direct_kind(conv, form, geometry, lowering.options, deep)
    if kind is None:
        return None
    return getattr(conv_direct, kind)(lowering, conv, finish)


def _direct_kind(conv: conv_direct.Direct, form: str, geometry: Geometry,
                 options: CompileOptions, deep: bool) -> str | None:
    """Which function of conv_direct `_direct` runs ("tiled", "shallow" or "blocked"; each
    copies every image once into its zero-padded scratch), or None for the other lowerings.
    Decided by shapes alone, so that the storage plan can ask it of graph nodes
    (`copies_input`)."""
    shallow = math.prod(conv.taps) < options.conv_min_depth
    if conv.native(shallow):
        return "tiled"
    if shallow:
        # conv2d_grad_input's compute rule checks bounds even where nothing is padded
        checked = form != "conv2d" or geometry.padding != ((0, 0), (0, 0))
        return "shallow" if checked else None
    if conv.blockable():
        return "blocked"
    return None if deep else "shallow"


def copies_input(node: Node, options: CompileOptions) -> bool:
    """Whether conv_stage reads a conv2d's input x through a zero-padded copy of each image
    (the direct kernels and loops), so once per element: an elementwise chain producing x
    (the bias and ReLU after a CNN's pooling, moved there by the simplifier) is then computed
    in that copy (`conv_stage` reads it through the lowering's `operand`) instead of a pass
    storing it before the copy reads it back (graphnn.lower.storage)."""
    if node.op != "conv2d" or not options.conv_direct:
        return False
    geometry = Geometry.of(node)
    conv = conv_direct.Direct.forward(node, node.inputs[0], node.inputs[1], geometry)
    return _direct_kind(conv, "conv2d", geometry, options, _deep(node, options)) is not None


def _forward(lowering, out, x, w, geometry: Geometry, finish=None) -> list[loops.Stmt]:
    """out[n, k] = W_k @ cols_k per image n and group k. A 1x1 convolution at stride 1
    without padding needs no columns: image n itself, (C, H W), is the matrix. `finish`
    (value, index) -> value, if given, is applied to image n in place after its Gemms."""
    batch, channels_out, oh, ow = out.shape
    depth = math.prod(w.shape[1:])                     # Cg KH KW
    per_group = channels_out // geometry.groups        # Og
    pointwise = w.shape[2:] == (1, 1) and geometry.stride == (1, 1) and \
        geometry.padding == ((0, 0), (0, 0))
    images = Images(lowering, batch, x.dtype, [] if pointwise else [
        (x.shape[1],) + w.shape[2:] + (oh, ow), *_padded_size(x, geometry)])

    def image(n, slot):
        if pointwise:
            cols, start, steps = _raw(x), n * (x.shape[1] * oh * ow), []
        else:
            cols, start = images.buffers[0], images.offset(images.buffers[0], slot)
            steps = _im2col(cols, x, n, slot, w.shape[2:], geometry, (oh, ow),
                            *images.buffers[1:])
        return [*steps, geometry.groups_loop(lambda k: loops.Gemm(
                    out, _raw(w), cols, per_group, oh * ow, depth,
                    a_offset=offset(times(k, per_group * depth)),
                    b_offset=offset(start, times(k, depth * oh * ow)),
                    c_offset=offset(n * (channels_out * oh * ow),
                                    times(k, per_group * oh * ow)))),
                *finished(out, n, finish)]
    return images.each(image)


def _weights(lowering, dw, x, g, geometry: Geometry) -> list[loops.Stmt]:
    """dW_kᵀ (Cg KH KW, Og) = cols_k @ g[n, k]ᵀ per image and group k: with the many columns
    of the receptive field as rows, the Gemm's tiles are full (Og is often one panel wide).
    Each slot accumulates the images it runs into its own partial, (groups, Cg KH KW, Og);
    the partials are summed and transposed back at the end, so parallel images never write
    the same memory."""
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(dw.shape[1:])                    # Cg KH KW
    groups = geometry.groups
    per_group = channels_out // groups                 # Og
    images = Images(lowering, batch, x.dtype, [(x.shape[1],) + dw.shape[2:] + (oh, ow),
                                                (groups, depth, per_group),
                                                *_padded_size(x, geometry)])
    cols, partial, *padded = images.buffers

    def image(n, slot):
        return [*_im2col(cols, x, n, slot, dw.shape[2:], geometry, (oh, ow), *padded),
                geometry.groups_loop(lambda k: loops.Gemm(
                    partial, cols, _raw(g), depth, per_group, oh * ow, trans_b=True, beta=1.0,
                    a_offset=offset(images.offset(cols, slot), times(k, depth * oh * ow)),
                    b_offset=offset(n * (channels_out * oh * ow),
                                     times(k, per_group * oh * ow)),
                    c_offset=offset(images.offset(partial, slot),
                                     times(k, depth * per_group))))]

    def total(e):        # dw.flat[e] = dW[o, r] with e = o * depth + r, from partial[., k, r, o']
        o, r = e // depth, e % depth
        k, within = (0, o) if groups == 1 else (o // per_group, o % per_group)
        return loops.store(dw, (e,), loops.reduce_sum(images.slots, lambda t: partial[
            t, k, r, within]))
    zero = loops.loop(partial.size, lambda e: loops.store(partial, (e,), 0.0))
    return [zero, *images.each(image), loops.loop(dw.size, total)]


def _inputs(lowering, dx, g, w, geometry: Geometry) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(w.shape[1:])                     # Cg KH KW
    per_group = channels_out // geometry.groups        # Og
    images = Images(lowering, batch, g.dtype, [(dx.shape[1],) + w.shape[2:] + (oh, ow)])
    (dcols,) = images.buffers

    def image(n, slot):
        return [geometry.groups_loop(lambda k: loops.Gemm(
                    dcols, _raw(w), _raw(g), depth, oh * ow, per_group, trans_a=True,
                    a_offset=offset(times(k, per_group * depth)),
                    b_offset=offset(n * (channels_out * oh * ow),
                                     times(k, per_group * oh * ow)),
                    c_offset=offset(images.offset(dcols, slot), times(k, depth * oh * ow)))),
                _col2im(dx, dcols, n, slot, w.shape[2:], geometry, (oh, ow))]
    return images.each(image)
