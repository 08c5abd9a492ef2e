"""exp, expm1, log and tanh emitted as LLVM IR polynomials, so loops calling them vectorize.

Input: an ``ir.Module`` and a dtype. Output: an internal ``alwaysinline`` function such as
``@exp.f32`` that the optimizer inlines into the calling loop (libm calls would stay scalar).
Only integer, float and select instructions are used: no libm, no lookup tables.

- exp: Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2, with ln2 split in a few-bit
  high part (k * C1 is exact) and a low part; e**r by its Taylor polynomial (degree 7 for f32,
  13 for f64: truncation below 1e-8 and 5e-18 relative); 2**k by writing k into the exponent
  bits, in two halves so results between the overflow threshold and the subnormal range round
  once (overflow gives inf, deep underflow 0, subnormal results are correctly scaled).
- expm1: the same reduction; 2**k (e**r - 1) + (2**k - 1), which keeps the digits of
  e**x - 1 near 0 (elu's negative side), while 2**k - 1 differs from 2**k, and e**x beyond;
  -1 below -40, where -1 + e**x rounds to -1 in both precisions.
- log: x = 2**e m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2**24 / 2**54 first);
  log(m) = f - (f**2/2 - s (f**2/2 + R(s**2))) with f = m - 1, s = f / (2 + f) and R the
  atanh series 2 z/3 + 2 z**2/5 + ... (the fdlibm arrangement, Taylor coefficients).
- tanh: tanh|x| = t / (t + 2) with t = expm1(2|x|), accurate relative to x near 0; |x| is
  clamped to 20, where tanh is 1 to both precisions, and the sign restored with copysign. In f32,
  |x| < 0.35 uses the odd polynomial x + x z P(z) instead (1 ulp where t / (t + 2) gives 3).

Special values follow NumPy: exp(-inf) = 0, exp(inf) = inf, expm1(-inf) = -1,
expm1(-0.0) = -0.0, log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, tanh(+-inf) = +-1, and NaN
in gives NaN out. Measured accuracy is in
docs/loop-ir.md and checked by tests/codegen/test_mathlib.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from llvmlite import ir

from codegen.llvm import special
from codegen.llvm.mathcore import Math, exp, unary_function


def _expm1_small(m: Math, x: ir.Value) -> ir.Value:
    """e**x - 1 for 0 <= x <= 40: 2**k (e**r - 1) + (2**k - 1)."""
    k, r = m.reduce_ln2(x)
    scale = m.pow2(k)
    return m.call("fmuladd", m.expm1_poly(r), scale, m.b.fsub(scale, m.c(1.0)))


def _expm1(m: Math, x: ir.Value) -> ir.Value:
    """e**x - 1 for every x: 2**k (e**r - 1) + (2**k - 1) while 2**k - 1 is not just 2**k,
    e**x itself beyond (as _exp, in two halves: results near overflow stay finite)."""
    clamped = m.call("minnum", m.call("maxnum", x, m.c(-40.0)), m.c(m.fmt.exp_range[1]))
    k, r = m.reduce_ln2(clamped)  # below -40, -1 + e**x rounds to -1 in both precisions
    poly = m.expm1_poly(r)
    scale = m.pow2(k)
    small = m.call("fmuladd", poly, scale, m.b.fsub(scale, m.c(1.0)))
    half = m.b.ashr(k, m.i(1))
    large = m.b.fmul(m.b.fmul(m.b.fadd(poly, m.c(1.0)), m.pow2(half)), m.pow2(m.b.sub(k, half)))
    y = m.b.select(m.b.icmp_signed(">", k, m.i(m.fmt.mantissa_bits + 1)), large, small)
    y = m.b.select(m.b.fcmp_ordered("==", x, m.c(0.0)), x, y)  # expm1(-0.0) = -0.0
    return m.keep_nan(x, y)


def _tanh(m: Math, x: ir.Value) -> ir.Value:
    absolute = m.call("fabs", x)
    magnitude = m.call("minnum", absolute, m.c(20.0))
    t = _expm1_small(m, m.b.fmul(magnitude, m.c(2.0)))
    y = m.b.fdiv(t, m.b.fadd(t, m.c(2.0)))
    if m.fmt.tanh_small:
        z = m.b.fmul(absolute, absolute)
        odd = m.call("fmuladd", m.b.fmul(absolute, z), m.horner(z, m.fmt.tanh_small), absolute)
        y = m.b.select(m.b.fcmp_ordered("<", absolute, m.c(0.35)), odd, y)
    return m.keep_nan(x, m.call("copysign", y, x))  # tanh is odd; keeps tanh(-0.0) = -0.0


def _log(m: Math, x: ir.Value) -> ir.Value:
    return _log_parts(m, x)[0]


def _log_parts(m: Math, x: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(log x, e, s): x = 2**e (1 + f), s = f / (2 + f), for log1p's estimate of 1/x."""
    b, fmt = m.b, m.fmt
    tiny = b.fcmp_ordered("<", x, m.c(2.0 ** (1 - fmt.bias)))  # subnormal, zero or negative
    scaled = b.select(tiny, b.fmul(x, m.c(2.0 ** fmt.subnormal_scale)), x)
    bits = b.bitcast(scaled, fmt.int_type)
    e = b.sub(b.lshr(bits, m.i(fmt.mantissa_bits)), m.i(fmt.bias))
    e = b.select(tiny, b.sub(e, m.i(fmt.subnormal_scale)), e)
    mantissa = b.or_(b.and_(bits, m.i((1 << fmt.mantissa_bits) - 1)),
                     m.i(fmt.bias << fmt.mantissa_bits))
    mant = b.bitcast(mantissa, m.t)  # in [1, 2)
    big = b.fcmp_ordered(">", mant, m.c(math.sqrt(2.0)))
    mant = b.select(big, b.fmul(mant, m.c(0.5)), mant)  # now in [sqrt(1/2), sqrt(2))
    e = b.select(big, b.add(e, m.i(1)), e)
    f = b.fsub(mant, m.c(1.0))  # exact (Sterbenz)
    s = b.fdiv(f, b.fadd(f, m.c(2.0)))
    z = b.fmul(s, s)
    series = m.horner(z, [2.0 / (2 * n + 1) for n in range(1, fmt.log_terms + 1)])
    half_f2 = b.fmul(b.fmul(f, f), m.c(0.5))
    high, low = fmt.ln2_split
    ef = b.sitofp(e, m.t)
    inner = m.call("fmuladd", s, b.fadd(half_f2, b.fmul(z, series)), b.fmul(ef, m.c(low)))
    y = m.call("fmuladd", ef, m.c(high), b.fsub(f, b.fsub(half_f2, inner)))
    y = b.select(b.fcmp_ordered("==", x, m.c(math.inf)), m.c(math.inf), y)
    y = b.select(b.fcmp_ordered("==", x, m.c(0.0)), m.c(-math.inf), y)
    y = b.select(b.fcmp_ordered("<", x, m.c(0.0)), m.c(math.nan), y)
    return m.keep_nan(x, y), e, s


def _log1p(m: Math, x: ir.Value) -> ir.Value:
    """log(1 + x) = log(u) + (x - (u - 1)) / u with u = 1 + x rounded: x - (u - 1) is the
    rounding error of 1 + x, exactly (u - 1 is exact), and 1/u the slope of log there, so the
    digits of x that 1 + x drops come back (log1p(1e-10) = 1e-10, not 1.00000008e-10).

    The correction is below an ulp of the result, so 1/u needs no division: with u = 2**e m,
    1/m = (1 - s)/(1 + s) ~ 1 - 2s + 2s² for log's s = (m - 1)/(m + 1), |s| < 0.18 (1% off
    at most, 0.01 ulp of the result)."""
    b = m.b
    u = b.fadd(x, m.c(1.0))
    log_u, e, s = _log_parts(m, u)
    e = b.select(b.icmp_signed(">", e, m.i(m.fmt.bias - 1)), m.i(m.fmt.bias - 1), e)  # u ~ max
    inverse = b.fmul(m.pow2(b.sub(m.i(0), e)),
                     m.call("fmuladd", s, m.call("fmuladd", s, m.c(2.0), m.c(-2.0)), m.c(1.0)))
    y = m.call("fmuladd", b.fsub(x, b.fsub(u, m.c(1.0))), inverse, log_u)
    y = m.where("==", x, m.c(math.inf), m.c(math.inf), y)      # inf - inf in the correction
    y = m.where("==", u, m.c(0.0), m.c(-math.inf), y)          # x = -1: no 1/u there
    return m.keep_nan(x, m.where("==", x, m.c(0.0), x, y))      # log1p(-0.0) = -0.0


# softplus's P(w) = (atanh(s)/s - 1)/w (the series 1/3 + w/5 + ...), w = s**2 <= 1/9, as
# least-squares fits on Chebyshev nodes (error of w P(w): 0.002 ulp in f32, 0.03 in f64), where
# the series would need 7 and 16 terms
_SOFTPLUS_SERIES = {
    "f32": (0.3333333780527292, 0.1999944043886806, 0.1430838380377106, 0.10714565258956904,
            0.12147470960882549),
    "f64": (0.3333333333333319, 0.20000000000067356, 0.14285714275123543, 0.11111111919709107,
            0.09090874025286594, 0.07693239793059971, 0.06650974835558757, 0.06049436933992192,
            0.04184877761646698, 0.08483273950096497),
}


def _softplus(m: Math, x: ir.Value) -> ir.Value:
    """log(1 + e**x) = max(x, 0) + log1p(z), z = e**-|x| in [0, 1], one exp for both sides;
    log1p(z) = 2 atanh(s), s = z / (2 + z) in [0, 1/3], as z r (1 + w P(w)) with r = 2/(2 + z),
    w = s**2 and P the atanh series (fitted): one division, and no 1 + z rounded (no correction
    term, no exponent split as in log1p). z multiplies last, so subnormal z (x << 0) keep their
    digits."""
    b = m.b
    z = exp(m, b.fneg(m.fabs(x)))
    r = b.fdiv(m.c(2.0), b.fadd(z, m.c(2.0)))
    s = b.fmul(b.fmul(z, r), m.c(0.5))
    w = b.fmul(s, s)
    series = m.horner(w, _SOFTPLUS_SERIES[m.dtype])
    log1p_z = b.fmul(z, m.call("fmuladd", b.fmul(r, w), series, r))
    return m.keep_nan(x, b.fadd(m.call("maxnum", x, m.c(0.0)), log1p_z))


BODIES: dict[str, Callable[[Math, ir.Value], ir.Value]] = {
    "exp": exp, "expm1": _expm1, "log": _log, "log1p": _log1p, "tanh": _tanh,
    "erf": special.erf, "normal_cdf": special.normal_cdf, "softplus": _softplus,
}


def math_function(module: ir.Module, name: str, dtype: str) -> ir.Function:
    """The internal function ``@<name>.<dtype>`` of ``module`` (a name of BODIES), defined
    once."""
    return unary_function(module, f"{name}.{dtype}", dtype, ("alwaysinline",),
                          lambda builder, x: BODIES[name](Math(builder, dtype), x))


def vector_body(builder: ir.IRBuilder, name: str, dtype: str, x: ir.Value, lanes: int) -> ir.Value:
    """The polynomial of ``name`` on a vector ``x`` of ``lanes`` values, emitted at the
    builder's position: every lane computes what ``@<name>.<dtype>`` computes (the same
    operations, on vector types), for ``codegen.llvm.vecmath``'s vector variants."""
    return BODIES[name](Math(builder, dtype, lanes), x)
