"""Graph -> SymPy: every node's elements as SymPy expressions, through its op's `to_sympy` facet.

Stage: the SymPy bridge. Input: output nodes (and optionally nodes to treat as symbols).
Output: one numpy object array of SymPy expressions per node, in the node's shape.

Inputs become real symbols: a scalar input `w0` is `Symbol('w0', real=True)`, element (0, 1) of
a tensor input `W` is `W_0_1`. Constants become exact rationals: 0.1 becomes 1/10, the shortest
decimal that reads back as the same float, which is what the user wrote. Float attributes
(leaky_relu's alpha, above's tie) are made exact the same way.

Translating costs about one SymPy operation per scalar operation of the graph, so a bound on
that count (`max_ops`) refuses big graphs before any SymPy work starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from graphnn.errors import GraphnnError, SymbolicLimitError
from graphnn.ir import Node, toposort
from graphnn.symbolic.functions import lazy_extremes

MAX_OPS = 20_000    # default bound on scalar operations for symbolic work (about 1 s of SymPy)


def exact(value: Any) -> sympy.Expr:
    """A float as the exact rational of its shortest decimal (0.1 -> 1/10), ±inf and NaN kept.

    >>> exact(0.1), exact(2.0), exact(float("inf"))
    (1/10, 2, oo)
    """
    number = float(value)
    if math.isnan(number):
        return sympy.nan
    if math.isinf(number):
        return sympy.oo if number > 0 else -sympy.oo
    return sympy.Rational(repr(number))


def _exact_attr(value: Any) -> Any:
    return exact(value) if isinstance(value, float) else value


def element_symbols(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Real symbols for the elements of a tensor named `name`: W_0_1 for W[0, 1].

    >>> element_symbols("b", (2,))
    array([b_0, b_1], dtype=object)
    """
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        label = "_".join([name, *map(str, index)]) if shape else name
        out[index] = sympy.Symbol(label, real=True)
    return out


def leaf_name(node: Node, position: int) -> str:
    """The symbol name of a node treated as a variable: its name, else op and position."""
    return node.name or f"{node.op}{position}"


def leaf_symbols(leaves: Sequence[Node]) -> dict[Node, np.ndarray]:
    """Element symbols for inputs (by name) and for other nodes treated as variables."""
    return {node: element_symbols(leaf_name(node, k), node.shape)
            for k, node in enumerate(leaves)}


# ---------------------------------------------------------------------------------------------
# Size: about how many scalar SymPy operations translating a node takes.

def operation_count(node: Node) -> int:
    """Scalar operations to translate a node: output elements times the terms each sums (the
    op's Symbolic.terms: matmul, convolutions), or for other ops the largest of its output and
    operands (one operation per element)."""
    count = node.opdef.symbolic.terms
    terms = count(node) if count is not None else 0
    if terms:
        return math.prod(node.shape) * terms
    return max([math.prod(node.shape)] + [math.prod(i.shape) for i in node.inputs])


def graph_size(outputs: Sequence[Node], leaves: Sequence[Node] = ()) -> tuple[int, Node | None]:
    """Total scalar operations of the graph below `outputs`, and its most expensive node."""
    order = toposort(list(outputs), list(leaves))
    costs = [(operation_count(n), n) for n in order if n.op not in ("input", "constant")]
    if not costs:
        return 0, None
    total = sum(c for c, _ in costs)
    return total, max(costs, key=lambda item: item[0])[1]


def check_size(outputs: Sequence[Node], leaves: Sequence[Node], max_ops: int, what: str) -> int:
    """The graph's size, or a SymbolicLimitError saying why and what to do instead."""
    total, biggest = graph_size(outputs, leaves)
    if total > max_ops:
        worst = f"; the largest node is {biggest.describe()} ({operation_count(biggest):,} " \
            "operations)" if biggest is not None else ""
        raise SymbolicLimitError(
            f"{what} is too large for SymPy: about {total:,} scalar operations, over the bound "
            f"max_ops={max_ops:,}{worst}. SymPy needs about a second per 20,000 operations and "
            "much more to differentiate them. Raise max_ops to insist, verify the ops' rules on "
            "small shapes with check_ops(), or check numerically with method='numeric'")
    return total


# ---------------------------------------------------------------------------------------------
# Translation


def _as_elements(node: Node, value: Any, cache: dict) -> np.ndarray:
    array = np.asarray(value, dtype=object)
    if array.shape != node.shape:
        raise GraphnnError(f"internal error: the SymPy form of {node.describe()} has shape "
                           f"{array.shape}, not {node.shape}")
    out = np.empty(node.shape, dtype=object)
    for index in np.ndindex(node.shape):
        out[index] = lazy_extremes(sympy.sympify(array[index]), cache)
    return out


def _constant(node: Node) -> np.ndarray:
    out = np.empty(node.shape, dtype=object)
    for index in np.ndindex(node.shape):
        out[index] = exact(node.value[index])
    return out


def _apply(node: Node, args: list[np.ndarray], functions: bool, cache: dict) -> np.ndarray:
    """The node's elements from its inputs' elements, through the op's SymPy form; Max and Min
    in them become LazyMax and LazyMin (see functions.py), `cache` shared by the graph."""
    op = node.opdef
    attrs = {key: _exact_attr(value) for key, value in node.attr_items}
    form = op.symbolic.function if functions and op.symbolic.function is not None else \
        op.to_sympy
    if form is None:
        # a composite without a SymPy form of its own: the form of its expansion
        expansion = node.expansion()
        inner = translate([expansion], dict(zip(node.inputs, args)), functions)
        return inner[expansion]
    if op.elementwise:
        scalar = np.frompyfunc(lambda *xs: form(*xs, **attrs), len(args), 1)
        return _as_elements(node, scalar(*args), cache)
    return _as_elements(node, form(*args, **attrs), cache)


def _check_distinct(variables: Sequence[Node], values: Mapping[Node, np.ndarray]) -> None:
    """Two variables must not share a symbol: a scalar input `x_0` and element 0 of an input
    `x` would silently become one SymPy variable."""
    owner: dict[sympy.Symbol, Node] = {}
    for node in variables:
        for symbol in values[node].flat:
            other = owner.setdefault(symbol, node)
            if other is not node:
                raise GraphnnError(f"{other.describe()} and {node.describe()} both give the "
                                   f"SymPy symbol {symbol}; rename one of them")


def translate(outputs: Sequence[Node], symbols: Mapping[Node, np.ndarray] | None = None,
              functions: bool = True) -> dict[Node, np.ndarray]:
    """SymPy element arrays of every node below `outputs`.

    `symbols` gives the arrays of nodes to treat as variables (the walk stops there); other
    inputs get element symbols named after them. With `functions`, ops that have a named SymPy
    function (Symbolic.function; sigmoid: `Sigmoid`) use it instead of their written-out
    formula.
    """
    values: dict[Node, np.ndarray] = dict(symbols or {})
    lazy: dict = {}         # Max and Min made lazy once per distinct subexpression
    for node in toposort(list(outputs), list(values)):
        if node in values:
            continue
        if node.op == "input":
            values[node] = element_symbols(node.name, node.shape)
        elif node.op == "constant":
            values[node] = _constant(node)
        else:
            values[node] = _apply(node, [values[i] for i in node.inputs], functions, lazy)
    _check_distinct([n for n in values if n.op == "input" or n in (symbols or {})], values)
    return values


def as_public(elements: np.ndarray) -> sympy.Expr | sympy.Array:
    """A scalar's expression, or a tensor's elements as an immutable sympy.Array."""
    if elements.shape == ():
        return elements[()]
    return sympy.ImmutableDenseNDimArray(elements.tolist(), elements.shape)


def to_sympy(node: Node, leaves: Sequence[Node] = (), functions: bool = True,
             max_ops: int = MAX_OPS) -> sympy.Expr | sympy.Array:
    """The SymPy form of a node: an expression for a scalar, a sympy.Array for a tensor.

    Scalar inputs become `Symbol(name, real=True)`, tensor inputs arrays of element symbols
    (`W_0_1`). Nodes in `leaves` are treated as variables named after the node. With
    `functions=False` every op uses its own written-out formula (sigmoid as 1/(1 + exp(-x))).
    A graph above `max_ops` scalar operations raises SymbolicLimitError at once.

    >>> import graphnn as gn
    >>> w0, x0, w1, x1, w2 = (gn.input(n) for n in ["w0", "x0", "w1", "x1", "w2"])
    >>> to_sympy(gn.sigmoid(w0 * x0 + w1 * x1 + w2))
    σ(w0*x0 + w1*x1 + w2)
    >>> to_sympy(gn.input("W", shape=(1, 2)) @ gn.input("v", shape=(2,)))
    [W_0_0*v_0 + W_0_1*v_1]
    """
    check_size([node], leaves, max_ops, f"{node.describe()}")
    values = translate([node], leaf_symbols(leaves), functions)
    return as_public(values[node])
