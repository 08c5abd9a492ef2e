"""2-D pooling over NCHW input: max_pool2d and avg_pool2d, and the ops their gradients need.

Windows are `kernel` wide and move by `stride` (default: the kernel, so windows tile the
input); no padding; output size (H - K) // stride + 1. Overlapping windows (stride < kernel)
are allowed, and their gradients add.

Max pooling routes each window's gradient to its maximum; tied maxima share it evenly (as the
max gate and the max reduction). Its gradient `max_pool2d_grad` is linear in g with a mask that
is piecewise constant in x; its adjoint in g is `max_pool2d_select`, and the two close
grad-of-grad. Average pooling's gradient `avg_pool2d_grad` spreads g / (KH KW) over each
window; its adjoint is avg_pool2d again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.ir import REQUIRED, OpDef, apply, op_function
from graphnn.opdef import Instance, Kink, Labels, Symbolic
from graphnn.ops.common import SUBGRADIENT, TIES_SPLIT, clamped, register, sympy, when
from graphnn.shapes import Shape, pair

_PARAMS = (("kernel", 2), ("stride", None))
_IN_WORDS = Labels(in_words=True)     # "over each window": no formula for it


def _instance(*shapes: Shape, **attrs) -> Symbolic:
    return Symbolic(instances=(Instance(shapes, attrs),))


def _window(*rows: tuple[float, float]) -> tuple:
    """One 2x2 image (N = C = 1) as nested tuples: a kink's value."""
    return ((rows,),)


def _pool_canonical(*shapes: Shape, kernel: Any, stride: Any, **sizes: Any) -> dict:
    kernel = pair(kernel, "kernel")
    stride = kernel if stride is None else pair(stride, "stride")
    if min(kernel) < 1 or min(stride) < 1:
        raise ShapeError(f"kernel and stride must be >= 1, got {kernel} and {stride}")
    return {"kernel": kernel, "stride": stride, **{k: pair(v, k) for k, v in sizes.items()}}


def _pooled_hw(hw, kernel, stride) -> tuple[int, int]:
    if hw[0] < kernel[0] or hw[1] < kernel[1]:
        raise ShapeError(f"kernel {kernel} is larger than the input's height and width {hw}")
    return ((hw[0] - kernel[0]) // stride[0] + 1, (hw[1] - kernel[1]) // stride[1] + 1)


def _pool_shape(x: Shape, kernel, stride) -> Shape:
    if len(x) != 4:
        raise ShapeError(f"x must be 4-D (N, C, H, W), got shape {x}")
    return x[:2] + _pooled_hw(x[2:], kernel, stride)


def _windows(x: np.ndarray, kernel, stride, out_hw) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) view of the pooling windows."""
    view = sliding_window_view(x, tuple(kernel), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return view[:, :, :out_hw[0], :out_hw[1]]


def _scatter(parts: np.ndarray, input_hw, stride) -> np.ndarray:
    """Add window-shaped parts (N, C, OH, OW, KH, KW) back into an input-shaped array."""
    n, c, oh, ow, kh, kw = parts.shape
    out = np.zeros((n, c) + tuple(input_hw), dtype=parts.dtype)
    for p in range(kh):
        for q in range(kw):
            out[:, :, p:p + stride[0] * oh:stride[0], q:q + stride[1] * ow:stride[1]] += \
                parts[..., p, q]
    return out


def _max_mask(x, out, kernel, stride):
    """1 where a window element equals the window's maximum, and each window's tie count."""
    windows = _windows(x, kernel, stride, out.shape[2:])
    mask = (windows == out[..., None, None]).astype(x.dtype)
    return windows, mask, mask.sum(axis=(4, 5))


def _max_pool2d_grad_reference(x, out, g, kernel, stride):
    _, mask, count = _max_mask(x, out, kernel, stride)
    return _scatter(mask * (g / count)[..., None, None], x.shape[2:], stride)


def _max_pool2d_select_reference(x, out, h, kernel, stride):
    _, mask, count = _max_mask(x, out, kernel, stride)
    return (mask * _windows(h, kernel, stride, out.shape[2:])).sum(axis=(4, 5)) / count


def _object_windows(x, kernel, stride, combine) -> np.ndarray:
    """Reduce each window of an object array of SymPy expressions with combine(window)."""
    x = np.asarray(x, dtype=object)
    out_hw = _pooled_hw(x.shape[2:], kernel, stride)
    windows = _windows(x, kernel, stride, out_hw)
    out = np.empty(windows.shape[:4], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = combine(windows[index])
    return out


def _max_mask_sympy(x, kernel, stride):
    """SymPy masks: Heaviside(x - max, 1) is 1 exactly where x attains its window's max."""
    def masks(window):
        top = sympy.Max(*window.ravel(), evaluate=False)   # comparing symbolic args is slow
        return np.vectorize(lambda e: sympy.Heaviside(e - top, 1), otypes=[object])(window)
    return _object_windows(x, kernel, stride, masks)


def _max_pool2d_grad_sympy(x, out, g, kernel, stride):
    masks = _max_mask_sympy(x, kernel, stride)
    parts = np.empty(masks.shape + tuple(kernel), dtype=object)
    for index in np.ndindex(masks.shape):
        parts[index] = masks[index] * g[index] / sum(masks[index].ravel())
    return _scatter(parts, np.shape(x)[2:], stride)


def _max_pool2d_select_sympy(x, out, h, kernel, stride):
    masks = _max_mask_sympy(x, kernel, stride)
    windows = _windows(np.asarray(h, dtype=object), kernel, stride, masks.shape[2:])
    out = np.empty(masks.shape, dtype=object)
    for index in np.ndindex(masks.shape):
        out[index] = sum((masks[index] * windows[index]).ravel()) / sum(masks[index].ravel())
    return out


def _grad_shape(x: Shape, out: Shape, g: Shape, kernel, stride) -> Shape:
    expected = _pool_shape(x, kernel, stride)
    if tuple(out) != expected or tuple(g) != expected:
        raise ShapeError(f"out {out} and g {g} must both be the pooled shape {expected}")
    return x


def _select_shape(x: Shape, out: Shape, h: Shape, kernel, stride) -> Shape:
    if tuple(h) != tuple(x):
        raise ShapeError(f"h {h} must have the input's shape {x}")
    _grad_shape(x, out, out, kernel, stride)
    return out


def _window_reduce(reducer, x, n, c, i, j, kernel, stride):
    """reducer over the elements of the (KH, KW) window of output (i, j)."""
    return reducer(kernel[0], lambda p: reducer(
        kernel[1], lambda q: x[n, c, i * stride[0] + p, j * stride[1] + q]))


def _is_max(x, out, n, c, i, j, kernel, stride, p, q):
    """1.0 where the window element (p, q) of output (i, j) equals the window's max, else 0."""
    value = x[n, c, i * stride[0] + p, j * stride[1] + q]
    return loops.cast(loops.eq(value, out[n, c, i, j]), x.dtype)


def _tie_count(x, out, n, c, i, j, kernel, stride):
    return loops.reduce_sum(kernel[0], lambda p: loops.reduce_sum(
        kernel[1], lambda q: _is_max(x, out, n, c, i, j, kernel, stride, p, q)))


def _covering(h, v, kernel, stride, out_hw, body):
    """sum of body(i, j, p, q) over the windows (i, j) that contain input position (h, v), with
    (p, q) the position's offset inside the window; windows are found by trying each offset,
    or, when they tile the input (stride = kernel), by one division."""
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


def _max_pool2d_grad_compute(out_index, x, out, g, kernel, stride):
    # dx[h, v] = sum over windows containing (h, v) of [x = max] g / (ties in the window)
    n, c, h, v = out_index
    return _covering(h, v, kernel, stride, out.shape[2:], lambda i, j, p, q: _is_max(
        x, out, n, c, i, j, kernel, stride, p, q) * (g[n, c, i, j] / _tie_count(
            x, out, n, c, i, j, kernel, stride)))


def _max_pool2d_select_compute(out_index, x, out, h, kernel, stride):
    # y[i, j] = sum over the window of [x = max] h / (ties in the window)
    n, c, i, j = out_index
    total = loops.reduce_sum(kernel[0], lambda p: loops.reduce_sum(kernel[1], lambda q: _is_max(
        x, out, n, c, i, j, kernel, stride, p, q) * h[n, c, i * stride[0] + p, j * stride[1] + q]))
    return total / _tie_count(x, out, n, c, i, j, kernel, stride)


def _avg_pool2d_grad_compute(out_index, g, kernel, stride, input_hw):
    n, c, h, v = out_index
    area = float(kernel[0] * kernel[1])
    return _covering(h, v, kernel, stride, g.shape[2:], lambda i, j, p, q: g[n, c, i, j] / area)


MAX_POOL2D = register(OpDef(
    "max_pool2d", ("x",),
    doc="""Max pooling of NCHW input over kernel-sized windows moved by stride (default: kernel).

    NaN if a window holds NaN. Gradient: each window's gradient goes to its maximum; tied
    maxima share it evenly (as the max gate); overlapping windows add.

    >>> gn.evaluate(gn.max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4)))[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """,
    shape=_pool_shape, params=_PARAMS, canonical=_pool_canonical,
    reference=lambda x, kernel, stride: _windows(
        x, kernel, stride, _pooled_hw(x.shape[2:], kernel, stride)).max(axis=(4, 5)),
    vjp=lambda g, out, x, kernel, stride: (
        apply("max_pool2d_grad", x, out, g, kernel=kernel, stride=stride),),
    to_sympy=lambda x, kernel, stride: _object_windows(
        x, kernel, stride, lambda w: sympy.Max(*w.ravel(), evaluate=False)),
    compute=lambda out, x, kernel, stride: _window_reduce(
        loops.reduce_max, x, *out, kernel, stride),
    derivative=("g routed to each window's max",),
    symbol="maxpool", labels=_IN_WORDS, symbolic=_instance((1, 1, 2, 4)),
    kinks=(Kink("two tied in a window", (_window((1.0, 1.0), (0.0, 0.0)),), True, TIES_SPLIT),
           Kink("four tied in a window", (_window((1.0, 1.0), (1.0, 1.0)),), False,
                SUBGRADIENT)),
))

MAX_POOL2D_GRAD = register(OpDef(
    "max_pool2d_grad", ("x", "out", "g"),
    doc="""Gradient of max_pool2d: g sent to each window's maximal elements of x (ties split).

    Linear in g; the mask does not vary with x almost everywhere, so only g has a gradient.

    >>> x = np.array([[[[1.0, 2.0], [2.0, 0.0]]]])
    >>> gn.evaluate(gn.ops.max_pool2d_grad(x, np.array([[[[2.0]]]]), np.array([[[[1.0]]]])))
    array([[[[0. , 0.5],
             [0.5, 0. ]]]])
    """,
    shape=_grad_shape, params=_PARAMS, canonical=_pool_canonical,
    reference=_max_pool2d_grad_reference,
    vjp=lambda G, r, x, out, g, kernel, stride: (
        None, None, apply("max_pool2d_select", x, out, G, kernel=kernel, stride=stride)),
    to_sympy=_max_pool2d_grad_sympy,
    compute=_max_pool2d_grad_compute,
    derivative=("0", "0", "max_pool2d_select(x, out, G)"),
    public=False, symbol="maxpool∂", symbolic=_instance((1, 1, 2, 2), (1, 1, 1, 1), (1, 1, 1, 1)),
    kinks=(),      # a gradient op: its kinks are max_pool2d's ties, checked there
))

MAX_POOL2D_SELECT = register(OpDef(
    "max_pool2d_select", ("x", "out", "h"),
    doc="""Adjoint of max_pool2d_grad in g: per window, the mean of h over the positions where
    x attains the window's maximum (h at the argmax when there is no tie).

    >>> x = np.array([[[[1.0, 3.0], [2.0, 0.0]]]])
    >>> h = np.array([[[[10.0, 20.0], [30.0, 40.0]]]])
    >>> gn.evaluate(gn.ops.max_pool2d_select(x, np.array([[[[3.0]]]]), h))
    array([[[[20.]]]])
    """,
    shape=_select_shape,
    params=_PARAMS, canonical=_pool_canonical,
    reference=_max_pool2d_select_reference,
    vjp=lambda G, r, x, out, h, kernel, stride: (
        None, None, apply("max_pool2d_grad", x, out, G, kernel=kernel, stride=stride)),
    to_sympy=_max_pool2d_select_sympy,
    compute=_max_pool2d_select_compute,
    derivative=("0", "0", "max_pool2d_grad(x, out, g)"),   # g upstream: no input is g
    public=False, symbol="maxpool∂∂", symbolic=_instance((1, 1, 2, 2), (1, 1, 1, 1), (1, 1, 2, 2)),
    kinks=(),      # a gradient op: its kinks are max_pool2d's ties, checked there
))


def _avg_pool2d_grad_shape(g: Shape, kernel, stride, input_hw) -> Shape:
    x = g[:2] + tuple(input_hw)
    if len(g) != 4 or _pool_shape(x, kernel, stride) != tuple(g):
        raise ShapeError(f"g {g} is not the pooled shape of an input with height and width "
                         f"{input_hw}")
    return x


def _avg_pool2d_grad_reference(g, kernel, stride, input_hw):
    share = g / (kernel[0] * kernel[1])
    parts = np.broadcast_to(share[..., None, None], g.shape + tuple(kernel))
    return _scatter(np.asarray(parts), input_hw, stride)


AVG_POOL2D = register(OpDef(
    "avg_pool2d", ("x",),
    doc="""Average pooling of NCHW input over kernel-sized windows moved by stride.

    Gradient: each window's gradient spread evenly, g / (KH KW), over its elements.

    >>> gn.evaluate(gn.avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4)))[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """,
    shape=_pool_shape, params=_PARAMS, canonical=_pool_canonical,
    reference=lambda x, kernel, stride: _windows(
        x, kernel, stride, _pooled_hw(x.shape[2:], kernel, stride)).mean(axis=(4, 5)),
    vjp=lambda g, out, x, kernel, stride: (
        apply("avg_pool2d_grad", g, kernel=kernel, stride=stride, input_hw=x.shape[2:]),),
    to_sympy=lambda x, kernel, stride: _object_windows(
        x, kernel, stride, lambda w: sum(w.ravel()) / w.size),
    compute=lambda out, x, kernel, stride: _window_reduce(
        loops.reduce_sum, x, *out, kernel, stride) / float(kernel[0] * kernel[1]),
    derivative=("g / (KH·KW) over each window",),
    symbol="avgpool", labels=_IN_WORDS, symbolic=_instance((1, 1, 2, 4)), kinks=(),
))

AVG_POOL2D_GRAD = register(OpDef(
    "avg_pool2d_grad", ("g",),
    doc="""Gradient of avg_pool2d: each window's g spread as g / (KH KW) over an input of
    height and width `input_hw`; overlapping windows add.

    >>> gn.evaluate(gn.ops.avg_pool2d_grad(np.ones((1, 1, 1, 1)), input_hw=(2, 2)))
    array([[[[0.25, 0.25],
             [0.25, 0.25]]]])
    """,
    shape=_avg_pool2d_grad_shape, params=(("input_hw", REQUIRED),) + _PARAMS,
    canonical=_pool_canonical,
    reference=_avg_pool2d_grad_reference,
    vjp=lambda G, r, g, kernel, stride, input_hw: (
        apply("avg_pool2d", G, kernel=kernel, stride=stride),),
    to_sympy=_avg_pool2d_grad_reference,
    compute=_avg_pool2d_grad_compute,
    derivative=("avg_pool2d(G)",),
    public=False, symbol="avgpool∂", symbolic=_instance((1, 1, 1, 2), input_hw=(2, 4)),
    kinks=(),
))

max_pool2d, avg_pool2d = op_function(MAX_POOL2D), op_function(AVG_POOL2D)
max_pool2d_grad = op_function(MAX_POOL2D_GRAD)
max_pool2d_select = op_function(MAX_POOL2D_SELECT)
avg_pool2d_grad = op_function(AVG_POOL2D_GRAD)
