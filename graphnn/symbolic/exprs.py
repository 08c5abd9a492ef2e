"""Expression utilities that stay fast on graph-shaped SymPy expressions.

A graph's SymPy form shares subexpressions (a neuron's output feeds every later layer), and
SymPy's tree walks (`xreplace`, `count_ops`) visit a shared subexpression once per path to it,
which grows exponentially with depth. `substitute` walks each distinct subexpression once and
keeps what it found in a cache that may serve many expressions; `small` bounds a size without
walking the rest of a big expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mpmath
import sympy

from graphnn.ops.functions import Ceil, Floor, RoundHalfEven
from graphnn.symbolic.functions import Sigmoid


def substitute(expr: Any, mapping: Mapping[sympy.Basic, sympy.Basic],
               cache: dict | None = None) -> Any:
    """expr with every subexpression found in `mapping` replaced (like xreplace), rebuilding
    (and so evaluating) what changed. Pass the same `cache` for the same mapping.

    >>> x, y = sympy.symbols("x y", real=True)
    >>> substitute(sympy.Max(x, y) + sympy.exp(x), {x: sympy.Integer(2), y: sympy.Integer(3)})
    3 + exp(2)
    """
    cache = {} if cache is None else cache
    return _substitute(sympy.sympify(expr), mapping, cache)


def _substitute(expr: sympy.Basic, mapping: Mapping, cache: dict) -> sympy.Basic:
    found = cache.get(expr)
    if found is not None:
        return found
    if expr in mapping:
        result = mapping[expr]
    elif not expr.args:
        result = expr
    else:
        args = [_substitute(a, mapping, cache) for a in expr.args]
        changed = any(new is not old for new, old in zip(args, expr.args))
        result = _rebuild(expr, args) if changed else expr
    cache[expr] = result
    return result


def _rebuild(expr: sympy.Basic, args: list) -> sympy.Basic:
    # Max and Min compare symbolic arguments pairwise when built, which takes seconds with
    # piecewise ones: keep them unevaluated until every argument is a number
    if isinstance(expr, (sympy.Max, sympy.Min)) and not all(a.is_number for a in args):
        return type(expr)(*args, evaluate=False)
    return expr.func(*args)


def small(expr: Any, max_ops: int) -> bool:
    """True when expr has at most `max_ops` operations; stops early on big expressions.

    >>> x = sympy.Symbol("x")
    >>> small(x + 1, 1), small(x * (x + 1), 1)
    (True, False)
    """
    for count, _ in enumerate(sympy.preorder_traversal(expr)):
        if count > 4 * max_ops + 8:      # an operation has few arguments: far too big already
            return False
    return sympy.count_ops(expr) <= max_ops


# ---------------------------------------------------------------------------------------------
# Numbers: a number expression evaluated once per distinct subexpression, with mpmath.

def _heaviside(v: list) -> Any:
    at_zero = v[1] if len(v) > 1 else mpmath.mpf(0.5)       # SymPy's Heaviside(0) = 1/2
    return mpmath.mpf(1) if v[0] > 0 else mpmath.mpf(0) if v[0] < 0 else at_zero


_RULES: tuple[tuple[type, Any], ...] = (
    (sympy.Add, mpmath.fsum), (sympy.Mul, mpmath.fprod),
    (sympy.Pow, lambda v: mpmath.power(*v)), (sympy.exp, lambda v: mpmath.exp(v[0])),
    (sympy.log, lambda v: mpmath.log(v[0])), (sympy.tanh, lambda v: mpmath.tanh(v[0])),
    (sympy.Abs, lambda v: abs(v[0])), (sympy.sign, lambda v: mpmath.sign(v[0])),
    (Sigmoid, lambda v: 1 / (1 + mpmath.exp(-v[0]))),
    (sympy.sin, lambda v: mpmath.sin(v[0])), (sympy.cos, lambda v: mpmath.cos(v[0])),
    (sympy.erf, lambda v: mpmath.erf(v[0])), (Floor, lambda v: mpmath.floor(v[0])),
    (Ceil, lambda v: mpmath.ceil(v[0])), (RoundHalfEven, lambda v: mpmath.nint(v[0])),
    (sympy.Max, max), (sympy.Min, min), (sympy.Heaviside, _heaviside),
    (sympy.DiracDelta, lambda v: mpmath.mpf(0) if v[0] != 0 else None),
    (sympy.And, all), (sympy.Or, any), (sympy.Not, lambda v: not v[0]),
    (sympy.StrictGreaterThan, lambda v: v[0] > v[1]), (sympy.GreaterThan, lambda v: v[0] >= v[1]),
    (sympy.StrictLessThan, lambda v: v[0] < v[1]), (sympy.LessThan, lambda v: v[0] <= v[1]),
    (sympy.Equality, lambda v: v[0] == v[1]), (sympy.Unequality, lambda v: v[0] != v[1]),
)


def _evaluate(expr: sympy.Basic, v: list) -> Any:
    """One node's value from its arguments' values; SymPy's evalf for other functions."""
    for kind, rule in _RULES:
        if isinstance(expr, kind):
            return rule(v)
    return mpmath.mpmathify(complex(sympy.N(expr.func(*[_as_sympy(x) for x in v]),
                                            mpmath.mp.dps)))


def _as_sympy(value) -> sympy.Expr:
    return sympy.Float(value, mpmath.mp.dps) if isinstance(value, mpmath.mpf) else \
        sympy.sympify(complex(value))


def _leaf(expr: sympy.Basic) -> Any:
    if expr is sympy.true or expr is sympy.false:
        return bool(expr)
    if expr.is_Rational:
        return mpmath.mpf(expr.p) / expr.q
    if expr.is_number and expr.is_finite:
        value = sympy.N(expr, mpmath.mp.dps)        # π stays real (an mpf), as a Rational does
        return mpmath.mpf(value) if value.is_real else mpmath.mpmathify(complex(value))
    raise ValueError(f"not a finite number: {expr}")


def numeric(expr: sympy.Basic, digits: int, cache: dict) -> Any:
    """The value of a number expression with mpmath at `digits` digits, evaluating each distinct
    subexpression once (SymPy's evalf re-evaluates shared ones, exponentially in depth).
    Raises ValueError (or mpmath's errors) where the value is undefined.

    >>> mpmath.nstr(numeric(sympy.exp(sympy.Rational(1, 2)) + sympy.Max(1, sympy.S.Half), 20, {}),
    ...             20)
    '2.6487212707001281468'
    """
    with mpmath.workdps(digits):
        return _numeric(expr, cache)


def _numeric(expr: sympy.Basic, cache: dict) -> Any:
    if expr in cache:
        return cache[expr]
    if not expr.args or expr.is_Rational:
        value = _leaf(expr)
    elif isinstance(expr, sympy.Piecewise):
        # only the conditions up to the first true one, and that piece, are evaluated
        chosen = next((pair.expr for pair in expr.args if _numeric(pair.cond, cache)), None)
        value = None if chosen is None else _numeric(chosen, cache)
    else:
        value = _evaluate(expr, [_numeric(a, cache) for a in expr.args])
    if value is None:
        raise ValueError(f"undefined: {expr}")
    cache[expr] = value
    return value
