"""Per-op tests generated from the op registry and the case table (tests/ops/cases.py).

For every op: the case table covers it; values match an independent reference (or numpy's);
float32 agrees with float64; composite expansions match the op's reference; the vjp rule
matches central differences, at random points and at edge values; gradients of gradients match
central differences of the gradient; the SymPy form agrees numerically with the reference; the
docstring example runs.
"""

from __future__ import annotations

import doctest
import inspect

import numpy as np
import pytest
import sympy

import graphnn as gn
from graphnn.ir import REGISTRY
from tests.ops.cases import CASES, MULTILINEAR, all_cases, differentiable, edge_arrays
from tests.ops.differences import assert_gradient_close, differentiate
from tests.ops.edges import gradient_skips
from tests.support import assert_same, central_difference, feed_for, inputs_for

SOURCES = {"input", "constant"}
ROWS = all_cases()
IDS = [f"{name}-{k}{'-' + case.label if case.label else ''}" for name, k, case in ROWS]


def test_every_op_has_a_case():
    assert set(REGISTRY) - SOURCES == set(CASES), "ops without a case row (or rows for no op)"


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - SOURCES))
def test_op_declares_every_facet(name):
    op = REGISTRY[name]
    assert op.reference is not None and op.doc.strip()
    assert op.to_sympy is not None or op.composite
    assert op.symbol, f"{name} has no drawing symbol"
    assert len(op.derivative) == op.arity and all(op.derivative)


def _build(name, case, dtype="float64"):
    nodes = inputs_for(case.shapes, dtype, dtypes=case.dtypes)
    return nodes, gn.apply(name, *nodes, **case.attrs)


def _differentiable(name, case):
    """A float result and float operands to differentiate (ints and bools have no gradient)."""
    return differentiable(case, _build(name, case)[1].dtype)


def assert_values(value, expected, what, **tolerance):
    """Floats within tolerance (NaN equal to NaN); int and bool results exactly."""
    if np.asarray(value).dtype.kind in "iub":
        np.testing.assert_array_equal(value, expected, err_msg=what)
    else:
        assert_same(value, expected, what=what, **tolerance)


def _reference(name, node, arrays):
    return REGISTRY[name].reference(*arrays, **node.attrs)


@pytest.mark.parametrize("name,k,case", ROWS, ids=IDS)
def test_value_matches_reference(name, k, case):
    arrays = case.draw(np.random.default_rng(k))
    nodes, out = _build(name, case)
    value = gn.evaluate(out, feed_for(nodes, arrays))
    assert value.shape == out.shape and value.dtype == np.dtype(out.dtype)
    expected = case.expected(*arrays, **out.attrs) if case.expected else \
        _reference(name, out, arrays)
    assert_values(value, expected, rtol=1e-10, atol=1e-12, what=name)


@pytest.mark.parametrize("name,k,case", ROWS, ids=IDS)
def test_float32_matches_float64(name, k, case):
    arrays = case.draw(np.random.default_rng(k))
    nodes32, out32 = _build(name, case, "float32")
    nodes64, out64 = _build(name, case)
    value32 = gn.evaluate(out32, feed_for(nodes32, arrays))
    value64 = gn.evaluate(out64, feed_for(nodes64, [
        np.float32(a).astype(float) if case.dtype_of(k) is None else a
        for k, a in enumerate(arrays)]))
    assert value32.dtype == np.dtype(out32.dtype)
    if out64.dtype == "float64" and "dtype" not in dict(REGISTRY[name].params):
        assert out32.dtype == "float32"
    if out64.dtype in ("int32", "int64") and case.floats():
        return       # float32 rounding moves values across an integer's boundary (cast, argmax)
    assert_values(value32, value64, rtol=2e-5, atol=1e-6, what=name)


@pytest.mark.parametrize("name,k,case", [r for r in ROWS if REGISTRY[r[0]].composite],
                         ids=[i for i, r in zip(IDS, ROWS) if REGISTRY[r[0]].composite])
def test_expansion_matches_reference(name, k, case):
    for point in [case.draw(np.random.default_rng(k))] + [_edge_arrays(case, edge)
                                                           for edge in case.edges]:
        nodes = inputs_for([a.shape for a in point], dtypes=case.dtypes)
        out = gn.apply(name, *nodes, **case.attrs)
        feed = feed_for(nodes, point)
        assert_values(gn.evaluate(out.expansion(), feed), gn.evaluate(out, feed),
                      rtol=1e-12, atol=1e-14, what=f"{name} expansion")


_edge_arrays = edge_arrays


def _gradient_check(name, case, arrays, seed, wrt=None):
    """Analytic vjp (gn.grad of sum(G * op)) against central differences of the reference."""
    nodes = inputs_for([a.shape for a in arrays], dtypes=case.dtypes)
    out = gn.apply(name, *nodes, **case.attrs)
    cotangent = np.random.default_rng(seed).normal(size=out.shape)
    wrt = wrt if wrt is not None else _wrt(case)
    grads = gn.grad(gn.sum(out * cotangent), [nodes[i] for i in wrt])
    values = gn.evaluate(gn.Graph(grads, nodes), feed_for(nodes, arrays))   # all the operands

    def value(point):
        return REGISTRY[name].reference(*point, **out.attrs)

    for i, analytic in zip(wrt, values):
        numeric, rounding = differentiate(value, arrays, i, cotangent, case.step,
                                          quadratic=name in MULTILINEAR)
        assert_gradient_close(analytic, numeric, rounding, case.rtol,
                              what=f"d {name} / d {_names(name, arrays)[i]}")


def _names(name, operands):
    """The op's input names for these operands (a variadic op's numbered: xs0, xs1, ...)."""
    return REGISTRY[name].input_names(len(operands))


def _wrt(case):
    return tuple(case.wrt if case.wrt is not None else range(len(case.shapes)))


GRADIENT_ROWS = [(n, k, c) for n, k, c in ROWS if _differentiable(n, c)]


@pytest.mark.parametrize("name,k,case", GRADIENT_ROWS,
                         ids=[i for i, r in zip(IDS, ROWS) if _differentiable(r[0], r[2])])
def test_vjp_matches_central_differences(name, k, case):
    _gradient_check(name, case, case.draw(np.random.default_rng(k)), seed=k)


EDGE_ROWS = [(n, k, c) for n, k, c in ROWS if c.edges]


@pytest.mark.parametrize("name,k,case", EDGE_ROWS, ids=[f"{n}-{k}" for n, k, _ in EDGE_ROWS])
def test_edge_values(name, k, case):
    for edge in case.edges:
        arrays = _edge_arrays(case, edge)
        nodes = inputs_for([a.shape for a in arrays], dtypes=case.dtypes)
        out = gn.apply(name, *nodes, **case.attrs)
        value = gn.evaluate(out, feed_for(nodes, arrays))
        with np.errstate(all="ignore"):
            expected = case.expected(*arrays, **out.attrs) if case.expected else \
                _reference(name, out, arrays)
        assert_values(value, expected, what=f"{name} at {edge}")


def _edge_skips(name, case, edge):
    """The operands whose gradient is checked at this edge, and why the others are not."""
    inputs = _names(name, case.shapes)
    skips = gradient_skips(edge, _edge_arrays(case, edge), [inputs[i] for i in _wrt(case)])
    return [i for i in _wrt(case) if inputs[i] not in skips], skips


EDGE_POINTS = [(n, k, e, c) for n, k, c in EDGE_ROWS for e in range(len(c.edges))
               if _differentiable(n, c)]


@pytest.mark.parametrize("name,k,e,case", EDGE_POINTS,
                         ids=[f"{n}-{k}-edge{e}" for n, k, e, _ in EDGE_POINTS])
def test_vjp_matches_central_differences_at_edges(name, k, e, case):
    """At every edge value, except for operands whose edge gives a reason (tests/ops/edges.py):
    a kink where the convention differs from central differences, a pole, an overflow, NaN."""
    edge = case.edges[e]
    wrt, skips = _edge_skips(name, case, edge)
    if not wrt:
        pytest.skip("; ".join(sorted(set(skips.values()))))
    _gradient_check(name, case, _edge_arrays(case, edge), seed=k, wrt=wrt)


def test_every_op_gradient_is_checked_at_large_and_small_edges():
    """Each op has an edge, checked, with an operand entry of magnitude >= 1e3 (bounded
    operands excepted) and one with an entry that is 0 or of magnitude <= 1e-3."""
    bounded = {"binary_cross_entropy": "probabilities lie in (0, 1)"}
    large, small = set(), set()
    for name, _, e, case in EDGE_POINTS:
        if _edge_skips(name, case, case.edges[e])[0]:
            magnitude = np.abs(np.concatenate([a.ravel() for a in _edge_arrays(
                case, case.edges[e])]))
            if np.max(magnitude) >= 1e3:
                large.add(name)
            if np.min(magnitude) <= 1e-3:
                small.add(name)
    differentiable = {n for n, _, c in ROWS if _differentiable(n, c)}
    assert differentiable - large - set(bounded) == set(), \
        "ops never checked at large magnitudes"
    assert differentiable - small == set(), "ops never checked near zero"


SECOND_ORDER = [(n, k, c) for n, k, c in ROWS if (k == 0 and REGISTRY[n].vjp is not None
                or REGISTRY[n].composite and k == 0) and _differentiable(n, c)]


@pytest.mark.parametrize("name,k,case", SECOND_ORDER, ids=[n for n, _, _ in SECOND_ORDER])
def test_gradient_of_gradient(name, k, case):
    """Hessian-vector products from differentiating the gradient graph, against central
    differences of the gradient graph's own value."""
    arrays = case.draw(np.random.default_rng(100 + k))
    nodes = inputs_for([a.shape for a in arrays], dtypes=case.dtypes)
    rng = np.random.default_rng(7)
    out = gn.apply(name, *nodes, **case.attrs)
    wrt = list(case.wrt if case.wrt is not None else range(len(nodes)))
    first = gn.grad(gn.sum(out * rng.normal(size=out.shape)), [nodes[i] for i in wrt])
    h = sum(gn.sum(d * rng.normal(size=d.shape)) for d in first)
    second = gn.grad(h, [nodes[i] for i in wrt])
    values = gn.evaluate(gn.Graph(second, nodes), feed_for(nodes, arrays))
    for i, value in zip(wrt, values):
        numeric = central_difference(
            lambda p: float(gn.evaluate(gn.Graph(h, nodes), feed_for(nodes, p))[0]), arrays, i)
        scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
        assert_same(value, numeric, rtol=1e-4, atol=1e-6 * scale,
                    what=f"d² {name} / d {_names(name, arrays)[i]}²")


def _sympy_value(op, arrays, attrs):
    arrays = [a.astype(float) if a.dtype.kind in "iub" else a for a in arrays]
    if op.elementwise:
        scalar = np.frompyfunc(lambda *xs: op.to_sympy(*xs, **attrs), len(arrays), 1)
        result = scalar(*[np.vectorize(sympy.Float, otypes=[object])(a) for a in arrays])
    else:
        result = op.to_sympy(*[np.vectorize(sympy.Float, otypes=[object])(a) if a.ndim else
                               np.array(sympy.Float(float(a)), dtype=object) for a in arrays],
                             **attrs)
    return np.vectorize(lambda e: float(sympy.N(e)), otypes=[float])(
        np.asarray(result, dtype=object))


SYMPY_ROWS = [(n, k, c) for n, k, c in ROWS if k == 0]


@pytest.mark.parametrize("name,k,case", SYMPY_ROWS, ids=[n for n, _, _ in SYMPY_ROWS])
def test_sympy_form_matches_reference(name, k, case):
    op = REGISTRY[name]
    arrays = case.draw(np.random.default_rng(k))
    _, out = _build(name, case)
    value = _sympy_value(op, arrays, out.attrs)
    expected = gn.evaluate(out, feed_for(inputs_for(case.shapes, dtypes=case.dtypes), arrays))
    assert_same(value, expected.astype(float), rtol=1e-10, atol=1e-12, what=f"{name} SymPy form")


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - SOURCES))
def test_docstring_example_runs(name):
    doc = inspect.cleandoc(REGISTRY[name].doc)
    assert ">>>" in doc, f"{name}'s docstring has no example"
    test = doctest.DocTestParser().get_doctest(doc, {"gn": gn, "np": np}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{name}'s docstring example fails"
