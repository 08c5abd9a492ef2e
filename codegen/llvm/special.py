"""erf and the normal distribution's CDF Φ emitted as LLVM IR polynomials, with no branch and
no table, so loops calling them vectorize.

Input: a ``mathcore.Math`` (a builder, a float format, scalars or vectors) and the argument.
Output: the value. ``codegen.llvm.mathlib`` makes ``@erf.<dtype>`` and ``@normal_cdf.<dtype>``
of them.

Both dtypes work on a = |x| with two fitted forms, each lane computing both and choosing by a
select:

- head: erf(a) = a + a Q(a²), and erfc(a) = (1 - a) - a Q(a²) (1 - a exact from a = 0.5);
- tail: erfc(a) = e^-a² S(a), erf = 1 - erfc, 0 beyond the tail's end. f32: S = t P(t),
  t = 2/(2 + a), from 0.5 to 10.1. f64 (``Tail``): S = R(u)/a, u = (c0 a + k)/(a + pole) in
  [-1, 1], the 1/a a division of its own so that it is rounded once; erf's tail ends at 6
  (erf rounds to 1 beyond), and Φ has a tail of its own in |x| (below).

One exp and one division (f64: two) per lane, where fdlibm's rational functions took three or
four divisions and a select per coefficient. The f64 fits are made by ``codegen/llvm/fits.py``.
The tail needs a² to full precision: exp(-a²) amplifies an absolute error of a² into the same
relative error of the result (a² = 700 rounded to double is off by 6e-14, which would be 60
ulp), so a² is carried as hi + lo with hi exact (a with its low half of bits cleared, squared)
and exp's argument is split likewise.

Φ(x) = erfc(-x/√2)/2 runs the same code on a = |x|/√2, with a² = x²/2 taken from x itself
(halving is exact): rounding x/√2 first would cost the result 2a² units of rounding in the
tails, where gelu(x) = x Φ(x) lives for x < 0. In f64 the tail is Φ(-s) = e^(-s²/2) R(u)/s
with s = |x| itself, so no rounded |x|/√2 (nor √2) enters it. Accuracy: docs/loop-ir.md,
tests/codegen/llvm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from codegen.llvm.mathcore import Math, exp


@dataclass(frozen=True)
class Tail:
    """A tail of erfc's shape, e^-E R(u)/s for start <= s < end and 0 beyond, with E = a² for
    erfc(a) (s = a) and E = x²/2 for Φ (s = |x|): R a polynomial (coefficients low power first)
    in u, affine in w = 1/(s + pole), running over [-1, 1] (``variable``).

    The pole's distance from the range sets how fast R's series converges (Φ's 21 terms with
    the pole at 5.5, where w = 1/s needs about 36); R varies slowly, so u's roundings cost little,
    and the 1/s that carries most of the variation is one division, rounded once."""
    start: float
    end: float
    pole: float
    coefficients: tuple[float, ...]

    @property
    def variable(self) -> tuple[float, float]:
        """(c0, k): u = (c0 s + k)/(s + pole), the affine map of w = 1/(s + pole) onto
        [-1, 1] as one quotient (u rounded about once, where c1 w + c0 cancels near ±1)."""
        low, high = 1 / (self.end + self.pole), 1 / (self.start + self.pole)
        c1, c0 = 2 / (high - low), -(high + low) / (high - low)
        return c0, c1 + c0 * self.pole


# float64, fitted by codegen/llvm/fits.py (``python -m codegen.llvm.fits`` prints them again):
# erf(a) = a + a Q(a²) for a < HEAD64_END, Q near-minimax in erf's relative error (0.05 ulp)
HEAD64_END = 0.875
HEAD64 = (0.1283791670955126, -0.3761263890318374, 0.11283791670954389, -0.026866170644946445,
          0.0052239776230683386, -0.0008548326844729237, 0.0001205532448052991,
          -1.4925384358541375e-05, 1.6456552150251353e-06, -1.6288616158526548e-07,
          1.4118934150888209e-08, -8.656347209732405e-10)
# erfc(a) for erf = 1 - erfc, a from HEAD64_END to 6 (erf(6) rounds to 1), fitted in the error
# it causes in erf; Φ(-s) = erfc(s/√2)/2 in terms of s = |x| itself (no rounded s/√2 nor √2
# constant), s from HEAD64_END √2 to 38.54 (Φ(-38.54) rounds to 0), in relative error
ERF_TAIL = Tail(HEAD64_END, 6.0, 3.75, (
    0.527605457086665, -0.054515710734024836, -0.03887438798833277, -0.0186460093888872,
    -0.00681983798382203, -0.001959462598284587, -0.00043799373220370334, -7.218028910811356e-05,
    -7.338102966239863e-06, -3.0961820314032454e-08, 1.1419448578148526e-07,
    1.8662147595217526e-08, -2.861513178464293e-09))
PHI_TAIL = Tail(HEAD64_END * math.sqrt(2.0), 38.54, 5.5, (
    0.3892461858363801, -0.025110953820699854, -0.02934326340051364, -0.022638333387098555,
    -0.013774429686143291, -0.006916292867590434, -0.0028874623554127794, -0.0009865129893995876,
    -0.0002628635532245718, -4.761831868594592e-05, -2.4787213700385966e-06,
    1.6488410435208894e-06, 5.223690685630457e-07, 1.8868195666251162e-08, -2.7206168703365207e-08,
    -5.573641743775469e-09, 9.720456624137693e-10, 4.692328173594764e-10, -1.722644864778293e-11,
    -2.502016735719883e-11, -9.601552623506035e-13))


def split_square(m: Math, a: ir.Value) -> tuple[ir.Value, ir.Value]:
    """a² as hi + lo: hi = z² with z = a with a little over half of its bits cleared, so that
    z² is exact; lo = (a - z)(a + z) (a - z exact: lo is right to a few ulp of itself)."""
    bits = m.fmt.mantissa_bits // 2 + 2
    z = m.b.bitcast(m.b.and_(m.b.bitcast(a, m.fmt.int_type), m.i(-(1 << bits))), m.t)
    return m.b.fmul(z, z), m.b.fmul(m.b.fsub(a, z), m.b.fadd(a, z))


def head64(m: Math, a: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(erf(a), erfc(a)) for 0 <= a < HEAD64_END: a + a Q and (1 - a) - a Q (1 - a is exact
    from a = 0.5; below, erfc > 1/2 and its rounding is small)."""
    q = m.horner(m.b.fmul(a, a), HEAD64)
    return (m.call("fmuladd", a, q, a),
            m.call("fmuladd", m.b.fneg(a), q, m.b.fsub(m.c(1.0), a)))


def tail64(m: Math, s: ir.Value, hi: ir.Value, lo: ir.Value, tail: Tail) -> ir.Value:
    """e^-E R(u)/s for s >= 0, E = hi + lo (hi exact), 0 from tail.end on (inf too)."""
    b = m.b
    c0, k = tail.variable
    u = b.fdiv(m.call("fmuladd", s, m.c(c0), m.c(k)), b.fadd(s, m.c(tail.pole)))
    r = m.horner(u, tail.coefficients)
    # e^-(hi + lo) = e^total (1 + error): total = -hi - lo rounded, error what it rounded off
    # (Fast2Sum: -hi is the larger). An error of E (up to 740) is the same relative error of
    # the result, so lo counts; e^total r (1 + error) rounded once, the small part added in
    total = b.fsub(b.fneg(hi), lo)
    error = b.fsub(b.fsub(b.fneg(hi), total), lo)
    scale = exp(m, total)
    value = b.fdiv(m.call("fmuladd", scale, r, b.fmul(scale, b.fmul(r, error))), s)
    return m.where("<", s, m.c(tail.end), value, m.c(0.0))


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


def _magnitude(m: Math, x: ir.Value, scale: float = 1.0) -> ir.Value:
    """|x|, clamped in f32 where erfc(|x| scale) rounds to 0 (inf gives a finite square)."""
    magnitude = m.fabs(x)
    return m.call("minnum", magnitude, m.c(LIMIT32 / scale)) if m.dtype == "f32" else magnitude


def erf(m: Math, x: ir.Value) -> ir.Value:
    """erf(x), odd: computed on |x|, the sign put back (erf(-0.0) = -0.0, erf(±inf) = ±1)."""
    a = _magnitude(m, x)
    hi, lo = split_square(m, a)
    if m.dtype == "f32":
        value, _ = erf_erfc32(m, a, hi, lo)
    else:
        value = m.where("<", a, m.c(HEAD64_END), head64(m, a)[0],
                        m.b.fsub(m.c(1.0), tail64(m, a, hi, lo, ERF_TAIL)))
    return m.keep_nan(x, m.copysign(value, x))


def normal_cdf(m: Math, x: ir.Value) -> ir.Value:
    """Φ(x) = erfc(-x/√2)/2: erfc(a)/2 for x < 0, (1 + erf(a))/2 for x >= 0, a = |x|/√2; in
    f64's tail Φ(-|x|) directly from |x|, and 1 - Φ(-|x|) for x > 0."""
    b = m.b
    magnitude = _magnitude(m, x, 1.0 / math.sqrt(2.0))
    hi, lo = (b.fmul(part, m.c(0.5)) for part in split_square(m, magnitude))
    a = b.fmul(magnitude, m.c(1.0 / math.sqrt(2.0)))
    value, complement = erf_erfc32(m, a, hi, lo) if m.dtype == "f32" else head64(m, a)
    lower, upper = b.fmul(complement, m.c(0.5)), m.call("fmuladd", value, m.c(0.5), m.c(0.5))
    if m.dtype == "f64":
        tail = tail64(m, magnitude, hi, lo, PHI_TAIL)
        head = b.fcmp_ordered("<", magnitude, m.c(PHI_TAIL.start))
        lower = b.select(head, lower, tail)
        upper = b.select(head, upper, b.fsub(m.c(1.0), tail))
    return m.keep_nan(x, m.where("<", x, m.c(0.0), lower, upper))
