"""Rearranging axes and repeating elements: squeeze, expand_dims, flip, tile, repeat.

Each is a `view` (an index map from an element of the result to the element of x it is), so
lowering fuses it into its consumers' loops without a copy. Their attributes name axes and
counts, never sizes, so a compiled function that runs the graph at another batch size rebuilds
them as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnn.errors import ShapeError
from graphnn.ir import Node, NodeLike, OpDef, apply, op_function
from graphnn.opdef import REQUIRED, Instance, Labels, Symbolic
from graphnn.ops.common import register
from graphnn.shapes import Shape

IN_WORDS = Labels(in_words=True)


def _instance(*shapes: Shape, **attrs: Any) -> Symbolic:
    return Symbolic(instances=(Instance(shapes, attrs),))


def _count(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or \
            value < 0:
        raise ShapeError(f"{what} must be a non-negative int, got {value!r}")
    return int(value)


# -- squeeze, expand_dims ------------------------------------------------------------------------


def _squeeze_canonical(x: Shape, axis: tuple[int, ...]) -> dict:
    wide = [a for a in axis if x[a] != 1]
    if wide:
        raise ShapeError(f"squeeze of axis {wide[0]}, whose size is {x[wide[0]]}, not 1")
    return {"axis": axis}


def _squeeze_view(out, x_shape: Shape, axis: tuple[int, ...]) -> tuple:
    rest = iter(out)
    return tuple(0 if a in axis else next(rest) for a in range(len(x_shape)))


def _squeeze_vjp(g: Node, out: Node, x: Node, axis: tuple[int, ...]) -> tuple:
    for a in axis:                   # ascending: each new axis lands where it was in x
        g = apply("expand_dims", g, axis=a)
    return (g,)


SQUEEZE = register(OpDef(
    "squeeze", ("x",),
    doc="""x without the size-1 axes `axis` (default: every size-1 axis), as numpy.squeeze; an
    axis named whose size is not 1 is an error.

    Gradient: g with the axes put back.

    >>> gn.squeeze(gn.input("x", shape=(1, 3, 1))).shape
    (3,)
    >>> gn.squeeze(gn.input("y", shape=(1, 3, 1)), axis=0).shape
    (3, 1)
    """,
    shape=lambda x, axis: tuple(d for a, d in enumerate(x) if a not in axis),
    params=(("axis", None),), axes={"axis": "many"},
    canonical=_squeeze_canonical,
    reference=lambda x, axis: np.squeeze(x, axis),
    vjp=_squeeze_vjp,
    to_sympy=lambda x, axis: np.squeeze(x, axis),
    view=_squeeze_view,
    derivative=("reshape(g)",),
    symbol="squeeze", kinks=(), symbolic=_instance((1, 2, 1), axis=(0, 2)),
))


def squeeze(x: NodeLike, axis: int | tuple[int, ...] | None = None, *,
            name: str | None = None) -> Node:
    """The `squeeze` op, its default axes (every size-1 axis) read from x's shape, so the node
    names them: a graph run at another batch size keeps squeezing the same axes."""
    if axis is None:
        axis = tuple(a for a, d in enumerate(np.shape(x) if not isinstance(x, Node)
                                             else x.shape) if d == 1)
    return apply("squeeze", x, name=name, axis=axis)


squeeze.__doc__ = SQUEEZE.doc


def _expand_view(out, x_shape: Shape, axis: int) -> tuple:
    return tuple(out[:axis]) + tuple(out[axis + 1:])


EXPAND_DIMS = register(OpDef(
    "expand_dims", ("x",),
    doc="""x with a new axis of size 1 at position `axis` of the result (numpy.expand_dims with
    one axis; -1 appends it).

    Gradient: g without that axis.

    >>> gn.expand_dims(gn.input("x", shape=(2, 3)), axis=-1).shape
    (2, 3, 1)
    """,
    shape=lambda x, axis: tuple(x[:axis]) + (1,) + tuple(x[axis:]),
    params=(("axis", REQUIRED),), axes={"axis": "new"},
    reference=lambda x, axis: np.expand_dims(x, axis),
    vjp=lambda g, out, x, axis: (apply("squeeze", g, axis=axis),),
    to_sympy=lambda x, axis: np.expand_dims(x, axis),
    view=_expand_view,
    derivative=("reshape(g)",),
    symbol="expand", kinks=(), symbolic=_instance((2, 2), axis=1),
))


# -- flip ----------------------------------------------------------------------------------------


def _flip_view(out, x_shape: Shape, axis: tuple[int, ...]) -> tuple:
    return tuple(x_shape[a] - 1 - o if a in axis and x_shape[a] > 1 else o
                 for a, o in enumerate(out))


FLIP = register(OpDef(
    "flip", ("x",),
    doc="""x with the order of its elements reversed along `axis` (default: every axis), as
    numpy.flip; x[::-1] flips the first axis too.

    Gradient: g flipped back.

    >>> gn.evaluate(gn.flip(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=1))
    array([[2., 1.],
           [4., 3.]])
    """,
    shape=lambda x, axis: tuple(x),
    params=(("axis", None),), axes={"axis": "many"},
    reference=lambda x, axis: np.flip(x, axis),
    vjp=lambda g, out, x, axis: (apply("flip", g, axis=axis),),
    to_sympy=lambda x, axis: np.flip(x, axis),
    view=_flip_view,
    derivative=("flip(g)",),
    symbol="flip", kinks=(), symbolic=_instance((2, 3), axis=1),
))


# -- tile, repeat --------------------------------------------------------------------------------


def _tile_canonical(x: Shape, reps: Any) -> dict:
    counts = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps) \
        if isinstance(reps, (tuple, list)) else None
    if counts is None:
        raise ShapeError(f"tile's reps must be an int or a tuple of ints, got {reps!r}")
    counts = tuple(_count(r, "each of tile's reps") for r in counts)
    return {"reps": (1,) * (len(x) - len(counts)) + counts}


def _tile_shape(x: Shape, reps: tuple[int, ...]) -> Shape:
    lead = len(reps) - len(x)
    return tuple(r * d for r, d in zip(reps, (1,) * lead + tuple(x)))


def _tile_view(out, x_shape: Shape, reps: tuple[int, ...]) -> tuple:
    lead = len(reps) - len(x_shape)
    return tuple(o if r == 1 else 0 if d == 1 else o % d
                 for o, r, d in zip(out[lead:], reps[lead:], x_shape))


def _tile_vjp(g: Node, out: Node, x: Node, reps: tuple[int, ...]) -> tuple:
    """g split into its tiles, (r0, d0, r1, d1, ...) where a count is not 1, summed over the
    counts."""
    lead = len(reps) - x.ndim
    sizes = (1,) * lead + x.shape
    split = tuple(d for r, n in zip(reps, sizes) for d in ((r, n) if r != 1 else (n,)))
    summed, at = [], 0
    for r in reps:
        summed += [at] if r != 1 else []
        at += 2 if r != 1 else 1
    if summed:
        g = apply("sum", apply("reshape", g, shape=split), axis=tuple(summed))
    return (g if g.shape == x.shape else apply("reshape", g, shape=x.shape),)


TILE = register(OpDef(
    "tile", ("x",),
    doc="""x repeated `reps` times along each axis, as numpy.tile: reps is an int or one count
    per axis (fewer than x's axes repeat the last ones; more give x new leading axes).

    Gradient: the sum of g's tiles.

    >>> gn.evaluate(gn.tile(np.array([1.0, 2.0]), 2))
    array([1., 2., 1., 2.])
    >>> gn.tile(gn.input("x", shape=(2, 3)), (2, 1, 2)).shape
    (2, 2, 6)
    """,
    shape=_tile_shape,
    params=(("reps", REQUIRED),),
    canonical=_tile_canonical,
    reference=lambda x, reps: np.tile(x, reps),
    vjp=_tile_vjp,
    to_sympy=lambda x, reps: np.tile(x, reps),
    view=_tile_view,
    derivative=("the sum of g's tiles",),
    symbol="tile", kinks=(), labels=IN_WORDS, symbolic=_instance((2,), reps=(2, 2)),
))


def _repeat_vjp(g: Node, out: Node, x: Node, repeats: int, axis: int) -> tuple:
    """g's copies of each element side by side, (..., n, repeats, ...), summed."""
    split = x.shape[:axis] + (x.shape[axis], repeats) + x.shape[axis + 1:]
    return (apply("sum", apply("reshape", g, shape=split), axis=axis + 1),)


REPEAT = register(OpDef(
    "repeat", ("x",),
    doc="""Each element of x repeated `repeats` times along `axis`, as numpy.repeat with one
    count (axis None repeats the elements of x flattened).

    Gradient: the sum of each element's copies in g.

    >>> gn.evaluate(gn.repeat(np.array([1.0, 2.0]), 2, axis=0))
    array([1., 1., 2., 2.])
    >>> gn.repeat(gn.input("x", shape=(2, 3)), 2).shape
    (12,)
    """,
    shape=lambda x, repeats, axis: tuple(x[:axis]) + (x[axis] * repeats,) + tuple(x[axis + 1:]),
    params=(("repeats", REQUIRED), ("axis", REQUIRED)), axes={"axis": "one"},
    canonical=lambda x, repeats, axis: {"repeats": _count(repeats, "repeats"), "axis": axis},
    reference=lambda x, repeats, axis: np.repeat(x, repeats, axis),
    vjp=_repeat_vjp,
    to_sympy=lambda x, repeats, axis: np.repeat(x, repeats, axis),
    view=lambda out, x_shape, repeats, axis: tuple(
        o // repeats if a == axis and repeats > 1 else o for a, o in enumerate(out)),
    derivative=("the sum of g's copies",),
    symbol="repeat", kinks=(), labels=IN_WORDS, symbolic=_instance((2, 2), repeats=2, axis=1),
))


def repeat(x: NodeLike, repeats: int, axis: int | None = None, *,
           name: str | None = None) -> Node:
    """The `repeat` op; with axis None, of x flattened first (numpy's default)."""
    if axis is None:
        x = apply("reshape", x, shape=(-1,))
        axis = 0
    return apply("repeat", x, name=name, repeats=repeats, axis=axis)


repeat.__doc__ = REPEAT.doc
expand_dims, flip, tile = (op_function(op) for op in (EXPAND_DIMS, FLIP, TILE))
