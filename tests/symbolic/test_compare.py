"""graphnn.symbolic.compare: simplification, rational points, counterexamples, time boxes."""

from __future__ import annotations

import time

import pytest
import sympy

from graphnn.symbolic.compare import (
    TimeUp,
    compare_at_points,
    decide,
    rational_points,
    simplifies_to_zero,
    time_box,
)
from graphnn.symbolic.exprs import small, substitute
from graphnn.symbolic.functions import LazyMax, LazyMin, Sigmoid, lazy_extremes, sigmoid_lemma

x, y = sympy.symbols("x y", real=True)


def test_identities_are_proven_by_simplification():
    assert decide(sympy.diff(sympy.tanh(x), x), 1 - sympy.tanh(x) ** 2, []).method == "simplify"
    # relu's derivative against step: equal everywhere, x = 0 included
    relu = sympy.Piecewise((x, x > 0), (0, True))
    assert simplifies_to_zero(sympy.diff(relu, x) - sympy.Heaviside(x, 0))
    # but not against the max gate's Heaviside(0) = 1/2: they differ at the kink
    assert not simplifies_to_zero(sympy.diff(relu, x) - sympy.Heaviside(x))


def test_almost_everywhere_identities_fall_back_to_rational_points():
    points = rational_points([x], 3)
    decision = decide(sympy.DiracDelta(x), sympy.S.Zero, points)
    assert (decision.equal, decision.method) == (True, "rational points")
    assert decision.detail == "equal at 3 rational points"


def test_a_difference_is_reported_with_its_counterexample():
    points = rational_points([x, y], 2, seed=5)
    decision = decide(Sigmoid(x) * (1 - Sigmoid(x)), Sigmoid(x), points)
    assert decision.equal is False and decision.method == "rational points"
    first = ", ".join(f"{s} = {v}" for s, v in points[0].items())
    assert decision.detail.startswith(f"at {first}: SymPy 0.")


def test_points_where_either_side_is_undefined_are_skipped():
    points = [{x: sympy.S.Zero}, {x: sympy.Rational(1, 3)}]
    decision = compare_at_points(1 / x, 1 / x + 0 * x, points)
    assert decision.equal and decision.detail == "equal at 1 rational points"
    nowhere = compare_at_points(1 / x, 2 / x, [{x: sympy.S.Zero}])
    assert nowhere.equal is None and "undefined" in nowhere.detail


def test_rational_points_are_distinct_nonzero_and_in_their_domains():
    symbols = sympy.symbols("a0:12", real=True)
    domains = {symbols[0]: (0.0, 1.0)}
    for point in rational_points(symbols, 5, seed=2, domains=domains):
        values = list(point.values())
        assert len(set(values)) == len(values) and 0 not in values
        assert 0 < point[symbols[0]] < 1
        assert all(-3 < v < 3 and (v.q == 1 or 11 <= v.q <= 89) for v in values)


def test_exact_rationals_are_compared_exactly():
    third = sympy.Rational(1, 3)
    assert compare_at_points(x, x + sympy.Rational(1, 10 ** 50), [{x: third}]).equal is False


def test_the_time_box_stops_a_runaway_computation():
    start = time.perf_counter()
    with pytest.raises(TimeUp), time_box(0.05):
        while True:
            pass
    assert time.perf_counter() - start < 1.0


def test_sigmoids_derivative_is_that_of_its_exponential_form():
    assert sigmoid_lemma() == 0
    assert Sigmoid(0) == sympy.S.Half and Sigmoid(sympy.oo) == 1
    assert abs(Sigmoid(sympy.Rational(1, 3)).evalf(30) - 1 / (1 + sympy.exp(-sympy.S(1) / 3))
               ).evalf(30) < 1e-29
    assert sympy.latex(Sigmoid(x)) == r"\sigma\left(x\right)" and str(Sigmoid(x)) == "σ(x)"


def test_lazy_extremes_differentiate_as_sympy_and_evaluate_on_numbers():
    z = sympy.Symbol("z", real=True)
    for extreme, lazy in ((sympy.Max, LazyMax), (sympy.Min, LazyMin)):
        ours = sympy.diff(lazy_extremes(extreme(x, y, z)), x)
        theirs = sympy.diff(extreme(x, y, z), x)
        point = {x: sympy.Rational(1, 3), y: sympy.Rational(1, 5), z: sympy.Rational(1, 7)}
        assert ours.xreplace(point) == theirs.xreplace(point)
        assert str(ours) == str(theirs)
        assert lazy(3, 1, 2) == extreme(3, 1, 2)        # built from numbers: SymPy's own
    assert sympy.diff(lazy_extremes(sympy.Max(x, y)), x) == sympy.Heaviside(x - y)


def test_substitute_visits_shared_subexpressions_once():
    # nested sigmoids share their arguments: a tree walk would visit 2^30 paths
    e = x
    for _ in range(30):
        e = Sigmoid(e) + Sigmoid(e) * y
    start = time.perf_counter()
    value = substitute(e, {x: sympy.Integer(0), y: sympy.Integer(0)})
    assert time.perf_counter() - start < 1.0 and value.is_number
    relu = sympy.Piecewise((x + y, x + y > 0), (0, True))
    kept = substitute(sympy.Max(relu, x, evaluate=False), {y: sympy.Integer(1)})
    assert isinstance(kept, sympy.Max) and len(kept.args) == 2      # not evaluated: symbolic
    assert small(x + y, 1) and not small(e, 50)
