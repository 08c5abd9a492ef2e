"""2-D pooling over NCHW input: what max pooling (ops/maxpool.py) and average pooling
(ops/avgpool.py) share: attributes, window views, and the loop-IR pieces that read windows.

Windows are `kernel` wide and move by `stride` (default: the kernel, so windows tile the
input); `padding` is an int, a (height, width) pair or ((top, bottom), (left, right)), each
side smaller than the kernel, so that every window holds at least one element of the input;
output size (H + top + bottom - KH) // sh + 1. Overlapping windows (stride < kernel) are
allowed, and their gradients add. What padding holds is the pooling's business: -inf for max
pooling (it never wins), zeros for average pooling, counted in the divisor or not
(count_include_pad), as in PyTorch and ONNX.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.opdef import Instance, Symbolic
from graphnn.ops.common import clamped, when
from graphnn.ops.conv import padding_sides
from graphnn.shapes import Shape, pair

NO_PADDING = ((0, 0), (0, 0))


def instance(*shapes: Shape, **attrs) -> Symbolic:
    return Symbolic(instances=(Instance(shapes, attrs),))


def pool_canonical(*shapes: Shape, kernel: Any, stride: Any, padding: Any, **rest: Any) -> dict:
    """kernel and stride as pairs (stride defaulting to the kernel), padding as sides; the
    other attributes: input_hw as a pair, count_include_pad as a bool."""
    kernel = pair(kernel, "kernel")
    stride = kernel if stride is None else pair(stride, "stride")
    sides = padding_sides(padding)
    if min(kernel) < 1 or min(stride) < 1:
        raise ShapeError(f"kernel and stride must be >= 1, got {kernel} and {stride}")
    if min(map(min, sides)) < 0 or any(max(s) >= k for s, k in zip(sides, kernel)):
        raise ShapeError(f"padding {sides} must be >= 0 and smaller than the kernel {kernel} "
                         "on each side (so every window holds an element of the input)")
    attrs = {"kernel": kernel, "stride": stride, "padding": sides}
    for key, value in rest.items():
        attrs[key] = bool(value) if key == "count_include_pad" else pair(value, key)
    return attrs


def pooled_hw(hw, kernel, stride, padding=NO_PADDING) -> tuple[int, int]:
    padded = (hw[0] + sum(padding[0]), hw[1] + sum(padding[1]))
    if padded[0] < kernel[0] or padded[1] < kernel[1]:
        raise ShapeError(f"kernel {kernel} is larger than the (padded) input's height and "
                         f"width {padded}")
    return ((padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1)


def pool_shape(x: Shape, kernel, stride, padding, **_rest) -> Shape:
    if len(x) != 4:
        raise ShapeError(f"x must be 4-D (N, C, H, W), got shape {x}")
    return x[:2] + pooled_hw(x[2:], kernel, stride, padding)


def padded(x: np.ndarray, padding, fill: Any) -> np.ndarray:
    if padding == NO_PADDING:
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(padding), constant_values=fill)


def windows(x: np.ndarray, kernel, stride, padding, fill: Any = 0.0) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) view of the pooling windows of x padded with `fill`."""
    out_hw = pooled_hw(x.shape[2:], kernel, stride, padding)
    view = sliding_window_view(padded(x, padding, fill), tuple(kernel), axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1]][:, :, :out_hw[0], :out_hw[1]]


def real_elements(shape: Shape, kernel, stride, padding) -> np.ndarray:
    """(1, 1, OH, OW, KH, KW) booleans: which window elements are input, not padding."""
    ones = np.ones((1, 1) + tuple(shape[2:]), dtype=bool)
    return windows(ones, kernel, stride, padding, fill=False)


def scatter(parts: np.ndarray, input_hw, stride, padding=NO_PADDING) -> np.ndarray:
    """Add window-shaped parts (N, C, OH, OW, KH, KW) back into an input-shaped array (what
    lands in the padding is dropped)."""
    n, c, oh, ow, kh, kw = parts.shape
    (top, bottom), (left, right) = padding
    out = np.zeros((n, c, input_hw[0] + top + bottom, input_hw[1] + left + right),
                   dtype=parts.dtype)
    for p in range(kh):
        for q in range(kw):
            out[:, :, p:p + stride[0] * oh:stride[0], q:q + stride[1] * ow:stride[1]] += \
                parts[..., p, q]
    return out[:, :, top:top + input_hw[0], left:left + input_hw[1]]


def object_windows(x, kernel, stride, padding, combine) -> np.ndarray:
    """combine(elements) for each window of an object array of SymPy expressions, with the
    window's input elements only (padding left out), as a (N, C, OH, OW) object array."""
    x = np.asarray(x, dtype=object)
    found = windows(x, kernel, stride, padding, fill=None)
    out = np.empty(found.shape[:4], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = combine([e for e in found[index].ravel() if e is not None])
    return out


# ---------------------------------------------------------------------------------------------
# Loop IR


def position(i, p, stride: int, before: int):
    """The input row (or column) of window element p of output i (in the padding when it is
    outside 0..size)."""
    start = i if stride == 1 else i * stride
    start = start if isinstance(p, int) and p == 0 else start + p
    return start if before == 0 else start - before


def load(x, n, c, row, col, padding, fill: float = 0.0) -> loops.Expr:
    """x[n, c, row, col], or `fill` where (row, col) is in the padding."""
    if padding == NO_PADDING:
        return x[n, c, row, col]
    r, r_ok = clamped(row, x.shape[-2])
    q, q_ok = clamped(col, x.shape[-1])
    value = x[n, c, r, q]
    for condition in reversed(r_ok + q_ok):
        value = loops.select(condition, value, fill)
    return value


def window_load(x, n, c, i, j, p, q, kernel, stride, padding, fill: float = 0.0):
    """Element (p, q) of the window of output (i, j), `fill` in the padding."""
    return load(x, n, c, position(i, p, stride[0], padding[0][0]),
                position(j, q, stride[1], padding[1][0]), padding, fill)


def window_reduce(reducer, x, n, c, i, j, kernel, stride, padding, fill: float = 0.0):
    """reducer over the elements of the (KH, KW) window of output (i, j)."""
    return reducer(kernel[0], lambda p: reducer(kernel[1], lambda q: window_load(
        x, n, c, i, j, p, q, kernel, stride, padding, fill)))


def window_count(i, j, shape: Shape, kernel, stride, padding) -> loops.Expr:
    """How many input elements (not padding) the window of output (i, j) holds, an integer
    expression: the rows it covers inside 0..H times the columns inside 0..W."""
    def span(index, axis):
        start = position(index, 0, stride[axis], padding[axis][0])
        size = shape[2 + axis]
        return loops.clamp(start + kernel[axis], 0, size) - loops.clamp(start, 0, size)
    return span(i, 0) * span(j, 1)


def covering(h, v, kernel, stride, padding, out_hw, body, in_hw=None):
    """sum of body(i, j, p, q) over the windows (i, j) that contain input position (h, v), with
    (p, q) the position's offset inside the window; windows are found by trying each offset,
    or, when they tile the input (stride = kernel), by one division, which needs no bounds
    check when they tile the whole input, `in_hw`, without padding."""
    h, v = h + padding[0][0], v + padding[1][0]        # in padded coordinates, >= 0
    exact = in_hw is not None and tuple(in_hw) == tuple(k * n for k, n in zip(kernel, out_hw))
    if tuple(stride) == tuple(kernel) and padding == NO_PADDING and exact:
        # the windows tile the input exactly: position (h, v) is element (h % KH, v % KW)
        # of window (h // KH, v // KW), always inside (no bounds to check)
        return body(h // kernel[0], v // kernel[1], h % kernel[0], v % kernel[1])
    if tuple(stride) == tuple(kernel):
        i, i_ok = _tile(h, kernel[0], out_hw[0])
        j, j_ok = _tile(v, kernel[1], out_hw[1])
        # the offset inside the window, clamped so the bounds check can prove i*k + p < H
        p = loops.clamp(h - i * kernel[0], 0, kernel[0] - 1)
        q = loops.clamp(v - j * kernel[1], 0, kernel[1] - 1)
        return when(i_ok + j_ok, body(i, j, p, q))

    def term(p, q):
        i, i_ok = clamped(h - p, out_hw[0], stride[0])
        j, j_ok = clamped(v - q, out_hw[1], stride[1])
        return when(i_ok + j_ok, body(i, j, p, q))
    return loops.reduce_sum(kernel[0], lambda p: loops.reduce_sum(
        kernel[1], lambda q: term(p, q)))


def _tile(t, size: int, count: int):
    """The window holding position t when windows of `size` tile an axis: its index (clamped
    in bounds) and the condition that t lies inside one of the `count` windows."""
    index = t // size
    inside = loops.clamp(index, 0, count - 1)
    return inside, [loops.eq(index, inside)]
