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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from llvmlite import ir


@dataclass(frozen=True)
class _Format:
    float_type: ir.Type
    int_type: ir.IntType
    mantissa_bits: int
    bias: int
    exp_range: tuple[float, float]  # clamp for exp: beyond it the result is 0 or inf anyway
    exp_degree: int
    ln2_split: tuple[float, float]  # high part with few bits (exact products) + remainder
    subnormal_scale: int  # log: scale inputs below the smallest normal by 2**this
    log_terms: int
    # tanh(x) = x + x z P(z), z = x**2, for |x| < 0.35 (least-squares fit on Chebyshev nodes,
    # 5e-10 relative): the t / (t + 2) form rounds to 3 ulp there in f32. Empty: not used.
    tanh_small: tuple[float, ...]


FORMATS = {
    "f32": _Format(ir.FloatType(), ir.IntType(32), 23, 127, (-104.0, 89.0), 7,
                   (0.693359375, -2.12194440e-4), 24, 5,
                   (-0.3333332189058981, 0.13332389855318194, -0.053728124689863155,
                    0.01944353731180982)),
    "f64": _Format(ir.DoubleType(), ir.IntType(64), 52, 1023, (-746.0, 710.0), 13,
                   (6.93147180369123816490e-01, 1.90821492927058770002e-10), 54, 9, ()),
}


def declare(module: ir.Module, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
    """The function ``name`` of ``module``, declared on first use (intrinsics, runtime calls)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ret, list(args)), name=name)


class _Math:
    """Builder helpers for one float format; every method emits IR at the builder's position."""

    def __init__(self, builder: ir.IRBuilder, dtype: str) -> None:
        self.b = builder
        self.fmt = FORMATS[dtype]
        self.t = self.fmt.float_type
        self.suffix = dtype

    def c(self, value: float) -> ir.Constant:
        return ir.Constant(self.t, value)

    def i(self, value: int) -> ir.Constant:
        return ir.Constant(self.fmt.int_type, value)

    def call(self, name: str, *args: ir.Value) -> ir.Value:
        fn = declare(self.b.module, f"llvm.{name}.{self.suffix}", self.t, [self.t] * len(args))
        return self.b.call(fn, list(args))

    def horner(self, x: ir.Value, coefficients: Sequence[float]) -> ir.Value:
        """c[0] + x (c[1] + x (c[2] + ...)), one fused multiply-add per step."""
        acc: ir.Value = self.c(coefficients[-1])
        for coefficient in reversed(coefficients[:-1]):
            acc = self.call("fmuladd", acc, x, self.c(coefficient))
        return acc

    def pow2(self, k: ir.Value) -> ir.Value:
        """2**k for integer k in the normal exponent range, by writing the exponent field."""
        field = self.b.shl(self.b.add(k, self.i(self.fmt.bias)), self.i(self.fmt.mantissa_bits))
        return self.b.bitcast(field, self.t)

    def keep_nan(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self.b.select(self.b.fcmp_unordered("uno", x, x), x, y)

    def reduce_ln2(self, x: ir.Value) -> tuple[ir.Value, ir.Value]:
        """k = rint(x / ln2) as an integer and r = x - k ln2, |r| <= ln2/2."""
        high, low = self.fmt.ln2_split
        k = self.call("rint", self.b.fmul(x, self.c(1.0 / math.log(2.0))))
        r = self.call("fmuladd", k, self.c(-high), x)
        r = self.call("fmuladd", k, self.c(-low), r)
        return self.b.fptosi(k, self.fmt.int_type), r

    def expm1_poly(self, r: ir.Value) -> ir.Value:
        """e**r - 1 = r (1 + r/2 + r**2/6 + ...), accurate relative to small r."""
        taylor = [1.0 / math.factorial(n) for n in range(1, self.fmt.exp_degree + 1)]
        return self.b.fmul(r, self.horner(r, taylor))


def _exp(m: _Math, x: ir.Value) -> ir.Value:
    lo, hi = m.fmt.exp_range
    clamped = m.call("minnum", m.call("maxnum", x, m.c(lo)), m.c(hi))  # NaN -> lo, fixed below
    k, r = m.reduce_ln2(clamped)
    p = m.b.fadd(m.expm1_poly(r), m.c(1.0))
    half = m.b.ashr(k, m.i(1))  # 2**k = 2**half * 2**(k - half): both factors stay normal
    y = m.b.fmul(m.b.fmul(p, m.pow2(half)), m.pow2(m.b.sub(k, half)))
    return m.keep_nan(x, y)


def _expm1_small(m: _Math, x: ir.Value) -> ir.Value:
    """e**x - 1 for 0 <= x <= 40: 2**k (e**r - 1) + (2**k - 1)."""
    k, r = m.reduce_ln2(x)
    scale = m.pow2(k)
    return m.call("fmuladd", m.expm1_poly(r), scale, m.b.fsub(scale, m.c(1.0)))


def _expm1(m: _Math, x: ir.Value) -> ir.Value:
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


def _tanh(m: _Math, x: ir.Value) -> ir.Value:
    absolute = m.call("fabs", x)
    magnitude = m.call("minnum", absolute, m.c(20.0))
    t = _expm1_small(m, m.b.fmul(magnitude, m.c(2.0)))
    y = m.b.fdiv(t, m.b.fadd(t, m.c(2.0)))
    if m.fmt.tanh_small:
        z = m.b.fmul(absolute, absolute)
        odd = m.call("fmuladd", m.b.fmul(absolute, z), m.horner(z, m.fmt.tanh_small), absolute)
        y = m.b.select(m.b.fcmp_ordered("<", absolute, m.c(0.35)), odd, y)
    return m.keep_nan(x, m.call("copysign", y, x))  # tanh is odd; keeps tanh(-0.0) = -0.0


def _log(m: _Math, x: ir.Value) -> ir.Value:
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
    return m.keep_nan(x, y)


_BODIES: dict[str, Callable[[_Math, ir.Value], ir.Value]] = {
    "exp": _exp, "expm1": _expm1, "log": _log, "tanh": _tanh,
}


def math_function(module: ir.Module, name: str, dtype: str) -> ir.Function:
    """The internal function ``@<name>.<dtype>`` of ``module`` (exp, expm1, log or tanh),
    defined once."""
    symbol = f"{name}.{dtype}"
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    float_type = FORMATS[dtype].float_type
    fn = ir.Function(module, ir.FunctionType(float_type, [float_type]), name=symbol)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(_BODIES[name](_Math(builder, dtype), fn.args[0]))
    return fn


def vector_body(builder: ir.IRBuilder, name: str, dtype: str, x: ir.Value, lanes: int) -> ir.Value:
    """The polynomial of ``name`` on a vector ``x`` of ``lanes`` values, emitted at the
    builder's position: every lane computes what ``@<name>.<dtype>`` computes (the same
    operations, on vector types), for ``codegen.llvm.vecmath``'s vector variants."""
    scalar = FORMATS[dtype]
    fmt = replace(scalar, float_type=ir.VectorType(scalar.float_type, lanes),
                              int_type=ir.VectorType(scalar.int_type, lanes))
    m = _Math(builder, dtype)
    m.fmt, m.t, m.suffix = fmt, fmt.float_type, f"v{lanes}{dtype}"
    return _BODIES[name](m, x)
