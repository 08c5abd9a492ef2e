"""Deciding whether two SymPy expressions are equal: by simplification, else at rational points.

Stage: the SymPy bridge. Input: two expressions (SymPy's derivative and graphnn's gradient).
Output: a `Decision`: equal or not (or undecided) and the method that decided.

1. "simplify": the difference becomes 0 under exact rewriting: `expand`, then `cancel` for
   rational functions, then `simplify`; piecewise expressions (Heaviside, Max, relu's
   Piecewise) are first rewritten as one folded Piecewise. This proves the identity for every
   real value of the symbols, kinks included. Rewriting is skipped for differences above
   `SIMPLIFY_OPS` operations and stopped after `SIMPLIFY_SECONDS`: it can run for minutes.
2. "rational points": otherwise both sides are evaluated exactly at random rational points
   (pieces decided exactly, transcendental numbers to 60 digits). Equal values at every point
   decide "equal" almost everywhere; one differing point is a counterexample, reported.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from graphnn.symbolic.exprs import numeric, small, substitute

SIMPLIFY_OPS = 300          # above this many operations in a difference, skip rewriting
SIMPLIFY_SECONDS = 3.0      # and give up rewriting one difference after this long
DIGITS = 60                 # working precision for non-rational values at rational points
TOLERANCE = mpmath.mpf(10) ** -40        # relative; 20 digits of margin at 60 digits
DENOMINATORS = (11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89)
PIECEWISE = (sympy.Heaviside, sympy.Piecewise, sympy.Max, sympy.Min, sympy.sign, sympy.Abs,
             sympy.DiracDelta)

Point = dict[sympy.Symbol, sympy.Rational]


@dataclass(frozen=True)
class Decision:
    """The outcome of a comparison: equal (True, False, or None when undecided), by what."""

    equal: bool | None
    method: str             # "simplify", "rational points", or "" when undecided
    detail: str = ""


class TimeUp(Exception):
    """Raised inside SymPy when a rewriting runs past its time box."""


@contextlib.contextmanager
def time_box(seconds: float) -> Iterator[None]:
    """Interrupt the block with TimeUp after `seconds` (main thread on Unix; else unbounded).

    SymPy's rewritings are pure Python, so a timer signal can stop one that runs away; the
    size bounds keep that rare. An interval timer someone else has set is left alone.
    """
    usable = hasattr(signal, "setitimer") and \
        threading.current_thread() is threading.main_thread()
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    def stop(_signum, _frame):
        raise TimeUp

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _small(expr: sympy.Expr) -> bool:
    return small(expr, SIMPLIFY_OPS)


def _foldable(expr: sympy.Expr) -> bool:
    """Worth rewriting as one Piecewise: no Dirac delta (a distribution is never shown 0
    everywhere), and no Max or Min of more than two terms (folding those takes minutes)."""
    return not expr.has(sympy.DiracDelta) and all(
        len(m.args) <= 2 for m in expr.atoms(sympy.Max, sympy.Min))


def _zero_by_rewriting(difference: sympy.Expr) -> bool:
    if difference == 0:
        return True
    if not _small(difference):
        return False
    if difference.has(*PIECEWISE):
        if not _foldable(difference):
            return False
        # one Piecewise whose every piece simplifies to 0 holds everywhere, kinks included
        rewritten = difference.rewrite(sympy.Piecewise)
        folded = sympy.piecewise_fold(rewritten) if _small(rewritten) else rewritten
        return folded == 0 or (_small(folded) and sympy.simplify(folded) == 0)
    expanded = sympy.expand(difference)
    if expanded == 0 or sympy.cancel(expanded) == 0:
        return True
    return sympy.simplify(difference) == 0


# How SymPy's simplification routines fail on forms they do not handle: out of time, or
# raising (NotImplementedError is SymPy's own "no algorithm for this", e.g. in solvers).
SYMPY_GAVE_UP = (TimeUp, TypeError, ValueError, NotImplementedError, RecursionError)


def simplifies_to_zero(difference: sympy.Expr) -> bool:
    """True when exact rewriting turns `difference` into 0 (False means: not shown).

    >>> x = sympy.Symbol("x", real=True)
    >>> simplifies_to_zero(sympy.exp(x) / (1 + sympy.exp(x)) - 1 / (1 + sympy.exp(-x)))
    True
    """
    try:
        with time_box(SIMPLIFY_SECONDS):
            return _zero_by_rewriting(sympy.sympify(difference))
    except SYMPY_GAVE_UP:
        return False      # not shown here: the rational points decide


def rational_points(symbols: Iterable[sympy.Symbol], count: int, seed: int = 0,
                    domains: Mapping[sympy.Symbol, tuple[float, float]] | None = None
                    ) -> list[Point]:
    """`count` assignments of distinct, nonzero rationals p/q (q a prime from 11 to 89).

    Distinct values with large denominators keep the points off the kinks (x = 0, ties) of
    piecewise ops almost surely. `domains` gives (low, high) per symbol; default (-3, 3).

    >>> x = sympy.Symbol("x", real=True)
    >>> rational_points([x], 2, seed=1)
    [{x: -52/23}, {x: -92/41}]
    """
    rng = random.Random(seed)
    ordered = sorted(set(symbols), key=sympy.default_sort_key)
    points = []
    for _ in range(count):
        point: Point = {}
        used: set[sympy.Rational] = set()
        for symbol in ordered:
            low, high = (domains or {}).get(symbol, (-3.0, 3.0))
            while True:
                q = rng.choice(DENOMINATORS)
                value = sympy.Rational(rng.randint(int(low * q) + 1, int(high * q) - 1), q)
                if value != 0 and value not in used:
                    break
            used.add(value)
            point[symbol] = value
        points.append(point)
    return points


def value_at(expr: sympy.Expr, point: Point, cache: dict | None = None) -> Any:
    """expr at a point: an exact Rational if it is rational there, else an mpmath number at
    DIGITS digits; None where it is undefined. `cache` (one per point) lets expressions that
    share subexpressions evaluate them once."""
    cache = {} if cache is None else cache
    number = substitute(expr, point, cache.setdefault("exact", {}))
    if number.is_Rational:
        return number
    try:
        value = numeric(number, DIGITS, cache.setdefault("numeric", {}))
    except (ValueError, TypeError, ZeroDivisionError):
        return None          # undefined there: a pole, a complex comparison, a Dirac delta
    return value if mpmath.isfinite(value) else None


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, sympy.Rational) and isinstance(b, sympy.Rational):
        return a == b
    with mpmath.workdps(DIGITS):
        a, b = (mpmath.mpf(v.p) / v.q if isinstance(v, sympy.Rational) else v for v in (a, b))
        return bool(abs(a - b) <= TOLERANCE * max(1, abs(a), abs(b)))


def _show(value: Any) -> str:
    return str(value) if isinstance(value, sympy.Rational) else mpmath.nstr(value, 8)


def compare_at_points(a: sympy.Expr, b: sympy.Expr, points: list[Point],
                      caches: list[dict] | None = None) -> Decision:
    """Decide a == b from their values at the points (undefined points are skipped).
    `caches`, one dict per point, may be shared by many comparisons at the same points."""
    used = 0
    for point, cache in zip(points, caches or [{} for _ in points]):
        va, vb = value_at(a, point, cache), value_at(b, point, cache)
        if va is None or vb is None:
            continue
        used += 1
        if not _close(va, vb):
            where = ", ".join(f"{s} = {v}" for s, v in point.items())
            return Decision(False, "rational points",
                            f"at {where}: SymPy {_show(va)}, graphnn {_show(vb)}")
    if used == 0:
        return Decision(None, "", "undefined at every rational point tried")
    return Decision(True, "rational points", f"equal at {used} rational points")


def decide(a: sympy.Expr, b: sympy.Expr, points: list[Point],
           caches: list[dict] | None = None) -> Decision:
    """Is a == b? By simplification first, else at the rational points.

    >>> x = sympy.Symbol("x", real=True)
    >>> decide(sympy.diff(sympy.tanh(x), x), 1 - sympy.tanh(x) ** 2, []).method
    'simplify'
    >>> decide(sympy.DiracDelta(x), sympy.S.Zero, rational_points([x], 2)).method
    'rational points'
    """
    if simplifies_to_zero(a - b):
        return Decision(True, "simplify", "the difference simplifies to 0")
    return compare_at_points(a, b, points, caches)
