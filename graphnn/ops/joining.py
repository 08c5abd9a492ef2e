"""Joining and splitting: concat (variadic), stack, split, and pad (x joined with a border).

concat takes any number of inputs (OpDef.variadic): its rules receive them spread, and its
gradient is one slice of g per input. Stored, it writes each input into its part of the output
(Lowering.pieces), reading each element once; its compute rule, a select per element, is what
the batch analyses read. split returns slices of x (one node each, no multi-output op), and
stack is concat of the inputs with a new axis each.

A part's slice of g (concat's gradient, split's pieces, pad's gradient) is written from both
ends, `g[before:-after]`, so that it depends on the sizes of the other parts only: when a
compiled function runs the graph at another batch size, a part that holds the batch keeps
meaning the right rows, and a graph whose other parts hold it too is refused, never wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from codegen import loops
from graphnn.errors import OpError, ShapeError, where
from graphnn.ir import Node, OpDef, apply, op_function
from graphnn.opdef import REQUIRED, Instance, Labels, Lowering, Symbolic
from graphnn.ops.common import float_attr, register, when
from graphnn.shapes import Shape, normalize_axis

IN_WORDS = Labels(in_words=True)


def part(g: Node, axis: int, before: int, after: int) -> Node:
    """g[..., before:-after, ...] along `axis` (see the module docstring)."""
    index = (slice(None),) * axis + (slice(before, -after if after else None),)
    return apply("slice", g, index=index)


def _concat_shape(*shapes: Shape, axis: int) -> Shape:
    first = shapes[0]
    for k, shape in enumerate(shapes[1:], 1):
        if len(shape) != len(first) or any(
                a != b for d, (a, b) in enumerate(zip(shape, first)) if d != axis):
            raise ShapeError(f"xs{k} has shape {tuple(shape)}, which does not fit xs0's "
                             f"{tuple(first)}: the inputs agree on every axis but the axis "
                             f"joined ({axis})")
    return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]


def _concat_vjp(g: Node, out: Node, *xs: Node, axis: int) -> tuple:
    sizes = [x.shape[axis] for x in xs]
    return tuple(part(g, axis, sum(sizes[:k]), sum(sizes[k + 1:])) for k in range(len(xs)))


def _boxes(xs: Sequence[Any], axis: int) -> list[tuple[int, Any]]:
    """(offset along the axis, input) of the inputs that are not empty there."""
    found, offset = [], 0
    for x in xs:
        if x.shape[axis]:
            found.append((offset, x))
        offset += x.shape[axis]
    return found


def _concat_compute(out, *xs, axis: int):
    """out[..., i, ...] = x_k[..., i - offset_k, ...] for the k whose part holds i: selects
    from the last part back, each load clamped into its input (both arms are computed)."""
    boxes = _boxes(xs, axis)
    i = out[axis]
    value = None
    for offset, x in reversed(boxes):
        index = loops.clamp(i - offset, 0, x.shape[axis] - 1)
        element = x[tuple(out[:axis]) + (index,) + tuple(out[axis + 1:])]
        value = element if value is None else \
            loops.select(loops.lt(i, offset + x.shape[axis]), element, value)
    return value


def _concat_pieces(shape: Shape, *xs, axis: int) -> list:
    """Each input written into its part of the output."""
    return [(tuple(offset if d == axis else 0 for d in range(len(shape))), x.shape,
             lambda index, x=x: x[tuple(index)]) for offset, x in _boxes(xs, axis)]


CONCAT = register(OpDef(
    "concat", ("xs",),
    doc="""The inputs joined along `axis` (numpy.concatenate): they agree on every other axis,
    and have one dtype.

    Gradient: each input gets its part of g.

    >>> a, b = gn.input("a", shape=(2, 3)), gn.input("b", shape=(2, 1))
    >>> gn.concat([a, b], axis=1).shape
    (2, 4)
    >>> gn.evaluate(gn.concat([np.zeros(2), np.ones(1)], 0))
    array([0., 0., 1.])
    """,
    shape=_concat_shape,
    params=(("axis", 0),), axes={"axis": "one"}, variadic=True,
    reference=lambda *xs, axis: np.concatenate(xs, axis),
    vjp=_concat_vjp,
    to_sympy=lambda *xs, axis: np.concatenate(xs, axis),
    compute=_concat_compute,
    lowering=Lowering(pieces=_concat_pieces),
    derivative=("g's part",),
    symbol="concat", kinks=(), labels=IN_WORDS,
    symbolic=Symbolic(instances=(Instance(((2, 1), (2, 2)), {"axis": 1}),
                                 Instance(((1,), (2,), (1,))))),
))


def _stack_shape(*shapes: Shape, axis: int) -> Shape:
    for k, shape in enumerate(shapes[1:], 1):
        if tuple(shape) != tuple(shapes[0]):
            raise ShapeError(f"xs{k} has shape {tuple(shape)}, not xs0's {tuple(shapes[0])}: "
                             "stacked inputs have one shape")
    return tuple(shapes[0][:axis]) + (len(shapes),) + tuple(shapes[0][axis:])


STACK = register(OpDef(
    "stack", ("xs",),
    doc="""The inputs, of one shape, stacked along a new axis `axis` of the result
    (numpy.stack).

    Gradient: each input gets its slice of g along the new axis.

    >>> gn.stack([gn.input("a", shape=(3,)), gn.input("b", shape=(3,))], axis=1).shape
    (3, 2)
    """,
    shape=_stack_shape,
    params=(("axis", 0),), axes={"axis": "new"}, variadic=True,
    reference=lambda *xs, axis: np.stack(xs, axis),
    expand=lambda *xs, axis: apply("concat", *(apply("expand_dims", x, axis=axis) for x in xs),
                                   axis=axis),
    vjp=None,
    to_sympy=lambda *xs, axis: np.stack(xs, axis),
    derivative=("g's slice",),
    symbol="stack", kinks=(), labels=IN_WORDS,
    symbolic=Symbolic(instances=(Instance(((2,), (2,)), {"axis": 1}),)),
))


def _sizes(sections: Any, length: int, axis: int) -> list[int]:
    """split's part sizes: `sections` equal parts, or the sizes listed (summing to the axis)."""
    if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
        if sections < 1 or length % sections:
            raise ShapeError(f"split of axis {axis} (size {length}) into {sections} equal "
                             "parts: the size is not a multiple of it")
        return [length // sections] * int(sections)
    try:
        sizes = [int(s) for s in sections]
    except (TypeError, ValueError):
        raise OpError(f"split takes a number of equal parts or a list of sizes, got "
                      f"{sections!r}") from None
    if not sizes or any(s < 0 for s in sizes) or sum(sizes) != length:
        raise ShapeError(f"split sizes {sizes} do not add up to axis {axis}'s size {length}")
    return sizes


def split(x: Node, sections: int | Sequence[int], axis: int = 0) -> list[Node]:
    """x cut along `axis` into `sections` equal parts, or into parts of the sizes listed (as
    torch.split and ONNX's Split; numpy.split lists cut points instead): a list of nodes, each
    a slice of x.

    >>> a, b = gn.split(gn.input("x", shape=(2, 5)), [2, 3], axis=1)
    >>> a.shape, b.shape
    ((2, 2), (2, 3))
    >>> [p.shape for p in gn.split(gn.input("y", shape=(4,)), 2)]
    [(2,), (2,)]
    """
    if not isinstance(x, Node):
        x = apply("reshape", x, shape=np.shape(x))         # numbers and arrays lifted
    try:
        axis = normalize_axis(axis, x.ndim)
        sizes = _sizes(sections, x.shape[axis], axis)
    except (ShapeError, OpError) as error:
        raise type(error)(f"split({x.describe()}): {error}{where()}") from None
    return [part(x, axis, sum(sizes[:k]), sum(sizes[k + 1:])) for k in range(len(sizes))]


def _pad_canonical(x: Shape, widths: Any, value: Any) -> dict:
    """NumPy's pad_width forms: n, (n,), (before, after), or one (before, after) per axis."""
    try:
        array = np.asarray(widths)
        if not array.size:                  # () or (()): no pairs, which fits a scalar only
            array = np.zeros((0, 2), np.int64)
        if array.dtype.kind not in "iu":
            raise ValueError
        pairs = np.broadcast_to(array, (len(x), 2))
    except ValueError:
        raise ShapeError(f"pad widths must be an int, (before, after), or one (before, "
                         f"after) pair per axis of x (rank {len(x)}), got {widths!r}") from None
    if (pairs < 0).any():
        raise ShapeError(f"pad widths cannot be negative, got {widths!r}")
    return {"widths": tuple((int(a), int(b)) for a, b in pairs),
            "value": float_attr("value", value)}


def _padded(x: np.ndarray, widths: tuple, value: Any) -> np.ndarray:
    """numpy.pad's constant mode (which refuses a scalar: nothing to pad there)."""
    return np.pad(x, widths, constant_values=value) if widths else np.array(x, copy=True)


def _pad_compute(out, x, widths, value):
    """x's element where out's index minus the widths before falls in x, else the value."""
    index, inside = [], []
    for axis, (before, _) in enumerate(widths):
        size = x.shape[axis]
        if size == 0:
            return loops.const(value, x.dtype)
        t = out[axis] - before if before else out[axis]
        position = t if widths[axis] == (0, 0) else loops.clamp(t, 0, size - 1)
        index.append(position)
        inside += [] if widths[axis] == (0, 0) else [loops.eq(t, position)]
    return when(inside, x[tuple(index)]) if value == 0.0 else \
        _filled(inside, x[tuple(index)], value)


def _filled(conditions: list, element, value: float):
    for condition in reversed(conditions):
        element = loops.select(condition, element, value)
    return element


def _pad_pieces(shape: Shape, x, widths, value) -> list:
    """x in the interior; the value in one box per side of each axis: the axes before it
    cover x's extent, those after it the whole output."""
    start = tuple(before for before, _ in widths)
    boxes = [(start, x.shape, lambda index: x[tuple(index)])]
    fill = loops.const(value, x.dtype)
    for axis, (before, after) in enumerate(widths):
        head = start[:axis]
        extent = tuple(x.shape[:axis])
        for corner, size in ((0, before), (start[axis] + x.shape[axis], after)):
            boxes.append((head + (corner,) + (0,) * (len(shape) - axis - 1),
                          extent + (size,) + tuple(shape[axis + 1:]), lambda index: fill))
    return boxes


def _pad_vjp(g: Node, out: Node, x: Node, widths, value) -> tuple:
    for axis, (before, after) in enumerate(widths):
        if before or after:
            g = part(g, axis, before, after)
    return (g,)


PAD = register(OpDef(
    "pad", ("x",),
    doc="""x with `value` around it (numpy.pad's constant mode): `widths` is numpy's pad_width,
    an int, (before, after) for every axis, or one (before, after) pair per axis.

    Gradient: g without the border.

    >>> gn.evaluate(gn.pad(np.array([1.0, 2.0]), (1, 2)))
    array([0., 1., 2., 0., 0.])
    >>> gn.pad(gn.input("x", shape=(2, 3)), ((0, 0), (1, 1)), value=-1.0).shape
    (2, 5)
    """,
    shape=lambda x, widths, value: tuple(d + a + b for d, (a, b) in zip(x, widths)),
    params=(("widths", REQUIRED), ("value", 0.0)),
    canonical=_pad_canonical,
    reference=lambda x, widths, value: _padded(x, widths, value),
    vjp=_pad_vjp,
    to_sympy=lambda x, widths, value: _padded(x, widths, value),
    compute=_pad_compute,
    lowering=Lowering(pieces=_pad_pieces),
    derivative=("g without the border",),
    symbol="pad", kinks=(), labels=IN_WORDS,
    symbolic=Symbolic(instances=(Instance(((2, 2),), {"widths": ((1, 0), (0, 2)),
                                                      "value": 0.5}),)),
))

concat, stack, pad = (op_function(op) for op in (CONCAT, STACK, PAD))
