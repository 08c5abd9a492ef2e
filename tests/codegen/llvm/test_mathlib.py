"""Accuracy of the polynomial exp/expm1/log/tanh against long-double NumPy, plus exact special
values (of log1p, erf, Φ, sin, cos, ceil and roundeven too: their accuracy is test_special.py's),
for this CPU and for each x86-64 level it runs (vector widths, FMA or not).

Errors are relative for normal results and in units of the smallest subnormal below the normal
range. The bounds are the contract stated in docs/loop-ir.md (measured maxima, rounded up).
"""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops
from tests.codegen.support import NUMPY, assert_same_values, compiled, elementwise
from tests.codegen.support import unary_kernel as kernel

N = 200_000
RELATIVE = {  # looser than 1e-6 nowhere; f32 bounds are a few float32 ulp (2**-23 = 1.2e-7)
    ("exp", "f32"): 1.2e-7, ("log", "f32"): 1.2e-7, ("tanh", "f32"): 2e-7,
    ("exp", "f64"): 3e-16, ("log", "f64"): 3e-16, ("tanh", "f64"): 6e-16,
    ("expm1", "f32"): 2e-7, ("expm1", "f64"): 6e-16,
}
TINY = {"f32": np.finfo(np.float32), "f64": np.finfo(np.float64)}


def evaluate(op: str, dtype: str, x: np.ndarray, cpu: str) -> tuple[np.ndarray, np.ndarray]:
    x = x.astype(NUMPY[dtype])
    got = compiled(kernel(op, dtype, x.size), cpu=cpu)(x)
    with np.errstate(all="ignore"):
        reference = getattr(np, op)(x.astype(np.longdouble))
    return got, reference


def errors(dtype: str, got: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(max relative error on normal results, max error on subnormal results in subnormals)."""
    info = TINY[dtype]
    with np.errstate(all="ignore"):
        rounded = reference.astype(NUMPY[dtype])
    # where the correctly rounded result is inf or NaN, demand exactly that
    special = ~np.isfinite(rounded)
    np.testing.assert_array_equal(got[special], rounded[special])
    diff = np.abs(got.astype(np.longdouble) - reference)
    normal = ~special & (np.abs(reference) >= info.tiny)
    relative = diff[normal] / np.abs(reference[normal])
    subnormal = diff[~special & ~normal] / info.smallest_subnormal
    return (float(relative.max(initial=0)), float(subnormal.max(initial=0)))


def uniform(low: float, high: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, N)


SWEEPS = {
    "exp": {"dense": lambda d: uniform(-100, 100),
            "overflow edge": lambda d: uniform(80, 89) if d == "f32" else uniform(700, 710),
            "underflow edge": lambda d: uniform(-104, -85) if d == "f32" else uniform(-746, -700)},
    "expm1": {"dense": lambda d: uniform(-50, 88) if d == "f32" else uniform(-50, 709),
              "small": lambda d: uniform(-1, 1), "tiny": lambda d: uniform(-1e-3, 1e-3),
              "overflow edge": lambda d: uniform(80, 88.7) if d == "f32" else uniform(700, 709.7)},
    "log": {"all decades": lambda d: 10 ** (uniform(-38, 38) if d == "f32" else uniform(-307, 308)),
            "near one": lambda d: 1 + uniform(-1e-2, 1e-2),
            "subnormal": lambda d: uniform(1, 2.0 ** (23 if d == "f32" else 52))
            * TINY[d].smallest_subnormal},
    "tanh": {"dense": lambda d: uniform(-20, 20), "small": lambda d: uniform(-1, 1),
             "tiny": lambda d: uniform(-1e-3, 1e-3)},
}
CASES = [(op, region) for op in SWEEPS for region in SWEEPS[op]]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op,region", CASES, ids=[f"{o}-{r}" for o, r in CASES])
def test_accuracy_sweep(op, region, dtype, cpu):
    got, reference = evaluate(op, dtype, SWEEPS[op][region](dtype), cpu)
    relative, subnormal = errors(dtype, got, reference)
    assert relative <= RELATIVE[op, dtype], f"{op} {dtype} {region}: {relative:.3g}"
    assert subnormal <= 1.0, f"{op} {dtype} {region}: {subnormal} subnormal units"


INF, NAN = np.inf, np.nan
SPECIAL = {
    "exp": [(-INF, 0.0), (INF, INF), (NAN, NAN), (0.0, 1.0), (-0.0, 1.0), (1000.0, INF),
            (-1000.0, 0.0)],
    "expm1": [(-INF, -1.0), (INF, INF), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0), (1000.0, INF),
              (-1000.0, -1.0), (-40.0, -1.0), (1e-30, 1e-30), (-1e-30, -1e-30)],
    "log": [(0.0, -INF), (-0.0, -INF), (-1.0, NAN), (-INF, NAN), (INF, INF), (NAN, NAN),
            (1.0, 0.0)],
    "tanh": [(INF, 1.0), (-INF, -1.0), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0), (30.0, 1.0),
             (-30.0, -1.0), (1e-30, 1e-30), (-1e-30, -1e-30)],
    "log1p": [(0.0, 0.0), (-0.0, -0.0), (-1.0, -INF), (-2.0, NAN), (INF, INF), (-INF, NAN),
              (NAN, NAN), (1e-30, 1e-30)],
    "erf": [(0.0, 0.0), (-0.0, -0.0), (INF, 1.0), (-INF, -1.0), (NAN, NAN), (30.0, 1.0),
            (-30.0, -1.0)],
    "normal_cdf": [(0.0, 0.5), (-0.0, 0.5), (INF, 1.0), (-INF, 0.0), (NAN, NAN), (40.0, 1.0),
                   (-40.0, 0.0)],
    "softplus": [(0.0, np.log(2.0)), (-0.0, np.log(2.0)), (INF, INF), (-INF, 0.0), (NAN, NAN),
                 (1000.0, 1000.0), (-1000.0, 0.0)],
    "sin": [(0.0, 0.0), (-0.0, -0.0), (INF, NAN), (-INF, NAN), (NAN, NAN), (1e-30, 1e-30),
            (-1e-30, -1e-30)],
    "cos": [(0.0, 1.0), (-0.0, 1.0), (INF, NAN), (-INF, NAN), (NAN, NAN), (1e-30, 1.0)],
    "ceil": [(0.5, 1.0), (-0.5, -0.0), (-0.0, -0.0), (INF, INF), (NAN, NAN), (-2.0, -2.0)],
    "roundeven": [(0.5, 0.0), (1.5, 2.0), (2.5, 2.0), (-0.5, -0.0), (-1.5, -2.0), (INF, INF),
                  (-INF, -INF), (NAN, NAN), (2.0 ** 60 + 2.0 ** 8, 2.0 ** 60 + 2.0 ** 8)],
}


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op", sorted(SPECIAL))
def test_special_values_are_exact(op, dtype, cpu):
    x, expected = (np.array(v, dtype=NUMPY[dtype]) for v in zip(*SPECIAL[op], strict=True))
    assert_same_values(compiled(kernel(op, dtype, x.size), cpu=cpu)(x), expected)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_tanh_of_subnormals_is_the_input(dtype, cpu):
    x = np.array([1, 3, -7, 1000], dtype=NUMPY[dtype]) * TINY[dtype].smallest_subnormal
    np.testing.assert_array_equal(compiled(kernel("tanh", dtype, x.size), cpu=cpu)(x), x)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_sigmoid_saturates_without_nan(dtype, cpu):
    x = np.array([-INF, -1000.0, -100.0, 0.0, 100.0, 1000.0, INF], dtype=NUMPY[dtype])
    sigmoid = elementwise(f"sigmoid_{dtype}", dtype, x.size, 1,
                          lambda v: 1.0 / (1.0 + loops.exp(-v)))
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(compiled(sigmoid, cpu=cpu)(x), expected, rtol=2e-7, atol=0)
