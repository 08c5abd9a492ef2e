"""What a drawn op says: its symbol, scalar constants folded into it, its derivative formulas.

Stage: rendering. Input: a node. Output: the symbol a learner recognizes ("+", "×", "σ", "@"),
the lecture's gate for an op with a scalar constant operand (1 / x is the gate "1/x",
1 + x is "+1", x * -1 is "×-1"), and the derivative texts of each drawn input with the
names of the actual operands substituted for the op's placeholder names.

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> fold(1.0 / x).symbol, fold(1.0 / x).derivative
    ('1/x', '-1/x²')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from graphnn.ir import Node
from graphnn.render.labels import literal


@dataclass(frozen=True)
class Fold:
    """An op drawn as a one-input gate: `constant` (at `position`) is part of its symbol."""

    position: int           # argument position of the folded constant
    symbol: str             # the gate, with x standing for the remaining input
    derivative: str         # d out / d x for the remaining input, in terms of x


def _pow_symbol(c: str) -> str:
    return {"2": "x²", "3": "x³", "0.5": "√x"}.get(c, f"x^{c}")


def _pow_derivative(value: float) -> str:
    return {2.0: "2x", 3.0: "3x²", 0.5: "1/(2√x)"}.get(value, f"{literal(value)}·x^"
                                                            f"{literal(value - 1.0)}")


def _negated(value: float) -> str:
    return literal(-value)


# (op, position of the constant) -> (symbol, derivative) from the constant c, its text t.
# None as the position: either side (the op is commutative).
_FOLDS: dict[tuple[str, int | None], Callable[[float, str], tuple[str, str]]] = {
    ("add", None): lambda c, t: ("+" + t if c >= 0 else t, "1"),             # x + c
    ("mul", None): lambda c, t: ("×" + t, t),                                # c x
    ("sub", 1): lambda c, t: (("−" + t) if c >= 0 else "+" + _negated(c), "1"),   # x - c
    ("sub", 0): lambda c, t: (f"{t}−x", "-1"),                                # c - x
    ("div", 0): lambda c, t: (f"{t}/x", f"{_negated(c)}/x²"),                 # c / x
    ("div", 1): lambda c, t: (f"÷{t}", f"1/{t}"),                             # x / c
    ("pow", 1): lambda c, t: (_pow_symbol(t), _pow_derivative(c)),           # x ** c
    ("maximum", None): lambda c, t: (f"max(x, {t})", f"[x > {t}]"),
    ("minimum", None): lambda c, t: (f"min(x, {t})", f"[x < {t}]"),
}


def _is_scalar_constant(node: Node) -> bool:
    return node.op == "constant" and node.shape == ()


def fold(node: Node) -> Fold | None:
    """The one-input gate `node` is drawn as, when one operand is a scalar constant.

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> [fold(e).symbol for e in (1.0 + x, x * -1.0, x - 2.0, x ** 2.0)]
    ['+1', '×-1', '−2', 'x²']
    """
    if len(node.inputs) != 2:
        return None
    constant_positions = [k for k, i in enumerate(node.inputs) if _is_scalar_constant(i)]
    if not constant_positions:
        return None
    # two constants: keep the first drawn (its value still shows), fold the second
    position = constant_positions[-1]
    rule = _FOLDS.get((node.op, None)) or _FOLDS.get((node.op, position))
    if rule is None:
        return None
    value = float(node.inputs[position].value)
    symbol, derivative = rule(value, literal(value))
    return Fold(position, symbol, derivative)


def symbol(node: Node) -> str:
    """The label of a node's op in a drawing (inputs and constants have none)."""
    folded = fold(node)
    if node.op == "slice":          # the index itself, [:, 1, :], says which part is taken
        return str(node.attrs["index"])
    return folded.symbol if folded else node.opdef.symbol or node.op


_PLACEHOLDER = r"(?<![A-Za-z_])({})(?![A-Za-z_0-9])"


def substitute(text: str, names: Mapping[str, str]) -> str:
    """Replace whole placeholder words of a formula (x, y, out, ...) by display names.

    A digit may precede a placeholder (2x is 2 times x), a letter may not (exp keeps its x).

    >>> substitute("y·x^(y-1)", {"x": "w0", "y": "q"})
    'q·w0^(q-1)'
    """
    if not names:
        return text
    words = "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
    return re.sub(_PLACEHOLDER.format(words), lambda m: names[m.group(1)], text)


def out_name(node: Node, name: str | None) -> str:
    """How a formula names a node's output: its display name, its one-letter symbol (σ), out."""
    if name:
        return name
    glyph = node.opdef.symbol
    single_letter = len(glyph) == 1 and glyph.isalpha() and len(node.inputs) == 1
    return glyph if single_letter and not fold(node) else "out"


@dataclass(frozen=True)
class Derivative:
    """The derivative text of one drawn edge: `symbol` reads ∂out/∂x, `formula` its value."""

    symbol: str
    formula: str
    local: bool             # True: formula is d out / d input; False: the input's gradient


def derivative(node: Node, position: int, names: Mapping[Node, str],
               gradient_of: str | None = None) -> Derivative:
    """The derivative of `node` with respect to its input at `position`, with display names.

    `names` maps nodes to their display names (a drawing names every node). The formula uses
    them when every operand has one, else the gate's own placeholder names. For an op that is
    not elementwise the edge carries the input's gradient: ∂f/∂W with `gradient_of` f, else
    ∇W, written in terms of the upstream gradient g.

    >>> import graphnn as gn
    >>> w, x = gn.input("w"), gn.input("x")
    >>> d = derivative(w * x, 0, {w: "w", x: "x"})
    >>> d.symbol, d.formula
    ('∂out/∂w', 'x')
    >>> d = derivative(gn.sigmoid(w * x), 0, {w: "w", x: "x"})
    >>> d.symbol, d.formula
    ('∂σ/∂x', 'σ·(1 - σ)')
    >>> a, b = gn.input("a", shape=(2, 3)), gn.input("b", shape=(3,))
    >>> d = derivative(a @ b, 1, {a: "a", b: "b"}, gradient_of="loss")
    >>> d.symbol, d.formula
    ('∂loss/∂b', 'aᵀ @ g')
    >>> d = derivative(a[:, 1], 0, {a: "a"}, gradient_of="loss")
    >>> d.symbol, d.formula
    ('∂loss/∂a', 'g at [:, 1], 0 elsewhere')
    """
    op = node.opdef
    folded = fold(node)
    drawn = [i for k, i in enumerate(node.inputs) if not folded or k != folded.position]
    # the gate's own names (out, x, y) unless every operand drawn has a name of its own: a
    # formula mixing the two would read as if an unnamed operand were the node called x
    named = all(i in names for i in drawn)
    output = out_name(node, names.get(node) if named else None)
    if folded:
        mapping = {"x": names[drawn[0]]} if named else {}
        formula, wrt = substitute(folded.derivative, mapping), mapping.get("x", "x")
    else:
        labels = op.input_names(len(node.inputs))
        placeholders = {p: names[i] for p, i in zip(labels, node.inputs)} if named else {}
        # an input called out (max_pool2d_grad's x, out, g) is that input, not the output
        formula = substitute(op.derivative_of(position), {"out": output, **placeholders})
        wrt = placeholders.get(labels[position], labels[position])
    if node.op == "slice":
        # slice_grad(g, x) in words: the gradient of the part taken, zeros elsewhere
        formula = f"g at {node.attrs['index']}, 0 elsewhere"
    if op.elementwise:
        return Derivative(f"∂{output}/∂{wrt}", formula, local=True)
    if gradient_of:
        return Derivative(f"∂{gradient_of}/∂{wrt}", formula, local=False)
    return Derivative(f"∇{wrt}", formula, local=False)
