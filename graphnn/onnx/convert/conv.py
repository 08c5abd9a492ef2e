"""Convolution and pooling ONNX operators: Conv, ConvTranspose, MaxPool, AveragePool,
GlobalAveragePool, GlobalMaxPool.

2-D operators map onto conv2d, conv2d_grad_input (a transposed convolution is the adjoint of a
convolution), max_pool2d and avg_pool2d (GlobalAveragePool onto global_avg_pool2d); 1-D ones
run as 2-D ones over a height of 1. auto_pad is resolved to explicit padding, (begin, end) on
each axis. What graphnn's ops do not have (3-D operators, dilated pooling, partial windows of
ceil_mode, MaxPool's Indices output) is refused by name.
"""

from __future__ import annotations

import math

from graphnn import ops
from graphnn.onnx.registry import converter

CONV_ATTRIBUTES = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")


def _same_pads(size: int, kernel: int, stride: int, dilation: int, lower: bool) -> tuple[int, int]:
    """SAME padding: the output has ceil(size / stride) positions; the odd pixel goes at the
    end (SAME_UPPER) or the beginning (SAME_LOWER)."""
    span = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    small = total // 2
    return (total - small, small) if lower else (small, total - small)


def spatial_pads(ctx, sizes, kernel, strides, dilations, auto_pad, pads) -> list[tuple[int, int]]:
    """(begin, end) padding of each spatial axis."""
    rank = len(sizes)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return [_same_pads(n, k, s, d, auto_pad == "SAME_LOWER")
                for n, k, s, d in zip(sizes, kernel, strides, dilations)]
    if auto_pad == "VALID" or pads is None:
        return [(0, 0)] * rank
    if auto_pad not in ("NOTSET", "", None):
        raise ctx.attribute_error("auto_pad", auto_pad, "not an ONNX auto_pad value")
    return list(zip(pads[:rank], pads[rank:]))


class Geometry:
    """A node's spatial settings, 1-D lifted to 2-D (a height of 1)."""

    def __init__(self, ctx, x, kernel, strides, dilations, auto_pad, pads) -> None:
        rank = len(x.shape) - 2
        if rank not in (1, 2):
            raise ctx.unsupported(f"{rank}-D {ctx.op_type} (graphnn has 1-D and 2-D ones)")
        self.rank = rank
        strides = tuple(strides or (1,) * rank)
        dilations = tuple(dilations or (1,) * rank)
        pads = tuple(spatial_pads(ctx, x.shape[2:], kernel, strides, dilations, auto_pad, pads))
        lift = (lambda t, one: (one, *t)) if rank == 1 else (lambda t, one: tuple(t))
        self.kernel, self.strides = lift(kernel, 1), lift(strides, 1)
        self.dilations, self.pads = lift(dilations, 1), lift(pads, (0, 0))

    def lift(self, x):
        """x as 4-D: (N, C, L) -> (N, C, 1, L)."""
        return ops.reshape(x, (*x.shape[:2], 1, *x.shape[2:])) if self.rank == 1 else x

    def lower(self, y):
        return ops.reshape(y, (*y.shape[:2], y.shape[3])) if self.rank == 1 else y


def _check_kernel(ctx, kernel_shape, w) -> tuple[int, ...]:
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise ctx.unsupported("kernel_shape that differs from the weights' shape",
                              f" ({tuple(kernel_shape)} and {kernel})")
    return kernel


@converter("Conv", attributes=CONV_ATTRIBUTES)
def conv(ctx, x, w, b=None, *, auto_pad, dilations, group, kernel_shape, pads, strides):
    kernel = _check_kernel(ctx, kernel_shape, w)
    shape = Geometry(ctx, x, kernel, strides, dilations, auto_pad, pads)
    y = ops.conv2d(shape.lift(x), shape.lift(ctx.node(w, like=x)), stride=shape.strides,
                   padding=shape.pads, dilation=shape.dilations, groups=group)
    if b is not None:
        y = y + ops.reshape(ctx.node(b, like=x), (y.shape[1], 1, 1))
    return shape.lower(y)


@converter("ConvTranspose", attributes=CONV_ATTRIBUTES + ("output_padding", "output_shape"))
def conv_transpose(ctx, x, w, b=None, *, auto_pad, dilations, group, kernel_shape, pads,
                   strides, output_padding, output_shape):
    kernel = _check_kernel(ctx, kernel_shape, w)
    rank = len(x.shape) - 2
    strides = tuple(strides or (1,) * rank)
    dilations = tuple(dilations or (1,) * rank)
    extra = tuple(output_padding or (0,) * rank)
    full = [s * (n - 1) + e + (k - 1) * d + 1
            for n, k, s, d, e in zip(x.shape[2:], kernel, strides, dilations, extra)]
    if output_shape is not None:
        # SAME-like split of the padding that gives output_shape (the ONNX rule)
        totals = [f - o for f, o in zip(full, tuple(output_shape)[-rank:])]
        upper = auto_pad != "SAME_LOWER"
        pads = [(t // 2, t - t // 2) if upper else (t - t // 2, t // 2) for t in totals]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        totals = [f - n * s for f, n, s in zip(full, x.shape[2:], strides)]
        pads = [(t // 2, t - t // 2) if auto_pad == "SAME_UPPER" else (t - t // 2, t // 2)
                for t in totals]
    else:
        pads = spatial_pads(ctx, x.shape[2:], kernel, strides, dilations, auto_pad, pads)
    if any(t < 0 for pair in pads for t in pair):
        raise ctx.unsupported("an output_shape larger than the transposed convolution gives")
    shape = Geometry(ctx, x, kernel, strides, dilations, "NOTSET",
                     [p for p, _ in pads] + [q for _, q in pads])
    sizes = [f - p - q for f, (p, q) in zip(full, pads)]
    hw = tuple(sizes) if rank == 2 else (1, sizes[0])
    y = ops.conv2d_grad_input(shape.lift(x), shape.lift(ctx.node(w, like=x)), input_hw=hw,
                              stride=shape.strides, padding=shape.pads,
                              dilation=shape.dilations, groups=group)
    if b is not None:
        y = y + ops.reshape(ctx.node(b, like=x), (y.shape[1], 1, 1))
    return shape.lower(y)


POOL_ATTRIBUTES = ("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides")


def _pool(ctx, op, x, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides, **extra):
    kernel = tuple(kernel_shape)
    shape = Geometry(ctx, x, kernel, strides, dilations, auto_pad, pads)
    if any(d != 1 for d in shape.dilations):
        raise ctx.attribute_error("dilations", dilations, "waiting for pooling dilation")
    if ceil_mode:
        hw = (1, *x.shape[2:]) if shape.rank == 1 else x.shape[2:]
        for n, k, s, (begin, end) in zip(hw, shape.kernel, shape.strides, shape.pads):
            if (n + begin + end - k) % s:
                raise ctx.unsupported("ceil_mode=1 where it adds a partial window "
                                      "(graphnn pools whole windows)")
    y = op(shape.lift(x), kernel=shape.kernel, stride=shape.strides, padding=shape.pads,
           **extra)
    return shape.lower(y)


@converter("MaxPool", attributes=POOL_ATTRIBUTES + ("storage_order",))
def max_pool(ctx, x, *, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides,
             storage_order):
    if ctx.wants(1):
        raise ctx.unsupported("the Indices output (int64 positions; graphnn returns values)")
    return _pool(ctx, ops.max_pool2d, x, auto_pad, ceil_mode, dilations, kernel_shape, pads,
                 strides)


@converter("AveragePool", attributes=POOL_ATTRIBUTES + ("count_include_pad",))
def average_pool(ctx, x, *, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides,
                 count_include_pad):
    return _pool(ctx, ops.avg_pool2d, x, auto_pad, ceil_mode, dilations, kernel_shape, pads,
                 strides, count_include_pad=bool(count_include_pad))


def _spatial(x) -> tuple[int, ...]:
    return tuple(range(2, len(x.shape)))


@converter("GlobalAveragePool")
def global_average_pool(ctx, x):
    if len(x.shape) == 4:
        return ops.global_avg_pool2d(x, keepdims=True)
    return ops.mean(x, axis=_spatial(x), keepdims=True)


converter("GlobalMaxPool")(lambda ctx, x: ops.max(x, axis=_spatial(x), keepdims=True))
