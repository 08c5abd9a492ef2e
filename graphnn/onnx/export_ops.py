"""How each graphnn op is written in ONNX: one rule per op, `(builder, node, *input names) ->
output name`.

Composite ops without a rule here (mse, the cross-entropies) are written as their expansion
(as are those whose rule returns None); convolution, pooling and normalization rules are in
graphnn.onnx.export_conv;
ops with no ONNX counterpart are listed in NO_COUNTERPART with the reason, and a test checks
that every op of the registry is in one of the three.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphnn.ir import Node
from graphnn.onnx.builder import Builder
from graphnn.onnx.export_conv import CONV_EXPORTS
from graphnn.onnx.export_dtypes import RULES as DTYPE_RULES
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
    "matmul": "MatMul", "softplus": "Softplus", "softsign": "Softsign", "erf": "Erf",
    "sin": "Sin", "cos": "Cos", "reciprocal": "Reciprocal", "floor": "Floor", "ceil": "Ceil",
    "round": "Round",     # ONNX's Round rounds half to even, as np.round and gn.round
}.items():
    EXPORTS[_name] = _simple(_op_type)

EXPORTS.update(LAYOUT_RULES)       # slice, concat, pad, ...: graphnn/onnx/export_layout.py
EXPORTS["square"] = lambda b, node, x: b.add("Mul", [x, x])
EXPORTS["leaky_relu"] = lambda b, node, x: b.add("LeakyRelu", [x], alpha=node.attrs["alpha"])
EXPORTS["elu"] = lambda b, node, x: b.add("Elu", [x], alpha=node.attrs["alpha"])


EXPORTS["silu"] = lambda b, node, x: b.add("Mul", [x, b.add("Sigmoid", [x])])
EXPORTS["rsqrt"] = lambda b, node, x: b.add("Reciprocal", [b.add("Sqrt", [x])])


@exports("step")
def _step(b: Builder, node: Node, x: str) -> str:
    # 1 if x > 0 else 0, NaN for NaN: relu(sign(x)), in float operators graphnn imports too
    # (so exported gradients of relu come back)
    return b.add("Relu", [b.add("Sign", [x])])


@exports("above")
def _above(b: Builder, node: Node, x: str, y: str) -> str:
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
EXPORTS["logsumexp"] = _reduce("ReduceLogSumExp", 18)
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


EXPORTS.update(CONV_EXPORTS)
EXPORTS.update(DTYPE_RULES)        # the int/bool ops: graphnn/onnx/export_dtypes.py


# ONNX has no Log1p and no Expm1: both are written with the classic corrections that keep the
# digits 1 + x and e^x - 1 lose (Goldberg; Kahan), in operators every runtime has.


@exports("log1p")
def _log1p(b: Builder, node: Node, x: str) -> str:
    # u = 1 + x rounded; log1p(x) = log(u) x / (u - 1), exactly x where u = 1 (the correction
    # x / (u - 1) is the ratio the rounding of 1 + x changed x by); inf stays inf
    value = lambda v: b.constant(v, node.dtype)  # noqa: E731
    u = b.add("Add", [x, value(1.0)])
    scaled = b.add("Mul", [b.add("Log", [u]), b.add("Div", [x, b.add("Sub", [u, value(1.0)])])])
    small = b.add("Where", [b.add("Equal", [u, value(1.0)]), x, scaled])
    return b.add("Where", [b.add("Equal", [x, value(np.inf)]), x, small])


@exports("expm1")
def _expm1(b: Builder, node: Node, x: str) -> str:
    # u = e^x; expm1(x) = (u - 1) x / log(u), x where u = 1, -1 where u - 1 = -1, inf at inf
    value = lambda v: b.constant(v, node.dtype)  # noqa: E731
    u = b.add("Exp", [x])
    less = b.add("Sub", [u, value(1.0)])
    scaled = b.add("Div", [b.add("Mul", [less, x]), b.add("Log", [u])])
    scaled = b.add("Where", [b.add("Equal", [u, value(1.0)]), x, scaled])
    scaled = b.add("Where", [b.add("Equal", [less, value(-1.0)]), less, scaled])
    return b.add("Where", [b.add("IsInf", [u]), u, scaled])


def _normal_cdf(b: Builder, node: Node, x: str) -> str:
    """Φ(x) = (1 + erf(x/√2)) / 2 (ONNX has no erfc: far in the left tail, where Φ(x) < 1e-8
    or so, this keeps only absolute accuracy)."""
    value = lambda v: b.constant(v, node.dtype)  # noqa: E731
    erf = b.add("Erf", [b.add("Mul", [x, value(1.0 / np.sqrt(2.0))])])
    return b.add("Mul", [b.add("Add", [erf, value(1.0)]), value(0.5)])


EXPORTS["normal_cdf"] = _normal_cdf


@exports("erf_slope", "normal_pdf")
def _gaussian(b: Builder, node: Node, x: str) -> str:
    # erf'(x) = 2/√π e^(-x²), φ(x) = e^(-x²/2) / √(2π)
    value = lambda v: b.constant(v, node.dtype)  # noqa: E731
    half = node.op == "normal_pdf"
    square = b.add("Mul", [x, x])
    exponent = b.add("Mul", [square, value(-0.5 if half else -1.0)])
    scale = 1.0 / np.sqrt(2.0 * np.pi) if half else 2.0 / np.sqrt(np.pi)
    return b.add("Mul", [b.add("Exp", [exponent]), value(scale)])


@exports("gelu")
def _gelu(b: Builder, node: Node, x: str) -> str:
    approximate = node.attrs["approximate"]
    if b.opset >= 20:
        return b.add("Gelu", [x], approximate=approximate)
    if approximate == "none":
        return b.add("Mul", [x, _normal_cdf(b, node, x)])
    # 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), as ONNX's Gelu defines it
    value = lambda v: b.constant(v, node.dtype)  # noqa: E731
    cube = b.add("Mul", [b.add("Mul", [x, x]), x])
    inner = b.add("Mul", [b.add("Add", [x, b.add("Mul", [cube, value(0.044715)])]),
                          value(np.sqrt(2.0 / np.pi))])
    half = b.add("Mul", [x, value(0.5)])
    return b.add("Mul", [half, b.add("Add", [b.add("Tanh", [inner]), value(1.0)])])
