"""Layout ops: reshape, transpose, broadcast_to. They move elements, never change them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphnn.errors import ShapeError
from graphnn.ir import REQUIRED, Node, OpDef, apply, op_function
from graphnn.opdef import Instance, Rebatch, Symbolic
from graphnn.ops.common import elementwise, register
from graphnn.shapes import Shape, as_shape, broadcasts_to


def _instance(*shapes: Shape, **attrs) -> Symbolic:
    return Symbolic(instances=(Instance(shapes, attrs),))


def _reshape_canonical(x_shape: Shape, shape: Any) -> dict:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if sum(1 for d in dims if d == -1) > 1:
        raise ShapeError(f"reshape target {dims} has more than one -1")
    known = as_shape([d for d in dims if d != -1], what="reshape target")
    total = math.prod(x_shape)
    if -1 in dims:
        rest = math.prod(known)
        if rest == 0 or total % rest:
            raise ShapeError(f"cannot reshape {x_shape} ({total} elements) into {dims}")
        dims = tuple(total // rest if d == -1 else d for d in dims)
    if math.prod(dims) != total:
        raise ShapeError(f"cannot reshape {x_shape} ({total} elements) into {tuple(dims)} "
                         f"({math.prod(dims)} elements)")
    return {"shape": tuple(int(d) for d in dims)}


def _reshape_view(out, x_shape, shape):
    """The input index of a reshaped element: ravel the output index, unravel into x's shape.

    Size-1 axes carry no information, so a reshape that only adds or drops them maps indices
    directly, without division."""
    if [d for d in x_shape if d != 1] == [d for d in shape if d != 1]:
        real = iter(o for o, d in zip(out, shape) if d != 1)
        return tuple(0 if d == 1 else next(real) for d in x_shape)
    flat = 0
    for o, d in zip(out, shape):
        flat = flat * d + o
    index = []
    for d in reversed(x_shape):
        index.append(flat % d if d > 1 else 0)
        flat = flat // d if d > 1 else flat
    return tuple(reversed(index))


def _reshape_batch(x: Node, factors: tuple[int, ...], target: Shape, declared: int
                   ) -> tuple[int, ...]:
    """The batch factors of reshape(x, target) (graphnn/compiler/rebatch.py): one output axis
    holds k * B. Preferably the axis that starts at the same element offset as x's batch axis
    and holds as many elements per example (the reshape then moves whole examples); else the
    only axis whose size fits."""
    axes = [a for a, k in enumerate(factors) if k]
    none = (0,) * len(target)
    if not axes:
        return none
    if len(axes) > 1:
        raise ShapeError(f"reshape to {target} of a value with the batch in several axes "
                         f"({x.shape}): its size is not a multiple of the batch")
    j = axes[0]
    before, per = math.prod(x.shape[:j]), factors[j] * math.prod(x.shape[j + 1:])
    if before * per == 0:
        return none                     # no elements at any batch size: the target stays
    fits = []                           # (aligned, axis, factor)
    for o in range(len(target)):
        others = math.prod(target[:o]) * math.prod(target[o + 1:])
        if others and (before * per) % others == 0 and \
                target[o] == (before * per) // others * declared:
            fits.append((math.prod(target[:o]) == before, o, (before * per) // others))
    aligned = [f for f in fits if f[0]]
    if not aligned and len(fits) != 1:
        raise ShapeError(f"reshape of {x.shape} to {target}: which axis holds the batch "
                         f"(axis {j} of the operand) is ambiguous")
    _, o, k = (aligned or fits)[0]
    return tuple(k if a == o else 0 for a in range(len(target)))


def _broadcast_batch(x: Node, factors: tuple[int, ...], target: Shape, declared: int
                     ) -> tuple[int, ...]:
    """The batch factors of broadcast_to(x, target): x's batch axes keep theirs; a batch axis
    may not be stretched (it would need size 1 at every batch size)."""
    lead = len(target) - x.ndim
    out = [0] * len(target)
    for a, k in enumerate(factors):
        if k:
            if target[lead + a] != x.shape[a]:
                raise ShapeError(f"broadcast_to {target} stretches the batch axis {a} of "
                                 f"{x.shape}")
            out[lead + a] = k
    return tuple(out)


def _broadcast_view(out, x_shape, shape):
    """The input index of a broadcast element: drop new leading axes, 0 on stretched axes."""
    lead = len(shape) - len(x_shape)
    return tuple(0 if d == 1 else o for o, d in zip(out[lead:], x_shape))


RESHAPE = register(OpDef(
    "reshape", ("x",),
    doc="""The elements of x, in row-major order, in a new shape (one dimension may be -1).

    Gradient: the upstream gradient reshaped back to x's shape.

    >>> gn.reshape(gn.input("x", shape=(2, 3)), (3, -1)).shape
    (3, 2)
    """,
    shape=lambda x_shape, shape: shape,
    params=(("shape", REQUIRED),),
    canonical=_reshape_canonical,
    reference=lambda x, shape: np.reshape(x, shape),
    vjp=lambda g, out, x, shape: (apply("reshape", g, shape=x.shape),),
    to_sympy=lambda x, shape: np.reshape(x, shape),
    view=_reshape_view,
    derivative=("reshape(g)",),
    symbol="reshape", kinks=(), symbolic=_instance((2, 3), shape=(3, 2)), accepts="any",
    rebatch=Rebatch("shape", _reshape_batch),
))


TRANSPOSE = register(OpDef(
    "transpose", ("x",),
    doc="""Permute the axes of x (default: reverse them; for a matrix, x.T). `axes` names every
    axis once (negative axes count from the end); an axis out of range or named twice is an
    error, as in numpy.

    Gradient: the upstream gradient permuted back with the inverse permutation.

    >>> gn.transpose(gn.input("x", shape=(2, 3))).shape
    (3, 2)
    """,
    shape=lambda shape, axes: tuple(shape[a] for a in axes),
    params=(("axes", None),), axes={"axes": "permutation"},
    reference=lambda x, axes: np.transpose(x, axes),
    vjp=lambda g, out, x, axes: (apply("transpose", g, axes=tuple(np.argsort(axes).tolist())),),
    to_sympy=lambda x, axes: np.transpose(x, axes),
    view=lambda out, x_shape, axes: tuple(out[k] for k in np.argsort(axes)),
    derivative=("transpose(g)",),
    symbol="(·)ᵀ", kinks=(), symbolic=_instance((2, 3)), accepts="any",
))


def _broadcast_shape(x_shape: Shape, shape: Shape) -> Shape:
    if not broadcasts_to(x_shape, shape):
        raise ShapeError(f"{x_shape} cannot be broadcast to {shape}")
    return shape


BROADCAST_TO = register(OpDef(
    "broadcast_to", ("x",),
    doc="""Repeat x along new leading axes and size-1 axes to `shape` (numpy rules).

    Gradient: the upstream gradient summed back to x's shape (the autodiff walker does this
    for every broadcast operand, so the rule itself passes g through).

    >>> gn.evaluate(gn.broadcast_to(np.array([1.0, 2.0]), (2, 2)))
    array([[1., 2.],
           [1., 2.]])
    """,
    shape=_broadcast_shape,
    params=(("shape", REQUIRED),),
    canonical=lambda x_shape, shape: {"shape": as_shape(shape, "broadcast shape")},
    reference=lambda x, shape: np.broadcast_to(x, shape),
    vjp=lambda g, out, x, shape: (g,),
    to_sympy=lambda x, shape: np.broadcast_to(x, shape),
    view=_broadcast_view,
    derivative=("sum(g)",),
    symbol="bcast", kinks=(), symbolic=_instance((2, 1), shape=(2, 2, 3)), accepts="any",
    rebatch=Rebatch("shape", _broadcast_batch),
))

BROADCAST_LIKE = elementwise(
    "broadcast_like", ("x", "like"),
    doc="""x broadcast to the shape it has against `like` (numpy rules); like's values are not
    read.

    Gradient rules use it instead of broadcast_to(x, like.shape): the node then depends on the
    array whose shape it copies, so a graph specialized for another batch size stays right.
    Gradient: g summed back to x's shape; none for `like`.

    >>> gn.evaluate(gn.ops.broadcast_like(np.array([1.0, 2.0]), np.zeros((2, 2))))
    array([[1., 2.],
           [1., 2.]])
    """,
    reference=lambda x, like: np.broadcast_to(x, np.broadcast_shapes(x.shape, like.shape)),
    vjp=lambda g, out, x, like: (g, None),
    to_sympy=lambda x, like: x,
    scalar=lambda x, like: x,
    derivative=("1", "0"),
    symbol="bcast", public=False, shape_only=(1,), kinks=(),
    dtype=lambda x, like: x,          # like's values are never read: any dtype
    instances=(Instance(((2,), (3, 2))),),
)

reshape, transpose, broadcast_to = (op_function(op) for op in (RESHAPE, TRANSPOSE, BROADCAST_TO))
broadcast_like = op_function(BROADCAST_LIKE)
