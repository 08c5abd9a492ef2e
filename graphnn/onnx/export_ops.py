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
    "matmul": "MatMul",
}.items():
    EXPORTS[_name] = _simple(_op_type)

EXPORTS.update(LAYOUT_RULES)       # slice, concat, pad, ...: graphnn/onnx/export_layout.py
EXPORTS["square"] = lambda b, node, x: b.add("Mul", [x, x])
EXPORTS["leaky_relu"] = lambda b, node, x: b.add("LeakyRelu", [x], alpha=node.attrs["alpha"])
EXPORTS["elu"] = lambda b, node, x: b.add("Elu", [x], alpha=node.attrs["alpha"])


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
