"""Every scalar node kind, in f32 and f64, against NumPy on inputs with 0, -0, inf, NaN and ties."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops
from codegen.llvm.target import Target
from tests.codegen.support import NUMPY, compiled, elementwise
from tests.harness import cpu_levels

SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.5, -2.5, 1e30, -1e30, 1e-30, 3.0]


def sample(dtype: str, n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pairs covering specials against specials, exact ties and random values."""
    rng = np.random.default_rng(seed)
    special = np.array(SPECIAL)
    grid_x, grid_y = np.meshgrid(special, special)
    x = np.concatenate([grid_x.ravel(), rng.standard_normal(n) * 10])
    y = np.concatenate([grid_y.ravel(), rng.standard_normal(n) * 10])
    y[-8:] = x[-8:]  # exact ties
    return x.astype(NUMPY[dtype]), y.astype(NUMPY[dtype])


def run(name: str, dtype: str, arity: int, body, *arrays, out_dtype: str | None = None):
    kernel = elementwise(name, dtype, arrays[0].size, arity, body, out_dtype)
    return compiled(kernel)(*arrays[:arity])


EXACT_BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "fmax": (loops.fmax, np.maximum),
    "fmin": (loops.fmin, np.minimum),
}


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op", sorted(EXACT_BINARY))
def test_binary_ops_match_numpy_bit_for_bit(op, dtype):
    x, y = sample(dtype)
    body, reference = EXACT_BINARY[op]
    got = run(op, dtype, 2, body, x, y)
    with np.errstate(all="ignore"):
        expected = reference(x, y)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))  # -0.0 ties too


@pytest.mark.parametrize("cpu", cpu_levels())
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_muladd_is_fused_where_the_target_has_fma(dtype, cpu):
    """muladd(a, b, c) = a * b + c: one rounding with FMA (x86-64-v3 and up), the product
    rounded first without it (x86-64-v2); NaN and inf as IEEE arithmetic gives them. The
    first element tells the two apart: (1 + e)^2 - (1 + 2e) is e^2 exactly, which the rounded
    product (1 + 2e, the tie rounded to even) loses."""
    x, y = sample(dtype)
    c = (x[::-1] * 0.5).astype(NUMPY[dtype])
    e = 2.0 ** (-12 if dtype == "f32" else -27)
    x[0], y[0], c[0] = 1 + e, 1 + e, -(1 + 2 * e)
    kernel = elementwise(f"muladd_{dtype}", dtype, x.size, 3, loops.muladd)
    got = compiled(kernel, cpu=cpu)(x, y, c)
    assert got[0] == (e * e if "fma" in Target.named(cpu).enabled else 0.0)
    with np.errstate(all="ignore"):
        expected = x * y + c
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[1:], expected[1:], rtol=1e-6 if dtype == "f32" else 1e-15,
                               atol=float(np.finfo(NUMPY[dtype]).tiny))


def test_muladd_takes_floats_only():
    a = loops.Buffer("a", "i64", (4,))
    with pytest.raises(TypeError):
        loops.muladd(a[0], a[1], a[2])


EXACT_UNARY = {
    "neg": (lambda a: -a, np.negative),
    "abs": (loops.fabs, np.abs),
    "sqrt": (loops.sqrt, np.sqrt),
    "floor": (loops.floor, np.floor),
}


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op", sorted(EXACT_UNARY))
def test_exact_unary_ops(op, dtype):
    x, _ = sample(dtype)
    body, reference = EXACT_UNARY[op]
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(run(op, dtype, 1, body, x), reference(x))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op,reference", [("exp", np.exp), ("log", np.log), ("tanh", np.tanh)])
def test_math_ops_on_special_and_random_values(op, reference, dtype):
    x, _ = sample(dtype)
    got = run(op, dtype, 1, getattr(loops, op), x)
    with np.errstate(all="ignore"):
        expected = reference(x)
    # looser than 1e-6 for f32 only: a few float32 ulp (see test_mathlib for the sweeps)
    np.testing.assert_allclose(got, expected, rtol=3e-7 if dtype == "f32" else 1e-14, atol=0)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_pow_follows_c99_like_numpy(dtype):
    x, y = sample(dtype)
    x = np.concatenate([x, [-8.0, -2.0, 0.0, -0.0, 1.0, np.nan]]).astype(NUMPY[dtype])
    y = np.concatenate([y, [3.0, 0.5, -1.0, -3.0, np.nan, 0.0]]).astype(NUMPY[dtype])
    got = run("pow", dtype, 2, loops.power, x, y)
    with np.errstate(all="ignore"):
        expected = np.power(x, y)
    np.testing.assert_allclose(got, expected, rtol=2e-7 if dtype == "f32" else 1e-15, atol=0)


COMPARISONS = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
               "eq": np.equal, "ne": np.not_equal}


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op", sorted(COMPARISONS))
def test_comparisons_are_ieee_and_cast_to_one_or_zero(op, dtype):
    x, y = sample(dtype)
    compare = getattr(loops, op)
    got = run(op, dtype, 2, lambda a, b: loops.cast(compare(a, b), dtype), x, y)
    np.testing.assert_array_equal(got, COMPARISONS[op](x, y).astype(NUMPY[dtype]))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_select_builds_nan_propagating_masks(dtype):
    # heaviside-style mask: 1 where x > y, 0 where x <= y, NaN where either is NaN
    x, y = sample(dtype)

    def mask(a, b):
        unordered = loops.ne(a - b, a - b)  # NaN test (inf - inf is NaN too; fine here)
        return loops.select(unordered, float("nan"), loops.cast(loops.gt(a, b), dtype))

    got = run("mask", dtype, 2, mask, x, y)
    with np.errstate(all="ignore"):
        expected = np.where(np.isnan(x - y), np.nan, (x > y).astype(NUMPY[dtype]))
    np.testing.assert_array_equal(got, expected)


def test_casts_between_floats_ints_and_booleans():
    x = np.array([0.0, -0.0, 1.5, -1.5, 2.5e9, np.nan, np.inf, -np.inf, 1e300, -1e300])
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)  # 1e300 -> inf, as the kernel's fptrunc
    to_f32 = run("to_f32", "f64", 1, lambda a: loops.cast(a, "f32"), x, out_dtype="f32")
    np.testing.assert_array_equal(to_f32, x32)
    to_i64 = run("to_i64", "f64", 1, lambda a: loops.cast(a, "i64"), x, out_dtype="i64")
    limit = np.iinfo(np.int64)
    np.testing.assert_array_equal(to_i64, [0, 0, 1, -1, 2_500_000_000, 0, limit.max, limit.min,
                                           limit.max, limit.min])  # saturating, NaN -> 0
    truth = run("truth", "f64", 1, lambda a: loops.cast(loops.cast(a, "i1"), "f64"), x)
    np.testing.assert_array_equal(truth, [0, 0, 1, 1, 1, 1, 1, 1, 1, 1])  # nonzero or NaN
    back = run("i64_to_f64", "i64", 1, lambda a: loops.cast(a * 3, "f64"),
               np.arange(-5, 5, dtype=np.int64), out_dtype="f64")
    np.testing.assert_array_equal(back, np.arange(-5, 5) * 3.0)
    widened = run("f32_to_f64", "f32", 1, lambda a: loops.cast(a, "f64"), x32, out_dtype="f64")
    np.testing.assert_array_equal(widened, x32.astype(np.float64))


def test_integer_index_arithmetic_floors_like_python():
    n = 40
    out = loops.Buffer("out", "i64", (n, 6))
    def row(i):
        v = i - 20
        values = [v // 3, v % 3, v // 7 * 7 + v % 7, loops.fmax(v, 2), loops.fmin(v, -3), -v]
        return [loops.store(out, (i, c), e) for c, e in enumerate(values)]

    kernel = loops.Kernel("integers", [], [out], body=[loops.loop(n, row)])
    got = compiled(kernel)()
    v = np.arange(n) - 20
    expected = np.stack([v // 3, v % 3, v, np.maximum(v, 2), np.minimum(v, -3), -v], axis=1)
    np.testing.assert_array_equal(got, expected)


def test_memoized_loads_never_return_stale_values():
    n = 16
    x = loops.Buffer("x", "f64", (n,))
    t = loops.Buffer("t", "f64", (n,))
    running = loops.Buffer("running", "f64", (1,))
    out = loops.Buffer("out", "f64", (n,))
    prefix = loops.Buffer("prefix", "f64", (n,))
    body = [
        loops.store(running, 0, 0.0),
        loops.loop(n, lambda i: [
            loops.store(t, i, x[i]),
            loops.store(t, i, t[i] * 2.0),  # reads the value just stored
            loops.store(out, i, t[i] + t[i]),  # and the next one: 4x
            loops.accumulate(running, 0, x[i]),
            loops.store(prefix, i, running[0]),  # running[0] changes every iteration
        ]),
    ]
    kernel = loops.Kernel("stale", [x], [out, prefix], [t, running], body)
    values = np.arange(1.0, n + 1)
    got, got_prefix = compiled(kernel)(values)
    np.testing.assert_array_equal(got, 4 * values)
    np.testing.assert_array_equal(got_prefix, np.cumsum(values))


def test_sequential_top_level_stores_to_the_same_element():
    out = loops.Buffer("out", "f64", (2,))
    t = loops.Buffer("t", "f64", (1,))
    body = [loops.store(t, 0, 1.0), loops.store(out, 0, t[0] + 0.0),
            loops.store(t, 0, 2.0), loops.store(out, 1, t[0] + 0.0)]
    np.testing.assert_array_equal(compiled(loops.Kernel("seq", [], [out], [t], body))(), [1, 2])


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_broadcast_and_transpose_copies(dtype):
    # out[i, j] = x[j, i] + b[j]: a transpose plus a broadcast bias, as lowering emits them
    x = loops.Buffer("x", dtype, (5, 3))
    b = loops.Buffer("b", dtype, (5,))
    out = loops.Buffer("out", dtype, (3, 5))
    nest = loops.loop_nest((3, 5), lambda i, j: loops.store(out, (i, j), x[j, i] + b[j]))
    kernel = loops.Kernel("transpose_bias", [x, b], [out], body=[nest])
    rng = np.random.default_rng(1)
    xs, bs = (rng.standard_normal(s).astype(NUMPY[dtype]) for s in ((5, 3), (5,)))
    np.testing.assert_array_equal(compiled(kernel)(xs, bs), xs.T + bs)


def test_zero_dimensional_buffers_and_empty_loops():
    s = loops.Buffer("s", "f64", ())
    out = loops.Buffer("out", "f64", ())
    empty = loops.Buffer("empty", "f64", (0,))
    body = [loops.store(out, (), s[()] * 3.0), loops.loop(0, lambda i: loops.store(empty, i, 1.0))]
    kernel = loops.Kernel("scalar", [s], [out, empty], body=body)
    got, nothing = compiled(kernel)(np.array(2.0))
    assert got.shape == () and got == 6.0 and nothing.shape == (0,)
