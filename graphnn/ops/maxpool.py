"""Max pooling over NCHW input (ops/pool.py: windows, padding) and the ops its gradient needs.

Padding holds -inf, so it never wins a window (every window holds an input element). Max
pooling routes each window's gradient to its maximum; tied maxima share it evenly (as the max
gate and the max reduction), padding never takes a share. Its gradient `max_pool2d_grad` is
linear in g with a mask that is piecewise constant in x; its adjoint in g is
`max_pool2d_select`, and the two close grad-of-grad.
"""

from __future__ import annotations

import numpy as np

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.ir import OpDef, apply, op_function
from graphnn.opdef import Instance, Kink, Labels, Symbolic
from graphnn.ops import pool
from graphnn.ops.common import SUBGRADIENT, TIES_SPLIT, register, sympy
from graphnn.shapes import Shape

_PARAMS = (("kernel", 2), ("stride", None), ("padding", 0))
_IN_WORDS = Labels(in_words=True)     # "over each window": no formula for it
_NAN = float("nan")


def _window(*rows: tuple[float, float]) -> tuple:
    """One 2x2 image (N = C = 1) as nested tuples: a kink's value."""
    return ((rows,),)


def _max_mask(x, out, kernel, stride, padding):
    """1 where a window's input element equals the window's maximum, and each window's tie
    count (padding, -inf, is never counted: not even in a window of -inf inputs)."""
    found = pool.windows(x, kernel, stride, padding, fill=-np.inf)
    real = pool.real_elements(x.shape, kernel, stride, padding)
    mask = ((found == out[..., None, None]) & real).astype(x.dtype)
    return mask, mask.sum(axis=(4, 5))


def _max_pool2d_reference(x, kernel, stride, padding):
    return pool.windows(x, kernel, stride, padding, fill=-np.inf).max(axis=(4, 5))


def _max_pool2d_grad_reference(x, out, g, kernel, stride, padding):
    mask, count = _max_mask(x, out, kernel, stride, padding)
    return pool.scatter(mask * (g / count)[..., None, None], x.shape[2:], stride, padding)


def _max_pool2d_select_reference(x, out, h, kernel, stride, padding):
    mask, count = _max_mask(x, out, kernel, stride, padding)
    return (mask * pool.windows(h, kernel, stride, padding)).sum(axis=(4, 5)) / count


def _max_mask_sympy(x, kernel, stride, padding):
    """SymPy masks per window element: Heaviside(x - max, 1) is 1 exactly where x attains its
    window's max; 0 in the padding."""
    found = pool.windows(np.asarray(x, dtype=object), kernel, stride, padding, fill=None)
    masks = np.zeros(found.shape, dtype=object)
    for index in np.ndindex(found.shape[:4]):
        window = found[index]
        top = sympy.Max(*[e for e in window.ravel() if e is not None], evaluate=False)
        for offset in np.ndindex(window.shape):
            if window[offset] is not None:
                masks[index + offset] = sympy.Heaviside(window[offset] - top, 1)
    return masks


def _max_pool2d_grad_sympy(x, out, g, kernel, stride, padding):
    masks = _max_mask_sympy(x, kernel, stride, padding)
    parts = np.empty(masks.shape, dtype=object)
    for index in np.ndindex(masks.shape[:4]):
        parts[index] = masks[index] * g[index] / sum(masks[index].ravel())
    return pool.scatter(parts, np.shape(x)[2:], stride, padding)


def _max_pool2d_select_sympy(x, out, h, kernel, stride, padding):
    masks = _max_mask_sympy(x, kernel, stride, padding)
    found = pool.windows(np.asarray(h, dtype=object), kernel, stride, padding)
    out = np.empty(masks.shape[:4], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sum((masks[index] * found[index]).ravel()) / sum(masks[index].ravel())
    return out


def _grad_shape(x: Shape, out: Shape, g: Shape, kernel, stride, padding) -> Shape:
    expected = pool.pool_shape(x, kernel, stride, padding)
    if tuple(out) != expected or tuple(g) != expected:
        raise ShapeError(f"out {out} and g {g} must both be the pooled shape {expected}")
    return x


def _select_shape(x: Shape, out: Shape, h: Shape, kernel, stride, padding) -> Shape:
    if tuple(h) != tuple(x):
        raise ShapeError(f"h {h} must have the input's shape {x}")
    _grad_shape(x, out, out, kernel, stride, padding)
    return out


def _is_max(x, out, n, c, i, j, kernel, stride, padding, p, q):
    """1.0 where the window element (p, q) of output (i, j) equals the window's max, else 0.
    Padding is read as NaN, which equals nothing: it is never a maximum."""
    value = pool.window_load(x, n, c, i, j, p, q, kernel, stride, padding, fill=_NAN)
    return loops.cast(loops.eq(value, out[n, c, i, j]), x.dtype)


def _tie_count(x, out, n, c, i, j, kernel, stride, padding):
    return loops.reduce_sum(kernel[0], lambda p: loops.reduce_sum(
        kernel[1], lambda q: _is_max(x, out, n, c, i, j, kernel, stride, padding, p, q)))


def _max_pool2d_grad_compute(out_index, x, out, g, kernel, stride, padding):
    # dx[h, v] = sum over windows containing (h, v) of [x = max] g / (ties in the window)
    n, c, h, v = out_index
    return pool.covering(h, v, kernel, stride, padding, out.shape[2:], lambda i, j, p, q: _is_max(
        x, out, n, c, i, j, kernel, stride, padding, p, q) * (g[n, c, i, j] / _tie_count(
            x, out, n, c, i, j, kernel, stride, padding)), in_hw=x.shape[2:])


def _max_pool2d_select_compute(out_index, x, out, h, kernel, stride, padding):
    # y[i, j] = sum over the window of [x = max] h / (ties in the window)
    n, c, i, j = out_index
    total = loops.reduce_sum(kernel[0], lambda p: loops.reduce_sum(kernel[1], lambda q: _is_max(
        x, out, n, c, i, j, kernel, stride, padding, p, q) * pool.window_load(
            h, n, c, i, j, p, q, kernel, stride, padding)))
    return total / _tie_count(x, out, n, c, i, j, kernel, stride, padding)


MAX_POOL2D = register(OpDef(
    "max_pool2d", ("x",),
    doc="""Max pooling of NCHW input over kernel-sized windows moved by stride (default: kernel).

    `padding` (an int, a (height, width) pair or ((top, bottom), (left, right)), each side
    smaller than the kernel) holds -inf, so it never wins. NaN if a window holds NaN.
    Gradient: each window's gradient goes to its maximum; tied maxima share it evenly (as the
    max gate); overlapping windows add.

    >>> gn.evaluate(gn.max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4)))[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    >>> gn.evaluate(gn.max_pool2d(-np.ones((1, 1, 2, 2)), kernel=2, stride=1, padding=1))[0, 0]
    array([[-1., -1., -1.],
           [-1., -1., -1.],
           [-1., -1., -1.]])
    """,
    shape=pool.pool_shape, params=_PARAMS, canonical=pool.pool_canonical,
    reference=_max_pool2d_reference,
    vjp=lambda g, out, x, **attrs: (apply("max_pool2d_grad", x, out, g, **attrs),),
    to_sympy=lambda x, kernel, stride, padding: pool.object_windows(
        x, kernel, stride, padding, lambda w: sympy.Max(*w, evaluate=False)),
    compute=lambda out, x, kernel, stride, padding: pool.window_reduce(
        loops.reduce_max, x, *out, kernel, stride, padding, fill=-np.inf),
    derivative=("g routed to each window's max",),
    symbol="maxpool", labels=_IN_WORDS,
    symbolic=Symbolic(instances=(Instance(((1, 1, 2, 4),)), Instance(
        ((1, 1, 2, 3),), {"kernel": 2, "stride": 1, "padding": ((1, 0), (0, 1))}))),
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
    shape=_grad_shape, params=_PARAMS, canonical=pool.pool_canonical,
    reference=_max_pool2d_grad_reference,
    vjp=lambda G, r, x, out, g, **attrs: (
        None, None, apply("max_pool2d_select", x, out, G, **attrs)),
    to_sympy=_max_pool2d_grad_sympy,
    compute=_max_pool2d_grad_compute,
    derivative=("0", "0", "max_pool2d_select(x, out, G)"),
    public=False, symbol="maxpool∂",
    symbolic=pool.instance((1, 1, 2, 2), (1, 1, 1, 1), (1, 1, 1, 1)),
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
    params=_PARAMS, canonical=pool.pool_canonical,
    reference=_max_pool2d_select_reference,
    vjp=lambda G, r, x, out, h, **attrs: (
        None, None, apply("max_pool2d_grad", x, out, G, **attrs)),
    to_sympy=_max_pool2d_select_sympy,
    compute=_max_pool2d_select_compute,
    derivative=("0", "0", "max_pool2d_grad(x, out, g)"),   # g upstream: no input is g
    public=False, symbol="maxpool∂∂",
    symbolic=pool.instance((1, 1, 2, 2), (1, 1, 1, 1), (1, 1, 2, 2)),
    kinks=(),      # a gradient op: its kinks are max_pool2d's ties, checked there
))

max_pool2d = op_function(MAX_POOL2D)
max_pool2d_grad = op_function(MAX_POOL2D_GRAD)
max_pool2d_select = op_function(MAX_POOL2D_SELECT)
