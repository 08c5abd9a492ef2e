"""Rounding: floor ceil round (round half to even, as np.round), and logsumexp.

The rounding ops are piecewise constant: graphnn gives them no gradient (0 everywhere, also at
their jumps, as deep-learning frameworks do). Their SymPy forms (graphnn.ops.functions) have a
Dirac comb as derivative, 0 between the jumps.

logsumexp is the stable log(sum(e^x)) = m + log(sum(e^(x - m))), m the maximum along the axes
clamped to the dtype's finite range: an all -inf slice gives -inf and a +inf gives +inf (not
NaN from inf - inf), no exponential overflows, and the sum is split into the maxima's count k
and the rest r, log(k) + log1p(r/k), so results near 0 keep their digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.ir import OpDef, apply, op_function
from graphnn.opdef import Instance, Kink, Symbolic
from graphnn.ops.common import (
    NO_GRADIENT,
    LazyModule,
    elementwise,
    reduce_canonical,
    register,
    sympy,
    unreduce,
)
from graphnn.shapes import Shape, reduced

functions: Any = LazyModule("graphnn.ops.functions")     # ⌊x⌋, ⌈x⌉, round as SymPy functions


def _jump(at: str, values: tuple) -> tuple[Kink, ...]:
    return (Kink(at, values, False, NO_GRADIENT),)


FLOOR = elementwise(
    "floor", ("x",),
    doc="""The largest integer <= x (floor(-0.5) = -1, floor(-0.0) = -0.0; inf and NaN kept).
    Piecewise constant: no gradient.

    >>> gn.evaluate(gn.floor(np.array([-0.5, 1.5])))
    array([-1.,  1.])
    """,
    reference=np.floor,
    vjp=None,
    to_sympy=lambda x: functions.Floor(x),
    scalar=loops.floor,
    derivative=("0",),
    symbol="⌊x⌋", kinks=_jump("x = 1", (1.0,)),
)

CEIL = elementwise(
    "ceil", ("x",),
    doc="""The smallest integer >= x (ceil(-0.5) = -0.0; inf and NaN kept). Piecewise
    constant: no gradient.

    >>> gn.evaluate(gn.ceil(np.array([-1.5, 0.5])))
    array([-1.,  1.])
    """,
    reference=np.ceil,
    vjp=None,
    to_sympy=lambda x: functions.Ceil(x),
    scalar=loops.ceil,
    derivative=("0",),
    symbol="⌈x⌉", kinks=_jump("x = 1", (1.0,)),
)

ROUND = elementwise(
    "round", ("x",),
    doc="""The nearest integer, ties to the even one, as np.round: round(0.5) = 0,
    round(1.5) = 2, round(-0.5) = -0.0. Piecewise constant: no gradient.

    >>> gn.evaluate(gn.round(np.array([0.5, 1.5, 2.5, -2.7])))
    array([ 0.,  2.,  2., -3.])
    """,
    reference=np.round,
    vjp=None,
    to_sympy=lambda x: functions.RoundHalfEven(x),
    scalar=loops.roundeven,
    derivative=("0",),
    symbol="round", kinks=_jump("x = 1/2", (0.5,)),
)


# ---------------------------------------------------------------------------------------------
# logsumexp


def _logsumexp_shape(shape: Shape, axis: tuple[int, ...], keepdims: bool) -> Shape:
    # an empty axis has no maximum to shift by (its sum is 0, its log -inf): refused, as the
    # max reduction refuses it
    if any(shape[a] == 0 for a in axis):
        raise ShapeError(f"cannot take logsumexp over an empty axis of shape {shape}")
    return reduced(shape, axis, keepdims)


def _logsumexp_reference(x, axis, keepdims):
    big = np.finfo(x.dtype).max
    m = np.max(x, axis=axis, keepdims=True)
    shift = np.clip(m, -big, big)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        below = np.where(x < shift, 1.0, np.where(np.isnan(x), np.nan, 0.0))   # as greater
        others = np.sum(np.exp(np.minimum(x - shift, 0)) * below, axis=axis, keepdims=True)
        count = np.sum(x >= shift, axis=axis, keepdims=True).astype(x.dtype)
        total = (shift + np.log(count)) + np.log1p(others / np.maximum(count, 1)) + (m - shift)
    return np.asarray(total if keepdims else total.reshape(reduced(x.shape, axis, False)),
                      x.dtype)


def _logsumexp_expand(x, axis, keepdims):
    # m + log(sum(e^(x - m))) = m + log(k) + log1p(r / k), k the count of maxima and r the sum
    # of the others' e^(x - m) (< k (n - 1)): log1p keeps r's digits where 1 + r rounds to 1
    # (logsumexp([0, -90]) = 8.2e-40, not 0). m is clamped to the finite range (a +inf or an
    # all -inf slice, not NaN from inf - inf) and m - clamp(m), 0 unless m is infinite, added.
    big = float(np.finfo(x.dtype).max)
    m = apply("max", x, axis=axis, keepdims=True)
    shift = apply("minimum", apply("maximum", m, -big), big)
    below = apply("above", shift, x, tie=0.0)                # 1 below the maximum, else 0
    others = apply("sum", apply("exp", apply("minimum", x - shift, 0.0)) * below, axis=axis,
                   keepdims=True)
    count = apply("sum", apply("above", x, shift, tie=1.0), axis=axis, keepdims=True)
    total = (shift + apply("log", count)) + apply("log1p", others / apply("maximum", count, 1.0))
    total = total + (m - shift)
    return total if keepdims else apply("reshape", total, shape=reduced(x.shape, axis, False))


def _logsumexp_vjp(g, out, x, axis, keepdims):
    # d/dx logsumexp = softmax(x) = e^(x - out) along the axes
    return (unreduce(g, x, axis) * apply("exp", x - unreduce(out, x, axis)),)


def _logsumexp_sympy(x, axis, keepdims):
    exp = np.vectorize(lambda v: sympy.exp(v), otypes=[object])
    log = np.vectorize(lambda v: sympy.log(v), otypes=[object])
    return log(np.sum(exp(np.asarray(x, dtype=object)), axis=axis, keepdims=keepdims))


LOGSUMEXP = register(OpDef(
    "logsumexp", ("x",),
    doc="""log(sum(e^x)) over `axis` (None: every axis), computed stably as
    m + log(sum(e^(x - m))) with m the maximum: no overflow, all -inf gives -inf, a +inf gives
    +inf. An empty axis is an error. Gradient: softmax(x) along the axes times g.

    >>> gn.evaluate(gn.logsumexp(np.array([[1000.0, 1000.0], [0.0, -np.inf]]), axis=1))
    array([1000.69314718,    0.        ])
    """,
    shape=_logsumexp_shape, params=(("axis", None), ("keepdims", False)),
    axes={"axis": "many"}, canonical=reduce_canonical,
    reference=_logsumexp_reference,
    expand=_logsumexp_expand,
    vjp=_logsumexp_vjp,
    to_sympy=_logsumexp_sympy,
    derivative=("broadcast(g)·exp(x - broadcast(out))",),
    symbol="logsumexp", kinks=(),
    symbolic=Symbolic(instances=(Instance(((2, 2),), {"axis": (1,)}), Instance(((3,),)))),
))

floor, ceil, round = (op_function(op) for op in (FLOOR, CEIL, ROUND))  # noqa: A001
logsumexp = op_function(LOGSUMEXP)
