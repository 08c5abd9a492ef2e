"""Central differences for the per-op gradient checks: a step rule per op, one Richardson step,
and a bound on the rounding error, so that tolerances follow from an error model.

A central difference D(h) = f' + c h² + O(h⁴) rounds with an error of about eps |f| / h. One
Richardson step, (4 D(h/2) - D(h)) / 3, cancels the h² term, so with h = cbrt(eps) c, where c
is about the length over which f varies, truncation is near (h / c)⁴ ≈ 1e-21, and even a step
a thousand times too long for the op's curvature (x^1000 at x = 2) leaves about 1e-9. For ops
at most quadratic in each operand (matmul, conv, pooling) D(h) is exact, and the Richardson
step, which would double the cost, is left out (MULTILINEAR in tests/ops/cases.py). What is
checked: |analytic - numeric| <= rtol |numeric| + ROUNDING_SAFETY * (the rounding bound), with
rtol = 1e-8 (tests/ops/cases.py) for the rest of truncation and the analytic side's own
rounding. Measured over every row and edge, the one error above a single rounding bound is
x^1000's truncation at x = 2, 3e-12 relative.

The step rules choose c:

- `relative_step`: c = |x| (1 at x = 0), the default: a stencil at x = 1e-8 stays on its side
  of a kink, jump or pole at 0 (relu, abs, step, sqrt, log, div), steps at 1e-150 do not swamp
  a tie, and products of tiny numbers (square, mse) are differenced on their own scale.
- `scipy_step`: c = max(|x|, 1), scipy's rule for '3-point' differences, for ops that vary on
  a unit length wherever they are (exp, sigmoid, tanh, softmax and its losses): at x = 1e-8 a
  relative step would leave e^x = 1 + 6e-14 with 3 digits.

Everything is float64, and the step is taken as represented, (x + h) - (x - h).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray
EPS = float(np.finfo(np.float64).eps)
CBRT_EPS = float(np.cbrt(EPS))       # 6.1e-6: balances h² truncation against eps / h rounding
# Checks allow ROUNDING_SAFETY times the rounding bound: the bound counts eps |f| per output,
# and sums inside an op (matmul, conv) may round several times that (measured: within 1).
ROUNDING_SAFETY = 16.0


def scipy_step(x: Array) -> Array:
    return CBRT_EPS * np.maximum(np.abs(x), 1.0)


def relative_step(x: Array) -> Array:
    return CBRT_EPS * np.where(x == 0, 1.0, np.abs(x))


def _difference(f, arrays, index, position, h, cotangent) -> tuple[float, float]:
    """cotangent · (f(x + h e) - f(x - h e)) / width at one position, and its rounding bound.

    Outputs are differenced before contracting with the cotangent, so a large unchanged
    output neither swamps a small change nor overflows a sum."""
    plus, minus = list(arrays), list(arrays)
    plus[index], minus[index] = arrays[index].copy(), arrays[index].copy()
    plus[index][position] += h
    minus[index][position] -= h
    width = plus[index][position] - minus[index][position]
    high, low = np.asarray(f(plus)), np.asarray(f(minus))
    if not (np.all(np.isfinite(high)) and np.all(np.isfinite(low))):
        raise AssertionError(f"the value is not finite within {h:.3g} of the point at operand "
                             f"{index}{position}: give the edge a skip reason")
    value = np.sum(cotangent * (high - low)) / width
    # each output may round by eps |f|, and a change smaller than that is lost altogether
    rounding = np.sum(np.abs(cotangent) * (EPS * np.abs(high) + EPS * np.abs(low))) / width
    return float(value), float(rounding)


def differentiate(f: Callable[[list[Array]], Array], arrays: list[Array], index: int,
                  cotangent: Array, step: Callable[[Array], Array],
                  quadratic: bool = False) -> tuple[Array, Array]:
    """cotangent · d f / d arrays[index], one element at a time by central differences with
    one Richardson step (none where f is `quadratic` in the operand: D(h) is exact), and a
    bound on each entry's rounding error."""
    x = arrays[index]
    steps = step(x)
    numeric, rounding = np.zeros_like(x), np.zeros_like(x)
    for position in np.ndindex(x.shape):
        long, long_rounding = _difference(f, arrays, index, position, steps[position], cotangent)
        if quadratic:
            numeric[position], rounding[position] = long, long_rounding
            continue
        short, short_rounding = _difference(f, arrays, index, position, steps[position] / 2,
                                            cotangent)
        # (4 D(h/2) - D(h)) / 3, written so that 4 D(h/2) cannot overflow
        numeric[position] = short + (short - long) / 3.0
        rounding[position] = short_rounding + (short_rounding + long_rounding) / 3.0
    return numeric, rounding


def assert_gradient_close(analytic: Array, numeric: Array, rounding: Array, rtol: float,
                          what: str) -> None:
    """|analytic - numeric| <= rtol |numeric| + ROUNDING_SAFETY rounding, entry by entry; and
    not vacuously: some entry's allowed error must be below the gradient's largest entry."""
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    allowed = rtol * np.abs(numeric) + ROUNDING_SAFETY * rounding
    largest = float(np.max(np.abs(analytic), initial=0.0))
    if largest > 0 and np.all(allowed >= largest):
        raise AssertionError(f"{what}: rounding of the value swamps every difference (allowed "
                             f"error {np.min(allowed):.3g} >= the gradient's {largest:.3g}), so "
                             "nothing would be checked: give the edge a skip reason")
    bad = ~(np.abs(analytic - numeric) <= allowed)        # a NaN fails too
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(np.sum(bad))} of {bad.size} entries differ; at {first}: analytic "
            f"{analytic[first]!r}, central difference {numeric[first]!r}, allowed error "
            f"{allowed[first]:.3g} (rounding bound {rounding[first]:.3g})")
