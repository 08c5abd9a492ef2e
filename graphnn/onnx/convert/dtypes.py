"""ONNX operators of int and bool values: Cast, CastLike, the comparisons (Equal, Greater,
Less, GreaterOrEqual, LessOrEqual, IsNaN), the logical operators (Not, And, Or, Xor), Where,
Gather, OneHot, ArgMax and ArgMin.

Each becomes graphnn's op of the same meaning (gn.cast, gn.greater, gn.where, gn.take, ...),
and each has a NumPy fold for values known at import (shape computations: Shape -> Gather ->
Concat). Values of dtypes graphnn graphs do not hold (int8, uint16, strings) are folded at
import or refused with the dtype named.
"""

from __future__ import annotations

import numpy as np

from graphnn import ops
from graphnn.ir import DTYPES, Node
from graphnn.onnx.registry import converter
from graphnn.onnx.tensors import numpy_dtype, supported_dtypes, type_name
from graphnn.ops.compare import cast_array

# -- casts ----------------------------------------------------------------------------------


def _cast(ctx, x, dtype: np.dtype | None, target: str):
    if dtype is None:
        raise ctx.unsupported(f"casting to {target} (graphnn reads no such elements)")
    if isinstance(x, np.ndarray):
        return cast_array(x, dtype.name)
    if x.dtype == dtype.name:
        return x
    if dtype.name not in DTYPES:
        raise ctx.unsupported(f"casting to {dtype.name} (graphnn holds {supported_dtypes()})")
    return ops.cast(x, dtype.name)


def _cast_to(ctx, x, *, to, saturate=None):
    return _cast(ctx, x, numpy_dtype(to), type_name(to))


def _cast_like(ctx, x, like, *, saturate=None):
    dtype = np.dtype(like.dtype) if isinstance(like, (Node, np.ndarray)) else None
    return _cast(ctx, x, dtype, str(dtype))


converter("Cast", attributes=("to", "saturate"), fold=_cast_to,
          limits="float -> int of NaN or beyond the int's range (undefined in ONNX) gives 0 "
          "and the int's extremes")(_cast_to)
converter("CastLike", attributes=("saturate",), fold=_cast_like)(_cast_like)

# -- comparisons and logical operators --------------------------------------------------------


def _nodes(ctx, *values):
    """The operands as nodes, arrays taking the dtype of the first node among them."""
    like = ctx.dtype_of(*values)
    return [ctx.node(v, like=like) for v in values]


BINARY = {
    "Equal": (ops.equal, np.equal), "Greater": (ops.greater, np.greater),
    "Less": (ops.less, np.less), "GreaterOrEqual": (ops.greater_equal, np.greater_equal),
    "LessOrEqual": (ops.less_equal, np.less_equal),
    "And": (ops.logical_and, np.logical_and), "Or": (ops.logical_or, np.logical_or),
    "Xor": (ops.not_equal, np.logical_xor),           # on bools, xor is "differs"
}

for _name, (_op, _numpy) in BINARY.items():       # NumPy broadcasting, as ONNX's
    converter(_name, fold=lambda ctx, a, b, f=_numpy: f(a, b))(
        lambda ctx, a, b, op=_op: op(*_nodes(ctx, a, b)))
converter("Not", fold=lambda ctx, x: np.logical_not(x))(lambda ctx, x: ops.logical_not(x))
# NaN is the one value not equal to itself
converter("IsNaN", fold=lambda ctx, x: np.isnan(x))(lambda ctx, x: ops.not_equal(x, x))


@converter("Where", fold=lambda ctx, cond, a, b: np.where(cond, a, b))
def where(ctx, cond, a, b):
    return ops.where(ctx.node(cond), *_nodes(ctx, a, b))


# -- gathering ------------------------------------------------------------------------------


def _gather_fold(ctx, data, indices, *, axis):
    return np.take(data, indices, axis=axis)


@converter("Gather", attributes=("axis",), fold=_gather_fold)
def gather(ctx, data, indices, *, axis):
    # an index out of range is graphnn's InputError when the graph runs (ONNX: undefined)
    return ops.take(ctx.node(data), ctx.node(indices), axis=axis)


def _one_hot_parts(ctx, indices, depth, values, axis):
    """(depth, off, on, axis in 0..rank) of a OneHot, all known at import."""
    count = ctx.number(depth, "depth")
    pair = np.asarray(ctx.static(values, "values")).reshape(-1)
    if pair.size != 2:
        raise ctx.unsupported(f"values of {pair.size} elements (OneHot's are [off, on])")
    rank = len(indices.shape)
    if not -rank - 1 <= axis <= rank:
        raise ctx.unsupported("an axis out of range", f" ({axis} for rank {rank + 1})")
    return int(count), pair[0], pair[1], axis % (rank + 1)


def _one_hot_fold(ctx, indices, depth, values, *, axis):
    depth, off, on, axis = _one_hot_parts(ctx, indices, depth, values, axis)
    wrapped = indices.astype(np.int64)
    wrapped = np.where(wrapped < 0, wrapped + depth, wrapped)
    hot = np.moveaxis(wrapped[..., None] == np.arange(depth), -1, axis)
    return np.where(hot, on, off).astype(np.asarray(values).dtype)


@converter("OneHot", attributes=("axis",), fold=_one_hot_fold)
def one_hot(ctx, indices, depth, values, *, axis):
    depth, off, on, axis = _one_hot_parts(ctx, indices, depth, values, axis)
    dtype = np.asarray(values).dtype.name
    if dtype not in DTYPES:
        raise ctx.unsupported(f"dtype {dtype} (graphnn holds {supported_dtypes()})")
    index = ctx.node(indices)
    if index.dtype not in ("int32", "int64"):     # ONNX casts other indices to int64
        index = ops.cast(index, "int64")
    hot = ops.one_hot(index, depth, dtype="bool")
    out = ops.where(hot, ctx.node(np.asarray(on), like=dtype), ctx.node(np.asarray(off),
                                                                       like=dtype))
    if axis == len(index.shape):
        return out
    order = list(range(len(index.shape)))
    return ops.transpose(out, axes=tuple(order[:axis] + [len(order)] + order[axis:]))


def _arg_fold(pick):
    def fold(ctx, x, *, axis, keepdims, select_last_index):
        if select_last_index:
            flipped = np.flip(x, axis)
            return (x.shape[axis] - 1 - pick(flipped, axis=axis, keepdims=bool(keepdims))
                    ).astype(np.int64)
        return pick(x, axis=axis, keepdims=bool(keepdims)).astype(np.int64)
    return fold


def _arg(op):
    def convert(ctx, x, *, axis, keepdims, select_last_index):
        rank = len(x.shape)
        if not -rank <= axis < max(rank, 1):
            raise ctx.unsupported("an axis out of range", f" ({axis} for rank {rank})")
        if not select_last_index or rank == 0:
            return op(x, axis=axis, keepdims=bool(keepdims))
        # the last index of the extreme: n - 1 - (the first one in x reversed along axis)
        n = x.shape[axis]
        reversed_x = ops.take(x, np.arange(n - 1, -1, -1, dtype=np.int64), axis=axis)
        return (n - 1) - op(reversed_x, axis=axis, keepdims=bool(keepdims))
    return convert


_ARG_ATTRIBUTES = ("axis", "keepdims", "select_last_index")
converter("ArgMax", attributes=_ARG_ATTRIBUTES, fold=_arg_fold(np.argmax))(_arg(ops.argmax))
converter("ArgMin", attributes=_ARG_ATTRIBUTES, fold=_arg_fold(np.argmin))(_arg(ops.argmin))
