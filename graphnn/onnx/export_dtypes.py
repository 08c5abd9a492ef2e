"""ONNX export rules of the int and bool ops (graphnn/ops/compare.py, graphnn/ops/gather.py):
comparisons, logical ops, where, clip, cast, take and its gradient, one_hot, argmax/argmin.

They join graphnn.onnx.export_ops.EXPORTS (RULES, merged at its end). Where ONNX leaves a case
undefined or runtimes differ from NumPy (Cast of NaN or of a float beyond an int's range,
ArgMax over NaN), the rule writes graphnn's definition out in ONNX operators, so an exported
model computes what graphnn computes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import numpy_helper

from graphnn.ir import FLOAT_DTYPES, INT_DTYPES, Node
from graphnn.onnx.builder import Builder
from graphnn.onnx.errors import OnnxError
from graphnn.onnx.tensors import element_type

RULES: dict[str, Callable[..., str]] = {}
SCATTER_ADD_OPSET = 16          # ScatterND's reduction="add" (take's gradient) is from here on

_COMPARISONS = {"greater": "Greater", "greater_equal": "GreaterOrEqual", "less": "Less",
                "less_equal": "LessOrEqual", "equal": "Equal"}


def _rule(*names: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    def register(rule: Callable[..., str]) -> Callable[..., str]:
        RULES.update(dict.fromkeys(names, rule))
        return rule
    return register


def _comparison(op_type: str):
    def rule(b: Builder, node: Node, x: str, y: str) -> str:
        if node.inputs[0].dtype == "bool" and op_type != "Equal":
            # runtimes order numbers, not bools: False < True as 0 < 1
            x, y = (b.add("Cast", [v], to=element_type("int32")) for v in (x, y))
        return b.add(op_type, [x, y])
    return rule


for _name, _op_type in _COMPARISONS.items():
    RULES[_name] = _comparison(_op_type)
RULES["not_equal"] = lambda b, node, x, y: b.add("Not", [b.add("Equal", [x, y])])
RULES["logical_and"] = lambda b, node, x, y: b.add("And", [x, y])
RULES["logical_or"] = lambda b, node, x, y: b.add("Or", [x, y])
RULES["logical_not"] = lambda b, node, x: b.add("Not", [x])
RULES["where"] = lambda b, node, cond, x, y: b.add("Where", [cond, x, y])
# ONNX's Clip takes scalar bounds; graphnn's broadcast like any elementwise operand
RULES["clip"] = lambda b, node, x, lo, hi: b.add("Min", [b.add("Max", [x, lo]), hi])


@_rule("cast")
def _cast(b: Builder, node: Node, x: str) -> str:
    source, to = node.inputs[0].dtype, node.dtype
    if source not in FLOAT_DTYPES or to not in INT_DTYPES:
        return b.add("Cast", [x], to=element_type(to))
    # ONNX leaves float -> int undefined for NaN and beyond the int's range; graphnn gives 0
    # and the int's extremes: NaN replaced first, the extremes put back after (2^31 and 2^63
    # are exact in either float, and so are the minima -2^31 and -2^63)
    info = np.iinfo(to)
    clean = b.add("Where", [b.add("IsNaN", [x]), b.constant(0, source), x])
    out = b.add("Cast", [clean], to=element_type(to))
    above = b.add("GreaterOrEqual", [clean, b.constant(float(info.max) + 1, source)])
    out = b.add("Where", [above, b.constant(info.max, to), out])
    below = b.add("LessOrEqual", [clean, b.constant(float(info.min), source)])
    return b.add("Where", [below, b.constant(info.min, to), out])


RULES["take"] = lambda b, node, x, indices: b.add("Gather", [x, indices],
                                                    axis=node.attrs["axis"])


def _wrapped(b: Builder, indices: str, dtype: str, size: int) -> str:
    """Negative indices counted from the end (i + size where i < 0), as graphnn reads them."""
    zero, n = b.constant(0, dtype), b.constant(size, dtype)
    return b.add("Where", [b.add("Less", [indices, zero]), b.add("Add", [indices, n]), indices])


@_rule("take_grad")
def _take_grad(b: Builder, node: Node, g: str, indices: str) -> str:
    # zeros of shape (size, pre..., post...), g's index axes moved first, added at the
    # indices by ScatterND (reduction add: repeated indices accumulate), moved back
    if b.opset < SCATTER_ADD_OPSET:
        raise OnnxError(f"take's gradient ({node.describe()}) is a scatter-add, which ONNX has "
                        f"from opset {SCATTER_ADD_OPSET} on (ScatterND reduction='add'); export "
                        f"with opset={SCATTER_ADD_OPSET} or later", "scatter-add opset")
    axis, size = node.attrs["at"], node.attrs["size"]
    k, rank = len(node.inputs[1].shape), len(node.inputs[0].shape)
    moved = b.add("Transpose", [g], perm=[*range(axis, axis + k), *range(axis),
                                          *range(axis + k, rank)])
    rest = node.shape[:axis] + node.shape[axis + 1:]
    zeros = b.add("ConstantOfShape", [b.ints((size, *rest))],
                  value=numpy_helper.from_array(np.zeros(1, dtype=node.dtype)))
    at = _wrapped(b, indices, node.inputs[1].dtype, size)
    at = b.add("Unsqueeze", [b.add("Cast", [at], to=element_type("int64")), b.ints([-1])])
    added = b.add("ScatterND", [zeros, at, moved], reduction="add")
    return b.add("Transpose", [added], perm=[*range(1, axis + 1), 0,
                                             *range(axis + 1, len(node.shape))])


@_rule("one_hot")
def _one_hot(b: Builder, node: Node, indices: str) -> str:
    # wrapped[..., None] == arange(depth): rows of zeros for indices out of range, as OneHot
    depth, dtype = node.attrs["depth"], node.inputs[0].dtype
    at = b.add("Unsqueeze", [_wrapped(b, indices, dtype, depth), b.ints([-1])])
    hot = b.add("Equal", [at, b.constant(np.arange(depth), dtype)])
    return hot if node.dtype == "bool" else b.add("Cast", [hot], to=element_type(node.dtype))


@_rule("first_match")
def _first_match(b: Builder, node: Node, x: str, m: str) -> str:
    # the first position where x == m or x is NaN: ArgMax of that mask (first on ties)
    found = b.add("Or", [b.add("Equal", [x, m]), b.add("IsNaN", [x])]) \
        if node.inputs[0].dtype in FLOAT_DTYPES else b.add("Equal", [x, m])
    mask = b.add("Cast", [found], to=element_type("int32"))
    return b.add("ArgMax", [mask], axis=node.attrs["axis"], keepdims=0)


@_rule("argmax", "argmin")
def _arg(b: Builder, node: Node, x: str) -> str:
    op_type = "ArgMax" if node.op == "argmax" else "ArgMin"
    axis, keepdims = node.attrs["axis"], int(node.attrs["keepdims"])
    source = node.inputs[0]
    if len(axis) != 1 or len(source.shape) <= 1:          # over every axis: flattened
        flat = b.add("Reshape", [x, b.ints([-1])])
        return b.add("Reshape", [_first_extreme(b, op_type, flat, source.dtype, 0, 0),
                                 b.ints(node.shape)])
    return _first_extreme(b, op_type, x, source.dtype, axis[0], keepdims)


def _first_extreme(b: Builder, op_type: str, x: str, dtype: str, axis: int,
                   keepdims: int) -> str:
    """ArgMax/ArgMin (first index on ties), and the first NaN in lanes that hold one, as
    NumPy and graphnn (runtimes skip NaN)."""
    plain = b.add(op_type, [x], axis=axis, keepdims=keepdims)
    if dtype not in FLOAT_DTYPES:
        return plain
    nan = b.add("Cast", [b.add("IsNaN", [x])], to=element_type("int32"))
    first_nan = b.add("ArgMax", [nan], axis=axis, keepdims=keepdims)
    any_nan = b.add("ReduceMax", [nan, b.ints([axis])], keepdims=keepdims) \
        if b.opset >= 18 else b.add("ReduceMax", [nan], axes=[axis], keepdims=keepdims)
    has_nan = b.add("Cast", [any_nan], to=element_type("bool"))
    return b.add("Where", [has_nan, first_nan, plain])
