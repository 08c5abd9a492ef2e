"""The case rows of the math ops (tests/ops/cases.py explains the fields): log1p expm1 softplus
softsign erf gelu silu sin cos reciprocal rsqrt floor ceil round logsumexp, and the private
normal_cdf, normal_pdf and erf_slope. cases.py adds them to CASES (import cases, not this
module)."""

from __future__ import annotations

import numpy as np
import scipy.special

from tests.ops.cases import (
    DOMAIN,
    UNDERFLOW_ROWS,
    Case,
    _jump,
    _nonzero,
    _rows,
    inf,
    nan,
    unary,
)
from tests.ops.differences import scipy_step
from tests.ops.edges import LARGE, TINY, Edge, pattern, underflow

INTEGRAL = ("every float this large is an integer: the function is the identity on floats "
            "there, and a difference step spans many jumps")
OVERFLOWS = "the derivative overflows to inf at the subnormal-scale x = 1e-300"
SATURATED = "saturated: the value changes by less than its rounding over any step"
PERIODS = "a step relative to |x| spans many periods: central differences mean nothing there"
SOFTSIGN_AT_0 = ("softsign'' jumps at 0 (from 2 to -2): softsign'(0) = 1 is the limit of central "
                 "differences, but their error there is O(h), not O(h^4)")


def _away_from_jumps(offset: float):
    """Samples at least 0.1 away from the jumps k + offset of a rounding op (k an integer)."""
    def sample(rng, shape):
        return rng.integers(-3, 3, size=shape) + offset + rng.uniform(0.1, 0.9, size=shape)
    return lambda rng: [sample(rng, (3, 4))]


def _rounding(op: str, jumps: list[float], offset: float) -> list[Case]:
    """floor, ceil, round: values away from the jumps, and edges at them (ties, -0.0, huge)."""
    zero = (Edge(-0.0, skip=_jump(op, at="0")) if offset == 0 else (-0.0,),)
    edges = [Edge(v, skip=_jump(op, at=str(v))) for v in jumps] + [
        *zero, (0.3,), (-0.7,), *(Edge(v, skip=INTEGRAL) for v in (1e300, -1e300, 2.0 ** 52 + 1)),
        (inf,), (-inf,), (nan,), (1e-300,), (-1e3 - 0.25,)]
    return [Case(((3, 4),), sample=_away_from_jumps(offset), edges=edges),
            Case(((2, 1, 3),), sample=lambda r: [_away_from_jumps(offset)(r)[0][:2, :3]
                                                 .reshape(2, 1, 3)], label="(2, 1, 3)")]


GELU_EDGES = [(0.0,), (-0.0,), (1e-8,), (-1e-8,), (3.0,), (-3.0,), (-10.0,), (-37.0,), (1e3,),
              (-1e3,), (LARGE,), (-LARGE,), (inf,), (-inf,), (nan,)]


ROWS: dict[str, list[Case]] = {
    "log1p": unary(low=-0.9, high=3.0, step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-10,), (-1e-10,), (1e-300,), (-0.999,), (1e3,), (LARGE,), (inf,),
        (nan,), Edge(-1.0, skip="log1p(-1) = -inf"), Edge(-2.0, skip=DOMAIN), (-inf,)]),
    "expm1": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-10,), (-1e-10,), (1e-300,), (-40.0,), (-1e3,), (709.0,),
        Edge(710.0, skip="e^710 overflows to inf"), (inf,), (-inf,), (nan,)])
    + [Case(((2,),), low=-30, high=30, step=scipy_step, label="wide")],
    "softplus": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (20.0,), (-20.0,), (-50.0,), (1e3,), (-1e3,), (LARGE,),
        (-LARGE,), (inf,), (-inf,), (nan,), *underflow("softplus")]),
    "softsign": unary(step=scipy_step, edges=[
        *(Edge(v, skip=SOFTSIGN_AT_0) for v in (0.0, -0.0, 1e-8, -1e-8)), (0.5,),
        (pattern((3, 4), 1e-3),), (1e3,),
        (-1e3,), Edge(LARGE, skip=SATURATED), Edge(-LARGE, skip=SATURATED), (inf,), (-inf,),
        (nan,)]),
    "erf": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (-1e-300,), (0.5,), (0.84375,), (1.25,), (3.0,),
        Edge(-5.9, skip=SATURATED), Edge(27.0, skip=SATURATED), (1e3,), (-1e3,), (inf,),
        (-inf,), (nan,)])
    + [Case(((3, 4),), low=-5.0, high=5.0, step=scipy_step, label="wide")],
    "normal_cdf": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (1.0,), (-1.5,), (-10.0,), (-37.0,), Edge(8.5, skip=SATURATED),
        (1e3,), (-1e3,),
        (inf,), (-inf,), (nan,)])
    + [Case(((3, 4),), low=-30.0, high=8.0, step=scipy_step, label="left tail")],
    "erf_slope": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (1.0,), (-3.0,), (5.0,), Edge(-26.0, skip=SATURATED),
        (1e3,), (-1e3,), (inf,), (-inf,), (nan,)]),
    "normal_pdf": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (1.0,), (-3.0,), (10.0,), Edge(-37.0, skip=SATURATED),
        (1e3,), (-1e3,), (inf,), (-inf,), (nan,)]),
    "gelu": unary(step=scipy_step, edges=GELU_EDGES)
    + [Case(((3, 4),), attrs={"approximate": "tanh"}, step=scipy_step, label="tanh",
            edges=GELU_EDGES),
       Case(((3, 4),), low=-30.0, high=5.0, step=scipy_step, label="left tail")],
    "silu": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (20.0,), (-20.0,), (-50.0,), (1e3,), (-1e3,), (LARGE,),
        (-LARGE,), (inf,), (-inf,), (nan,), *underflow("silu")]),
    "sin": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (1e-300,), (np.pi,), (1e3,),
        *(Edge(v, skip=PERIODS) for v in (-1e5, 1e22, LARGE)), (inf,), (-inf,), (nan,)])
    + [Case(((3, 4),), low=-100.0, high=100.0, step=scipy_step, label="wide")],
    "cos": unary(step=scipy_step, edges=[
        (0.0,), (-0.0,), (1e-8,), (np.pi / 2,), (1e3,),
        *(Edge(v, skip=PERIODS) for v in (-1e5, 1e22, LARGE)), (inf,), (-inf,), (nan,)])
    + [Case(((3, 4),), low=-100.0, high=100.0, step=scipy_step, label="wide")],
    "reciprocal": unary(low=0.5, high=2.0, edges=[
        Edge(0.0, skip="pole at 0: 1/0 = inf"), Edge(-0.0, skip="pole at 0: 1/-0 = -inf"),
        (1e-8,), (-1e3,), (1e300,), Edge(1e-300, skip=OVERFLOWS), (LARGE,), (-TINY,), (inf,),
        (-inf,), (nan,)])
    + [Case(((3, 4),), sample=lambda r: [_nonzero(r, (3, 4))], label="negative")],
    "rsqrt": unary(low=0.25, high=3.0, edges=[
        Edge(0.0, skip="pole at 0: 1/√0 = inf"), Edge(-1.0, skip=DOMAIN), (1e-8,), (1e3,),
        (1e300,), Edge(1e-300, skip=OVERFLOWS), (LARGE,), (TINY,), (inf,), (nan,)]),
    "floor": _rounding("floor", [1.0, -2.0], 0.0),
    "ceil": _rounding("ceil", [1.0, -2.0], 0.0),
    "round": _rounding("round", [0.5, 1.5, 2.5, -0.5, -1.5], 0.5),
    "logsumexp": [Case(((3, 4),), attrs={"axis": 1}, step=scipy_step,
                       expected=lambda x, axis, keepdims: scipy.special.logsumexp(
                           x, axis=axis, keepdims=keepdims), edges=[
                           (_rows((1e3, 0, -1e3, 5), (50, 0, -50, 1), (1e-8, 0, -1e-8, 0)),),
                           (np.zeros((3, 4)),), (pattern((3, 4), 1e-8),),
                           (pattern((3, 4), 1e3),), (UNDERFLOW_ROWS,),
                           (_rows((-inf, 0, 1, 2), (-inf, -inf, -inf, -inf), (inf, 0, 1, 2)),),
                           (_rows((nan, 0, 1, 2), (1e300, 1e300, 0, 0), (-1e300, 5, 0, 0)),)]),
                  Case(((2, 3, 4),), attrs={"axis": (0, 2), "keepdims": True},
                       step=scipy_step),
                  Case(((5,),), step=scipy_step, label="every axis"),
                  Case(((1, 4),), attrs={"axis": 0}, step=scipy_step,
                       label="size-1 axis")],
}
