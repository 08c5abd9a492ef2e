"""Gates: maximum and minimum (the "max gate" of the lecture), and `above`, their router.

The max gate routes the upstream gradient to the larger input. At a tie, x == y, the
derivative does not exist; graphnn splits the gradient evenly (1/2 each), the convention of
SymPy's Heaviside(0) = 1/2, so the symbolic check agrees at ties too.
"""

from __future__ import annotations

import numpy as np

from codegen import loops
from graphnn.ir import apply, op_function
from graphnn.opdef import Kink
from graphnn.ops.common import (
    NO_GRADIENT,
    TIES_SPLIT,
    elementwise,
    float_attr,
    scalar_instance,
    sympy,
)

# The labels [x > y] and [y > x] read the derivative away from a tie; the drawing shows
# graphnn's 1/2 beside them at one (Kink.label).
_TIE_LABEL = ("the label reads the derivative away from a tie, as the lecture's 'max routes' "
              "(1 on the input that wins, 0 on the other); at an exact tie it reads 0 for both, "
              "where graphnn splits the gradient, 1/2 each, the number the drawing shows "
              "beside it")
_TIE = Kink("x = y", (1.0, 1.0), True, TIES_SPLIT, label=_TIE_LABEL)


def _above_reference(x, y, tie):
    nan = np.isnan(x) | np.isnan(y)
    out = np.where(x > y, 1.0, np.where(x == y, tie, 0.0))
    return np.where(nan, np.nan, out).astype(np.result_type(x, y))


def _above_scalar(x, y, tie):
    # 1 above, tie at equality, 0 below; when either is NaN none holds and x + y (NaN) remains
    below = loops.select(loops.lt(x, y), 0, x + y)
    return loops.select(loops.gt(x, y), 1, loops.select(loops.eq(x, y), tie, below))


ABOVE = elementwise(
    "above", ("x", "y"),
    doc="""Elementwise comparison as a number: 1 where x > y, 0 where x < y, `tie` where
    x == y, NaN where either is NaN. Piecewise constant: no gradient.

    It routes gradients: maximum's derivative in x is above(x, y, tie=0.5). The bool
    comparison x > y is the op `greater` (graphnn/ops/compare.py); this one is its float
    mask, with a tie value.

    >>> gn.evaluate(gn.ops.above(np.array([1.0, 2.0, 3.0]), 2.0, tie=0.5))
    array([0. , 0.5, 1. ])
    """,
    reference=_above_reference,
    vjp=None,
    to_sympy=lambda x, y, tie: sympy.Heaviside(x - y, tie),
    params=(("tie", 0.0),),
    canonical=lambda a, b, tie: {"tie": float_attr("tie", tie)},
    scalar=_above_scalar,
    derivative=("0", "0"),
    symbol=">", public=False, instances=scalar_instance(2, tie=0.5),
    kinks=(Kink("x = y, tie = 0.5", (1.0, 1.0), False, NO_GRADIENT, attrs={"tie": 0.5}),),
)


def _route(g, x, y):
    """The cotangents of a max gate: g to the larger input, g/2 to each at a tie."""
    return (g * apply("above", x, y, tie=0.5), g * apply("above", y, x, tie=0.5))


MAXIMUM = elementwise(
    "maximum", ("x", "y"),
    doc="""Elementwise maximum (the max gate); NaN if either input is NaN, like np.maximum.

    Gradient: routed to the larger input; at a tie x == y each input receives half
    (Heaviside(0) = 1/2, as SymPy).

    >>> gn.evaluate(gn.maximum(np.array([1.0, 5.0]), 3.0))
    array([3., 5.])
    """,
    reference=np.maximum,
    vjp=lambda g, out, x, y: _route(g, x, y),
    to_sympy=lambda x, y: sympy.Max(x, y),
    scalar=loops.fmax,
    derivative=("[x > y]", "[y > x]"),
    symbol="max", commutative=True, kinks=(_TIE,), accepts="number",
)

MINIMUM = elementwise(
    "minimum", ("x", "y"),
    doc="""Elementwise minimum (the min gate); NaN if either input is NaN, like np.minimum.

    Gradient: routed to the smaller input; at a tie each input receives half.

    >>> gn.evaluate(gn.minimum(np.array([1.0, 5.0]), 3.0))
    array([1., 3.])
    """,
    reference=np.minimum,
    vjp=lambda g, out, x, y: _route(g, y, x),
    to_sympy=lambda x, y: sympy.Min(x, y),
    scalar=loops.fmin,
    derivative=("[x < y]", "[y < x]"),
    symbol="min", commutative=True, kinks=(_TIE,), accepts="number",
)

maximum, minimum, above = (op_function(op) for op in (MAXIMUM, MINIMUM, ABOVE))
