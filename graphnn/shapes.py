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


MAX_BYTES = (1 << 63) - 1   # NumPy's limit on an array's size in bytes (a signed 64-bit count)


def check_size(shape: Shape, itemsize: int, what: str = "shape") -> Shape:
    """`shape`, or a ShapeError when an array of it would not fit in memory's address range
    (NumPy refuses arrays of more than 2**63 - 1 bytes; so does graphnn, when it is built).

    >>> check_size((1 << 64,), 8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphnn.errors.ShapeError: shape (18446744073709551616,) has 2**64 elements of 8 bytes: ...
    """
    count = math.prod(shape)
    if count * itemsize > MAX_BYTES:
        elements = f"2**{count.bit_length() - 1}" if count & (count - 1) == 0 else str(count)
        raise ShapeError(f"{what} {shape} has {elements} elements of {itemsize} bytes: more "
                         "than an array can hold (2**63 - 1 bytes)")
    return shape


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


def _as_int(value: object) -> int | None:
    """value as a Python int when it is one (numpy integers included; bools are not)."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def _given(axis: object) -> str:
    """An axis attribute as the user wrote it, numpy integers shown as plain ints."""
    if _as_int(axis) is not None:
        return str(_as_int(axis))
    if isinstance(axis, (tuple, list)):
        items = [_given(a) for a in axis]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(axis)


def _axis_list(axis: object, ndim: int, what: str) -> list[int]:
    """The axes in `axis` (an int or a sequence of ints) as non-negative ints, in the order
    given; out-of-range and repeated axes are errors that quote `axis` as given and the rank.
    Never modulo ndim: numpy refuses axis 5 of a matrix, and so does graphnn."""
    single = _as_int(axis) is not None
    try:
        items = (axis,) if single else tuple(axis)  # type: ignore[call-overload]
    except TypeError:
        items = (axis,)
    numbers = [_as_int(a) for a in items]
    if None in numbers:
        raise ShapeError(f"{what} must be an int or a tuple of ints, got {axis!r}")
    out: list[int] = []
    for a in numbers:
        if not -ndim <= a < ndim:
            valid = f"axes are -{ndim}..{ndim - 1}" if ndim else "it has no axes"
            given = "" if single else f" in {what} {_given(axis)}"
            raise ShapeError(f"axis {a}{given} is out of range for an array of rank {ndim} "
                             f"({valid})")
        if a % ndim in out:
            raise ShapeError(f"{what} {_given(axis)} repeats axis {a % ndim} (rank {ndim})")
        out.append(a % ndim)
    return out


def normalize_axes(axis: int | Sequence[int] | None, ndim: int,
                   what: str = "axis") -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints; None means every axis, () none.

    >>> normalize_axes(-1, 3)
    (2,)
    >>> normalize_axes((0, 5), 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphnn.errors.ShapeError: axis 5 in axis (0, 5) is out of range for an array of rank 2 ...
    """
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(_axis_list(axis, ndim, what)))


def normalize_axis(axis: int, ndim: int) -> int:
    """One axis (an int, numpy integers included) as a non-negative int.

    >>> normalize_axis(-1, 2)
    1
    """
    if _as_int(axis) is None:
        raise ShapeError(f"axis must be one int, got {axis!r}")
    return _axis_list(axis, ndim, "axis")[0]


def normalize_permutation(axes: Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """A permutation of the `ndim` axes (negative axes counted from the end); None reverses.

    >>> normalize_permutation((-1, 0), 2)
    (1, 0)
    """
    if axes is None:
        return tuple(range(ndim))[::-1]
    out = tuple(_axis_list(axes, ndim, "axes"))
    if len(out) != ndim:
        raise ShapeError(f"axes {_given(axes)} name {len(out)} axes; a permutation of all "
                         f"{ndim} axes is needed (rank {ndim})")
    return out


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
