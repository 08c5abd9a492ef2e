"""Accuracy of the IR's log1p, erf, Φ (normal_cdf), softplus, sin and cos (codegen.llvm.mathlib,
special, trig) against 120-bit mpmath or long-double NumPy, for this CPU and for each x86-64
level it runs (vector widths, FMA or not). Their exact special values (and ceil's and
roundeven's) are in test_mathlib.py's table.

The bounds are the contract stated in docs/loop-ir.md (measured maxima, rounded up). Φ is
checked against mpmath, not scipy.special.ndtr: ndtr(x) = erfc(-x/√2)/2 rounds x/√2 first and
loses up to a thousand ulp in the left tail, which Φ here does not.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from tests.codegen.support import NUMPY, compiled
from tests.codegen.support import unary_kernel as kernel

N = 4000
EPS = {"f32": 2.0 ** -23, "f64": 2.0 ** -52}
ULPS = {"log1p": 1.5, "erf": 2.5, "normal_cdf": 4.0, "softplus": 2.5, "sin": 1.5, "cos": 1.5}


def _mp(function):
    def reference(x: np.ndarray) -> np.ndarray:
        with mpmath.workprec(120):
            return np.array([float(function(mpmath.mpf(float(v)))) for v in x])
    return reference


def _long(function):
    return lambda x: function(x.astype(np.longdouble))


REFERENCE = {"log1p": _long(np.log1p), "erf": _mp(mpmath.erf), "normal_cdf": _mp(mpmath.ncdf),
             "softplus": _mp(lambda v: mpmath.log1p(mpmath.exp(v))),
             "sin": _long(np.sin), "cos": _long(np.cos)}


def uniform(low: float, high: float) -> np.ndarray:
    return np.random.default_rng(0).uniform(low, high, N)


SWEEPS = {
    "log1p": {"dense": lambda d: uniform(-0.999, 10), "tiny": lambda d: uniform(-1e-3, 1e-3),
              "decades": lambda d: 10 ** uniform(-30, 30)},
    "erf": {"dense": lambda d: uniform(-6, 6), "head": lambda d: uniform(-1.3, 1.3),
            "tiny": lambda d: uniform(-1e-4, 1e-4)},
    "normal_cdf": {"dense": lambda d: uniform(-8, 8),
                   "head to tail": lambda d: uniform(-1.5, 1.5),     # both dtypes' switches
                   "left tail": lambda d: uniform(-13, -3) if d == "f32" else uniform(-37.5, -3)},
    "softplus": {"dense": lambda d: uniform(-20, 20), "near 0": lambda d: uniform(-1, 1),
                 "left tail": lambda d: uniform(-100, -20) if d == "f32" else uniform(-740, -20),
                 "large": lambda d: uniform(20, 1e4)},
    "sin": {"dense": lambda d: uniform(-10, 10), "medium": lambda d: uniform(-1e6, 1e6),
            "huge": lambda d: uniform(-1e30, 1e30)},
    "cos": {"dense": lambda d: uniform(-10, 10), "medium": lambda d: uniform(-1e6, 1e6),
            "huge": lambda d: uniform(-1e30, 1e30)},
}
CASES = [(op, region) for op in SWEEPS for region in SWEEPS[op]]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op,region", CASES, ids=[f"{o}-{r}" for o, r in CASES])
def test_accuracy_sweep(op, region, dtype, cpu):
    x = SWEEPS[op][region](dtype).astype(NUMPY[dtype])
    got = compiled(kernel(op, dtype, x.size), cpu=cpu)(x).astype(np.float64)
    reference = np.asarray(REFERENCE[op](x), dtype=np.float64)
    normal = np.abs(reference) >= np.finfo(NUMPY[dtype]).tiny
    ulps = np.abs(got - reference)[normal] / np.abs(reference[normal]) / EPS[dtype]
    assert ulps.max() <= ULPS[op], f"{op} {dtype} {region}: {ulps.max():.3g} ulp"


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op", ["sin", "erf", "log1p"])
def test_odd_functions_of_subnormals_are_near_the_input(op, dtype, cpu):
    # sin(x) = x and log1p(x) = x to all digits; erf(x) = 2x/√π
    x = np.array([1, 3, -7, 1000], dtype=NUMPY[dtype]) * np.finfo(NUMPY[dtype]).smallest_subnormal
    scale = 2 / np.sqrt(np.pi) if op == "erf" else 1.0
    got = compiled(kernel(op, dtype, x.size), cpu=cpu)(x)
    tiny = np.finfo(NUMPY[dtype]).smallest_subnormal
    np.testing.assert_allclose(got, x * scale, rtol=0, atol=tiny)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_normal_cdf_deep_in_the_left_tail_is_within_a_subnormal_spacing(dtype, cpu):
    # subnormal results, down to 0 (Φ(-38.6) rounds to 0 in f64, Φ(-14.3) in f32)
    low, high = (-14.4, -13.0) if dtype == "f32" else (-38.7, -37.6)
    x = uniform(low, high).astype(NUMPY[dtype])
    got = compiled(kernel("normal_cdf", dtype, x.size), cpu=cpu)(x).astype(np.float64)
    reference = REFERENCE["normal_cdf"](x)
    spacing = np.finfo(NUMPY[dtype]).smallest_subnormal
    assert np.abs(got - reference).max() <= 1.5 * spacing
    assert np.all(got[x < low + 0.1] == 0.0)
