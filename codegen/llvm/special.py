"""erf and the normal distribution's CDF Φ emitted as LLVM IR rational functions (f64) or
polynomials (f32), with no branch and no table, so loops calling them vectorize.

Input: a ``mathcore.Math`` (a builder, a float format, scalars or vectors) and the argument.
Output: the value. ``codegen.llvm.mathlib`` makes ``@erf.<dtype>`` and ``@normal_cdf.<dtype>``
of them.

In f32 (``erf_erfc32``): erf(a) = a + a Q(a²) below 1, erfc(a) = e^-a² t P(t), t = 2/(2 + a),
from 0.5 to 10.1 (least-squares fits): one division and one exp per lane. In f64 the
approximations are fdlibm's (s_erf.c, Sun Microsystems 1993, "permission to use, copy,
modify, and distribute this software is freely granted"): for a = |w|,

- a < 0.84375: erf(a) = a + a R(a²)/S(a²);
- 0.84375 <= a < 1.25: erf(a) = erx + P(a - 1)/Q(a - 1), erx = erf(1) rounded to 24 bits;
- 1.25 <= a < 28: erfc(a) = exp(-a² - 0.5625 + R(1/a²)/S(1/a²)) / a, with one of two
  coefficient sets (below and above 1/0.35); erf(a) = 1 - erfc(a);
- beyond: erf = 1, erfc = 0.

Every lane evaluates both rational functions (head/middle and tail) with its range's
coefficients chosen by selects, so there is no branch. The tail needs a² to full precision:
exp(-a²) amplifies an absolute error of a² into the same relative error of the result (a² = 700
rounded to double is off by 6e-14, which would be 60 ulp), so a² is carried as hi + lo with hi
exact (a with its low half of bits cleared, squared) and exp's argument is split likewise.

Φ(x) = erfc(-x/√2) / 2 runs the same code on a = |x|/√2, with a² = x²/2 taken from x itself
(halving is exact): rounding x/√2 first would cost the result 2a² units of rounding in the
tails, where gelu(x) = x Φ(x) lives for x < 0. Accuracy: docs/loop-ir.md, tests/codegen/llvm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from llvmlite import ir

from codegen.llvm.mathcore import Math, exp

ERX = 8.45062911510467529297e-01
# erf on [0, 0.84375]: a + a PP(a²)/QQ(a²)
PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
      -5.77027029648944159157e-03, -2.37630166566501626084e-05)
QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
      1.32494738004321644526e-04, -3.96022827877536812320e-06)
# erf on [0.84375, 1.25]: erx + PA(s)/QA(s), s = a - 1
PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
      3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
      -2.16637559486879084300e-03)
QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
      1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
# erfc on [1.25, 1/0.35]: RA(s)/SA(s), s = 1/a²
RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
      -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
      -8.12874355063065934246e+01, -9.81432934416914548592e+00)
SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
      6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
      6.57024977031928170135e+00, -6.04244152148580987438e-02)
# erfc on [1/0.35, 28]
RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
      -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
      -4.83519191608651397019e+02)
SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
      3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
      -2.24409524465858183362e+01)

HEAD, MIDDLE, TAIL_SPLIT, LIMIT = 0.84375, 1.25, 1 / 0.35, 28.0


def _padded(coefficients: Sequence[float], n: int) -> tuple[float, ...]:
    return tuple(coefficients) + (0.0,) * (n - len(coefficients))


def _chosen(m: Math, first: ir.Value, a: Sequence[float], b: Sequence[float]) -> list[ir.Value]:
    """Per lane, the coefficients `a` where `first` holds, else `b` (zero-padded to one length)."""
    n = max(len(a), len(b))
    return [m.c(p) if p == q else m.b.select(first, m.c(p), m.c(q))
            for p, q in zip(_padded(a, n), _padded(b, n))]


def _horner(m: Math, v: ir.Value, coefficients: list[ir.Value]) -> ir.Value:
    acc = coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        acc = m.call("fmuladd", acc, v, coefficient)
    return acc


def split_square(m: Math, a: ir.Value) -> tuple[ir.Value, ir.Value]:
    """a² as hi + lo: hi = z² with z = a with a little over half of its bits cleared, so that
    z² and -z² - 0.5625 are exact; lo = (a - z)(a + z) (a - z exact: lo is right to a few ulp
    of itself)."""
    bits = m.fmt.mantissa_bits // 2 + 2
    z = m.b.bitcast(m.b.and_(m.b.bitcast(a, m.fmt.int_type), m.i(-(1 << bits))), m.t)
    return m.b.fmul(z, z), m.b.fmul(m.b.fsub(a, z), m.b.fadd(a, z))


def erf_erfc(m: Math, a: ir.Value, hi: ir.Value, lo: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(erf(a), erfc(a)) for a >= 0 (NaN lanes give NaN), with a² = hi + lo."""
    b = m.b
    head = b.fcmp_ordered("<", a, m.c(HEAD))
    small = b.fcmp_ordered("<", a, m.c(MIDDLE))
    # head and middle: one rational function, its variable and coefficients chosen per lane
    v = b.select(head, b.fmul(a, a), b.fsub(a, m.c(1.0)))
    q = b.fdiv(_horner(m, v, _chosen(m, head, PP, PA)), _horner(m, v, _chosen(m, head, QQ, QA)))
    erf_head = m.call("fmuladd", a, q, a)
    erfc_head = m.where("<", a, m.c(0.25), b.fsub(m.c(1.0), erf_head),
                        b.fsub(m.c(0.5), m.call("fmuladd", a, q, b.fsub(a, m.c(0.5)))))
    erf_middle = b.fadd(m.c(ERX), q)
    erfc_middle = b.fsub(m.c(1.0 - ERX), q)
    # tail: the rational function of s = 1/a² (a clamped into the range, so no lane divides by
    # 0 or overflows), exp's argument -a² - 0.5625 + R/S as an exact part plus a small one
    t = m.call("minnum", m.call("maxnum", a, m.c(MIDDLE)), m.c(LIMIT))
    t_hi = b.select(small, m.c(MIDDLE * MIDDLE), m.call("minnum", hi, m.c(LIMIT * LIMIT)))
    t_lo = b.select(small, m.c(0.0), lo)
    inverse = b.fdiv(m.c(1.0), t)                             # one division for s and 1/t
    s = b.fmul(inverse, inverse)
    near = b.fcmp_ordered("<", t, m.c(TAIL_SPLIT))
    ratio = b.fdiv(_horner(m, s, _chosen(m, near, RA, RB)),
                   _horner(m, s, _chosen(m, near, SA, SB)))
    exact = b.fsub(b.fneg(t_hi), m.c(0.5625))                 # exact: t_hi has half the bits
    small_part = b.fsub(ratio, t_lo)
    total = b.fadd(exact, small_part)
    error = b.fsub(small_part, b.fsub(total, exact))          # what total rounded off (Fast2Sum)
    erfc_tail = b.fmul(b.fmul(exp(m, total), b.fadd(m.c(1.0), error)), inverse)
    erfc_tail = m.where(">=", a, m.c(LIMIT), m.c(0.0), erfc_tail)
    erfc = b.select(head, erfc_head, b.select(small, erfc_middle, erfc_tail))
    erf = b.select(head, erf_head, b.select(small, erf_middle, b.fsub(m.c(1.0), erfc_tail)))
    return m.keep_nan(a, erf), m.keep_nan(a, erfc)


# float32: erf(a) = a + a Q(a²) for a < 1 (Q least-squares on Chebyshev nodes, 0.6 ulp in f32);
# erfc(a) = e^-a² t P(t), t = 2 / (2 + a), for 0.5 <= a <= 10.1 (P fitted to erfc(a) e^a² / t in
# relative error, 0.09 ulp): one division and one exp, where the fdlibm form has four divisions
HEAD32 = (0.12837916588150264, -0.3761262690358044, 0.11283597463488053, -0.026854328796067244,
          0.005189311942686617, -0.0008018854992786387, 7.882497110086663e-05)
TAIL32 = (0.28207509722355256, 0.28260510729052324, 0.2411811235249622, 0.2113516888018798,
          -0.049667019469821765, 0.31515407947324864, -0.5225362832136463, 0.3028051073613535,
          -0.06296272484319729)
HEAD32_END, TAIL32_START, LIMIT32 = 1.0, 0.5, 10.1     # erfc(10.1) / 2 rounds to 0 in f32


def erf_erfc32(m: Math, a: ir.Value, hi: ir.Value, lo: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(erf(a), erfc(a)) in f32 for 0 <= a <= LIMIT32 (a clamped there by the caller: a larger
    a gives erfc 0), a² = hi + lo, hi exact. Both forms on every lane, chosen by selects."""
    b = m.b
    erf_head = m.call("fmuladd", a, m.horner(b.fmul(a, a), HEAD32), a)
    t = b.fdiv(m.c(2.0), b.fadd(a, m.c(2.0)))
    # e^-(hi + lo) = e^total (1 + error): total = -hi - lo rounded, error = -hi - lo - total
    # (Fast2Sum: -hi is the larger); lo is not small in f32 (hi keeps 11 bits of a)
    total = b.fsub(b.fneg(hi), lo)
    error = b.fsub(b.fsub(b.fneg(hi), total), lo)
    scale = b.fmul(b.fmul(t, m.horner(t, TAIL32)), b.fadd(m.c(1.0), error))
    erfc_tail = b.fmul(exp(m, total), scale)
    erfc_tail = m.where(">=", a, m.c(LIMIT32), m.c(0.0), erfc_tail)
    erf = m.where("<", a, m.c(HEAD32_END), erf_head, b.fsub(m.c(1.0), erfc_tail))
    erfc = m.where("<", a, m.c(TAIL32_START), b.fsub(m.c(1.0), erf_head), erfc_tail)
    return erf, erfc


def _erf_erfc(m: Math, a: ir.Value, hi: ir.Value, lo: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(erf(a), erfc(a)) for a >= 0 clamped to LIMIT32 in f32 (NaN lanes: anything)."""
    return (erf_erfc32 if m.dtype == "f32" else erf_erfc)(m, a, hi, lo)


def _magnitude(m: Math, x: ir.Value, scale: float = 1.0) -> ir.Value:
    """|x|, clamped in f32 where erfc(|x| scale) rounds to 0 (inf gives a finite square)."""
    magnitude = m.fabs(x)
    return m.call("minnum", magnitude, m.c(LIMIT32 / scale)) if m.dtype == "f32" else magnitude


def erf(m: Math, x: ir.Value) -> ir.Value:
    """erf(x), odd: computed on |x|, the sign put back (erf(-0.0) = -0.0, erf(±inf) = ±1)."""
    a = _magnitude(m, x)
    hi, lo = split_square(m, a)
    value, _ = _erf_erfc(m, a, hi, lo)
    return m.keep_nan(x, m.copysign(value, x))


def normal_cdf(m: Math, x: ir.Value) -> ir.Value:
    """Φ(x) = erfc(-x/√2)/2: erfc(a)/2 for x < 0, (1 + erf(a))/2 for x >= 0, a = |x|/√2."""
    b = m.b
    magnitude = _magnitude(m, x, 1.0 / math.sqrt(2.0))
    hi, lo = split_square(m, magnitude)
    a = b.fmul(magnitude, m.c(1.0 / math.sqrt(2.0)))
    value, complement = _erf_erfc(m, a, b.fmul(hi, m.c(0.5)), b.fmul(lo, m.c(0.5)))
    upper = m.call("fmuladd", value, m.c(0.5), m.c(0.5))
    y = m.where("<", x, m.c(0.0), b.fmul(complement, m.c(0.5)), upper)
    return m.keep_nan(x, y)
