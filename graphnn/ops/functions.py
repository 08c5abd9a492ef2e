"""Named SymPy functions that ops translate to: the logistic sigmoid σ (Symbolic.function), and
the rounding functions floor, ceil and round (their SymPy forms).

Imported on first use (graphnn.ops.activations reaches it through a LazyModule), like SymPy
itself. graphnn/symbolic/functions.py proves the derivative each one claims.
"""

from __future__ import annotations

from fractions import Fraction

import sympy


class Sigmoid(sympy.Function):
    """The logistic function σ(x) = 1 / (1 + e^-x) as a SymPy function.

    >>> x = sympy.Symbol("x", real=True)
    >>> sympy.diff(Sigmoid(2 * x), x)
    2*(1 - σ(2*x))*σ(2*x)
    >>> Sigmoid(x).rewrite(sympy.exp)
    1/(1 + exp(-x))
    """

    @classmethod
    def eval(cls, x):
        # structural tests only: asking x.is_zero of a nested number would evaluate it
        if x is sympy.S.Zero:
            return sympy.S.Half
        if x is sympy.S.Infinity:
            return sympy.S.One
        if x is sympy.S.NegativeInfinity:
            return sympy.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        # σ' = e^-x / (1 + e^-x)^2 = σ (1 - σ)
        s = self.func(*self.args)
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **_hints):
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _sympystr(self, printer) -> str:
        return f"σ({printer._print(self.args[0])})"

    def _latex(self, printer, exp=None) -> str:
        text = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return text if exp is None else rf"{text}^{{{exp}}}"

    def _pretty(self, printer):
        return printer._print_Function(self, func_name="σ")


class _Stepwise(sympy.Function):
    """A piecewise-constant function of one real argument: its value at numbers, and as its
    derivative a Dirac comb, DiracDelta(jumps(x)), which SymPy evaluates to 0 away from the
    jumps and leaves as DiracDelta(0) on them (where graphnn's gradient is 0 by convention).

    Each subclass gives `text` (its notation) and two classmethods: `value(x)`, the function
    at a rational x, and `jumps(x)`, an expression that is zero exactly at its jumps."""

    text = ""

    @classmethod
    def eval(cls, x):
        if x.is_Rational or x.is_Float:
            return cls.value(sympy.Rational(x))
        if x in (sympy.S.Infinity, sympy.S.NegativeInfinity):
            return x
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.DiracDelta(self.jumps(self.args[0]))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _sympystr(self, printer) -> str:
        return self.text.format(printer._print(self.args[0]))


class Floor(_Stepwise):
    """⌊x⌋: jumps at the integers.

    >>> Floor(sympy.Rational(-1, 2)), sympy.diff(Floor(sympy.Symbol("x")), "x").subs("x", 0.5)
    (-1, 0)
    """

    text = "⌊{}⌋"

    @classmethod
    def value(cls, x):
        return sympy.floor(x)

    @classmethod
    def jumps(cls, x):
        return sympy.sin(sympy.pi * x)


class Ceil(_Stepwise):
    """⌈x⌉: jumps at the integers.

    >>> Ceil(sympy.Rational(-1, 2))
    0
    """

    text = "⌈{}⌉"

    @classmethod
    def value(cls, x):
        return sympy.ceiling(x)

    @classmethod
    def jumps(cls, x):
        return sympy.sin(sympy.pi * x)


class RoundHalfEven(_Stepwise):
    """The nearest integer, ties to the even one (np.round): jumps at the half-integers.

    >>> RoundHalfEven(sympy.Rational(5, 2)), RoundHalfEven(sympy.Rational(-3, 2))
    (2, -2)
    """

    text = "round({})"

    @classmethod
    def value(cls, x):
        return sympy.Integer(round(Fraction(int(x.p), int(x.q))))    # Python: ties to even

    @classmethod
    def jumps(cls, x):
        return sympy.cos(sympy.pi * x)
