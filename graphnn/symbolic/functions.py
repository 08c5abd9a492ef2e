"""SymPy functions that keep derivative formulas readable: the logistic sigmoid σ.

Written out, σ(x) = 1 / (1 + e^-x), and SymPy's derivative of a sigmoid network becomes a page
of exponentials. As a `sympy.Function` whose derivative is σ (1 - σ), SymPy's chain rule yields
`x0*σ(z)*(1 - σ(z))` instead, and exact algebra on such formulas (expand, cancel) treats σ(z) as
one symbol. That this derivative is right is proven, not assumed: `check_ops` compares it with
`sympy.diff` of the exponential form (see `sigmoid_lemma`).
"""

from __future__ import annotations

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
        if x.is_zero:
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


# Graph ops that translate to a named SymPy function instead of their op's own formula.
NAMED_FUNCTIONS: dict[str, type[sympy.Function]] = {"sigmoid": Sigmoid}


def sigmoid_lemma() -> sympy.Expr:
    """d/dx of 1 / (1 + e^-x), minus Sigmoid's own derivative, simplified: 0 when σ is right.

    >>> sigmoid_lemma()
    0
    """
    x = sympy.Symbol("x", real=True)
    exact = sympy.diff(1 / (1 + sympy.exp(-x)), x)
    claimed = sympy.diff(Sigmoid(x), x).rewrite(sympy.exp)
    return sympy.simplify(exact - claimed)


def exponential_form(expr):
    """expr with every σ written as 1 / (1 + e^-x) (for numbers and for proofs by exp)."""
    if isinstance(expr, sympy.Basic) and expr.has(Sigmoid):
        return expr.replace(Sigmoid, lambda x: 1 / (1 + sympy.exp(-x)))
    return expr
