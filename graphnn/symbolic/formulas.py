"""Derivative formulas for learners: SymPy's derivative of a node as plain text and LaTeX.

Stage: the SymPy bridge, for teaching. Input: a scalar node and a node to differentiate by.
Output: a `Formula`, kept short in three ways: sigmoid is the function σ, whose derivative SymPy
writes as σ (1 - σ); a named node stands for its own expression (the neuron `f` turns
`x0*σ(w0*x0 + w1*x1 + w2)*(1 - σ(w0*x0 + w1*x1 + w2))` into `x0*f*(1 - f)`); and the shortest
of a few equivalent rewritings is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy

from graphnn.errors import GradError
from graphnn.ir import Node, toposort
from graphnn.symbolic.compare import TimeUp, time_box
from graphnn.symbolic.exprs import small, substitute
from graphnn.symbolic.translate import (
    MAX_OPS,
    check_size,
    element_symbols,
    leaf_symbols,
    translate,
)

TIDY_OPS = 120      # try sympy.simplify only on formulas up to this many operations ...
TIDY_SECONDS = 2.0  # ... and for at most this long


@dataclass(frozen=True)
class Formula:
    """A derivative formula: the expression, its plain text and LaTeX, and abbreviations.

    `where` maps each name used for a named node to that node's own formula.
    """

    expr: sympy.Expr
    text: str
    latex: str
    where: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        legend = ", ".join(f"{name} = {text}" for name, text in self.where.items())
        return f"{self.text}   where {legend}" if legend else self.text


def abbreviations(nodes: Sequence[Node], values: Mapping[Node, np.ndarray],
                  skip: Sequence[Node] = ()) -> dict[sympy.Expr, sympy.Symbol]:
    """{expression: symbol} for the elements of every named node that is not an input: the
    symbol is the node's name (h_0_1 for element (0, 1) of a tensor h, as for inputs)."""
    skipped = {id(n) for n in skip}
    found = {}
    for node in nodes:
        if node.name and node.op not in ("input", "constant") and id(node) not in skipped \
                and node in values:
            names = element_symbols(node.name, node.shape)
            for index in np.ndindex(node.shape):
                if not values[node][index].is_Atom:
                    found[values[node][index]] = names[index]
    return found


def _functions(expr: sympy.Expr) -> set[type]:
    return {type(f) for f in expr.atoms(sympy.Function)}


def _simplified(expr: sympy.Expr) -> list[sympy.Expr]:
    """sympy.simplify's form of expr, or none when it takes longer than TIDY_SECONDS."""
    try:
        with time_box(TIDY_SECONDS):
            return [sympy.simplify(expr)]
    except TimeUp:
        return []


def tidy(expr: sympy.Expr, max_ops: int = TIDY_OPS) -> sympy.Expr:
    """The shortest of expr, its common factors pulled out, and its simplification (formulas
    above max_ops operations are left as they are: rewriting them takes too long).

    A rewriting that brings in functions the formula did not use (tanh' as 1/cosh² instead
    of 1 - tanh²) is not kept: learners should recognize the rule they were taught.

    >>> x = sympy.Symbol("x", real=True)
    >>> tidy(2 * x + 2 * x * x)
    2*x*(x + 1)
    >>> tidy(1 - sympy.tanh(x) ** 2)
    1 - tanh(x)**2
    """
    if not small(expr, max_ops):
        return expr
    candidates = [expr, sympy.factor_terms(expr), *_simplified(expr)]
    known = _functions(expr)
    kept = [e for e in candidates if _functions(e) <= known]
    return min(kept, key=lambda e: (sympy.count_ops(e), len(str(e))))


def shorten(expr: sympy.Expr, names: Mapping[sympy.Expr, sympy.Symbol],
            max_ops: int = TIDY_OPS, cache: dict | None = None) -> sympy.Expr:
    """expr with named subexpressions replaced by their names, then tidied."""
    return tidy(substitute(expr, names, cache), max_ops)


def legend(formulas: Sequence[sympy.Expr],
           names: Mapping[sympy.Expr, sympy.Symbol]) -> dict[str, str]:
    """Definitions of the names the formulas use, following names used inside definitions."""
    legend: dict[str, str] = {}
    cache: dict = {}
    pending = list(formulas)
    while pending:
        used = pending.pop().free_symbols
        for expr, symbol in names.items():
            if symbol in used and symbol.name not in legend:
                # the definition, written with the other names (not with its own)
                inner = expr.func(*[substitute(a, names, cache) for a in expr.args])
                legend[symbol.name] = str(inner)
                pending.append(inner)
    return dict(sorted(legend.items()))


def make_formula(expr: sympy.Expr, names: Mapping[sympy.Expr, sympy.Symbol]) -> Formula:
    """A Formula for expr, written with the given abbreviations."""
    short = shorten(expr, names)
    return Formula(short, str(short), sympy.latex(short), legend([short], names))


def _element(node: Node, index: tuple[int, ...] | None, what: str) -> tuple[int, ...]:
    if index is None:
        if node.shape != ():
            raise GradError(f"{what} is {node.describe()}; pick one element with "
                            f"{'index' if what == 'wrt' else 'output_index'}=(...)")
        return ()
    return tuple(index)


def derivative_formula(y: Node, wrt: Node, index: tuple[int, ...] | None = None,
                       output_index: tuple[int, ...] | None = None,
                       max_ops: int = MAX_OPS) -> Formula:
    """SymPy's derivative d y / d wrt, simplified, as plain text and LaTeX.

    `wrt` may be any node of y's graph: a node that is not an input is treated as a variable
    (the local derivative used for edge labels). `index` picks an element of a tensor `wrt`,
    `output_index` an element of a tensor `y`. Named nodes appear by name (see `Formula.where`).

    >>> import graphnn as gn
    >>> w0, x0, w1, x1, w2 = (gn.input(n) for n in ["w0", "x0", "w1", "x1", "w2"])
    >>> f = gn.sigmoid(w0 * x0 + w1 * x1 + w2, name="f")
    >>> d = derivative_formula(f, w0)
    >>> d.text, d.latex
    ('f*x0*(1 - f)', 'f x_{0} \\\\left(1 - f\\\\right)')
    >>> d.where
    {'f': 'σ(w0*x0 + w1*x1 + w2)'}
    >>> derivative_formula(f, w0 * x0 + w1 * x1 + w2).text
    'f*(1 - f)'
    """
    if not isinstance(y, Node) or not isinstance(wrt, Node):
        raise GradError("derivative_formula takes graph nodes y and wrt")
    at_out, at_wrt = _element(y, output_index, "y"), _element(wrt, index, "wrt")
    leaves = [] if wrt.op == "input" else [wrt]
    check_size([y], leaves, max_ops, f"the graph of {y.describe()}")
    symbols = leaf_symbols(leaves)
    values = translate([y], symbols)
    if wrt not in values:
        raise GradError(f"y = {y.describe()} does not depend on {wrt.describe()}")
    derivative = sympy.diff(values[y][at_out], values[wrt][at_wrt])
    names = abbreviations(toposort([y], leaves), values, skip=leaves)
    return make_formula(derivative, names)
