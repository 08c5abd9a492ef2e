"""Named SymPy functions that ops translate to (Symbolic.function): the logistic sigmoid σ.

Imported on first use (graphnn.ops.activations reaches it through a LazyModule), like SymPy
itself. graphnn/symbolic/functions.py proves the derivative each one claims.
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
