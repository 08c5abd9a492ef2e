"""The fits behind the float64 erf and Φ polynomials of ``codegen.llvm.special``:
``python -m codegen.llvm.fits`` prints the coefficient tuples special.py holds, with the largest
error of each (its truncation and the rounding of its coefficients to double), in ulp.

Not imported by the compiler: it needs mpmath (SymPy's dependency) and takes a few seconds.
The ranges and poles are special.py's; the number of terms is chosen here.

- HEAD64: Q(z) = erf(a)/a - 1, z = a² in [0, HEAD64_END²], in erf's relative error;
- ERF_TAIL: R(u) = erfc(a) e^a² a, weighted by the error it causes in erf = 1 - erfc;
- PHI_TAIL: R(u) = Φ(-s) e^(s²/2) s, s = |x|, in relative error (Φ's left tail is the result).

Each is near-minimax: Lawson's iteration (least squares on Chebyshev nodes of the fitted
variable, the weights multiplied each round by the error there) solved in the Chebyshev basis in
double, the residual recomputed in 160-bit mpmath (so the fit is not limited by double), then
turned into powers of the variable in mpmath and rounded to double once.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np

from codegen.llvm.special import ERF_TAIL, HEAD64_END, PHI_TAIL, Tail

PRECISION = 160
TERMS = {"HEAD64": 12, "ERF_TAIL": 13, "PHI_TAIL": 21}
EPS = 2.0**-52


def _to_powers(chebyshev: list, low: float, high: float) -> list:
    """sum c_k T_k(x), x = (2v - low - high)/(high - low), in powers of v (mpmath numbers)."""
    scale = 2 / (mpmath.mpf(high) - low)
    shift = -(mpmath.mpf(low) + high) / (mpmath.mpf(high) - low)
    previous, current = [mpmath.mpf(1)], [shift, scale]          # T_0, T_1 in powers of v
    total = [chebyshev[0]] + [mpmath.mpf(0)] * (len(chebyshev) - 1)
    for k in range(1, len(chebyshev)):
        for j, c in enumerate(current):
            total[j] += c * chebyshev[k]
        following = [mpmath.mpf(0)] * (len(current) + 1)       # T_k+1 = 2 x T_k - T_k-1
        for j, c in enumerate(current):
            following[j] += 2 * shift * c
            following[j + 1] += 2 * scale * c
        for j, c in enumerate(previous):
            following[j] -= c
        previous, current = current, following
    return total


def _lawson(basis: np.ndarray, f: list, omega: np.ndarray, rounds: int) -> list:
    """Chebyshev coefficients (mpmath) minimizing max |omega (f - basis c)| nearly."""
    lam = np.full(len(f), 1.0 / len(f))
    for _ in range(rounds):
        rows = basis * (omega * np.sqrt(lam))[:, None]
        coefficients = [mpmath.mpf(0)] * basis.shape[1]
        for _refine in range(3):       # each solve in double gains ~14 digits of the residual
            residual = [fp - mpmath.fsum(float(b) * c for b, c in zip(row, coefficients))
                        for fp, row in zip(f, basis)]
            rhs = np.array([float(r) for r in residual]) * omega * np.sqrt(lam)
            step = np.linalg.lstsq(rows, rhs, rcond=None)[0]
            coefficients = [c + float(d) for c, d in zip(coefficients, step)]
        lam = lam * np.abs([float(r) for r in residual]) * omega
        lam /= lam.sum()
    return coefficients


def fit(target: Callable, weight: Callable, low: float, high: float, terms: int,
        rounds: int = 30) -> tuple[tuple[float, ...], float]:
    """A near-minimax polynomial in v on [low, high] (`terms` coefficients, low power first,
    rounded to double) for target(v), its error weighted by weight(v) (mpmath functions), and
    the largest weighted error of the rounded polynomial on a fine grid."""
    with mpmath.workprec(PRECISION):
        x = np.cos(np.pi * (np.arange(8 * terms) + 0.5) / (8 * terms))
        v = [mpmath.mpf(low) + (mpmath.mpf(t) + 1) / 2 * (mpmath.mpf(high) - low) for t in x]
        omega = np.array([float(weight(p)) for p in v])
        chebyshev = _lawson(np.polynomial.chebyshev.chebvander(x, terms - 1),
                            [target(p) for p in v], omega, rounds)
        powers = tuple(float(c) for c in _to_powers(chebyshev, low, high))
        worst = mpmath.mpf(0)
        for k in range(2001):
            p = mpmath.mpf(low) + (mpmath.mpf(high) - low) * k / 2000
            value = mpmath.polyval([mpmath.mpf(c) for c in reversed(powers)], p)
            worst = max(worst, abs((value - target(p)) * weight(p)))
        return powers, float(worst)


def head64() -> tuple[tuple[float, ...], float]:
    def target(z):
        a = mpmath.sqrt(z)
        return 2 / mpmath.sqrt(mpmath.pi) - 1 if z == 0 else mpmath.erf(a) / a - 1
    return fit(target, lambda z: 1 / (1 + target(z)), 0.0, HEAD64_END**2, TERMS["HEAD64"])


def tail64(tail: Tail, function: Callable, weight: Callable,
           terms: int) -> tuple[tuple[float, ...], float]:
    """R(u) = function(s) for the tail's range of s, u = (c0 s + k)/(s + pole), the error of
    R weighted by weight(s)."""
    c0, k = tail.variable

    def s_of(u):
        return (k - u * tail.pole) / (u - c0)

    return fit(lambda u: function(s_of(u)), lambda u: weight(s_of(u)), -1.0, 1.0, terms)


def _erfc_scaled(a):
    return mpmath.erfc(a) * mpmath.exp(a * a) * a


def _phi_scaled(s):
    return mpmath.ncdf(-s) * mpmath.exp(s * s / 2) * s


FITS = {
    "HEAD64": head64,
    "ERF_TAIL": lambda: tail64(ERF_TAIL, _erfc_scaled,
                               lambda a: mpmath.erfc(a) / mpmath.erf(a) / _erfc_scaled(a),
                               TERMS["ERF_TAIL"]),
    "PHI_TAIL": lambda: tail64(PHI_TAIL, _phi_scaled, lambda s: 1 / _phi_scaled(s),
                               TERMS["PHI_TAIL"]),
}


def main() -> None:
    for name, make in FITS.items():
        coefficients, error = make()
        print(f"{name} = {coefficients!r}  # largest error {error / EPS:.3f} ulp")


if __name__ == "__main__":
    main()
