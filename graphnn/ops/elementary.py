"""Elementary functions: log1p expm1 softplus softsign erf gelu silu sin cos reciprocal rsqrt,
and the private normal_cdf Φ (gelu's CDF and its gradient).

Each lowers to the loop IR's own vectorized math (codegen.llvm.mathlib, special, trig: no libm
call per element), accurate to a few ulp over the whole float range (docs/loop-ir.md). The
formulas are the stable ones: softplus(x) = max(x, 0) + log1p(e^-|x|) neither overflows nor
loses e^x for x << 0; gelu(x) = x Φ(x) with Φ computed from x (not from x/√2 rounded), so the
left tail keeps its digits; its tanh form is x σ(2u), which is 0.5 x (1 + tanh u) without the
cancellation of 1 + tanh u for x << 0. Where x · (a function going to 0) meets x = -inf
(gelu, silu) the result is the limit -0.0, not -inf · 0 = NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from codegen import loops
from graphnn.errors import OpError
from graphnn.ir import apply, op_function
from graphnn.opdef import POSITIVE, Labels
from graphnn.ops.activations import _sigmoid_reference, _sigmoid_scalar
from graphnn.ops.common import elementwise, scalar_instance, sympy

IN_WORDS = Labels(in_words=True)     # gelu's label, Φ and φ in words: the rule proof covers it
SQRT_2_PI = math.sqrt(2.0 * math.pi)
GELU_C, GELU_A = math.sqrt(2.0 / math.pi), 0.044715     # tanh form: u = C (x + A x³)
GELU_FORMS = ("none", "tanh")


def _minus_inf_to_zero(x: Any, value: Any) -> Any:
    """value, with the limit -0.0 where x = -inf (x times something going to 0 there)."""
    return np.where(x == -np.inf, np.asarray(-0.0, dtype=value.dtype), value)


LOG1P = elementwise(
    "log1p", ("x",),
    doc="""log(1 + x), accurate for small x, where log(1 + x) keeps none of x's digits
    (log1p(1e-10) = 1e-10). log1p(-1) = -inf, NaN below -1. Gradient: 1 / (1 + x).

    >>> gn.evaluate(gn.log1p(1e-10))
    array(1.e-10)
    """,
    reference=np.log1p,
    vjp=lambda g, out, x: (g / (1.0 + x),),
    to_sympy=lambda x: sympy.log(1 + x),
    scalar=loops.log1p,
    derivative=("1/(1 + x)",),
    symbol="log1p", domains=(POSITIVE,), kinks=(),
)

EXPM1 = elementwise(
    "expm1", ("x",),
    doc="""e^x - 1, accurate for small x (expm1(1e-10) = 1e-10). Gradient: e^x = out + 1.

    >>> gn.evaluate(gn.expm1(1e-10))
    array(1.e-10)
    """,
    reference=np.expm1,
    vjp=lambda g, out, x: (g * (out + 1.0),),
    to_sympy=lambda x: sympy.exp(x) - 1,
    scalar=loops.expm1,
    derivative=("out + 1",),
    symbol="expm1", kinks=(),
)

SOFTPLUS = elementwise(
    "softplus", ("x",),
    doc="""log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|): no overflow for large x, and
    e^x to full precision for x << 0 (softplus(-50) = 1.9e-22). Gradient: σ(x).

    >>> gn.evaluate(gn.softplus(np.array([-50.0, 0.0, 1000.0])))
    array([1.92874985e-22, 6.93147181e-01, 1.00000000e+03])
    """,
    reference=lambda x: np.logaddexp(np.zeros((), x.dtype), x),
    vjp=lambda g, out, x: (g * apply("sigmoid", x),),
    to_sympy=lambda x: sympy.log(1 + sympy.exp(x)),
    scalar=loops.softplus,     # that formula, its log1p specialized to e^-|x| in (0, 1]
    derivative=("sigmoid(x)",),
    symbol="softplus", activation="he", kinks=(),
)


def _softsign_reference(x):
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(x), np.sign(x), x / (1 + np.abs(x))).astype(x.dtype)


def _softsign_scalar(x):
    # |x| clamped to 1e30, where x / (1 + |x|) already rounds to ±1 in both dtypes: ±inf give
    # ±1 (the limit), not inf / inf = NaN
    clamped = loops.fmin(loops.fmax(x, -1e30), 1e30)
    return clamped / (1.0 + loops.fabs(clamped))


SOFTSIGN = elementwise(
    "softsign", ("x",),
    doc="""x / (1 + |x|), with softsign(±inf) = ±1 (the limit). Smooth: its gradient is
    1 / (1 + |x|)² everywhere, 1 at 0 from both sides.

    >>> gn.evaluate(gn.softsign(np.array([-1.0, 0.0, 3.0, np.inf])))
    array([-0.5 ,  0.  ,  0.75,  1.  ])
    """,
    reference=_softsign_reference,
    vjp=lambda g, out, x: (g / apply("square", 1.0 + apply("abs", x)),),
    to_sympy=lambda x: x / (1 + sympy.Abs(x)),
    scalar=_softsign_scalar,
    derivative=("1/(1 + abs(x))²",),
    symbol="softsign", activation="xavier", kinks=(),
)

def _special() -> Any:
    """scipy.special, imported when a NumPy reference first needs it (erf, Φ): SciPy's import
    (30-400 ms, with NumPy's f2py and testing modules) is then no part of `import graphnn`,
    nor of compiling or of loading from the disk cache."""
    import scipy.special
    return scipy.special


ERF = elementwise(
    "erf", ("x",),
    doc="""The error function erf(x) = 2/√π ∫₀ˣ e^-t² dt (odd, ±1 at ±inf).
    Gradient: 2/√π e^-x².

    >>> gn.evaluate(gn.erf(np.array([0.0, 0.5, np.inf])))
    array([0.        , 0.52049988, 1.        ])
    """,
    reference=lambda x: _special().erf(x),
    vjp=lambda g, out, x: (g * apply("erf_slope", x),),
    to_sympy=lambda x: sympy.erf(x),
    scalar=loops.erf,
    derivative=("erf_slope(x)",),
    symbol="erf", kinks=(),
)


# The derivatives of erf and Φ are ops of their own: their constants 2/√π and 1/√(2π) are
# irrational, and as graph constants (floats) their SymPy forms would be rationals near them,
# which check_ops's proofs at 60 digits tell apart from sympy.diff's.

ERF_SLOPE = elementwise(
    "erf_slope", ("x",),
    doc="""erf'(x) = 2/√π e^-x², the gradient of gn.erf (0 for |x| beyond 27 or so).
    Gradient: -2x out.

    >>> gn.evaluate(gn.ops.erf_slope(0.0))
    array(1.12837917)
    """,
    reference=lambda x: (2.0 / math.sqrt(math.pi)) * np.exp(-np.square(x)),
    vjp=lambda g, out, x: (g * (-2.0 * x * out),),
    to_sympy=lambda x: 2 * sympy.exp(-x ** 2) / sympy.sqrt(sympy.pi),
    scalar=lambda x: (2.0 / math.sqrt(math.pi)) * loops.exp(-(x * x)),
    derivative=("-2x·out",),
    symbol="erf'", public=False, kinks=(),
)

NORMAL_PDF = elementwise(
    "normal_pdf", ("x",),
    doc="""φ(x) = e^(-x²/2) / √(2π), the standard normal density: the gradient of Φ
    (gn.ops.normal_cdf) and part of gelu's. Gradient: -x out.

    >>> gn.evaluate(gn.ops.normal_pdf(0.0))
    array(0.39894228)
    """,
    reference=lambda x: np.exp(-0.5 * np.square(x)) / SQRT_2_PI,
    vjp=lambda g, out, x: (g * (-x * out),),
    to_sympy=lambda x: sympy.exp(-x ** 2 / 2) / sympy.sqrt(2 * sympy.pi),
    scalar=lambda x: loops.exp(-0.5 * (x * x)) * (1.0 / SQRT_2_PI),
    derivative=("-x·out",),
    symbol="φ", public=False, kinks=(),
)


def _normal_pdf(x):
    return apply("normal_pdf", x)


NORMAL_CDF = elementwise(
    "normal_cdf", ("x",),
    doc="""Φ(x), the standard normal distribution's CDF, accurate in both tails (gelu's CDF and
    its gradient: gn.gelu). Gradient: the density φ(x) = e^(-x²/2) / √(2π).

    >>> gn.evaluate(gn.ops.normal_cdf(0.0))
    array(0.5)
    """,
    reference=lambda x: _special().ndtr(x),
    vjp=lambda g, out, x: (g * _normal_pdf(x),),
    to_sympy=lambda x: (1 + sympy.erf(x / sympy.sqrt(2))) / 2,
    scalar=loops.normal_cdf,
    derivative=("normal_pdf(x)",),
    symbol="Φ", public=False, kinks=(),
)


def _gelu_u(x):
    """(u, du/dx) of the tanh form, u = C (x + A x³) = C x (1 + A x²)."""
    square = x * x
    return GELU_C * x * (1.0 + GELU_A * square), GELU_C * (1.0 + 3.0 * GELU_A * square)


def _gelu_reference(x, approximate):
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate == "tanh":
            value = x * _sigmoid_reference(2.0 * _gelu_u(x)[0])
        else:
            value = x * _special().ndtr(x)
        return _minus_inf_to_zero(x, value.astype(x.dtype))


def _gelu_scalar(x, approximate):
    if approximate == "tanh":
        value = x * _sigmoid_scalar(2.0 * _gelu_u(x)[0])
    else:
        value = x * loops.normal_cdf(x)
    return loops.select(loops.eq(x, -math.inf), -0.0, value)


def _gelu_vjp(g, out, x, approximate):
    if approximate == "tanh":
        # d/dx x σ(2u) = σ(2u) + x σ(2u) (1 - σ(2u)) 2 u'
        u, slope = _gelu_u(x)
        s = apply("sigmoid", 2.0 * u)
        return (g * (s + x * s * (1.0 - s) * (2.0 * slope)),)
    return (g * (apply("normal_cdf", x) + x * _normal_pdf(x)),)    # Φ(x) + x φ(x)


def _gelu_sympy(x, approximate):
    if approximate == "tanh":
        # with the constant graphnn computes with, √(2/π) rounded to a double: the form of
        # what the op computes (and its gradient rule differentiates)
        c, a = (sympy.Rational(repr(v)) for v in (GELU_C, GELU_A))
        u = c * x * (1 + a * x ** 2)
        return x / (1 + sympy.exp(-2 * u))
    return x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2


def _gelu_canonical(shape, approximate):
    if approximate not in GELU_FORMS:
        raise OpError(f"gelu: approximate must be one of {GELU_FORMS}, got {approximate!r}")
    return {"approximate": approximate}


GELU = elementwise(
    "gelu", ("x",),
    doc="""Gaussian error linear unit x Φ(x), Φ the standard normal CDF (approximate="none",
    the exact form), or its tanh approximation 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
    (approximate="tanh", computed as x σ(2u), which keeps its digits for x << 0). gelu(-inf)
    is -0.0 (the limit). Gradient: Φ(x) + x φ(x), φ the normal density (tanh form: its own).

    >>> gn.evaluate(gn.gelu(np.array([-1.0, 0.0, 1.0])))
    array([-0.15865525,  0.        ,  0.84134475])
    >>> gn.evaluate(gn.gelu(1.0, approximate="tanh"))
    array(0.84119199)
    """,
    reference=_gelu_reference,
    vjp=_gelu_vjp,
    to_sympy=_gelu_sympy,
    params=(("approximate", "none"),),
    canonical=_gelu_canonical,
    scalar=_gelu_scalar,
    derivative=("Φ(x) + x·φ(x)",),
    symbol="gelu", labels=IN_WORDS, activation="he", kinks=(),
    instances=scalar_instance(1) + scalar_instance(1, approximate="tanh"),
)


def _silu_reference(x):
    with np.errstate(invalid="ignore"):
        return _minus_inf_to_zero(x, x * _sigmoid_reference(x))


SILU = elementwise(
    "silu", ("x",),
    doc="""Sigmoid linear unit (swish) x σ(x); silu(-inf) = -0.0 (the limit).
    Gradient: σ(x) (1 + x (1 - σ(x))).

    >>> gn.evaluate(gn.silu(np.array([-1.0, 0.0, 1.0])))
    array([-0.26894142,  0.        ,  0.73105858])
    """,
    reference=_silu_reference,
    vjp=lambda g, out, x: (g * (lambda s: s * (1.0 + x * (1.0 - s)))(apply("sigmoid", x)),),
    to_sympy=lambda x: x / (1 + sympy.exp(-x)),
    scalar=lambda x: loops.select(loops.eq(x, -math.inf), -0.0, x * _sigmoid_scalar(x)),
    derivative=("sigmoid(x)·(1 + x·(1 - sigmoid(x)))",),
    symbol="silu", activation="he", kinks=(),
)

SIN = elementwise(
    "sin", ("x",),
    doc="""Sine, with exact argument reduction (accurate for every finite x; sin(±inf) = NaN).
    Gradient: cos x.

    >>> gn.evaluate(gn.sin(np.array([0.0, np.pi / 2])))
    array([0., 1.])
    """,
    reference=np.sin,
    vjp=lambda g, out, x: (g * apply("cos", x),),
    to_sympy=lambda x: sympy.sin(x),
    scalar=loops.sin,
    derivative=("cos(x)",),
    symbol="sin", kinks=(),
)

COS = elementwise(
    "cos", ("x",),
    doc="""Cosine, with exact argument reduction (accurate for every finite x; cos(±inf) =
    NaN). Gradient: -sin x.

    >>> gn.evaluate(gn.cos(np.array([0.0, np.pi])))
    array([ 1., -1.])
    """,
    reference=np.cos,
    vjp=lambda g, out, x: (-(g * apply("sin", x)),),
    to_sympy=lambda x: sympy.cos(x),
    scalar=loops.cos,
    derivative=("-sin(x)",),
    symbol="cos", kinks=(),
)

RECIPROCAL = elementwise(
    "reciprocal", ("x",),
    doc="""1 / x (IEEE: 1/0 = inf, 1/-0.0 = -inf). Gradient: -1/x² = -out².

    >>> gn.evaluate(gn.reciprocal(4.0))
    array(0.25)
    """,
    reference=np.reciprocal,
    vjp=lambda g, out, x: (-(g * apply("square", out)),),
    to_sympy=lambda x: 1 / x,
    scalar=lambda x: 1.0 / x,
    derivative=("-out²",),
    symbol="1/·", domains=(POSITIVE,), kinks=(),
)

RSQRT = elementwise(
    "rsqrt", ("x",),
    doc="""1 / √x (inf at 0, NaN below). Gradient: -1 / (2 x √x) = -out / (2x).

    >>> gn.evaluate(gn.rsqrt(4.0))
    array(0.5)
    """,
    reference=lambda x: np.reciprocal(np.sqrt(x)),
    vjp=lambda g, out, x: (-(g * out) / (2.0 * x),),
    to_sympy=lambda x: 1 / sympy.sqrt(x),
    scalar=lambda x: 1.0 / loops.sqrt(x),
    derivative=("-out/(2x)",),
    symbol="1/√", domains=(POSITIVE,), kinks=(),
)

log1p, expm1, softplus, softsign = (op_function(op) for op in (LOG1P, EXPM1, SOFTPLUS, SOFTSIGN))
erf, gelu, silu, sin, cos = (op_function(op) for op in (ERF, GELU, SILU, SIN, COS))
reciprocal, rsqrt, normal_cdf = (op_function(op) for op in (RECIPROCAL, RSQRT, NORMAL_CDF))
erf_slope, normal_pdf = op_function(ERF_SLOPE), op_function(NORMAL_PDF)
