"""erf and the normal distribution's CDF Φ emitted as LLVM IR polynomials, with no branch and
no table, so loops calling them vectorize.

Input: a ``mathcore.Math`` (a builder, a float format, scalars or vectors) and the argument.
Output: the value. ``codegen.llvm.mathlib`` makes ``@erf.<dtype>`` and ``@normal_cdf.<dtype>``
of them.

Both dtypes work on a = |x| with two fitted forms, each lane computing both and choosing by a
select:

- head: erf(a) = a + a Q(a²), and erfc(a) = (1 - a) - a Q(a²) (1 - a exact from a = 0.5);
- tail: erfc(a) = e^-a² S(a), S a polynomial in a variable with one division (f32:
  t P(t), t = 2/(2 + a), from 0.5 to 10.1; f64: (1/a) R(u), u affine in 1/(a + 4), from 0.875
  to 27.25, the 1/a a division of its own so that it is rounded once), erf = 1 - erfc; beyond
  the tail's end erfc = 0.

One exp and one division (f64: two) per lane, where fdlibm's rational functions took three or
four divisions and a select per coefficient. The f64 fits are made by ``codegen/llvm/fits.py``.
The tail needs a² to full precision: exp(-a²) amplifies an absolute error of a² into the same
relative error of the result (a² = 700 rounded to double is off by 6e-14, which would be 60
ulp), so a² is carried as hi + lo with hi exact (a with its low half of bits cleared, squared)
and exp's argument is split likewise.

Φ(x) = erfc(-x/√2)/2 runs the same code on a = |x|/√2, with a² = x²/2 taken from x itself
(halving is exact): rounding x/√2 first would cost the result 2a² units of rounding in the
tails, where gelu(x) = x Φ(x) lives for x < 0. Accuracy: docs/loop-ir.md, tests/codegen/llvm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from llvmlite import ir

from codegen.llvm.mathcore import Math, exp

# float64, fitted by codegen/llvm/fits.py (python -m codegen.llvm.fits reprints them):
# erf(a) = a + a Q(a²) for a < HEAD64_END (Q near-minimax, 0.05 ulp of erf);
# erfc(a) = e^-a² (1/a) R(u), u = C1 w + C0 in [-1, 1], w = 1/(a + G), up to TAIL64_END (R
# near-minimax in relative error, 0.3 ulp, most of it the rounding of its first coefficient)
HEAD64 = (0.1283791670955126, -0.3761263890318374, 0.11283791670954392, -0.02686617064494689,
    0.005223977623072841, -0.0008548326844993986, 0.00012055324490239849, -1.4925384587962032e-05,
    1.6456555645121838e-06, -1.6288649332127643e-07, 1.4119112651723048e-08, -8.65676309299732e-10)
TAIL64 = (0.5508184497883215, -0.03471104368596991, -0.0409043524009492, -0.03205010507007558,
    -0.019926296560434747, -0.01029812417415119, -0.004469417739651582, -0.001612096891605625,
    -0.00046679187708725177, -9.92090943477161e-05, -1.0962149312717319e-05,
    1.5506236148878008e-06, 9.433521875167523e-07, 1.3054920144409755e-07, -2.72250430869345e-08,
    -1.275317968044299e-08, -2.886116623418026e-10, 8.616282820914058e-10, 1.1455632115312308e-10,
    -7.448153223660472e-11, -9.955886126833292e-12, 7.682786106817725e-12)
HEAD64_END, TAIL64_END = 0.875, 27.25      # erfc(27.25)/2 rounds to 0
# the pole of w: its distance from the range sets how fast R's series converges (22 terms
# where w = 1/a needs 36); u = C1 w + C0 maps w's range onto [-1, 1]
G = 4.0
_W_LOW, _W_HIGH = 1 / (TAIL64_END + G), 1 / (HEAD64_END + G)
C1, C0 = 2 / (_W_HIGH - _W_LOW), -(_W_HIGH + _W_LOW) / (_W_HIGH - _W_LOW)


def split_square(m: Math, a: ir.Value) -> tuple[ir.Value, ir.Value]:
    """a² as hi + lo: hi = z² with z = a with a little over half of its bits cleared, so that
    z² is exact; lo = (a - z)(a + z) (a - z exact: lo is right to a few ulp of itself)."""
    bits = m.fmt.mantissa_bits // 2 + 2
    z = m.b.bitcast(m.b.and_(m.b.bitcast(a, m.fmt.int_type), m.i(-(1 << bits))), m.t)
    return m.b.fmul(z, z), m.b.fmul(m.b.fsub(a, z), m.b.fadd(a, z))


def erf_erfc64(m: Math, a: ir.Value, inverse: ir.Value, hi: ir.Value,
               lo: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(erf(a), erfc(a)) in f64 for a >= 0 (NaN lanes: anything), `inverse` = 1/a rounded
    once, a² = hi + lo with hi exact. Head and tail on every lane, chosen by selects: one
    polynomial each, one division for the tail's variable, one exp.

    The tail's variable u needs no great accuracy (R varies slowly in u), but its factor 1/a
    does: 1/(a + G) rounded twice would cost erfc (a + G)/a ulp, 5 near a = 1."""
    b = m.b
    q = m.horner(b.fmul(a, a), HEAD64)
    erf_head = m.call("fmuladd", a, q, a)
    erfc_head = m.call("fmuladd", b.fneg(a), q, b.fsub(m.c(1.0), a))  # 1 - a exact for a >= 0.5
    w = b.fdiv(m.c(1.0), b.fadd(a, m.c(G)))
    r = b.fmul(inverse, m.horner(m.call("fmuladd", w, m.c(C1), m.c(C0)), TAIL64))
    # e^-(hi + lo) = e^total (1 + error): total = -hi - lo rounded, error what it rounded off
    # (Fast2Sum: -hi is the larger); an error of a² (700 in Φ's tail) is the same relative
    # error of erfc, so lo counts
    total = b.fsub(b.fneg(hi), lo)
    error = b.fsub(b.fsub(b.fneg(hi), total), lo)
    erfc_tail = b.fmul(exp(m, total), m.call("fmuladd", r, error, r))
    erfc_tail = m.where("<", a, m.c(TAIL64_END), erfc_tail, m.c(0.0))   # also a = inf
    head = b.fcmp_ordered("<", a, m.c(HEAD64_END))
    return (b.select(head, erf_head, b.fsub(m.c(1.0), erfc_tail)),
            b.select(head, erfc_head, erfc_tail))


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


def _erf_erfc(m: Math, magnitude: ir.Value, scale: float, hi: ir.Value,
              lo: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(erf(a), erfc(a)), a = magnitude scale >= 0 (clamped to LIMIT32 in f32; NaN lanes:
    anything), a² = hi + lo. f64's tail takes 1/a as (1/scale)/magnitude, rounded once."""
    a = m.b.fmul(magnitude, m.c(scale)) if scale != 1.0 else magnitude
    if m.dtype == "f32":
        return erf_erfc32(m, a, hi, lo)
    return erf_erfc64(m, a, m.b.fdiv(m.c(1.0 / scale), magnitude), hi, lo)


def _magnitude(m: Math, x: ir.Value, scale: float = 1.0) -> ir.Value:
    """|x|, clamped in f32 where erfc(|x| scale) rounds to 0 (inf gives a finite square)."""
    magnitude = m.fabs(x)
    return m.call("minnum", magnitude, m.c(LIMIT32 / scale)) if m.dtype == "f32" else magnitude


def erf(m: Math, x: ir.Value) -> ir.Value:
    """erf(x), odd: computed on |x|, the sign put back (erf(-0.0) = -0.0, erf(±inf) = ±1)."""
    a = _magnitude(m, x)
    hi, lo = split_square(m, a)
    value, _ = _erf_erfc(m, a, 1.0, hi, lo)
    return m.keep_nan(x, m.copysign(value, x))


def normal_cdf(m: Math, x: ir.Value) -> ir.Value:
    """Φ(x) = erfc(-x/√2)/2: erfc(a)/2 for x < 0, (1 + erf(a))/2 for x >= 0, a = |x|/√2."""
    b = m.b
    magnitude = _magnitude(m, x, 1.0 / math.sqrt(2.0))
    hi, lo = split_square(m, magnitude)
    value, complement = _erf_erfc(m, magnitude, 1.0 / math.sqrt(2.0), b.fmul(hi, m.c(0.5)),
                                  b.fmul(lo, m.c(0.5)))
    upper = m.call("fmuladd", value, m.c(0.5), m.c(0.5))
    y = m.where("<", x, m.c(0.0), b.fmul(complement, m.c(0.5)), upper)
    return m.keep_nan(x, y)
