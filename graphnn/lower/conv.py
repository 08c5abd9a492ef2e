"""conv2d and its gradients as im2col + Gemm, one image at a time.

For image n, the columns buffer holds every receptive field, cols[c, p, q, i, j] =
xpad[n, c, i*sh + p - ph, j*sw + q - pw] (zeros in the padding); read as a (C KH KW) x (OH OW)
matrix it turns each op into one matrix product per image:

    conv2d:              out[n] (O, OH OW)  = W (O, C KH KW)   @ cols
    conv2d_grad_weight:  dW     (O, C KH KW) += g[n] (O, OH OW) @ colsᵀ
    conv2d_grad_input:   dcols  (C KH KW, OH OW) = Wᵀ @ g[n], then col2im: each input
                         position sums the dcols entries of the windows that cover it

The columns of one image fit in cache, so they are consumed right after they are written. The
Gemm runs as the compile options say (BLAS or graphnn's own kernel, multi-threaded).
"""

from __future__ import annotations

import math

from codegen import loops
from codegen.native.runtime import available_cores
from graphnn.ir import Node
from graphnn.ops.common import clamped, when, window_load
from graphnn.options import CompileOptions


def worth_it(node: Node, options: CompileOptions) -> bool:
    """im2col + Gemm pays when each output sums enough terms (C KH KW, or N OH OW): at least
    `options.conv_min_depth`."""
    form = node.opdef.lowering.gemm
    if form == "conv2d_grad_weight":
        return math.prod(node.inputs[1].shape[2:]) >= options.conv_min_depth
    weights = node.inputs[1]
    depth = weights.shape[0] if form == "conv2d_grad_input" else math.prod(weights.shape[1:])
    return depth >= options.conv_min_depth


def _times(index: loops.Expr, factor: int) -> loops.Expr:
    return index if factor == 1 else index * factor


def _im2col(cols: loops.Buffer, x, n, slot, kernel_hw, stride, padding,
            out_hw) -> loops.Stmt:
    """cols[slot, c, p, q, i, j] = xpad[n, c, i*sh + p - ph, j*sw + q - pw] for image n."""
    guard = padding != (0, 0)
    channels = cols.shape[1]

    def body(c, p, q, i, j):
        value = window_load(x, (n, c), _times(i, stride[0]) + p - padding[0],
                            _times(j, stride[1]) + q - padding[1], guard=guard)
        return loops.store(cols, (slot, c, p, q, i, j), value)
    return loops.loop_nest((channels,) + tuple(kernel_hw) + tuple(out_hw), body,
                           names=("c", "p", "q", "i", "j"))


def _col2im(dx: loops.Buffer, dcols: loops.Buffer, n, slot, kernel_hw, stride, padding,
            out_hw) -> loops.Stmt:
    """dx[n, c, h, w] = sum over (p, q) of dcols[slot, c, p, q, i, j], i*sh + p - ph = h.

    A gather, so dx is written once. (A scatter with one guard-free loop nest per kernel
    offset vectorizes too, but its nine read-modify-write passes over dx measured slower.)"""
    def body(c, h, w):
        def term(p, q):
            i, i_ok = clamped(h + padding[0] - p, out_hw[0], stride[0])
            j, j_ok = clamped(w + padding[1] - q, out_hw[1], stride[1])
            return when(i_ok + j_ok, dcols[slot, c, p, q, i, j])
        total = loops.reduce_sum(kernel_hw[0], lambda p: loops.reduce_sum(
            kernel_hw[1], lambda q: term(p, q)))
        return loops.store(dx, (n, c, h, w), total)
    return loops.loop_nest(dx.shape[1:], body, names=("c", "h", "w"))


def conv_stage(lowering, node: Node, buffer_of) -> list[loops.Stmt] | None:
    """The statements computing a conv op into its buffer, or None when an operand is not in
    memory (the compute rule's direct loops are used then)."""
    a, b = node.inputs
    first, second = buffer_of(a), buffer_of(b)
    if first is None or second is None:
        return None
    attrs = node.attrs
    stride, padding = attrs["stride"], attrs["padding"]
    out = lowering.buffers[node]
    form = node.opdef.lowering.gemm
    if form == "conv2d":
        return _forward(lowering, out, first, second, stride, padding)
    if form == "conv2d_grad_weight":
        return _weights(lowering, out, first, second, stride, padding)
    return _inputs(lowering, out, first, second, stride, padding)


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


def _forward(lowering, out, x, w, stride, padding) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = out.shape
    depth = math.prod(w.shape[1:])
    images = _Images(lowering, batch, x.dtype, [(w.shape[1],) + w.shape[2:] + (oh, ow)])
    (cols,) = images.buffers

    def image(n, slot):
        return [_im2col(cols, x, n, slot, w.shape[2:], stride, padding, (oh, ow)),
                loops.Gemm(out, w, cols, channels_out, oh * ow, depth,
                           b_offset=images.offset(cols, slot),
                           c_offset=n * (channels_out * oh * ow))]
    return images.each(image)


def _weights(lowering, dw, x, g, stride, padding) -> list[loops.Stmt]:
    """dWᵀ (C KH KW, O) = cols @ g[n]ᵀ per image: with the many columns of the receptive field
    as rows, the Gemm's tiles are full (O is often one panel wide). Each slot accumulates the
    images it runs into its own partial; the partials are summed and transposed back at the
    end, so parallel images never write the same memory."""
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(dw.shape[1:])
    images = _Images(lowering, batch, x.dtype, [dw.shape[1:] + (oh, ow), (depth, channels_out)])
    cols, partial = images.buffers

    def image(n, slot):
        return [_im2col(cols, x, n, slot, dw.shape[2:], stride, padding, (oh, ow)),
                loops.Gemm(partial, cols, g, depth, channels_out, oh * ow, trans_b=True,
                           beta=1.0, a_offset=images.offset(cols, slot),
                           b_offset=n * (channels_out * oh * ow),
                           c_offset=images.offset(partial, slot))]

    def total(k):        # dw.flat[k] = dW[o, r] with k = o * depth + r, from partial[., r, o]
        return loops.store(dw, (k,), loops.reduce_sum(images.slots, lambda t: partial[
            t, k % depth, k // depth]))
    zero = loops.loop(partial.size, lambda k: loops.store(partial, (k,), 0.0))
    return [zero, *images.each(image), loops.loop(dw.size, total)]


def _inputs(lowering, dx, g, w, stride, padding) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(w.shape[1:])
    images = _Images(lowering, batch, g.dtype, [w.shape[1:] + (oh, ow)])
    (dcols,) = images.buffers

    def image(n, slot):
        return [loops.Gemm(dcols, w, g, depth, oh * ow, channels_out, trans_a=True,
                           b_offset=n * (channels_out * oh * ow),
                           c_offset=images.offset(dcols, slot)),
                _col2im(dx, dcols, n, slot, w.shape[2:], stride, padding, (oh, ow))]
    return images.each(image)
