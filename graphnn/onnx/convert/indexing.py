"""Indexing and joining ONNX operators: Slice, Concat, Split, Pad (constant mode), onto
graphnn's slice (`x[...]`), concat, split and pad.

Their bounds, sizes and widths must be known at import (graphnn graphs have static shapes).
Values known at import are computed with NumPy (shape arithmetic on int64 arrays).
"""

from __future__ import annotations

import math

import numpy as np

from graphnn import ops
from graphnn.onnx.convert.shape import _axes
from graphnn.onnx.registry import converter

# -- Slice ---------------------------------------------------------------------------------------


def _slice_index(ctx, rank: int, starts, ends, axes, steps) -> tuple[slice, ...]:
    """The NumPy index of a Slice (NumPy clamps out-of-range bounds as ONNX does)."""
    begin, stop = ctx.ints(starts, "starts"), ctx.ints(ends, "ends")
    axes = tuple(range(len(begin))) if axes is None else \
        tuple(_axes(ctx, ctx.ints(axes, "axes"), rank))
    steps = (1,) * len(begin) if steps is None else ctx.ints(steps, "steps")
    if not len(begin) == len(stop) == len(axes) == len(steps):
        raise ctx.unsupported("starts, ends, axes and steps of different lengths")
    if len(set(axes)) != len(axes):
        raise ctx.unsupported("an axis sliced twice", f" (axes {list(axes)})")
    if 0 in steps:
        raise ctx.unsupported("a step of 0")
    index = [slice(None)] * rank
    for axis, b, e, s in zip(axes, begin, stop, steps):
        index[axis] = slice(b, e, s)
    return tuple(index)


def _slice(ctx, data, starts, ends, axes=None, steps=None):
    return data[_slice_index(ctx, len(data.shape), starts, ends, axes, steps)]


def _slice_attribute(ctx, data, *, starts, ends, axes):
    return _slice(ctx, data, np.array(starts), np.array(ends),
                  None if axes is None else np.array(axes))


converter("Slice", attributes=("starts", "ends", "axes"), opsets=(1, 9),
          fold=_slice_attribute)(_slice_attribute)
converter("Slice", opsets=(10, None), fold=_slice)(_slice)


# -- Concat, Split -------------------------------------------------------------------------------


def _concat_fold(ctx, *xs, axis):
    return np.concatenate(xs, axis)


@converter("Concat", attributes=("axis",), fold=_concat_fold)
def concat(ctx, *xs, axis):
    like = next(x for x in xs if not isinstance(x, np.ndarray))
    return ops.concat([ctx.node(x, like) for x in xs], axis=axis)


def _split_sizes(ctx, length: int, split, parts: int | None) -> list[int]:
    """The part sizes: listed, else `parts` (the outputs, or num_outputs) as equal as ONNX
    makes them: ceil(length / parts) each, the last one smaller."""
    if split is not None:
        return list(ctx.ints(split, "split"))
    count = parts if parts is not None else len(ctx.outputs)
    if count < 1:
        raise ctx.unsupported("a Split into no parts")
    size = math.ceil(length / count)
    return [min(size, max(length - k * size, 0)) for k in range(count)]


def _split(ctx, x, split=None, *, axis, num_outputs=None):
    (axis,) = _axes(ctx, [axis], len(x.shape))
    sizes = _split_sizes(ctx, x.shape[axis], split, num_outputs)
    if isinstance(x, np.ndarray):
        return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))
    return tuple(ops.split(x, sizes, axis=axis))


def _split_attribute(ctx, x, *, axis, split):
    return _split(ctx, x, None if split is None else np.array(split), axis=axis)


converter("Split", attributes=("axis", "split"), opsets=(2, 12), fold=_split_attribute)(
    _split_attribute)
converter("Split", attributes=("axis",), opsets=(13, 17), fold=_split)(_split)
converter("Split", attributes=("axis", "num_outputs"), opsets=(18, None), fold=_split)(_split)


# -- Pad -----------------------------------------------------------------------------------------


def _pad(ctx, x, pads, constant_value=None, axes=None, *, mode):
    """Constant padding; a negative width crops (as ONNX's Pad does) by slicing first."""
    if mode != "constant":
        raise ctx.attribute_error("mode", mode, "graphnn pads with a constant")
    rank = len(x.shape)
    widths = ctx.ints(pads, "pads")
    axes = tuple(range(rank)) if axes is None else tuple(_axes(ctx, ctx.ints(axes, "axes"),
                                                               rank))
    if len(widths) != 2 * len(axes):
        raise ctx.unsupported("pads of another length than twice the axes padded",
                              f" ({len(widths)} for {len(axes)} axes)")
    pairs = [(0, 0)] * rank
    for k, axis in enumerate(axes):
        pairs[axis] = (widths[k], widths[k + len(axes)])
    crop = tuple(slice(-min(a, 0), d + min(c, 0)) for (a, c), d in zip(pairs, x.shape))
    grown = tuple((max(a, 0), max(c, 0)) for a, c in pairs)
    if isinstance(x, np.ndarray):
        value = 0.0 if constant_value is None else ctx.number(constant_value, "constant_value")
        return np.pad(x[crop], grown, constant_values=value)
    x = x[crop] if any(a < 0 or c < 0 for a, c in pairs) else x
    if constant_value is None or ctx.known(constant_value):
        value = 0.0 if constant_value is None else ctx.number(constant_value, "constant_value")
        return ops.pad(x, grown, value=value)
    return _pad_with_node(ctx, x, grown, constant_value)


def _pad_with_node(ctx, x, widths, value):
    """Padding with a value computed at run time: the value broadcast to each border, joined
    to x axis by axis (gn.pad takes its value as an attribute, known when the graph is built)."""
    if value.shape not in ((), (1,)):
        raise ctx.unsupported(f"a constant_value of shape {value.shape} where a scalar is "
                              "expected")
    value = ops.reshape(ctx.node(value, x), ())
    for axis, (before, after) in enumerate(widths):
        if before or after:
            borders = [ops.broadcast_to(value, x.shape[:axis] + (size,) + x.shape[axis + 1:])
                       for size in (before, after)]
            x = ops.concat([borders[0], x, borders[1]], axis=axis)
    return x


def _pad_attribute(ctx, x, *, mode, pads, value):
    return _pad(ctx, x, np.array(pads), np.array(value or 0.0), mode=mode)


converter("Pad", attributes=("mode", "pads", "value"), opsets=(2, 10), fold=_pad_attribute,
          limits="constant mode only (reflect, edge and wrap are refused)")(_pad_attribute)
converter("Pad", attributes=("mode",), opsets=(11, None), fold=_pad,
          limits="constant mode only (reflect, edge and wrap are refused)")(_pad)
