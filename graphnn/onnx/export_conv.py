"""How convolution, pooling and normalization ops are written in ONNX: one rule per op,
`(builder, node, *input names) -> output name`, gathered in CONV_EXPORTS (which
graphnn.onnx.export_ops adds to its table).

ONNX writes padding as [top, left, bottom, right] (every axis's begin, then every axis's end).
The gradient ops are transposed convolutions (ConvTranspose), whose output size
s (o - 1) + output_padding + d (k - 1) + 1 - begin - end is made to reach the input's size.
A composite's rule may return None: it is then written as its expansion.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphnn.ir import Node
from graphnn.onnx.builder import Builder
from graphnn.onnx.tensors import element_type
from graphnn.ops import pool

CONV_EXPORTS: dict[str, Callable[..., str | None]] = {}


def _exports(*names: str):
    def register(rule):
        for name in names:
            CONV_EXPORTS[name] = rule
        return rule
    return register


def _pads(node: Node) -> list[int]:
    (top, bottom), (left, right) = node.attrs["padding"]
    return [top, left, bottom, right]


def _conv_attributes(node: Node) -> dict:
    return {"strides": list(node.attrs["stride"]), "pads": _pads(node),
            "dilations": list(node.attrs["dilation"]), "group": node.attrs["groups"]}


def _output_padding(input_hw, grid, kernel, stride, padding, dilation=(1, 1)) -> list[int]:
    """What a ConvTranspose adds at the end of each axis for its output to be input_hw."""
    return [h - ((o - 1) * s + d * (k - 1) + 1 - sum(sides))
            for h, o, k, s, sides, d in zip(input_hw, grid, kernel, stride, padding, dilation)]


@_exports("conv2d")
def _conv2d(b: Builder, node: Node, x: str, w: str) -> str:
    return b.add("Conv", [x, w], **_conv_attributes(node))


@_exports("conv2d_grad_input")
def _conv2d_grad_input(b: Builder, node: Node, g: str, w: str) -> str:
    # the adjoint of conv2d is a transposed convolution with the same weights (O, C/groups,
    # KH, KW): ConvTranspose reads them as (in channels, out channels per group, ...)
    extra = _output_padding(node.attrs["input_hw"], node.inputs[0].shape[2:],
                            node.inputs[1].shape[2:], node.attrs["stride"],
                            node.attrs["padding"], node.attrs["dilation"])
    return b.add("ConvTranspose", [g, w], output_padding=extra, **_conv_attributes(node))


@_exports("conv2d_grad_weight")
def _conv2d_grad_weight(b: Builder, node: Node, x: str, g: str) -> str:
    # dW[o, c, p, q] = sum over n, i, j of g[n, o, i, j] xpad[n, G(o) Cg + c, sh i + dh p, ...]:
    # a grouped convolution of x seen as X[c, G N + n] = x[n, G Cg + c] (Cg, groups N, H, W)
    # with g seen as (O, N, OH, OW) weights, its taps spaced by the stride and its steps by the
    # dilation, giving (Cg, O, KH', KW'), cropped to the kernel and transposed to (O, Cg)
    n, channels, height, width = node.inputs[0].shape
    groups = node.attrs["groups"]
    per_group = b.add("Reshape", [x, b.ints([n, groups, channels // groups, height, width])])
    seen = b.add("Reshape", [b.add("Transpose", [per_group], perm=[2, 1, 0, 3, 4]),
                             b.ints([channels // groups, groups * n, height, width])])
    swapped = b.add("Conv", [seen, b.add("Transpose", [g], perm=[1, 0, 2, 3])],
                    dilations=list(node.attrs["stride"]), strides=list(node.attrs["dilation"]),
                    pads=_pads(node), group=groups)
    cropped = b.add("Slice", [swapped, b.ints([0, 0]), b.ints(node.attrs["kernel_hw"]),
                              b.ints([2, 3])])
    return b.add("Transpose", [cropped], perm=[1, 0, 2, 3])


@_exports("max_pool2d", "avg_pool2d")
def _pool(b: Builder, node: Node, x: str) -> str:
    op_type = "MaxPool" if node.op == "max_pool2d" else "AveragePool"
    extra = {"count_include_pad": int(node.attrs["count_include_pad"])} \
        if node.op == "avg_pool2d" else {}
    return b.add(op_type, [x], kernel_shape=list(node.attrs["kernel"]),
                 strides=list(node.attrs["stride"]), pads=_pads(node), **extra)


def _depthwise_scatter(b: Builder, node: Node, parts: str, channels: int, weights: np.ndarray,
                       grid, input_hw) -> str:
    """ConvTranspose with one (KH, KW) filter per channel (group = channels): each window's
    values added back onto the input positions it covers (what falls in the padding cropped)."""
    kernel, stride = node.attrs["kernel"], node.attrs["stride"]
    extra = _output_padding(input_hw, grid, kernel, stride, node.attrs["padding"])
    return b.add("ConvTranspose", [parts, b.constant(weights, node.dtype)], group=channels,
                 strides=list(stride), pads=_pads(node), output_padding=extra)


@_exports("avg_pool2d_grad")
def _avg_pool2d_grad(b: Builder, node: Node, g: str) -> str:
    kernel, stride, padding = node.attrs["kernel"], node.attrs["stride"], node.attrs["padding"]
    channels, grid = node.inputs[0].shape[1], node.inputs[0].shape[2:]
    if node.attrs["count_include_pad"] or padding == pool.NO_PADDING:
        scale = 1.0 / (kernel[0] * kernel[1])
    else:                           # each window's share: 1 / (its input elements), (OH, OW)
        counts = pool.real_elements((1, 1) + tuple(node.attrs["input_hw"]), kernel, stride,
                                    padding).sum(axis=(4, 5))
        g, scale = b.add("Mul", [g, b.constant(1.0 / counts, node.dtype)]), 1.0
    weights = np.full((channels, 1) + tuple(kernel), scale)
    return _depthwise_scatter(b, node, g, channels, weights, grid, node.attrs["input_hw"])


@_exports("max_pool2d_grad")
def _max_pool2d_grad(b: Builder, node: Node, x: str, out: str, g: str) -> str:
    # for each offset (i, j) of the window: mask_ij = (xpad[s y + i, s x + j] == out[y, x]),
    # the padding NaN so that it never matches; the window's g goes to its maxima in equal
    # shares: g mask_ij / sum_ij mask_ij, scattered back by a depthwise transposed
    # convolution with one-hot filters
    (kh, kw), (sh, sw) = node.attrs["kernel"], node.attrs["stride"]
    n, channels, oh, ow = node.inputs[1].shape
    if node.attrs["padding"] != pool.NO_PADDING:
        (top, bottom), (left, right) = node.attrs["padding"]
        x = b.add("Pad", [x, b.ints([0, 0, top, left, 0, 0, bottom, right]),
                          b.constant(np.nan, node.dtype)])
    masks = []
    for i in range(kh):
        for j in range(kw):
            window = b.add("Slice", [x, b.ints([i, j]), b.ints([i + sh * (oh - 1) + 1,
                                                               j + sw * (ow - 1) + 1]),
                                     b.ints([2, 3]), b.ints([sh, sw])])
            masks.append(b.add("Cast", [b.add("Equal", [window, out])],
                               to=element_type(node.dtype)))
    stacked = b.add("Concat", masks, axis=2) if len(masks) > 1 else masks[0]
    shaped = b.add("Reshape", [stacked, b.ints([n, channels, kh * kw, oh, ow])])
    share = b.add("Div", [b.add("Mul", [shaped, b.add("Unsqueeze", [g, b.ints([2])])]),
                          b.add("ReduceSum", [shaped, b.ints([2])], keepdims=1)])
    parts = b.add("Reshape", [share, b.ints([n, channels * kh * kw, oh, ow])])
    weights = np.eye(kh * kw).reshape(kh * kw, 1, kh, kw)
    weights = np.tile(weights, (channels, 1, 1, 1))
    return _depthwise_scatter(b, node, parts, channels, weights, (oh, ow), node.shape[2:])


@_exports("global_avg_pool2d")
def _global_avg_pool2d(b: Builder, node: Node, x: str) -> str:
    y = b.add("GlobalAveragePool", [x])
    return y if node.attrs["keepdims"] else b.add("Squeeze", [y, b.ints([2, 3])])


@_exports("layer_norm")
def _layer_norm(b: Builder, node: Node, x: str) -> str | None:
    # LayerNormalization (opset 17) normalizes from `axis` to the last axis, with a scale
    # (ones here); other axes, or older opsets, are written as the expansion
    shape, axes = node.inputs[0].shape, node.attrs["axis"]
    first = len(shape) - len(axes)
    if b.opset < 17 or tuple(axes) != tuple(range(first, len(shape))):
        return None
    return b.add("LayerNormalization", [x, b.constant(np.ones(shape[first:]), node.dtype)],
                 axis=first, epsilon=node.attrs["eps"])


@_exports("batch_norm")
def _batch_norm(b: Builder, node: Node, x: str, mean: str, var: str, gamma: str,
                beta: str) -> str:
    return b.add("BatchNormalization", [x, gamma, beta, mean, var], epsilon=node.attrs["eps"])
