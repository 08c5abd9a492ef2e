"""Every op compiled to native code agrees with the NumPy reference, in float64 and float32,
at random points and at the edge values of the case table (NaN, inf, ties, broadcasting), and
so do the gradient graphs each op's rule builds. Generated from the op registry's case table.

Tolerances: float64 results within 1e-12 relative (plus 1e-13 times the operands' magnitude,
for sums the compiler may reassociate); float32 within 2e-6 relative (a few ulp: polynomial
exp/log/tanh and reassociated sums). Ops whose every result element is accurate relative to
itself (elementwise ops, softmax, log_softmax) get no magnitude term, only one subnormal unit:
a result that underflows to 0 where the reference keeps a subnormal (sigmoid(-90) in float32)
fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import graphnn as gn
from graphnn.compiler import compile
from graphnn.ir import REGISTRY
from tests.ops.cases import all_cases, differentiable, edge_arrays
from tests.support import feed_for, inputs_for

ROWS = all_cases()
IDS = [f"{name}-{k}{'-' + case.label if case.label else ''}" for name, k, case in ROWS]
TOLERANCE = {"float64": (1e-12, 1e-13), "float32": (2e-6, 2e-6)}
def _relative(name, case) -> bool:
    """Every result element accurate relative to itself: elementwise ops, and rows that say so
    (Case.relative: softmax, log_softmax)."""
    return REGISTRY[name].elementwise or case.relative


def _atol_scale(relative: bool, point, dtype) -> float:
    """What the absolute tolerance is multiplied by: the operands' magnitude squared for sums
    of products; for relative ones (`_relative`) a factor making it one subnormal unit of the
    dtype."""
    if relative:
        return float(np.finfo(dtype).smallest_subnormal) / TOLERANCE[dtype][1]
    return magnitude(point) ** 2


def assert_matches(got, want, dtype, scale, what):
    if np.asarray(want).dtype.kind in "iub":       # int and bool results: exactly
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    rtol, atol = TOLERANCE[dtype]
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, equal_nan=True,
                               err_msg=what)


def points_of(case, k):
    points = [case.draw(np.random.default_rng(k))]
    return points + [edge_arrays(case, edge) for edge in case.edges]


def _check(outputs_for, name, case, k, dtype, relative=False):
    for point in points_of(case, k):
        nodes = inputs_for([p.shape for p in point], dtype, dtypes=case.dtypes)
        outputs = outputs_for(nodes)
        feed = feed_for(nodes, point)
        with np.errstate(all="ignore"):
            want = gn.evaluate(gn.Graph(outputs, nodes), feed)
        got = compile(outputs, nodes)(*feed.values())
        scale = _atol_scale(relative and _relative(name, case), point, dtype)
        for g, w, node in zip(got, want, outputs):
            assert g.dtype == np.dtype(node.dtype)
            assert_matches(g, w, dtype, scale, f"{name} {dtype} at {point}")


def magnitude(point: list[np.ndarray]) -> float:
    """The operands' largest finite magnitude (at least 1, at most 1e6): the absolute error of
    sums of products of the operands scales with its square."""
    floats = [p for p in point if p.dtype.kind == "f"]
    return min(1e6, max([1.0] + [float(np.max(np.abs(p[np.isfinite(p)]), initial=0))
                                 for p in floats]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,k,case", ROWS, ids=IDS)
def test_op_value(name, k, case, dtype):
    _check(lambda nodes: [gn.apply(name, *nodes, **case.attrs)], name, case, k, dtype,
           relative=True)


def _gradient_row(name, k, case) -> bool:
    out = gn.apply(name, *inputs_for(case.shapes, dtypes=case.dtypes), **case.attrs)
    return k == 0 and differentiable(case, out.dtype)


@pytest.mark.parametrize("name,k,case", [r for r in ROWS if _gradient_row(*r)], ids=[
    i for i, r in zip(IDS, ROWS) if _gradient_row(*r)])
def test_op_gradient_graph(name, k, case):
    def outputs(nodes):
        out = gn.apply(name, *nodes, **case.attrs)
        weight = np.random.default_rng(3).normal(size=out.shape)
        wrt = [nodes[i] for i in (case.wrt if case.wrt is not None else range(len(nodes)))]
        return [out, *gn.grad(gn.sum(out * weight), wrt)]
    _check(outputs, name, case, k, "float64")


def test_every_op_lowers():
    lowered = {name for name, _, _ in ROWS}
    assert lowered == set(REGISTRY) - {"input", "constant"}


@pytest.mark.parametrize("dtype,x", [("float32", -88.8), ("float32", -90.0), ("float32", -100.0),
                                     ("float64", -710.0), ("float64", -740.0)])
def test_log_sigmoid_keeps_subnormal_sigmoid(dtype, x):
    # sigmoid(x) is subnormal here: 1 / (1 + e^-x) made it 0 and the log -inf
    node = gn.input("x", dtype=dtype)
    y = gn.log(gn.sigmoid(node))
    value = np.array(x, dtype=dtype)
    want = gn.evaluate(y, {"x": value})
    assert abs(want - x) < 0.05            # e^-100 in float32 is 26 subnormal units: 3 digits
    assert_matches(compile(y)(value), want, dtype, 1.0, f"log(sigmoid({x})) {dtype}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy_of_sigmoid_is_finite(dtype):
    z = gn.input("z", shape=(22,), dtype=dtype)
    t = gn.input("t", shape=(22,), dtype=dtype)
    loss = gn.binary_cross_entropy(gn.sigmoid(z), t)
    zv = np.linspace(-3, 3, 22).astype(dtype)
    zv[0] = -90.0                                   # sigmoid(-90) = 8.2e-40, subnormal in f32
    tv = np.ones(22, dtype=dtype)
    want = gn.evaluate(loss, {"z": zv, "t": tv})
    got = compile(loss)(zv, tv)
    exact = -np.mean(scipy.special.log_expit(zv.astype(float)))  # t = 1: -mean(log σ(z))
    np.testing.assert_allclose(want, exact, rtol=1e-6)
    assert_matches(got, want, dtype, 1.0, f"bce(sigmoid(z), t) {dtype}")
