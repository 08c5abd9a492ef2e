"""Indexing: `x[...]` as NumPy's basic indexing (a `slice` node), and its gradient `slice_grad`.

Basic indexing takes, per axis, an int (the axis is dropped; negative counts from the end), a
slice `start:stop:step` (any step but 0, negative too; bounds clamped as NumPy clamps them),
and anywhere `None` (a new axis of size 1) and one `...` (as many full slices as the rank
needs). The result is a view of x: lowering maps each element of the result to the element of
x it is (the `view` facet), so it fuses into its consumers' loops without a copy. Its gradient
puts g where the view came from and zeros elsewhere (`slice_grad`: a select per element, never
a matrix product). Boolean masks and lists or arrays of indices (NumPy's advanced indexing) are
not basic indexing; a node of integers indexes through gn.take.

The index is kept as the user wrote it, made canonical (an `Index`: one item per axis, ... and
omitted trailing axes written out, a step of 1 and a start of 0 before a positive step made
explicit), and resolved against the shape only when the shape is known: a negative int or an
open stop keeps meaning "from the end" when a compiled function runs the graph at another batch
size.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from codegen import loops
from graphnn.errors import IndexingError
from graphnn.ir import Node, OpDef, apply, op_function
from graphnn.opdef import REQUIRED, Instance, Symbolic
from graphnn.ops.common import clamped, register, sympy, when
from graphnn.shapes import Shape

FULL = (0, None, 1)          # `:`, canonical


class Index(tuple):
    """A canonical basic index: one item per axis of the indexed array, in order, with None
    items (new axes) among them. An item is an int (that position; the axis is dropped), a
    (start, stop, step) triple (stop None: to the end; start None only before a negative step:
    from the end) or None. Prints as NumPy writes it.

    >>> Index((1, (0, None, 2), None, (None, None, -1)))
    [1, ::2, None, ::-1]
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "[" + ", ".join(_item_text(item) for item in self) + "]"

    def key(self) -> tuple:
        """The index as NumPy takes it: ints, slices and None."""
        return tuple(slice(*item) if isinstance(item, tuple) else item for item in self)


def _item_text(item: Any) -> str:
    if not isinstance(item, tuple):
        return str(item)
    start, stop, step = item
    text = ("" if start is None or (start == 0 and step > 0) else str(start)) + ":" + \
        ("" if stop is None else str(stop))
    return text + (f":{step}" if step != 1 else "")


def _as_int(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


UNSUPPORTED = ("x[...] takes NumPy's basic indexing: ints, slices, None and ...; boolean masks "
               "and lists or arrays of indices (advanced indexing) are not supported (a node of "
               "integers indexes through gn.take)")


def _bound(value: Any, what: str) -> int | None:
    number = _as_int(value)
    if value is not None and number is None:
        raise IndexingError(f"a slice's {what} must be an int or None, got {value!r}")
    return number


def _slice_item(part: slice) -> tuple:
    step = _bound(part.step, "step")
    if step == 0:
        raise IndexingError("a slice's step cannot be zero")
    step = 1 if step is None else step
    start = _bound(part.start, "start")
    return (0 if start is None and step > 0 else start, _bound(part.stop, "stop"), step)


def _item(part: Any, canonical: bool) -> Any:
    """One part of an index as an Index item (Ellipsis kept), or an IndexingError."""
    if part is None or part is Ellipsis:
        return part
    if isinstance(part, slice):
        return _slice_item(part)
    if canonical and isinstance(part, tuple) and len(part) == 3:
        return _slice_item(slice(*part))
    number = _as_int(part)
    if number is None:
        kind = "a boolean mask" if isinstance(part, (bool, np.bool_)) or \
            np.asarray(part).dtype == bool else f"a {type(part).__name__}"
        raise IndexingError(f"{UNSUPPORTED}; got {kind} ({part!r})")
    return number


def basic_index(index: Any, shape: Shape) -> Index:
    """`index` (as written in x[index], or an Index) checked against an array of `shape` and
    made canonical; IndexingError names the axis and its size for an int out of range.

    >>> basic_index((..., -1), (2, 3))
    [:, -1]
    >>> basic_index(5, (3,))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphnn.errors.IndexingError: index 5 is out of range for axis 0 of size 3 (-3..2)
    """
    canonical = isinstance(index, Index)
    parts = tuple(index) if canonical or isinstance(index, tuple) else (index,)
    items = [_item(p, canonical) for p in parts]
    if sum(item is Ellipsis for item in items) > 1:
        raise IndexingError("an index can only have a single ellipsis (...)")
    consumed = sum(item is not None and item is not Ellipsis for item in items)
    if consumed > len(shape):
        raise IndexingError(f"too many indices: {consumed} for an array of rank {len(shape)}")
    rest = [FULL] * (len(shape) - consumed)
    at = next((k for k, item in enumerate(items) if item is Ellipsis), len(items))
    items = items[:at] + rest + items[at + 1:]
    axis = 0
    for item in items:
        if isinstance(item, int) and not -shape[axis] <= item < shape[axis]:
            size = shape[axis]
            valid = f"-{size}..{size - 1}" if size else "it is empty"
            raise IndexingError(f"index {item} is out of range for axis {axis} of size "
                                f"{size} ({valid})")
        axis += item is not None
    return Index(items)


def resolved(index: Index, shape: Shape) -> list[tuple[int | None, Any]]:
    """Per item, the input axis it reads (None for a new axis) and what it reads there: an
    int position in range, or range(start, stop, step) of the positions."""
    out, axis = [], 0
    for item in index:
        if item is None:
            out.append((None, None))
            continue
        size = shape[axis]
        where = item % size if isinstance(item, int) else range(*slice(*item).indices(size))
        out.append((axis, where))
        axis += 1
    return out


def _slice_shape(x: Shape, index: Index) -> Shape:
    return tuple(1 if axis is None else len(where)
                 for axis, where in resolved(index, x) if not isinstance(where, int))


def _slice_view(out, x_shape: Shape, index: Index) -> tuple:
    """The element of x an element of x[index] is: start + i * step on sliced axes, the
    position on indexed ones; new axes read nothing."""
    found, at = [], iter(out)
    for axis, where in resolved(index, x_shape):
        if axis is None:
            next(at)
        elif isinstance(where, int):
            found.append(where)
        else:
            i = next(at)
            scaled = i if where.step == 1 else i * where.step
            found.append(scaled if where.start == 0 else scaled + where.start)
    return tuple(found)


SLICE = register(OpDef(
    "slice", ("x",),
    doc="""x[index]: NumPy's basic indexing (ints, slices with any step, None, ...), made by
    `x[...]` on a node. An int out of range is an error naming the axis and its size; slice
    bounds are clamped as NumPy clamps them.

    Gradient: g placed where the elements came from, zeros elsewhere (slice_grad).

    >>> x = gn.input("x", shape=(3, 4))
    >>> x[1:, ::-2].shape, x[None, ..., 0].shape
    ((2, 2), (1, 3))
    >>> gn.evaluate(gn.constant(np.arange(6.0).reshape(2, 3))[:, -1])
    array([2., 5.])
    """,
    shape=_slice_shape,
    params=(("index", REQUIRED),),
    canonical=lambda x, index: {"index": basic_index(index, x)},
    reference=lambda x, index: x[index.key()],
    vjp=lambda g, out, x, index: (apply("slice_grad", g, x, index=index),),
    to_sympy=lambda x, index: x[index.key()],
    view=_slice_view,
    derivative=("slice_grad(g, x)",),
    symbol="[·]", kinks=(), public=False,
    symbolic=Symbolic(instances=(Instance(((3, 4),), {"index": (slice(None, None, -2), 1)}),
                                 Instance(((2, 3),), {"index": (None, Ellipsis, slice(1, 3))}))),
))


def _slice_grad_shape(g: Shape, x: Shape, index: Index) -> Shape:
    sliced = _slice_shape(x, index)
    if tuple(g) != sliced:
        raise IndexingError(f"g has shape {tuple(g)}, but x{index!r} of x {tuple(x)} has "
                            f"shape {sliced}")
    return tuple(x)


def _slice_grad_reference(g, x, index):
    out = np.zeros(np.shape(x), dtype=np.result_type(g))
    out[index.key()] = g
    return out


def _slice_grad_sympy(g, x, index):
    out = np.full(np.shape(x), sympy.S.Zero, dtype=object)
    out[index.key()] = g
    return out


def _slice_grad_compute(out, g, x, index: Index):
    """out[i] = g[j] where x[index] takes element i of x as its element j, else 0: per axis,
    i - start must be a multiple of the step within the slice's range (clamped loads, then a
    select: both arms of a select are computed)."""
    g_index, conditions = [], []
    for axis, where in resolved(index, x.shape):
        if axis is None:
            g_index.append(0)
        elif isinstance(where, int):
            conditions.append(loops.eq(out[axis], where))
        elif not where:
            return loops.const(0, g.dtype)           # an empty slice: no element of x is read
        elif where.step == 1 and len(where) == x.shape[axis]:
            g_index.append(out[axis])
        else:
            offset = out[axis] - where.start if where.step > 0 else where.start - out[axis]
            position, inside = clamped(offset, len(where), abs(where.step))
            g_index.append(position)
            conditions += inside
    return when(conditions, g[tuple(g_index)])


SLICE_GRAD = register(OpDef(
    "slice_grad", ("g", "x"),
    doc="""The gradient of x[index]: g in x's shape, at the elements x[index] took, zeros
    elsewhere (x's values are not read, only its shape).

    Gradient: for g, the upstream gradient sliced again; none for x.

    >>> every_other = (slice(None, None, 2),)
    >>> gn.evaluate(gn.ops.slice_grad(np.array([1.0, 2.0]), np.zeros(4), index=every_other))
    array([1., 0., 2., 0.])
    """,
    shape=_slice_grad_shape,
    params=(("index", REQUIRED),),
    canonical=lambda g, x, index: {"index": basic_index(index, x)},
    reference=_slice_grad_reference,
    vjp=lambda g_out, out, g, x, index: (apply("slice", g_out, index=index), None),
    to_sympy=_slice_grad_sympy,
    compute=_slice_grad_compute,
    derivative=("slice(G)", "0"),
    symbol="[·]∂x", kinks=(), public=False, shape_only=(1,),
    symbolic=Symbolic(instances=(Instance(((2,), (3, 4)),
                                          {"index": (slice(None, None, 2), -1)}),)),
))

# gn.ops.slice (graphnn/ops/__init__.py): named otherwise here, where `slice` is Python's
slice_op, slice_grad = op_function(SLICE), op_function(SLICE_GRAD)

