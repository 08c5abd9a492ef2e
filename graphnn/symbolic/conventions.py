"""Derivatives at non-differentiable points: graphnn's conventions, checked against SymPy's.

Stage: verification of the op table. Each `Convention` declares a kink (relu at 0, a tie of
maximum's inputs), what graphnn's gradient is there, and whether that agrees with `sympy.diff`
of the op's SymPy form evaluated at the kink, or differs on purpose (and why). The check
evaluates graphnn's gradient graph with the NumPy reference and SymPy's derivative exactly, so
changing either side's convention fails until this table (and docs/verification.md, generated
from it) says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from graphnn.autodiff import grad
from graphnn.evaluate import evaluate
from graphnn.ir import Node, apply, input
from graphnn.symbolic.report import AGREE, BY_DESIGN, DIFFER, Row
from graphnn.symbolic.translate import exact, translate

Kink = tuple[Node, list[Node], dict[str, object]]     # y, the nodes to differentiate by, feed


@dataclass(frozen=True)
class Convention:
    """One op's derivative at one kink: graphnn's value, and how it relates to SymPy's."""

    op: str
    where: str
    build: Callable[[], Kink]
    expected: str            # AGREE or BY_DESIGN
    why: str


def _unary(op: str, value: float, **attrs) -> Callable[[], Kink]:
    def build() -> Kink:
        x = input("x")
        return apply(op, x, **attrs), [x], {"x": value}
    return build


def _tie(op: str) -> Callable[[], Kink]:
    def build() -> Kink:
        x, y = input("x"), input("y")
        return apply(op, x, y), [x, y], {"x": 1.0, "y": 1.0}
    return build


def _reduction(op: str, values: list[float]) -> Callable[[], Kink]:
    def build() -> Kink:
        x = input("x", shape=(len(values),))
        return apply(op, x), [x], {"x": np.array(values)}
    return build


def _pool(values: list[list[float]]) -> Callable[[], Kink]:
    def build() -> Kink:
        x = input("x", shape=(1, 1, 2, 2))
        y = apply("sum", apply("max_pool2d", x, kernel=2))
        return y, [x], {"x": np.array(values).reshape(1, 1, 2, 2)}
    return build


TIES_SPLIT = "a tie splits the gradient evenly, as SymPy's Heaviside(0) = 1/2"
SUBGRADIENT = "graphnn's shares add up to 1, so the result stays a subgradient (an average " \
    "of the tied elements' gradients); SymPy's Heaviside(0) = 1/2 per tied element adds up to " \
    "more than 1 when three or more tie"
NO_GRADIENT = "piecewise constant: graphnn propagates 0 (no gradient), as deep-learning " \
    "frameworks do; SymPy's derivative is a Dirac delta, undefined at the jump"

CONVENTIONS: tuple[Convention, ...] = (
    Convention("relu", "x = 0", _unary("relu", 0.0), AGREE,
               "relu'(0) = 0, the convention of the usual frameworks and textbooks (not the "
               "max gate's 1/2); SymPy's derivative of Piecewise((x, x > 0), (0, True)) is 0 "
               "there too"),
    Convention("leaky_relu", "x = 0, alpha = 0.1", _unary("leaky_relu", 0.0, alpha=0.1), AGREE,
               "the left side's slope alpha, as relu'(0) = 0"),
    Convention("elu", "x = 0, alpha = 0.5", _unary("elu", 0.0, alpha=0.5), AGREE,
               "the left side's slope alpha e^0 = alpha (with the default alpha = 1 both "
               "sides agree)"),
    Convention("abs", "x = 0", _unary("abs", 0.0), AGREE,
               "sign(0) = 0, the smallest subgradient; SymPy's derivative of Abs(x) is sign(x) "
               "too"),
    Convention("sqrt", "x = 0", _unary("sqrt", 0.0), AGREE,
               "the derivative is unbounded: +inf in graphnn, complex infinity in SymPy"),
    Convention("maximum", "x = y", _tie("maximum"), AGREE, TIES_SPLIT),
    Convention("minimum", "x = y", _tie("minimum"), AGREE, TIES_SPLIT),
    Convention("max", "two of three tied", _reduction("max", [1.0, 1.0, 0.0]), AGREE,
               TIES_SPLIT),
    Convention("max", "three tied", _reduction("max", [1.0, 1.0, 1.0]), BY_DESIGN, SUBGRADIENT),
    Convention("min", "two of three tied", _reduction("min", [0.0, 1.0, 0.0]), AGREE,
               TIES_SPLIT),
    Convention("max_pool2d", "two tied in a window", _pool([[1.0, 1.0], [0.0, 0.0]]), AGREE,
               TIES_SPLIT),
    Convention("max_pool2d", "four tied in a window", _pool([[1.0, 1.0], [1.0, 1.0]]),
               BY_DESIGN, SUBGRADIENT),
    Convention("step", "x = 0", _unary("step", 0.0), BY_DESIGN, NO_GRADIENT),
    Convention("sign", "x = 0", _unary("sign", 0.0), BY_DESIGN, NO_GRADIENT),
)


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
    ours = [np.asarray(v, dtype=float).ravel() for v in evaluate(grad(y, wrt), feed)]
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
    return [check_convention(c) for c in CONVENTIONS]


def conventions_table() -> str:
    """The conventions as a markdown table (docs/verification.md includes it verbatim)."""
    lines = ["| op | at | graphnn's derivative | SymPy's | relation | why |",
             "|---|---|---|---|---|---|"]
    for row, convention in zip(check_conventions(), CONVENTIONS):
        lines.append(f"| `{convention.op}` | {convention.where} | {row.graphnn} | "
                     f"{row.reference} | {row.verdict} | {convention.why} |")
    return "\n".join(lines) + "\n"
