"""How each graphnn op is written in ONNX: one rule per op, `(builder, node, *input names) ->
output name`.

Composite ops without a rule here (mse, the cross-entropies) are written as their expansion;
ops with no ONNX counterpart are listed in NO_COUNTERPART with the reason, and a test checks
that every op of the registry is in one of the three.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphnn.ir import Node
from graphnn.onnx.builder import Builder
from graphnn.onnx.export_layout import RULES as LAYOUT_RULES

Rule = Callable[..., str]
EXPORTS: dict[str, Rule] = {}

NO_COUNTERPART = {
    "max_pool2d_select": "the second derivative of max pooling (a gradient of a gradient)",
}


def exports(*names: str) -> Callable[[Rule], Rule]:
    def register(rule: Rule) -> Rule:
        for name in names:
            EXPORTS[name] = rule
        return rule
    return register


def _simple(op_type: str, **fixed) -> Rule:
    return lambda b, node, *inputs: b.add(op_type, list(inputs), **fixed)


for _name, _op_type in {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg", "pow": "Pow",
    "sqrt": "Sqrt", "sign": "Sign", "abs": "Abs", "exp": "Exp", "log": "Log",
    "maximum": "Max", "minimum": "Min", "sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
    "matmul": "MatMul",
}.items():
    EXPORTS[_name] = _simple(_op_type)

EXPORTS.update(LAYOUT_RULES)       # slice, concat, pad, ...: graphnn/onnx/export_layout.py
EXPORTS["square"] = lambda b, node, x: b.add("Mul", [x, x])
EXPORTS["leaky_relu"] = lambda b, node, x: b.add("LeakyRelu", [x], alpha=node.attrs["alpha"])
EXPORTS["elu"] = lambda b, node, x: b.add("Elu", [x], alpha=node.attrs["alpha"])


def _element_type(node: Node) -> int:
    from graphnn.onnx.tensors import element_type
    return element_type(node.dtype)


@exports("step")
def _step(b: Builder, node: Node, x: str) -> str:
    # 1 if x > 0 else 0, NaN for NaN: relu(sign(x)), in float operators graphnn imports too
    # (so exported gradients of relu come back)
    return b.add("Relu", [b.add("Sign", [x])])


@exports("greater")
def _greater(b: Builder, node: Node, x: str, y: str) -> str:
    # 1 where x > y, 0 where x < y, tie where equal, NaN where either is NaN
    value = lambda v: b.constant(v, node.dtype)  # noqa: E731
    tie = b.add("Where", [b.add("Equal", [x, y]), value(node.attrs["tie"]), value(np.nan)])
    lower = b.add("Where", [b.add("Less", [x, y]), value(0.0), tie])
    return b.add("Where", [b.add("Greater", [x, y]), value(1.0), lower])


def _reduce(op_type: str, since: int) -> Rule:
    """Reductions: axes an attribute before opset `since`, an input from it on (the exporter
    writes opsets 13 and later, where ReduceSum's axes are always an input)."""
    def rule(b: Builder, node: Node, x: str) -> str:
        axes, keepdims = node.attrs["axis"], int(node.attrs["keepdims"])
        if axes is None or len(axes) == len(node.inputs[0].shape):
            axes = tuple(range(len(node.inputs[0].shape)))
        if not axes:                         # a reduction over no axis: the input itself
            return b.add("Identity", [x])
        if b.opset >= since:
            return b.add(op_type, [x, b.ints(axes)], keepdims=keepdims)
        return b.add(op_type, [x], axes=list(axes), keepdims=keepdims)
    return rule


EXPORTS["sum"] = _reduce("ReduceSum", 13)
EXPORTS["mean"] = _reduce("ReduceMean", 18)
EXPORTS["max"] = _reduce("ReduceMax", 18)
EXPORTS["min"] = _reduce("ReduceMin", 18)
def _kept_leading(node: Node, keep: int) -> list[int]:
    """The target shape, its leading dimension written `keep` where it is the input's own
    (Reshape's 0 copies the input's dimension, Expand's 1 broadcasts to it): the same value
    here, and the model then runs at any batch size."""
    shape, source = list(node.shape), node.inputs[0].shape
    if shape and source and shape[0] == source[0] and shape[0] != 0:
        shape[0] = keep
    return shape


EXPORTS["reshape"] = lambda b, node, x: b.add("Reshape", [x, b.ints(_kept_leading(node, 0))])


@exports("broadcast_to", "broadcast_like")
def _expand(b: Builder, node: Node, x: str, *like: str) -> str:
    source = node.inputs[0].shape
    same_rank = len(source) == len(node.shape)
    return b.add("Expand", [x, b.ints(_kept_leading(node, 1) if same_rank else node.shape)])
EXPORTS["transpose"] = lambda b, node, x: b.add("Transpose", [x], perm=list(node.attrs["axes"]))
EXPORTS["size"] = lambda b, node, x: b.constant(
    np.prod([node.inputs[0].shape[a] for a in node.attrs["axis"]]), node.dtype)


@exports("softmax", "log_softmax")
def _softmax(b: Builder, node: Node, x: str) -> str:
    op_type = "Softmax" if node.op == "softmax" else "LogSoftmax"
    return b.add(op_type, [x], axis=node.attrs["axis"])


def _pads(node: Node) -> list[int]:
    return list(node.attrs["padding"]) * 2


@exports("conv2d")
def _conv2d(b: Builder, node: Node, x: str, w: str) -> str:
    return b.add("Conv", [x, w], strides=list(node.attrs["stride"]), pads=_pads(node))


@exports("conv2d_grad_input")
def _conv2d_grad_input(b: Builder, node: Node, g: str, w: str) -> str:
    # the adjoint of conv2d is a transposed convolution; output_padding reaches input_hw
    stride, padding = node.attrs["stride"], node.attrs["padding"]
    kernel, grid = node.inputs[1].shape[2:], node.inputs[0].shape[2:]
    extra = [h - ((o - 1) * s - 2 * p + k)
             for h, o, s, p, k in zip(node.attrs["input_hw"], grid, stride, padding, kernel)]
    return b.add("ConvTranspose", [g, w], strides=list(stride), pads=_pads(node),
                 output_padding=extra)


@exports("conv2d_grad_weight")
def _conv2d_grad_weight(b: Builder, node: Node, x: str, g: str) -> str:
    # dW[o, c, i, j] = sum over n, y, x of g[n, o, y, x] * xpad[n, c, s y + i, s x + j]: a
    # convolution of x seen as (C, N, H, W) with g seen as (O, N, OH, OW) as weights, dilated
    # by the stride, giving (C, O, KH', KW'), cropped to the kernel and transposed to (O, C)
    stride, kernel = node.attrs["stride"], node.attrs["kernel_hw"]
    swapped = b.add("Conv", [b.add("Transpose", [x], perm=[1, 0, 2, 3]),
                             b.add("Transpose", [g], perm=[1, 0, 2, 3])],
                    dilations=list(stride), pads=_pads(node))
    cropped = b.add("Slice", [swapped, b.ints([0, 0]), b.ints(kernel), b.ints([2, 3])])
    return b.add("Transpose", [cropped], perm=[1, 0, 2, 3])


@exports("max_pool2d", "avg_pool2d")
def _pool(b: Builder, node: Node, x: str) -> str:
    op_type = "MaxPool" if node.op == "max_pool2d" else "AveragePool"
    return b.add(op_type, [x], kernel_shape=list(node.attrs["kernel"]),
                 strides=list(node.attrs["stride"]))


def _depthwise_scatter(b: Builder, node: Node, parts: str, channels: int, weights: np.ndarray,
                       grid, input_hw) -> str:
    """ConvTranspose with one (KH, KW) filter per channel (group = channels): each window's
    values added back onto the input positions it covers."""
    kernel, stride = node.attrs["kernel"], node.attrs["stride"]
    extra = [h - ((o - 1) * s + k) for h, o, s, k in zip(input_hw, grid, stride, kernel)]
    return b.add("ConvTranspose", [parts, b.constant(weights, node.dtype)], group=channels,
                 strides=list(stride), output_padding=extra)


@exports("avg_pool2d_grad")
def _avg_pool2d_grad(b: Builder, node: Node, g: str) -> str:
    kh, kw = node.attrs["kernel"]
    channels = node.inputs[0].shape[1]
    weights = np.full((channels, 1, kh, kw), 1.0 / (kh * kw))
    return _depthwise_scatter(b, node, g, channels, weights, node.inputs[0].shape[2:],
                              node.attrs["input_hw"])


@exports("max_pool2d_grad")
def _max_pool2d_grad(b: Builder, node: Node, x: str, out: str, g: str) -> str:
    # for each offset (i, j) of the window: mask_ij = (x[s y + i, s x + j] == out[y, x]); the
    # window's g goes to its maxima in equal shares: g mask_ij / sum_ij mask_ij, scattered
    # back by a depthwise transposed convolution with one-hot filters
    (kh, kw), (sh, sw) = node.attrs["kernel"], node.attrs["stride"]
    n, channels, oh, ow = node.inputs[1].shape
    masks = []
    for i in range(kh):
        for j in range(kw):
            window = b.add("Slice", [x, b.ints([i, j]), b.ints([i + sh * (oh - 1) + 1,
                                                               j + sw * (ow - 1) + 1]),
                                     b.ints([2, 3]), b.ints([sh, sw])])
            masks.append(b.add("Cast", [b.add("Equal", [window, out])],
                               to=_element_type(node)))
    stacked = b.add("Concat", masks, axis=2) if len(masks) > 1 else masks[0]
    shaped = b.add("Reshape", [stacked, b.ints([n, channels, kh * kw, oh, ow])])
    share = b.add("Div", [b.add("Mul", [shaped, b.add("Unsqueeze", [g, b.ints([2])])]),
                          b.add("ReduceSum", [shaped, b.ints([2])], keepdims=1)])
    parts = b.add("Reshape", [share, b.ints([n, channels * kh * kw, oh, ow])])
    weights = np.eye(kh * kw).reshape(kh * kw, 1, kh, kw)
    weights = np.tile(weights, (channels, 1, 1, 1))
    return _depthwise_scatter(b, node, parts, channels, weights, (oh, ow), node.shape[2:])
