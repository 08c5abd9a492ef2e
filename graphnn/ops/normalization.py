"""Normalization: layer_norm and batch_norm (inference form), composites drawn as one node.

layer_norm(x) = (x - mean) / sqrt(var + eps), the statistics over `axis` (the features),
without a learnable scale and shift: those are parameters, and belong to a layer (nn), which
multiplies and adds them as ordinary ops. The variance is the two-pass mean of squared
deviations (no E[x²] - E[x]² cancellation). Its gradient is written by hand, the textbook

    dx = (g - mean(g) - out mean(g out)) / sqrt(var + eps)

which is shorter than differentiating the expansion (one reduction pair instead of the
chain through the variance's var^(-3/2)) and, built from the same interned nodes, shares the
forward pass's statistics.

batch_norm(x, mean, var, gamma, beta) = (x - mean) gamma / sqrt(var + eps) + beta with
per-channel statistics given (running averages: inference), channels on axis 1 (NCHW, NCL or
(N, C)). Its gradient is the expansion's: five elementwise products, nothing to gain by hand.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphnn.errors import ShapeError
from graphnn.ir import OpDef, apply, op_function
from graphnn.opdef import POSITIVE, REAL, Instance, Labels, Symbolic
from graphnn.ops.common import float_attr, register, sympy

_sqrt = np.vectorize(lambda v: sympy.sqrt(v), otypes=[object])


def _eps(value: Any) -> float:
    eps = float_attr("eps", value)
    if not (eps >= 0.0 and math.isfinite(eps)):
        raise ShapeError(f"eps must be a finite number >= 0, got {value!r}")
    return eps


def _count(shape, axis) -> int:
    return math.prod(shape[a] for a in axis)


def _layer_norm_shape(x, axis, eps):
    if not axis:
        raise ShapeError("layer_norm needs at least one axis to normalize over")
    if _count(x, axis) == 0:
        raise ShapeError(f"the axes {axis} hold no elements: there is nothing to normalize")
    return x


def _layer_norm_reference(x, axis, eps):
    centered = x - np.mean(x, axis=axis, keepdims=True)
    variance = np.mean(np.square(centered), axis=axis, keepdims=True)
    return centered / np.sqrt(variance + eps)


def _statistics(x, axis, eps):
    """x - mean and sqrt(var + eps), kept over `axis`: the nodes the expansion and the
    gradient share."""
    centered = x - apply("mean", x, axis=axis, keepdims=True)
    variance = apply("mean", apply("square", centered), axis=axis, keepdims=True)
    return centered, apply("sqrt", variance + eps)


def _layer_norm_expand(x, axis, eps):
    centered, spread = _statistics(x, axis, eps)
    return centered / spread


def _layer_norm_vjp(g, out, x, axis, eps):
    _, spread = _statistics(x, axis, eps)

    def mean(v):
        return apply("mean", v, axis=axis, keepdims=True)
    return ((g - mean(g) - out * mean(g * out)) / spread,)


def _layer_norm_sympy(x, axis, eps):
    n = _count(np.shape(x), axis)
    centered = x - np.sum(x, axis=axis, keepdims=True) / n
    variance = np.sum(centered * centered, axis=axis, keepdims=True) / n
    return centered / _sqrt(variance + sympy.nsimplify(eps))


LAYER_NORM = register(OpDef(
    "layer_norm", ("x",),
    doc="""Layer normalization over `axis` (an int or a tuple; default the last axis):
    (x - mean) / sqrt(var + eps), mean and (biased) variance over those axes.

    No learnable scale or shift (nn.LayerNorm adds them). Smooth for eps > 0. Gradient:
    (g - mean(g) - out·mean(g·out)) / sqrt(var + eps) over the axes, written by hand.

    >>> gn.evaluate(gn.layer_norm(np.array([[1.0, 3.0], [2.0, 2.0]]), eps=0.0))
    array([[-1.,  1.],
           [nan, nan]])
    >>> gn.evaluate(gn.layer_norm(np.array([1.0, 3.0])))
    array([-0.999995,  0.999995])
    """,
    shape=_layer_norm_shape, params=(("axis", -1), ("eps", 1e-5)), axes={"axis": "many"},
    canonical=lambda x, axis, eps: {"axis": axis, "eps": _eps(eps)},
    reference=_layer_norm_reference,
    expand=_layer_norm_expand,
    vjp=_layer_norm_vjp,
    to_sympy=_layer_norm_sympy,
    derivative=("(g - sum(g)/n - out·sum(g·out)/n)/√(sum((x - sum(x)/n)²)/n + eps)",),
    symbol="layernorm", kinks=(),
    labels=Labels(sizes={"n": lambda node: _count(node.inputs[0].shape, node.attrs["axis"])}),
    symbolic=Symbolic(instances=(Instance(((3,),)), Instance(((2, 2),), {"axis": 0}))),
))


def _per_channel(shape, what: str, x) -> None:
    if tuple(shape) != (x[1],):
        raise ShapeError(f"{what} must have shape ({x[1]},), one value per channel of x "
                         f"(axis 1), got {shape}")


def _batch_norm_shape(x, mean, var, gamma, beta, eps):
    if len(x) < 2:
        raise ShapeError(f"x must have a batch and a channel axis (N, C, ...), got shape {x}")
    for shape, what in zip((mean, var, gamma, beta), ("mean", "var", "gamma", "beta")):
        _per_channel(shape, what, x)
    return x


def _channels(v, ndim: int, reshape):
    """A (C,) operand shaped (C, 1, ..., 1) to broadcast over axis 1 of an ndim-D x."""
    return v if ndim == 2 else reshape(v, (np.shape(v)[0],) + (1,) * (ndim - 2))


def _batch_norm_formula(x, mean, var, gamma, beta, eps, reshape, sqrt):
    """(x - mean) (gamma / sqrt(var + eps)) + beta: the scale is per channel (C values), and
    x meets one subtraction, one product and one sum."""
    ndim = len(np.shape(x))
    scale = gamma / sqrt(var + eps)
    return (x - _channels(mean, ndim, reshape)) * _channels(scale, ndim, reshape) + \
        _channels(beta, ndim, reshape)


BATCH_NORM = register(OpDef(
    "batch_norm", ("x", "mean", "var", "gamma", "beta"),
    doc="""Batch normalization in inference form: (x - mean) gamma / sqrt(var + eps) + beta,
    with per-channel mean, var, gamma and beta (shape (C,)) on axis 1 of x (NCHW, NCL or
    (N, C)): the running statistics of training, given as inputs.

    A composite; its gradient, in every input, is the expansion's. Smooth where var + eps > 0.

    >>> gn.evaluate(gn.batch_norm(np.array([[1.0, 2.0]]), np.array([1.0, 0.0]),
    ...                           np.array([4.0, 1.0]), np.array([1.0, 2.0]),
    ...                           np.array([0.5, 0.0]), eps=0.0))
    array([[0.5, 4. ]])
    """,
    shape=_batch_norm_shape, params=(("eps", 1e-5),),
    canonical=lambda *shapes, eps: {"eps": _eps(eps)},
    reference=lambda x, mean, var, gamma, beta, eps: _batch_norm_formula(
        x, mean, var, gamma, beta, eps, np.reshape, np.sqrt),
    expand=lambda x, mean, var, gamma, beta, eps: _batch_norm_formula(
        x, mean, var, gamma, beta, eps, lambda v, s: apply("reshape", v, shape=s),
        lambda v: apply("sqrt", v)),
    vjp=None,
    to_sympy=lambda x, mean, var, gamma, beta, eps: _batch_norm_formula(
        x, mean, var, gamma, beta, sympy.nsimplify(eps), np.reshape, _sqrt),
    derivative=("g·gamma/√(var + eps) per channel",
                "-(g·gamma/√(var + eps)) summed per channel",
                "-(g·(x - mean)·gamma/(2(var + eps)^1.5)) summed per channel",
                "(g·(x - mean)/√(var + eps)) summed per channel",
                "g summed per channel"),
    symbol="batchnorm", labels=Labels(in_words=True), kinks=(),
    domains=(REAL, REAL, POSITIVE, REAL, REAL),
    symbolic=Symbolic(instances=(Instance(((2, 2), (2,), (2,), (2,), (2,))),
                                 Instance(((1, 2, 1, 2), (2,), (2,), (2,), (2,))))),
))

layer_norm = op_function(LAYER_NORM)
batch_norm = op_function(BATCH_NORM)
