"""SymPy functions that keep derivative formulas readable: Max and Min that stay lazy, and the
proof of the named functions ops translate to (sigmoid as σ, graphnn/ops/functions.py).

Written out, σ(x) = 1 / (1 + e^-x), and SymPy's derivative of a sigmoid network becomes a page
of exponentials. As a `sympy.Function` whose derivative is σ (1 - σ), SymPy's chain rule yields
`x0*σ(z)*(1 - σ(z))` instead, and exact algebra on such formulas (expand, cancel) treats σ(z) as
one symbol. That this derivative is right is proven, not assumed: `check_ops` compares it with
`sympy.diff` of the exponential form (see `sigmoid_lemma`).
"""

from __future__ import annotations

import sympy

from graphnn.ops.functions import Sigmoid

__all__ = ["LazyMax", "LazyMin", "Sigmoid", "lazy_extremes", "sigmoid_lemma"]


class _Lazy:
    """Max and Min that keep their arguments as given when SymPy differentiates them.

    SymPy's derivative of Max(a, b, c) in a is Heaviside(a - Max(b, c)), and building Max(b, c)
    compares the arguments pairwise to drop dominated ones: with piecewise arguments (relu
    before max pooling) that takes seconds per derivative. These classes return the same
    formula with Max(b, c) left unevaluated. Built with evaluation (as SymPy rebuilds them when
    numbers are substituted) they return SymPy's own Max and Min: SymPy's evaluation compares
    the class with Max and Min by identity, so a subclass must not evaluate itself.
    """

    _base: type

    def __new__(cls, *args, evaluate: bool = True, **options):
        if evaluate:
            return cls._base(*args, **options)
        return super().__new__(cls, *args, evaluate=False, **options)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        # d Max / d a = H(a - Max(rest)), d Min / d a = H(Min(rest) - a), as SymPy's own
        others = self.args[:argindex - 1] + self.args[argindex:]
        rest = others[0] if len(others) == 1 else self.func(*others, evaluate=False)
        gap = self.args[argindex - 1] - rest
        return sympy.Heaviside(gap if isinstance(self, sympy.Max) else -gap)

    def _sympystr(self, printer) -> str:
        name = "Max" if isinstance(self, sympy.Max) else "Min"
        return f"{name}({', '.join(printer._print(a) for a in self.args)})"

    def _latex(self, printer, exp=None) -> str:
        text = printer._print_Max(self) if isinstance(self, sympy.Max) else \
            printer._print_Min(self)
        return text if exp is None else rf"{text}^{{{exp}}}"

    def _pretty(self, printer):
        name = "Max" if isinstance(self, sympy.Max) else "Min"
        return printer._print_Function(self, func_name=name)


class LazyMax(_Lazy, sympy.Max):
    """sympy.Max whose derivative leaves the remaining arguments' Max unevaluated."""

    _base = sympy.Max


class LazyMin(_Lazy, sympy.Min):
    """sympy.Min whose derivative leaves the remaining arguments' Min unevaluated."""

    _base = sympy.Min


def lazy_extremes(expr, cache: dict | None = None):
    """expr with every Max and Min replaced by LazyMax and LazyMin (same value, same formula).

    Each distinct subexpression is visited once; pass the same `cache` for many expressions.

    >>> x, y, z = sympy.symbols("x y z", real=True)
    >>> lazy = lazy_extremes(sympy.Max(x, y, z))
    >>> sympy.diff(lazy, x), lazy.xreplace({x: 1, y: 3, z: 2})
    (Heaviside(x - Max(y, z)), 3)
    """
    if not isinstance(expr, sympy.Basic):
        return expr
    cache = {} if cache is None else cache
    return _lazy(expr, cache)


_SWAP = {sympy.Max: LazyMax, sympy.Min: LazyMin}


def _lazy(expr: sympy.Basic, cache: dict) -> sympy.Basic:
    found = cache.get(expr)
    if found is not None:
        return found
    if not expr.args:
        result = expr
    else:
        args = [_lazy(a, cache) for a in expr.args]
        if type(expr) in _SWAP:
            result = _SWAP[type(expr)](*args, evaluate=False)
        elif any(new is not old for new, old in zip(args, expr.args)):
            result = expr.func(*args)
        else:
            result = expr
    cache[expr] = result
    return result


def sigmoid_lemma() -> sympy.Expr:
    """d/dx of 1 / (1 + e^-x), minus Sigmoid's own derivative, simplified: 0 when σ is right.

    >>> sigmoid_lemma()
    0
    """
    x = sympy.Symbol("x", real=True)
    exact = sympy.diff(1 / (1 + sympy.exp(-x)), x)
    claimed = sympy.diff(Sigmoid(x), x).rewrite(sympy.exp)
    return sympy.simplify(exact - claimed)
