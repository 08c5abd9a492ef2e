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


def worth_it(node: Node) -> bool:
    """im2col + Gemm pays when each output sums enough terms (C KH KW, or N OH OW)."""
    if node.op == "conv2d_grad_weight":
        return math.prod(node.inputs[1].shape[2:]) >= MIN_DEPTH
    weights = node.inputs[1]
    depth = weights.shape[0] if node.op == "conv2d_grad_input" else math.prod(weights.shape[1:])
    return depth >= MIN_DEPTH


def _times(index: loops.Expr, factor: int) -> loops.Expr:
    return index if factor == 1 else index * factor


def _im2col(cols: loops.Buffer, x, n, kernel_hw, stride, padding, out_hw) -> loops.Stmt:
    """cols[c, p, q, i, j] = xpad[n, c, i*sh + p - ph, j*sw + q - pw] for image n."""
    guard = padding != (0, 0)
    channels = cols.shape[0]

    def body(c, p, q, i, j):
        value = window_load(x, (n, c), _times(i, stride[0]) + p - padding[0],
                            _times(j, stride[1]) + q - padding[1], guard=guard)
        return loops.store(cols, (c, p, q, i, j), value)
    return loops.loop_nest((channels,) + tuple(kernel_hw) + tuple(out_hw), body,
                           names=("c", "p", "q", "i", "j"))


def _col2im(dx: loops.Buffer, dcols: loops.Buffer, n, kernel_hw, stride, padding,
            out_hw) -> loops.Stmt:
    """dx[n, c, h, w] = sum over (p, q) of dcols[c, p, q, i, j] with i*sh + p - ph = h."""
    def body(c, h, w):
        def term(p, q):
            i, i_ok = clamped(h + padding[0] - p, out_hw[0], stride[0])
            j, j_ok = clamped(w + padding[1] - q, out_hw[1], stride[1])
            return when(i_ok + j_ok, dcols[c, p, q, i, j])
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


def _forward(lowering, out, x, w, stride, padding) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = out.shape
    depth = math.prod(w.shape[1:])
    cols = lowering.scratch(x.dtype, (w.shape[1],) + w.shape[2:] + (oh, ow))

    def image(n):
        return [_im2col(cols, x, n, w.shape[2:], stride, padding, (oh, ow)),
                loops.Gemm(out, w, cols, channels_out, oh * ow, depth,
                           c_offset=n * (channels_out * oh * ow))]
    return [loops.loop(batch, image, name="n")]


def _weights(lowering, dw, x, g, stride, padding) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(dw.shape[1:])
    cols = lowering.scratch(x.dtype, dw.shape[1:] + (oh, ow))

    def image(n):
        return [_im2col(cols, x, n, dw.shape[2:], stride, padding, (oh, ow)),
                loops.Gemm(dw, g, cols, channels_out, depth, oh * ow, trans_b=True, beta=1.0,
                           a_offset=n * (channels_out * oh * ow))]
    zero = loops.loop(dw.size, lambda k: loops.store(dw, (k,), 0.0))
    return [zero, loops.loop(batch, image, name="n")]


def _inputs(lowering, dx, g, w, stride, padding) -> list[loops.Stmt]:
    batch, channels_out, oh, ow = g.shape
    depth = math.prod(w.shape[1:])
    dcols = lowering.scratch(g.dtype, w.shape[1:] + (oh, ow))

    def image(n):
        return [loops.Gemm(dcols, w, g, depth, oh * ow, channels_out, trans_a=True,
                           b_offset=n * (channels_out * oh * ow)),
                _col2im(dx, dcols, n, w.shape[2:], stride, padding, (oh, ow))]
    return [loops.loop(batch, image, name="n")]
