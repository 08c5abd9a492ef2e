"""Shape ONNX operators: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile, Dropout
(inference), and the operators of shape computations (Shape, Size, Constant, ConstantOfShape,
Range), folded at import; Concat and Slice are in convert/indexing.py, Cast and Gather in
convert/dtypes.py.

graphnn graphs have static shapes, so a shape computation (Shape -> Gather -> Concat ->
Reshape) is known at import and computed there with NumPy.
"""

from __future__ import annotations

import math

import numpy as np

from graphnn import ops
from graphnn.onnx.registry import converter
from graphnn.shapes import broadcast


def _axes(ctx, axes, rank: int) -> list[int]:
    out = []
    for axis in axes:
        if not -rank <= axis < rank:
            raise ctx.unsupported("an axis out of range", f" ({axis} for rank {rank})")
        out.append(axis % rank)
    return out


# -- reshaping -----------------------------------------------------------------------------------


def _reshape_target(ctx, x, shape, allowzero) -> tuple[int, ...]:
    dims = ctx.ints(shape, "the target shape")
    if not allowzero:                    # 0 copies the input's dimension at that position
        dims = tuple(x.shape[k] if d == 0 and k < len(x.shape) else d
                     for k, d in enumerate(dims))
    return dims


def _reshape(ctx, x, shape, *, allowzero=0):
    target = _reshape_target(ctx, x, shape, allowzero)
    if isinstance(x, np.ndarray):
        return x.reshape(target)
    return ops.reshape(x, target)


converter("Reshape", attributes=("allowzero",), fold=_reshape)(_reshape)


def _flatten(ctx, x, *, axis):
    axis = axis + len(x.shape) if axis < 0 else axis
    target = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return x.reshape(target) if isinstance(x, np.ndarray) else ops.reshape(x, target)


converter("Flatten", attributes=("axis",), fold=_flatten)(_flatten)


def _squeezed(ctx, x, axes) -> tuple[int, ...]:
    """The axes a Squeeze drops (every size-1 axis when it names none)."""
    if axes is None:
        return tuple(k for k, d in enumerate(x.shape) if d == 1)
    drop = tuple(sorted(set(_axes(ctx, axes, len(x.shape)))))
    for axis in drop:
        if x.shape[axis] != 1:
            raise ctx.unsupported("squeezing an axis whose size is not 1",
                                  f" (axis {axis} of shape {x.shape})")
    return drop


def _squeeze(ctx, x, axes):
    drop = _squeezed(ctx, x, axes)
    if isinstance(x, np.ndarray):
        return x.reshape(tuple(d for k, d in enumerate(x.shape) if k not in drop))
    return ops.squeeze(x, axis=drop)


def _unsqueeze(ctx, x, axes):
    # each new axis at its position in the result: inserted in ascending order, each lands
    # where the result has it
    new = sorted(set(_axes(ctx, axes, len(x.shape) + len(axes))))
    if isinstance(x, np.ndarray):
        return np.expand_dims(x, tuple(new))
    for axis in new:
        x = ops.expand_dims(x, axis=axis)
    return x


def _squeeze_attribute(ctx, x, *, axes=None):
    return _squeeze(ctx, x, axes)


def _squeeze_input(ctx, x, axes=None):
    return _squeeze(ctx, x, None if axes is None else ctx.ints(axes, "axes"))


def _unsqueeze_attribute(ctx, x, *, axes):
    return _unsqueeze(ctx, x, axes)


def _unsqueeze_input(ctx, x, axes):
    return _unsqueeze(ctx, x, ctx.ints(axes, "axes"))


converter("Squeeze", attributes=("axes",), opsets=(1, 12), fold=_squeeze_attribute)(
    _squeeze_attribute)
converter("Squeeze", opsets=(13, None), fold=_squeeze_input)(_squeeze_input)
converter("Unsqueeze", attributes=("axes",), opsets=(1, 12), fold=_unsqueeze_attribute)(
    _unsqueeze_attribute)
converter("Unsqueeze", opsets=(13, None), fold=_unsqueeze_input)(_unsqueeze_input)


@converter("Transpose", attributes=("perm",),
           fold=lambda ctx, x, *, perm: np.transpose(x, perm))
def transpose(ctx, x, *, perm):
    return ops.transpose(x, axes=None if perm is None else tuple(perm))


def _expand_shape(ctx, x, shape) -> tuple[int, ...]:
    return broadcast(tuple(x.shape), ctx.ints(shape, "the target shape"))


@converter("Expand", fold=lambda ctx, x, shape: np.broadcast_to(x, _expand_shape(ctx, x, shape))
           .copy())
def expand(ctx, x, shape):
    return ops.broadcast_to(x, _expand_shape(ctx, x, shape))


def _tile_fold(ctx, x, repeats):
    return np.tile(x, ctx.ints(repeats, "repeats"))


@converter("Tile", fold=_tile_fold)
def tile(ctx, x, repeats):
    counts = ctx.ints(repeats, "repeats")
    if len(counts) != len(x.shape):
        raise ctx.unsupported("repeats of another length than the input's rank",
                              f" ({len(counts)} for shape {x.shape})")
    return ops.tile(x, counts)


# -- Dropout (inference) -------------------------------------------------------------------------


def _dropout(ctx, x, ratio=None, training_mode=None, *, seed=None):
    training = training_mode is not None and bool(ctx.static(training_mode, "training_mode"))
    rate = 0.5 if ratio is None else ctx.number(ratio, "ratio")
    if training and rate != 0.0:
        raise ctx.unsupported("training mode (random masks; graphnn imports inference graphs)")
    if ctx.wants(1):
        return x, np.ones(x.shape, dtype=bool)
    return x


@converter("Dropout", attributes=("ratio", "seed"), opsets=(1, 11))
def dropout_attribute(ctx, x, *, ratio, seed):
    return _dropout(ctx, x)


converter("Dropout", attributes=("seed",), opsets=(12, None))(_dropout)


# -- shape computations, folded at import ------------------------------------------------------


def _shape(ctx, x, *, start=None, end=None):
    dims = tuple(x.shape)[slice(start or 0, end)]
    return np.array(dims, dtype=np.int64)


def _size(ctx, x):
    return np.array(math.prod(x.shape), dtype=np.int64)


converter("Shape", attributes=("start", "end"), fold=_shape)(_shape)
converter("Size", fold=_size)(_size)

_CONSTANT = ("value", "value_float", "value_floats", "value_int", "value_ints", "value_string",
             "value_strings", "sparse_value")


@converter("Constant", attributes=_CONSTANT)
def constant_(ctx, **attributes):
    given = {k: v for k, v in attributes.items() if v is not None}
    if len(given) != 1:
        raise ctx.unsupported("a Constant without exactly one value attribute")
    (name, value), = given.items()
    if name in ("value_string", "value_strings", "sparse_value"):
        raise ctx.unsupported(f"a Constant's {name} (graphnn holds numbers in dense arrays)")
    if name.startswith("value_int"):
        return np.array(value, dtype=np.int64)
    return np.array(value, dtype=np.float32) if name.startswith("value_float") else value


def _constant_of_shape(ctx, dims, *, value=None):
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value)
    return np.full(ctx.ints(dims, "the shape"), fill.reshape(-1)[0], dtype=fill.dtype)


converter("ConstantOfShape", attributes=("value",), fold=_constant_of_shape)(_constant_of_shape)


def _range(ctx, start, limit, delta):
    first = ctx.static(start, "start")
    last, step = ctx.static(limit, "limit"), ctx.static(delta, "delta")
    count = max(int(np.ceil((last - first) / step)), 0)
    return (first + np.arange(count, dtype=first.dtype) * step).astype(first.dtype)


converter("Range", fold=_range)(_range)


