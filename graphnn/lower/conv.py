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
from graphnn.ir import Node
from graphnn.ops.common import clamped, when, window_load

CONV_OPS = ("conv2d", "conv2d_grad_input", "conv2d_grad_weight")
MIN_DEPTH = 16        # below this many multiply-adds per output, the direct loops are faster
PARALLEL_SCRATCH = 64 << 20   # images run in parallel when their scratch fits in this many bytes


def worth_it(node: Node) -> bool:
    """im2col + Gemm pays when each output sums enough terms (C KH KW, or N OH OW)."""
    if node.op == "conv2d_grad_weight":
        return math.prod(node.inputs[1].shape[2:]) >= MIN_DEPTH
    weights = node.inputs[1]
    depth = weights.shape[0] if node.op == "conv2d_grad_input" else math.prod(weights.shape[1:])
    return depth >= MIN_DEPTH


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
    if node.op == "conv2d":
        return _forward(lowering, out, first, second, stride, padding)
    if node.op == "conv2d_grad_weight":
        return _weights(lowering, out, first, second, stride, padding)
    return _inputs(lowering, out, first, second, stride, padding)


class _Images:
    """The per-image loop: parallel across images, each with its own slice of batch-sized
    scratch (and a single-threaded Gemm inside), when that scratch fits PARALLEL_SCRATCH;
    otherwise one image after the other sharing one slice (and multi-threaded Gemms)."""

    def __init__(self, lowering, batch: int, dtype: str, sizes: list[tuple[int, ...]]) -> None:
        itemsize = 4 if loops.normalize_dtype(dtype) == "f32" else 8
        total = batch * sum(math.prod(shape) for shape in sizes) * itemsize
        self.parallel = batch > 1 and total <= PARALLEL_SCRATCH
        copies = batch if self.parallel else 1
        self.batch = batch
        self.buffers = [lowering.scratch(dtype, (copies,) + shape) for shape in sizes]

    def slot(self, n) -> loops.Expr | int:
        """Which copy of the scratch image n uses."""
        return n if self.parallel else 0

    def offset(self, buffer: loops.Buffer, n) -> loops.Expr | int:
        return self.slot(n) * math.prod(buffer.shape[1:])

    def loop(self, body) -> loops.Stmt:
        return loops.loop(self.batch, body, name="n", parallel=self.parallel)


def _forward(lowering, out, x, w, stride, padding) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = out.shape
    depth = math.prod(w.shape[1:])
    images = _Images(lowering, batch, x.dtype, [(w.shape[1],) + w.shape[2:] + (oh, ow)])
    (cols,) = images.buffers

    def image(n):
        return [_im2col(cols, x, n, images.slot(n), w.shape[2:], stride, padding, (oh, ow)),
                loops.Gemm(out, w, cols, channels_out, oh * ow, depth,
                           b_offset=images.offset(cols, n),
                           c_offset=n * (channels_out * oh * ow))]
    return [images.loop(image)]


def _weights(lowering, dw, x, g, stride, padding) -> list[loops.Stmt]:
    """dWᵀ (C KH KW, O) = cols @ g[n]ᵀ per image: with the many columns of the receptive field
    as rows, the Gemm's tiles are full (O is often one panel wide). Per-image partials, summed
    and transposed back at the end, so parallel images never write the same memory."""
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(dw.shape[1:])
    images = _Images(lowering, batch, x.dtype, [dw.shape[1:] + (oh, ow), (depth, channels_out)])
    cols, partial = images.buffers

    def image(n):
        return [_im2col(cols, x, n, images.slot(n), dw.shape[2:], stride, padding, (oh, ow)),
                loops.Gemm(partial, cols, g, depth, channels_out, oh * ow, trans_b=True,
                           beta=0.0 if images.parallel else 1.0,
                           a_offset=images.offset(cols, n),
                           b_offset=n * (channels_out * oh * ow),
                           c_offset=images.offset(partial, n))]

    def total(k):        # dw.flat[k] = dW[o, r] with k = o * depth + r, from partial[., r, o]
        copies = batch if images.parallel else 1
        return loops.store(dw, (k,), loops.reduce_sum(copies, lambda n: partial[
            n, k % depth, k // depth]))
    steps = [images.loop(image), loops.loop(dw.size, total)]
    if not images.parallel:
        steps.insert(0, loops.loop(partial.size, lambda k: loops.store(partial, (k,), 0.0)))
    return steps


def _inputs(lowering, dx, g, w, stride, padding) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(w.shape[1:])
    images = _Images(lowering, batch, g.dtype, [w.shape[1:] + (oh, ow)])
    (dcols,) = images.buffers

    def image(n):
        return [loops.Gemm(dcols, w, g, depth, oh * ow, channels_out, trans_a=True,
                           b_offset=n * (channels_out * oh * ow),
                           c_offset=images.offset(dcols, n)),
                _col2im(dx, dcols, n, images.slot(n), w.shape[2:], stride, padding, (oh, ow))]
    return [images.loop(image)]
