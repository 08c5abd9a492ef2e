"""Average pooling over NCHW input (ops/pool.py: windows, padding), its gradient, and global
average pooling.

Padding holds zeros. With count_include_pad (the default, as in PyTorch) every window is
divided by KH KW; without it, by the number of input elements it holds (ONNX's default), so a
window half in the padding averages its input elements alone. Either way the result is linear
in x: the gradient `avg_pool2d_grad` spreads g / divisor over each window's input elements,
and its adjoint is avg_pool2d again.
"""

from __future__ import annotations

import numpy as np

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.ir import REQUIRED, OpDef, apply, op_function
from graphnn.opdef import Instance, Labels, Symbolic
from graphnn.ops import pool
from graphnn.ops.common import register
from graphnn.shapes import Shape

_PARAMS = (("kernel", 2), ("stride", None), ("padding", 0), ("count_include_pad", True))
_IN_WORDS = Labels(in_words=True)     # "over each window": no formula for it


def _divisor(shape: Shape, kernel, stride, padding, count_include_pad):
    """What each window's sum is divided by: KH KW, or (N = C = 1, OH, OW) element counts."""
    if count_include_pad or padding == pool.NO_PADDING:
        return kernel[0] * kernel[1]
    return pool.real_elements(shape, kernel, stride, padding).sum(axis=(4, 5))


def _divisor_expr(i, j, shape: Shape, dtype: str, kernel, stride, padding, count_include_pad):
    if count_include_pad or padding == pool.NO_PADDING:
        return float(kernel[0] * kernel[1])
    return loops.cast(pool.window_count(i, j, shape, kernel, stride, padding), dtype)


def _avg_pool2d_reference(x, kernel, stride, padding, count_include_pad):
    total = pool.windows(x, kernel, stride, padding).sum(axis=(4, 5))
    return total / _divisor(x.shape, kernel, stride, padding, count_include_pad)


def _avg_pool2d_sympy(x, kernel, stride, padding, count_include_pad):
    area = kernel[0] * kernel[1]
    return pool.object_windows(x, kernel, stride, padding, lambda elements: sum(elements) / (
        area if count_include_pad else len(elements)))


def _avg_pool2d_compute(out, x, kernel, stride, padding, count_include_pad):
    total = pool.window_reduce(loops.reduce_sum, x, *out, kernel, stride, padding)
    return total / _divisor_expr(out[2], out[3], x.shape, x.dtype, kernel, stride, padding,
                                 count_include_pad)


def _avg_pool2d_grad_shape(g: Shape, input_hw, kernel, stride, padding,
                           count_include_pad) -> Shape:
    x = g[:2] + tuple(input_hw)
    if len(g) != 4 or pool.pool_shape(x, kernel, stride, padding) != tuple(g):
        raise ShapeError(f"g {g} is not the pooled shape of an input with height and width "
                         f"{input_hw}")
    return x


def _avg_pool2d_grad_reference(g, input_hw, kernel, stride, padding, count_include_pad):
    shape = np.shape(g)[:2] + tuple(input_hw)
    share = g / _divisor(shape, kernel, stride, padding, count_include_pad)
    parts = np.broadcast_to(share[..., None, None], share.shape + tuple(kernel))
    return pool.scatter(np.asarray(parts), input_hw, stride, padding)


def _avg_pool2d_grad_compute(out_index, g, input_hw, kernel, stride, padding,
                             count_include_pad):
    # dx[h, v] = sum over the windows (i, j) containing (h, v) of g[i, j] / divisor(i, j)
    n, c, h, v = out_index
    shape = g.shape[:2] + tuple(input_hw)
    return pool.covering(h, v, kernel, stride, padding, g.shape[2:], lambda i, j, p, q: g[
        n, c, i, j] / _divisor_expr(i, j, shape, g.dtype, kernel, stride, padding,
                                    count_include_pad))


AVG_POOL2D = register(OpDef(
    "avg_pool2d", ("x",),
    doc="""Average pooling of NCHW input over kernel-sized windows moved by stride.

    `padding` (an int, a (height, width) pair or ((top, bottom), (left, right)), each side
    smaller than the kernel) holds zeros; with `count_include_pad` (the default, as PyTorch)
    every window is divided by KH KW, without it by its count of input elements (as ONNX's
    default). Gradient: each window's gradient spread evenly, g / divisor, over its elements.

    >>> gn.evaluate(gn.avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4)))[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    >>> gn.evaluate(gn.avg_pool2d(np.ones((1, 1, 2, 2)), padding=1,
    ...                           count_include_pad=False))[0, 0]
    array([[1., 1.],
           [1., 1.]])
    """,
    shape=pool.pool_shape, params=_PARAMS, canonical=pool.pool_canonical,
    reference=_avg_pool2d_reference,
    vjp=lambda g, out, x, **attrs: (
        apply("avg_pool2d_grad", g, input_hw=x.shape[2:], **attrs),),
    to_sympy=_avg_pool2d_sympy,
    compute=_avg_pool2d_compute,
    derivative=("g / (KH·KW) over each window (its count of x's elements without "
                "count_include_pad)",),
    symbol="avgpool", labels=_IN_WORDS, kinks=(),
    symbolic=Symbolic(instances=(
        Instance(((1, 1, 2, 4),)),
        Instance(((1, 1, 2, 3),), {"stride": 1, "padding": ((1, 0), (0, 1)),
                                   "count_include_pad": False}))),
))

AVG_POOL2D_GRAD = register(OpDef(
    "avg_pool2d_grad", ("g",),
    doc="""Gradient of avg_pool2d: each window's g spread as g / divisor over an input of
    height and width `input_hw`; overlapping windows add.

    >>> gn.evaluate(gn.ops.avg_pool2d_grad(np.ones((1, 1, 1, 1)), input_hw=(2, 2)))
    array([[[[0.25, 0.25],
             [0.25, 0.25]]]])
    """,
    shape=_avg_pool2d_grad_shape, params=(("input_hw", REQUIRED),) + _PARAMS,
    canonical=pool.pool_canonical,
    reference=_avg_pool2d_grad_reference,
    vjp=lambda G, r, g, input_hw, **attrs: (apply("avg_pool2d", G, **attrs),),
    to_sympy=_avg_pool2d_grad_reference,
    compute=_avg_pool2d_grad_compute,
    derivative=("avg_pool2d(G)",),
    public=False, symbol="avgpool∂", kinks=(),
    symbolic=Symbolic(instances=(
        Instance(((1, 1, 1, 2),), {"input_hw": (2, 4)}),
        Instance(((1, 1, 2, 3),), {"input_hw": (2, 3), "stride": 1,
                                   "padding": ((1, 0), (0, 1)), "count_include_pad": False}))),
))


def _global_shape(x: Shape, keepdims: bool) -> Shape:
    if len(x) != 4:
        raise ShapeError(f"x must be 4-D (N, C, H, W), got shape {x}")
    if x[2] * x[3] == 0:
        raise ShapeError(f"x has no pixels to average (height and width {x[2:]})")
    return x[:2] + ((1, 1) if keepdims else ())


def _global_expand(x, keepdims: bool):
    # one reduction over a contiguous row of H W: mean over axes (2, 3) is a nest of two
    # reductions (16 x 16 on a ResNet's last images), which LLVM unrolls and then vectorizes
    # across channels, with gathers (7-9x slower, measured on AVX-512)
    n, c, h, w = x.shape
    mean = apply("mean", apply("reshape", x, shape=(n, c, h * w)), axis=2)
    return apply("reshape", mean, shape=(n, c, 1, 1)) if keepdims else mean


GLOBAL_AVG_POOL2D = register(OpDef(
    "global_avg_pool2d", ("x",),
    doc="""Global average pooling: the mean of each channel of NCHW input over its height
    and width, (N, C) (or (N, C, 1, 1) with keepdims, as ONNX's GlobalAveragePool).

    A composite: drawn as one node, defined as mean(reshape(x, (N, C, H W)), axis=2) (one
    reduction along each image); its gradient is the expansion's, g / (H W) spread over
    each channel.

    >>> gn.evaluate(gn.global_avg_pool2d(np.arange(8.0).reshape(1, 2, 2, 2)))
    array([[1.5, 5.5]])
    """,
    shape=_global_shape, params=(("keepdims", False),),
    canonical=lambda x, keepdims: {"keepdims": bool(keepdims)},
    reference=lambda x, keepdims: np.mean(x, axis=(2, 3), keepdims=keepdims),
    expand=_global_expand,
    vjp=None,
    to_sympy=lambda x, keepdims: np.sum(x, axis=(2, 3), keepdims=keepdims) / (
        np.shape(x)[2] * np.shape(x)[3]),
    derivative=("g / (H·W) over each channel",),
    symbol="global avgpool", labels=_IN_WORDS, kinks=(),
    symbolic=Symbolic(instances=(Instance(((1, 2, 2, 2),)),)),
))

avg_pool2d = op_function(AVG_POOL2D)
avg_pool2d_grad = op_function(AVG_POOL2D_GRAD)
global_avg_pool2d = op_function(GLOBAL_AVG_POOL2D)
