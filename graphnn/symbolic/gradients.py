"""Checking a user's gradient graph against SymPy (small graphs) or finite differences (any).

Stage: verification of whole graphs. Input: a scalar node y, the nodes to differentiate by,
optionally a feed. Output: a `GradientReport`.

The symbolic check translates y and graphnn's gradient graph to SymPy on the declared shapes,
takes `sympy.diff` of y by every element of every `wrt` node, and decides each pair equal by
simplification or at rational points (see compare.py). It refuses at once, before any SymPy
work, a graph above `max_ops` scalar operations or `max_partials` partial derivatives, and stops
at `timeout` seconds; the numeric check (method="numeric") works at any size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from graphnn.autodiff import grad
from graphnn.errors import GradError, OpError
from graphnn.graph import reached_inputs
from graphnn.ir import Node, toposort
from graphnn.symbolic.compare import decide, rational_points, value_at
from graphnn.symbolic.exprs import small, substitute
from graphnn.symbolic.formulas import abbreviations, legend, shorten
from graphnn.symbolic.numeric import complete_feed, numeric_rows, run64
from graphnn.symbolic.report import AGREE, DIFFER, UNDECIDED, GradientReport, Row
from graphnn.symbolic.translate import (
    MAX_OPS,
    SymbolicLimitError,
    check_size,
    element_symbols,
    exact,
    leaf_symbols,
    translate,
)

MAX_PARTIALS = 400      # partial derivatives (elements of wrt) for a symbolic check
TIMEOUT = 60.0          # seconds of SymPy work before the rest is reported undecided
METHODS = ("symbolic", "numeric", "auto")
DISPLAY_OPS = 12        # SymPy's derivatives up to this size are simplified for the table
SHOWN_OPS = 400         # formulas above this size are not printed (the table clips them anyway)


def _targets(y: Node, wrt: Node | Sequence[Node]) -> list[Node]:
    if not isinstance(y, Node) or y.shape != ():
        what = y.describe() if isinstance(y, Node) else type(y).__name__
        raise GradError(f"check_gradients needs a scalar graph node y, got {what}; reduce it "
                        "first (e.g. gn.sum(y))")
    targets = [wrt] if isinstance(wrt, Node) else list(wrt)
    for k, w in enumerate(targets):
        if not isinstance(w, Node):
            raise GradError(f"wrt[{k}] is a {type(w).__name__}, not a graph node")
    return targets


def _label(node: Node, index: tuple[int, ...]) -> str:
    name = node.name or node.op
    return f"{name}[{','.join(map(str, index))}]" if index else name


def _title(y: Node, targets: Sequence[Node], method: str) -> str:
    names = ", ".join(w.name or w.op for w in targets)
    return f"Gradient check of {y.describe()} with respect to {names} ({method})"


def _feed_point(order: Sequence[Node], symbols: Mapping[Node, np.ndarray],
                feed: Mapping[str | Node, Any]) -> tuple[dict, dict[Node, np.ndarray], list[str]]:
    """The feed as exact rationals for every symbol, float64 values of every node, and the
    names of inputs the feed lacked (drawn from N(0, 1))."""
    inputs = reached_inputs(order)
    given, drawn = complete_feed(inputs, feed, np.random.default_rng(0))
    values = run64(order, given)
    point = {}
    for node, array in symbols.items():
        for index in np.ndindex(node.shape):
            point[array[index]] = exact(values[node][index])
    return point, values, drawn


def _as_float(value: Any) -> float:
    """A value from value_at as a float (NaN when undefined or not real)."""
    if value is None:
        return math.nan
    number = complex(value)
    return number.real if number.imag == 0 else math.nan


def _as_function_of(y: Node, w: Node, values: Mapping[Node, np.ndarray]
                    ) -> tuple[sympy.Expr, np.ndarray, dict]:
    """y's expression as a function of w's element symbols, and how to put w's own expression
    back. An input is a symbol already. Any other node becomes a variable while SymPy
    differentiates: y's partial in it is what backprop gives as its cotangent."""
    if w.op == "input":
        return values[y][()], element_symbols(w.name, w.shape), {}
    variable = leaf_symbols([w])[w]
    expr = translate([y], {w: variable})[y][()]
    return expr, variable, {variable[i]: values[w][i] for i in np.ndindex(w.shape)}


def _text(expr: sympy.Expr) -> str:
    """A formula for the table; printing a huge one would take longer than checking it."""
    return str(expr) if small(expr, SHOWN_OPS) else "(a long formula: see Row.exprs)"


def _undecided(label: str, seconds: float) -> Row:
    return Row(label, "", "", UNDECIDED, "", f"not checked: the time limit of {seconds:g} s "
               "ran out; raise timeout= or use method='numeric'")


def _symbolic_rows(y: Node, targets: list[Node], grads: list[Node],
                   feed: Mapping[str, Any] | None, limits: dict) -> tuple[list[Row], list[str]]:
    order = toposort([y, *grads, *targets])
    values = translate(order)
    inputs = {n: values[n] for n in order if n.op == "input"}
    points = rational_points([s for array in inputs.values() for s in array.flat],
                             limits["points"], limits["seed"])
    caches = [{} for _ in points]            # one per point, shared by every row
    names, named = abbreviations(order, values), {}
    at_feed, feed_values, drawn = _feed_point(order, inputs, feed) if feed is not None \
        else ({}, {}, [])
    at_feed_cache: dict = {}
    deadline = time.monotonic() + limits["timeout"]
    rows = []
    for w, g in zip(targets, grads):
        expr, variable, back = _as_function_of(y, w, values)
        for index in np.ndindex(w.shape):
            if time.monotonic() > deadline:
                rows.append(_undecided(_label(w, index), limits["timeout"]))
                continue
            a = substitute(sympy.diff(expr, variable[index]), back)
            b = values[g][index]
            decision = decide(a, b, points, caches)
            verdict = {True: AGREE, False: DIFFER, None: UNDECIDED}[decision.equal]
            shown = (_as_float(value_at(a, at_feed, at_feed_cache)),
                     float(feed_values[g][index])) if feed is not None else None
            rows.append(Row(_label(w, index), _text(shorten(a, names, DISPLAY_OPS, named)),
                            _text(substitute(b, names, named)), verdict, decision.method,
                            decision.detail, shown, (a, b)))
    shown = [substitute(e, names, named) for r in rows if r.exprs for e in r.exprs]
    notes = [f"where {name} = {text}" for name, text in legend(shown, names).items()]
    if drawn:
        notes.append(f"values at the feed: inputs it lacks were drawn from N(0, 1): "
                     f"{', '.join(drawn)}")
    return rows, notes


def _check_limits(y: Node, targets: list[Node], grads: list[Node], max_ops: int,
                  max_partials: int) -> None:
    leaves = [w for w in targets if w.op != "input"]
    check_size([y, *grads], leaves, max_ops, "this graph with its gradient")
    partials = sum(math.prod(w.shape) for w in targets)
    if partials > max_partials:
        raise SymbolicLimitError(
            f"this graph has {partials:,} partial derivatives to check, over the bound "
            f"max_partials={max_partials:,}. Raise max_partials to insist, or check "
            "numerically with method='numeric'")


def check_gradients(y: Node, wrt: Node | Sequence[Node],
                    feed: Mapping[str, Any] | None = None, method: str = "symbolic", *,
                    max_ops: int = MAX_OPS, max_partials: int = MAX_PARTIALS,
                    timeout: float = TIMEOUT, points: int = 3, samples: int = 12,
                    seed: int = 0) -> GradientReport:
    """Verify graphnn's gradients of the scalar y with respect to `wrt`.

    method="symbolic": SymPy's derivative of y against graphnn's gradient graph, both in
    SymPy on the declared shapes, for every element; raises SymbolicLimitError at once when
    the graph is over `max_ops` scalar operations or `max_partials` partials, and reports what
    is left undecided after `timeout` seconds. method="numeric": central differences in
    float64 at the feed (inputs it lacks are drawn from N(0, 1)) for up to `samples` elements
    per node. method="auto": symbolic, or numeric when the graph is over the bounds.
    With a feed, the symbolic report also shows both derivatives' values there.

    >>> import graphnn as gn
    >>> w0, x0, w1, x1, w2 = (gn.input(n) for n in ["w0", "x0", "w1", "x1", "w2"])
    >>> f = gn.sigmoid(w0 * x0 + w1 * x1 + w2, name="f")
    >>> report = check_gradients(f, [w0, x0, w1, x1, w2])
    >>> report.ok, report.rows[0].reference, report.rows[0].method
    (True, 'f*x0*(1 - f)', 'simplify')
    """
    if method not in METHODS:
        raise OpError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    targets = _targets(y, wrt)
    grads = grad(y, targets)
    if method != "numeric":
        try:
            _check_limits(y, targets, grads, max_ops, max_partials)
            limits = {"points": points, "seed": seed, "timeout": timeout}
            rows, notes = _symbolic_rows(y, targets, grads, feed, limits)
            return GradientReport(_title(y, targets, "symbolic, SymPy"), "symbolic", rows,
                                  notes)
        except SymbolicLimitError as error:
            if method == "symbolic":
                raise
            refused = f"not checked symbolically: {error}"
    rows, notes = numeric_rows(y, targets, grads, feed, samples, seed)
    notes = ([refused] if method == "auto" else []) + notes
    return GradientReport(_title(y, targets, "numeric, central differences in float64"),
                          "numeric", rows, notes)
