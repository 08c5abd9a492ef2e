"""Shape helpers for op shape rules: numpy broadcasting, axis normalization, shape formatting.

Shape rules raise `ShapeError` with a message about the operands; `ir.apply` adds the op name
and the user's source line.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence

from graphnn.errors import ShapeError

Shape = tuple[int, ...]


def as_shape(shape: Iterable[int] | int, what: str = "shape") -> Shape:
    """A validated shape tuple of non-negative Python ints (an int means a 1-D shape)."""
    if isinstance(shape, (int,)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ShapeError(f"{what} must be a tuple of ints, got {shape!r}") from None
    out = []
    for d in dims:
        if isinstance(d, bool) or not hasattr(d, "__index__"):
            raise ShapeError(f"{what} must be a tuple of ints, got {shape!r}")
        d = int(d.__index__())
        if d < 0:
            raise ShapeError(f"{what} has a negative dimension: {dims!r}")
        out.append(d)
    return tuple(out)


def broadcast(*shapes: Shape) -> Shape:
    """The numpy broadcast of `shapes`: align from the right, size 1 stretches.

    >>> broadcast((3, 1), (4,))
    (3, 4)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(ndim):
        dims = {s[len(s) - ndim + k] for s in shapes if len(s) - ndim + k >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ShapeError(
                "shapes " + ", ".join(str(s) for s in shapes) + " do not broadcast: "
                f"dimension {k - ndim} has sizes {sorted(dims)}"
            )
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def broadcasts_to(source: Shape, target: Shape) -> bool:
    """True when numpy's broadcast_to(source, target) is valid."""
    if len(source) > len(target):
        return False
    tail = target[len(target) - len(source):]
    return all(s in (1, t) for s, t in zip(source, tail))


def normalize_axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints; None means every axis and () none (as in
    NumPy: a reduction over no axis returns its input). NumPy integers are ints.

    >>> normalize_axes(-1, 3), normalize_axes((), 3)
    ((2,), ())
    """
    if axis is None:
        return tuple(range(ndim))
    wrong = ShapeError(f"axis must be an int or a tuple of ints, got {axis!r}")
    try:
        axes = (axis,) if _is_index(axis) else tuple(axis)
    except TypeError:
        raise wrong from None
    out = []
    for a in axes:
        if isinstance(a, bool) or not _is_index(a):
            raise wrong
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for an array with {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def _is_index(value: object) -> bool:
    """An int, NumPy integer or integer 0-d array (what `operator.index` takes)."""
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def normalize_axis(axis: int, ndim: int) -> int:
    """One axis as a non-negative int (an int, or a tuple of exactly one).

    >>> normalize_axis(-1, 2)
    1
    """
    axes = normalize_axes(axis, ndim) if axis is not None else ()
    if len(axes) != 1:
        raise ShapeError(f"axis must be one int, got {axis!r}")
    return axes[0]


def reduced(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    """The shape after reducing `axes` (kept as size 1 when keepdims)."""
    if keepdims:
        return tuple(1 if k in axes else d for k, d in enumerate(shape))
    return tuple(d for k, d in enumerate(shape) if k not in axes)


def size(shape: Shape) -> int:
    """Number of elements of an array of this shape."""
    return math.prod(shape)


def pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair (conv and pooling attributes)."""
    if isinstance(value, bool):
        raise ShapeError(f"{what} must be an int or a pair of ints, got {value!r}")
    if hasattr(value, "__index__"):
        value = (int(value.__index__()),) * 2
    try:
        a, b = value
        return int(a.__index__()), int(b.__index__())
    except (TypeError, ValueError, AttributeError):
        raise ShapeError(f"{what} must be an int or a pair of ints, got {value!r}") from None


def format_shape(shape: Shape) -> str:
    """A shape as the text form writes it: [2,3], [] for a scalar."""
    return "[" + ",".join(str(d) for d in shape) + "]"
