"""Reductions and softmax: ReduceSum/Mean/Max/Min, ReduceL1/L2/SumSquare/LogSum/LogSumExp,
ReduceProd, Softmax, LogSoftmax, Hardmax.

The axes of a reduction moved from an attribute to an optional input (ReduceSum at opset 13,
the others at 18), so each reduction has two entries; an empty or absent axes list reduces
every axis unless noop_with_empty_axes is set.
"""

from __future__ import annotations

import math

import numpy as np

from graphnn import ops
from graphnn.onnx.registry import converter


def _product(x, axis=None, keepdims=False):
    """The product over `axis` (a tuple, None for all) as a tree of multiplications: the
    reduced axes moved last and flattened to K, then the first half of the K entries times
    the second, log2(K) times. Exact products (no exp of a sum of logs), gradients included."""
    rank = len(x.shape)
    axes = tuple(range(rank)) if axis is None else axis
    kept = tuple(a for a in range(rank) if a not in axes)
    outer = tuple(x.shape[a] for a in kept)
    size = math.prod(x.shape[a] for a in axes)
    if size == 0:                                    # the empty product is 1
        z = ops.broadcast_to(np.ones((), x.dtype), outer)
    else:
        z = ops.reshape(ops.transpose(x, kept + axes), outer + (size,))
        lead = (slice(None),) * len(outer)
        while size > 1:
            half = size // 2
            paired = z[lead + (slice(0, half),)] * z[lead + (slice(half, 2 * half),)]
            z = ops.concat([paired, z[lead + (slice(2 * half, size),)]], axis=-1) \
                if size % 2 else paired
            size -= half
        z = ops.reshape(z, outer)
    if keepdims:
        z = ops.reshape(z, tuple(1 if a in axes else d for a, d in enumerate(x.shape)))
    return z


# name: (opset where axes became an input, graph form, NumPy fold or None)
REDUCTIONS = {
    "ReduceSum": (13, ops.sum, np.sum),
    "ReduceMean": (18, ops.mean, np.mean),
    "ReduceMax": (18, ops.max, np.max),
    "ReduceMin": (18, ops.min, np.min),
    "ReduceSumSquare": (18, lambda x, **k: ops.sum(ops.square(x), **k), None),
    "ReduceL1": (18, lambda x, **k: ops.sum(ops.abs(x), **k), None),
    "ReduceL2": (18, lambda x, **k: ops.sqrt(ops.sum(ops.square(x), **k)), None),
    "ReduceLogSum": (18, lambda x, **k: ops.log(ops.sum(x, **k)), None),
    "ReduceLogSumExp": (18, ops.logsumexp, None),
    "ReduceProd": (18, _product, np.prod),
}


def _axes(ctx, x, axes, noop):
    """The axes to reduce as a tuple, None for all, or "noop"."""
    if axes is None or len(axes) == 0:
        return "noop" if noop else None
    rank = len(x.shape)
    return tuple(sorted(a % rank for a in axes)) if rank else None


def _reduction(build, numpy_fold):
    def run(ctx, x, axes, keepdims, noop):
        axes = _axes(ctx, x, axes, noop)
        if axes == "noop":
            return x
        return build(x, axis=axes, keepdims=bool(keepdims))

    def fold(ctx, x, axes, keepdims, noop):
        axes = _axes(ctx, x, axes, noop)
        if axes == "noop":
            return x
        return np.asarray(numpy_fold(x, axis=axes, keepdims=bool(keepdims))).astype(x.dtype)

    return run, (fold if numpy_fold is not None else None)


def _axes_attribute(function):
    """The converter of the opsets where axes is an attribute."""
    def convert(ctx, x, *, axes, keepdims, noop_with_empty_axes):
        return function(ctx, x, axes, keepdims, noop_with_empty_axes)
    return convert


def _axes_input(function):
    """The converter of the opsets where axes is an optional input."""
    def convert(ctx, x, axes=None, *, keepdims, noop_with_empty_axes):
        axes = None if axes is None else ctx.ints(axes, "axes")
        return function(ctx, x, axes, keepdims, noop_with_empty_axes)
    return convert


def _register(name: str, since: int, build, numpy_fold) -> None:
    run, fold = _reduction(build, numpy_fold)
    names = ("keepdims", "noop_with_empty_axes")
    converter(name, attributes=("axes",) + names, opsets=(1, since - 1),
              fold=fold and _axes_attribute(fold))(_axes_attribute(run))
    converter(name, attributes=names, opsets=(since, None),
              fold=fold and _axes_input(fold))(_axes_input(run))


for _name, (_since, _build, _fold) in REDUCTIONS.items():
    _register(_name, _since, _build, _fold)


def _coerced(x, axis: int, function):
    """Opsets before 13: the input seen as 2-D, (prod(shape[:axis]), prod(shape[axis:]))."""
    axis = axis % len(x.shape) if x.shape else 0
    flat = ops.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))
    return ops.reshape(function(flat, axis=-1), x.shape)


for _name, _op in (("Softmax", ops.softmax), ("LogSoftmax", ops.log_softmax)):
    converter(_name, attributes=("axis",), opsets=(1, 12))(
        lambda ctx, x, *, axis, op=_op: _coerced(x, axis, op))
    converter(_name, attributes=("axis",), opsets=(13, None))(
        lambda ctx, x, *, axis, op=_op: op(x, axis=axis))


def _hardmax(x, axis: int):
    """1 at the first maximum along axis, 0 elsewhere: argmax as a one-hot row, its axis
    moved back from last to `axis`."""
    axis %= len(x.shape)
    hot = ops.one_hot(ops.argmax(x, axis=axis), x.shape[axis], dtype=x.dtype)
    order = list(range(len(x.shape) - 1))
    order.insert(axis, len(x.shape) - 1)
    return ops.transpose(hot, tuple(order))


converter("Hardmax", attributes=("axis",), opsets=(1, 12))(
    lambda ctx, x, *, axis: _coerced(x, axis, lambda flat, axis: _hardmax(flat, axis)))
converter("Hardmax", attributes=("axis",), opsets=(13, None))(
    lambda ctx, x, *, axis: _hardmax(x, axis))
