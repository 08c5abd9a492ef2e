"""How graphnn's indexing, joining and rearranging ops are written in ONNX (the rules
graphnn.onnx.export_ops adds to its table): slice, slice_grad, concat, pad, squeeze,
expand_dims, flip, tile, repeat. stack is written as its expansion (Unsqueeze, then Concat).

Where a rule can say "to the end" or "this dimension as it is" instead of a number, it does
(ONNX Slice's bounds, Reshape's 0), so that the model keeps its meaning at another batch size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import numpy_helper

from graphnn.ir import Node
from graphnn.onnx.builder import Builder
from graphnn.ops.indexing import FULL, resolved

Rule = Callable[..., str]
RULES: dict[str, Rule] = {}

# ONNX Slice clamps its bounds as NumPy does: these mean "past the end" either way
AFTER_LAST, BEFORE_FIRST = 2 ** 63 - 1, -2 ** 63


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        RULES[name] = function
        return function
    return register


def _sliced(b: Builder, x: str, starts: list, ends: list, axes: list, steps: list) -> str:
    if not axes:
        return x
    return b.add("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])


def _bounds(item: int | tuple) -> tuple[int, int, int]:
    """An Index item as ONNX Slice's (start, end, step): an int i is i:i+1 (i = -1: -1 to the
    end), an open bound is past the end in the step's direction."""
    if isinstance(item, int):
        return item, AFTER_LAST if item == -1 else item + 1, 1
    start, stop, step = item
    end = stop if stop is not None else AFTER_LAST if step > 0 else BEFORE_FIRST
    return AFTER_LAST if start is None else start, end, step


@rule("slice")
def _slice(b: Builder, node: Node, x: str) -> str:
    # Slice on the sliced and indexed axes, Squeeze the indexed ones, Unsqueeze the new ones
    # (at their positions in the result)
    starts, ends, axes, steps, dropped, new = [], [], [], [], [], []
    axis = out_axis = 0
    for item in node.attrs["index"]:
        if item is None:
            new.append(out_axis)
            out_axis += 1
            continue
        if item != FULL:
            for values, value in zip((starts, ends, steps), _bounds(item)):
                values.append(value)
            axes.append(axis)
        if isinstance(item, int):
            dropped.append(axis)
        else:
            out_axis += 1
        axis += 1
    y = _sliced(b, x, starts, ends, axes, steps)
    y = b.add("Squeeze", [y, b.ints(dropped)]) if dropped else y
    y = b.add("Unsqueeze", [y, b.ints(new)]) if new else y
    return y if y != x else b.add("Identity", [x])


def _zeros(b: Builder, node: Node) -> str:
    value = numpy_helper.from_array(np.zeros(1, dtype=node.dtype), "value")
    return b.add("ConstantOfShape", [b.ints(node.shape)], value=value)


@rule("slice_grad")
def _slice_grad(b: Builder, node: Node, g: str, x: str) -> str:
    # g, with x's indexed axes as size 1 and without the new axes, scattered (ScatterND) into
    # zeros at the positions of x it came from: one index row per element of g
    where = [w for axis, w in resolved(node.attrs["index"], node.shape) if axis is not None]
    positions = [[w] if isinstance(w, int) else list(w) for w in where]
    sub_shape = [len(p) for p in positions]
    if positions == [list(range(d)) for d in node.shape]:       # every element, in order
        return b.add("Reshape", [g, b.ints(node.shape)])
    if 0 in sub_shape:
        return _zeros(b, node)
    grid = np.stack(np.meshgrid(*positions, indexing="ij"), axis=-1)
    updates = b.add("Reshape", [g, b.ints(sub_shape)])
    return b.add("ScatterND", [_zeros(b, node), b.constant(grid, np.int64), updates])


@rule("concat")
def _concat(b: Builder, node: Node, *xs: str) -> str:
    return b.add("Concat", list(xs), axis=node.attrs["axis"])


@rule("pad")
def _pad(b: Builder, node: Node, x: str) -> str:
    widths = node.attrs["widths"]
    if not any(a or c for a, c in widths):
        return b.add("Identity", [x])
    pads = [a for a, _ in widths] + [c for _, c in widths]
    return b.add("Pad", [x, b.ints(pads), b.constant(node.attrs["value"], node.dtype)],
                 mode="constant")


@rule("squeeze")
def _squeeze(b: Builder, node: Node, x: str) -> str:
    axes = node.attrs["axis"]
    return b.add("Squeeze", [x, b.ints(axes)]) if axes else b.add("Identity", [x])


@rule("expand_dims")
def _expand_dims(b: Builder, node: Node, x: str) -> str:
    return b.add("Unsqueeze", [x, b.ints([node.attrs["axis"]])])


@rule("flip")
def _flip(b: Builder, node: Node, x: str) -> str:
    # a step of -1 from the last element to before the first, on each axis flipped
    axes = list(node.attrs["axis"])
    y = _sliced(b, x, [-1] * len(axes), [BEFORE_FIRST] * len(axes), axes, [-1] * len(axes))
    return y if y != x else b.add("Identity", [x])


@rule("tile")
def _tile(b: Builder, node: Node, x: str) -> str:
    reps, rank = node.attrs["reps"], len(node.inputs[0].shape)
    lead = len(reps) - rank                 # new leading axes first: ONNX Tile keeps the rank
    y = b.add("Unsqueeze", [x, b.ints(range(lead))]) if lead else x
    return b.add("Tile", [y, b.ints(reps)]) if reps else b.add("Identity", [x])


@rule("repeat")
def _repeat(b: Builder, node: Node, x: str) -> str:
    # (..., n, ...) -> (..., n, 1, ...) -> broadcast (..., n, r, ...) -> (..., n r, ...): the
    # copies of each element side by side; Reshape's 0 keeps the axes before as they are
    repeats, axis = node.attrs["repeats"], node.attrs["axis"]
    shape = node.inputs[0].shape
    spread = b.add("Unsqueeze", [x, b.ints([axis + 1])])
    counts = [1] * (len(shape) + 1)
    counts[axis + 1] = repeats
    copies = b.add("Expand", [spread, b.ints(counts)])
    target = [0] * axis + [-1] + list(shape[axis + 1:]) if 0 not in node.shape else node.shape
    return b.add("Reshape", [copies, b.ints(target)])
