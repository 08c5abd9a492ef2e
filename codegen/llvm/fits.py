"""The fits behind the float64 erf and erfc polynomials of ``codegen.llvm.special``:
``python -m codegen.llvm.fits`` prints the coefficient tuples special.py holds, and the largest
error of each fit (its truncation and the rounding of its coefficients to double).

Not imported by the compiler: it needs mpmath (SymPy's dependency) and takes a few seconds.

- head, 0 <= a < HEAD64_END: erf(a) = a + a Q(z), z = a², Q fitted to erf(a)/a - 1 in the
  relative error of erf;
- tail, HEAD64_END <= a <= TAIL64_END: erfc(a) = e^-a² (1/a) R(u), u = C1 w + C0 affine in
  w = 1/(a + G) (u runs over [-1, 1]), R fitted to erfc(a) e^a² a in relative error.

Both are near-minimax: Lawson's iteration (least squares with weights multiplied each round by
the error where it is largest) on Chebyshev nodes of the fitted variable, solved in the
Chebyshev basis in double with the residual recomputed in 160-bit mpmath, then converted to
powers of the variable in mpmath and rounded to double once.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np

PRECISION = 160
# where the head stops and the tail starts; where erfc(a)/2 (Φ's left tail) is below half the
# smallest subnormal, so a larger a gives 0; the pole of w = 1/(a + G), outside the range, whose
# distance sets how fast the tail's series converges (G = 4: 22 terms where w = 1/a needs 36)
HEAD64_END, TAIL64_END, G = 0.875, 27.25, 4.0
HEAD64_TERMS, TAIL64_TERMS = 12, 22
# u = C1 w + C0 maps w from 1/(TAIL64_END + G) .. 1/(HEAD64_END + G) onto -1 .. 1 (rounded: the
# fit uses the u these constants give)
_W_LOW, _W_HIGH = 1 / (TAIL64_END + G), 1 / (HEAD64_END + G)
C1, C0 = 2 / (_W_HIGH - _W_LOW), -(_W_HIGH + _W_LOW) / (_W_HIGH - _W_LOW)


def _chebyshev_nodes(count: int) -> np.ndarray:
    return np.cos(np.pi * (np.arange(count) + 0.5) / count)[::-1]


def _to_powers(chebyshev: list, low: float, high: float) -> list:
    """Coefficients of sum c_k T_k(x), x = (2v - low - high)/(high - low), in powers of v
    (mpmath numbers)."""
    scale = 2 / (mpmath.mpf(high) - low)
    shift = -(mpmath.mpf(low) + high) / (mpmath.mpf(high) - low)
    previous, current = [mpmath.mpf(1)], [shift, scale]          # T_0, T_1 in powers of v
    total = [c * chebyshev[0] for c in previous] + [mpmath.mpf(0)] * (len(chebyshev) - 1)
    for k in range(1, len(chebyshev)):
        total = [t + c * chebyshev[k] for t, c in
                 zip(total, current + [0] * (len(total) - len(current)))]
        # T_{k+1} = 2 x T_k - T_{k-1}
        nxt = [mpmath.mpf(0)] * (len(current) + 1)
        for j, c in enumerate(current):
            nxt[j] += 2 * shift * c
            nxt[j + 1] += 2 * scale * c
        for j, c in enumerate(previous):
            nxt[j] -= c
        previous, current = current, nxt
    return total


def fit(target: Callable, weight: Callable, low: float, high: float, terms: int,
        rounds: int = 40) -> tuple[tuple[float, ...], float]:
    """Near-minimax polynomial in v on [low, high] (`terms` coefficients, low power first,
    rounded to double) for target(v), the error weighted by weight(v) (mpmath functions);
    and its largest weighted error on a fine grid, with the rounded coefficients."""
    with mpmath.workprec(PRECISION):
        x = _chebyshev_nodes(8 * terms)
        v = [mpmath.mpf(low) + (mpmath.mpf(t) + 1) / 2 * (mpmath.mpf(high) - low) for t in x]
        f = [target(p) for p in v]
        omega = np.array([float(weight(p)) for p in v])
        basis = np.polynomial.chebyshev.chebvander(x, terms - 1)
        lam = np.ones(len(x))
        for _ in range(rounds):
            rows = basis * (omega * np.sqrt(lam))[:, None]
            coefficients = [mpmath.mpf(0)] * terms
            for _refine in range(3):       # the residual in mpmath: digits beyond double
                residual = [fp - mpmath.fsum(mpmath.mpf(float(b)) * c for b, c in
                                             zip(row, coefficients))
                            for fp, row in zip(f, basis)]
                rhs = np.array([float(r) for r in residual]) * omega * np.sqrt(lam)
                step = np.linalg.lstsq(rows, rhs, rcond=None)[0]
                coefficients = [c + float(s) for c, s in zip(coefficients, step)]
            error = np.abs([float(r) for r in residual]) * omega
            lam = lam * error
            lam /= lam.sum()
        powers = tuple(float(c) for c in _to_powers(coefficients, low, high))
        return powers, _largest_error(target, weight, low, high, powers)


def _largest_error(target: Callable, weight: Callable, low: float, high: float,
                   powers: tuple[float, ...], samples: int = 2000) -> float:
    worst = mpmath.mpf(0)
    for k in range(samples + 1):
        v = mpmath.mpf(low) + (mpmath.mpf(high) - low) * k / samples
        value = mpmath.polyval([mpmath.mpf(c) for c in reversed(powers)], v)
        worst = max(worst, abs((value - target(v)) * weight(v)))
    return float(worst)


def _a_of_u(u):
    """a for a value of u = C1/(a + G) + C0."""
    return C1 / (u - C0) - G


def head64() -> tuple[tuple[float, ...], float]:
    """Q(z) = erf(a)/a - 1, z = a², in the relative error of erf(a) = a + a Q."""
    def target(z):
        a = mpmath.sqrt(z)
        return 2 / mpmath.sqrt(mpmath.pi) - 1 if z == 0 else mpmath.erf(a) / a - 1

    def weight(z):
        return 1 / (1 + target(z))
    return fit(target, weight, 0.0, HEAD64_END**2, HEAD64_TERMS)


def tail64() -> tuple[tuple[float, ...], float]:
    """R(u) = erfc(a) e^a² a, a = C1/(u - C0) - G, in relative error."""
    def target(u):
        a = _a_of_u(u)
        return mpmath.erfc(a) * mpmath.exp(a * a) * a

    low, high = C1 / (HEAD64_END + G) + C0, C1 / (TAIL64_END + G) + C0
    return fit(target, lambda u: 1 / target(u), min(low, high), max(low, high), TAIL64_TERMS)


def main() -> None:
    for name, (coefficients, error) in (("HEAD64", head64()), ("TAIL64", tail64())):
        print(f"{name} = {coefficients!r}   # largest relative error {error:.2e}")
    print(f"C1, C0 = {C1!r}, {C0!r}")


if __name__ == "__main__":
    main()
