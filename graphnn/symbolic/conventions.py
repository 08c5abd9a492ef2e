"""Derivatives at non-differentiable points: graphnn's conventions, checked against SymPy's.

Stage: verification of the op table. Every op declares its kinks (OpDef.kinks: relu at 0, a tie
of maximum's inputs), what graphnn's gradient is there, and whether that agrees with
`sympy.diff` of the op's SymPy form evaluated at the kink, or differs on purpose (and why).
The check evaluates graphnn's gradient graph with the NumPy reference and SymPy's derivative
exactly, so changing either side's convention fails until the op's declaration (and
docs/verification.md, generated from them) says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from graphnn.autodiff import grad
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import REGISTRY, Node, apply, input
from graphnn.opdef import Kink
from graphnn.symbolic.report import AGREE, BY_DESIGN, DIFFER, Row
from graphnn.symbolic.translate import exact, translate

Point = tuple[Node, list[Node], dict[str, object]]     # y, the nodes to differentiate by, feed


@dataclass(frozen=True)
class Convention:
    """One op's derivative at one of its kinks: graphnn's value, and how it relates to
    SymPy's (AGREE or BY_DESIGN)."""

    op: str
    kink: Kink

    @property
    def where(self) -> str:
        return self.kink.where

    @property
    def expected(self) -> str:
        return AGREE if self.kink.agrees else BY_DESIGN

    @property
    def why(self) -> str:
        return self.kink.why

    def build(self) -> Point:
        """The op on inputs (named as the op names them) holding the kink's values, summed
        when its result is not a scalar; the inputs; the feed."""
        op = REGISTRY[self.op]
        values = [np.asarray(v, dtype=float) for v in self.kink.values]
        inputs = [input(name, shape=v.shape)
                  for name, v in zip(op.input_names(len(values)), values)]
        y = apply(self.op, *inputs, **self.kink.attrs)
        y = y if y.shape == () else apply("sum", y)
        return y, inputs, {n.name: v if v.shape else float(v) for n, v in zip(inputs, values)}


def conventions() -> tuple[Convention, ...]:
    """Every kink of every registered op, by op name (then in the order the op lists them)."""
    return tuple(Convention(name, kink) for name in sorted(REGISTRY)
                 for kink in REGISTRY[name].kinks)


def _fraction(value: float) -> str:
    if math.isinf(value) or math.isnan(value):
        return str(value)
    close = Fraction(value).limit_denominator(1000)
    return str(close) if abs(float(close) - value) < 1e-12 else f"{value:.6g}"


def same_value(ours: float, theirs: sympy.Expr) -> bool:
    """graphnn's float equals SymPy's exact value (both infinite counts as equal)."""
    if theirs.has(sympy.zoo, sympy.oo, -sympy.oo):
        return math.isinf(ours)
    if not theirs.is_number or theirs.has(sympy.DiracDelta, sympy.nan):
        return False
    return abs(ours - float(theirs)) <= 1e-12


def check_convention(convention: Convention) -> Row:
    """graphnn's and SymPy's derivatives at the kink, and whether they relate as declared."""
    y, wrt, feed = convention.build()
    ours = [np.asarray(v, dtype=float).ravel()
            for v in evaluate(Graph(grad(y, wrt), wrt), feed)]   # wrt: the op's inputs
    values = translate([y], functions=False)
    point = {values[w][i]: exact(np.asarray(feed[w.name])[i])
             for w in wrt for i in np.ndindex(w.shape)}
    theirs = [sympy.diff(values[y][()], values[w][i]).xreplace(point)
              for w in wrt for i in np.ndindex(w.shape)]
    flat = [float(v) for array in ours for v in array]
    outcome = AGREE if all(same_value(a, b) for a, b in zip(flat, theirs)) else BY_DESIGN
    verdict = outcome if outcome == convention.expected else DIFFER
    detail = convention.why if verdict != DIFFER else \
        f"declared '{convention.expected}', but the two {'agree' if outcome == AGREE else 'differ'}"
    return Row(f"{convention.op} at {convention.where}", ", ".join(map(str, theirs)),
               ", ".join(_fraction(v) for v in flat), verdict, "exact", detail)


def check_conventions() -> list[Row]:
    """Every declared convention, checked.

    >>> [r.verdict for r in check_conventions()][:2]
    ['agree', 'agree']
    """
    return [check_convention(c) for c in conventions()]


def conventions_table() -> str:
    """The conventions as a markdown table (docs/verification.md includes it verbatim)."""
    lines = ["| op | at | graphnn's derivative | SymPy's | relation | why |",
             "|---|---|---|---|---|---|"]
    for row, convention in zip(check_conventions(), conventions()):
        lines.append(f"| `{convention.op}` | {convention.where} | {row.graphnn} | "
                     f"{row.reference} | {row.verdict} | {convention.why} |")
    return "\n".join(lines) + "\n"
