"""The derivative labels of drawings, read back into SymPy and proven against sympy.diff.

Stage: verification of the op table. Input: an op's `derivative` texts, the notation the
renderer writes on edges (`out·(1 - out)`, `[x > y]`, `1/(2·out)`, `g @ bᵀ`). Output: report
rows, one per op input and instance, like `check_rule`'s.

The labels are written by hand, not printed from SymPy, because they are written the way the
lecture writes them: in terms of the op's output (σ' = σ (1 - σ) is `out·(1 - out)`), with
Iverson brackets, and for ops that are not elementwise as the input's gradient in terms of the
upstream gradient g (`∇b = aᵀ @ g`), none of which sympy.diff yields. So each label is read
as a formula and proven like a rule, on the op's small instance (`INSTANCES`):

    label(inputs, out, g)[e]  ==  Σ_j g[j] · ∂f(x)[j] / ∂x_k[e]        for every element e

A label without g is a local derivative (every elementwise label; the losses' labels, whose
output is a scalar), so the gradient it claims is g times it. Elementwise ops are read on
scalar operands. At the kinks the conventions table lists, a label must also give the number
the drawing shows beside it (graphnn's gradient), unless `AT_KINKS` says why it does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy

from graphnn.autodiff import grad
from graphnn.errors import OpError
from graphnn.evaluate import evaluate
from graphnn.ir import REGISTRY, Node, apply, input
from graphnn.shapes import size
from graphnn.symbolic.conventions import CONVENTIONS, Convention, same_value
from graphnn.symbolic.notation import LabelError, each, read_label
from graphnn.symbolic.report import AGREE, BY_DESIGN, DIFFER, MISSING, Row
from graphnn.symbolic.rules import INSTANCES, Instance, cotangent_name, prove_instance, rule_names
from graphnn.symbolic.translate import element_symbols, exact, translate

# A label is a formula a person wrote, as easily wrong on one side of a kink as everywhere:
# eight rational points (the rules use three) fall on both sides of the instances' kinks, which
# the wrong-label tests confirm for relu, leaky_relu, elu and maximum.
POINTS = 8

# Labels in words, not formulas: these ops route g by comparisons within each reduced axis or
# pooling window, which the notation has no formula for. Their rules are proven by check_rule.
PROSE = frozenset({"max", "min", "max_pool2d", "avg_pool2d"})

# Labels that read differently from graphnn's gradient at a kink, on purpose, and why.
_TIE = ("the label reads the derivative away from a tie, as the lecture's 'max routes' (1 on "
        "the input that wins, 0 on the other); at an exact tie it reads 0 for both, where "
        "graphnn splits the gradient, 1/2 each, the number the drawing shows beside it")
AT_KINKS: dict[str, str] = {"maximum": _TIE, "minimum": _TIE}

# What the size letters of a label stand for, per op (a label's result has its input's shape).
SIZES: dict[str, dict[str, Callable[[Node], int]]] = {
    "mean": {"N": lambda node: size(node.inputs[0].shape) // size(node.shape)},   # per mean
    "mse": {"n": lambda node: size(node.inputs[0].shape)},             # elements averaged
    "binary_cross_entropy": {"n": lambda node: size(node.inputs[0].shape)},
    "softmax_cross_entropy": {"N": lambda node: node.inputs[0].shape[0]},   # rows: the batch
}


def _one_hot_rows(instance: Instance) -> dict[sympy.Symbol, sympy.Expr]:
    # the last element of each row is 1 minus the others
    rows = element_symbols("onehot", instance.shapes[1])
    return {row[-1]: 1 - sum(row[:-1]) for row in rows}


# What a label may take for granted about an op's inputs. softmax_cross_entropy's logits label
# (softmax - onehot)/N is the textbook one, right when each target row sums to 1 (one-hot or
# probabilities); for any targets the gradient is (softmax·Σ_j onehot_j - onehot)/N.
ASSUMPTIONS: dict[str, Callable[[Instance], dict[sympy.Symbol, sympy.Expr]]] = {
    "softmax_cross_entropy": _one_hot_rows,
}


# ---------------------------------------------------------------------------------------------
# What the names of an op's label stand for

def _registry_op(name: str, node: Node, target: Node) -> Callable[..., np.ndarray]:
    """A registered op called in a label: the labeled node's attributes where the op has them
    (stride, axis); the ones giving a shape from the labeled input, whose shape the gradient
    has (reshape(g) reshapes g back to x's shape)."""
    op = REGISTRY[name]
    shaped = {"shape": target.shape, "input_hw": target.shape[2:],
              "kernel_hw": target.shape[2:]}

    def call(*args: np.ndarray) -> np.ndarray:
        params = dict(op.params)
        attrs = {k: v for k, v in node.attr_items if k in params}
        attrs.update({k: v for k, v in shaped.items() if k in params})
        operands = [input(f"label_operand{k}", shape=a.shape) for k, a in enumerate(args)]
        out = apply(name, *operands, **attrs)
        return translate([out], dict(zip(operands, args)), functions=False)[out]
    return call


def _summed(node: Node, target: Node, a: np.ndarray) -> np.ndarray:
    """sum(...) in a gradient: over the op's axis, kept so it broadcasts back (softmax's
    Σ_j g_j out_j), or for an op without one over the axes the input was broadcast along."""
    if "axis" in node.attrs:
        return np.sum(a, axis=node.attrs["axis"], keepdims=True)
    extra = a.ndim - len(target.shape)
    a = np.sum(a, axis=tuple(range(extra))) if extra else a
    axes = tuple(k for k, n in enumerate(target.shape) if n == 1 and a.shape[k] != 1)
    return np.sum(a, axis=axes, keepdims=True) if axes else a


def _broadcast(node: Node, target: Node, a: np.ndarray) -> np.ndarray:
    """broadcast(g) in a reduction's gradient: g repeated over the reduced axes."""
    if not node.attrs.get("keepdims", False):
        axes = node.attrs.get("axis") or tuple(range(len(target.shape)))
        a = np.expand_dims(a, tuple(axes))
    return np.broadcast_to(a, target.shape)


def _functions(node: Node, target: Node) -> dict[str, Callable[..., np.ndarray]]:
    found: dict[str, Callable[..., np.ndarray]] = {
        name: _registry_op(name, node, target) for name in REGISTRY}
    found["sum"] = lambda a: _summed(node, target, a)
    found["broadcast"] = lambda a: _broadcast(node, target, a)
    return found


def _names(node: Node, values: Mapping[Node, np.ndarray], seed: Node) -> dict[str, np.ndarray]:
    op = node.opdef
    # out is the op's output, unless an input has that name (max_pool2d_grad's x, out, g)
    names = {"out": values[node], seed.name: values[seed]}
    names.update({label: values[i] for label, i in zip(op.inputs, node.inputs)})
    names.update({k: np.asarray(exact(v), dtype=object) for k, v in node.attr_items
                  if isinstance(v, float)})
    names.update({k: np.asarray(sympy.Integer(count(node)), dtype=object)
                  for k, count in SIZES.get(node.op, {}).items()})
    return names


def label_gradient(node: Node, position: int, values: Mapping[Node, np.ndarray],
                   seed: Node) -> np.ndarray:
    """The gradient the label of `node`'s input at `position` claims, as SymPy elements.

    `values` holds the SymPy elements of the node, its inputs and the upstream gradient `seed`.
    """
    target = node.inputs[position]
    text = node.opdef.derivative[position]
    value, used = read_label(text, _names(node, values, seed), _functions(node, target))
    if seed.name in used:
        return value
    if all(v == 0 for v in value.flat):
        return np.broadcast_to(value, target.shape)     # "0": no gradient, whatever g is
    if not (node.opdef.elementwise or node.shape == ()):
        raise LabelError(f"the label {text!r} of {node.op} has no {seed.name}: a local "
                         "derivative, which only an elementwise op or a scalar output has")
    return each(sympy.Mul, value, values[seed])


def _label_claim(out: Node, inputs: list[Node], seed: Node,
                 values: dict[Node, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    claims = []
    for position, (text, node) in enumerate(zip(out.opdef.derivative, inputs)):
        value = label_gradient(out, position, values, seed)
        if value.shape != node.shape:
            raise LabelError(f"the label {text!r} of {out.op} has shape {value.shape}, but "
                             f"its input {node.name!r} has shape {node.shape}")
        claims.append((f"label {text!r}", value))
    return claims


# ---------------------------------------------------------------------------------------------
# Checking


def _instances(name: str) -> tuple[Instance, ...]:
    """The op's instances; elementwise ops on scalar operands (the label is per element)."""
    chosen = INSTANCES.get(name, ())
    if REGISTRY[name].elementwise and chosen:
        first = chosen[0]
        return (Instance(tuple(() for _ in first.shapes), first.attrs, first.domains),)
    return chosen


def _at_kink(convention: Convention) -> Row:
    """The label's value at a kink against graphnn's gradient there (drawn beside it)."""
    y, wrt, feed = convention.build()
    ours = [float(v) for v in evaluate(grad(y, wrt), feed)]
    seed = input(cotangent_name(y.opdef.inputs))
    values = translate([y], functions=False)
    values[seed] = np.asarray(sympy.S.One, dtype=object)
    kink = {values[i][()]: exact(feed[i.name]) for i in y.inputs}
    theirs = [label_gradient(y, y.inputs.index(w), values, seed)[()].xreplace(kink)
              for w in wrt]
    agree = all(same_value(a, b) for a, b in zip(ours, theirs))
    why = AT_KINKS.get(convention.op)
    if why is None:
        verdict, detail = (AGREE, "the label gives graphnn's gradient") if agree else \
            (DIFFER, "the label reads otherwise than graphnn's gradient, drawn beside it")
    else:
        verdict, detail = (BY_DESIGN, why) if not agree else \
            (DIFFER, f"AT_KINKS says the label differs here, but it agrees: remove "
                     f"{convention.op!r}")
    return Row(f"{convention.op} at {convention.where}", ", ".join(map(str, theirs)),
               ", ".join(f"{v:g}" for v in ours), verdict, "exact", detail)


def check_label(name: str, timeout: float = 60.0) -> list[Row]:
    """Prove op `name`'s derivative labels: one row per op input, and one per kink of the
    conventions table where the op is elementwise.

    >>> [(r.input, r.graphnn, r.verdict) for r in check_label("mul")]
    [('mul: x', "label 'y'", 'agree'), ('mul: y', "label 'x'", 'agree')]
    """
    op = REGISTRY.get(name)
    if op is None:
        raise OpError(f"unknown op {name!r}")
    chosen = _instances(name)
    if not chosen:
        return [Row(f"{name}: -", "", "", MISSING, "", "no small instance to prove the labels "
                    "on: add the op's shapes to INSTANCES in graphnn/symbolic/rules.py")]
    deadline = time.monotonic() + timeout
    try:
        assume = ASSUMPTIONS.get(name)
        rows = [row for instance in chosen
                for row in prove_instance(name, instance, deadline, _label_claim, POINTS,
                                          assume(instance) if assume else None)]
    except LabelError as error:
        if name in PROSE:
            return [Row(f"{name}: -", "", ", ".join(op.derivative), BY_DESIGN, "",
                        "a label in words (PROSE): the rule is proven by check_rule")]
        return [Row(f"{name}: -", "", ", ".join(op.derivative), MISSING, "",
                    f"{error}; write it in the notation of graphnn/symbolic/notation.py")]
    if name in PROSE:
        return [Row(f"{name}: -", "", ", ".join(op.derivative), DIFFER, "",
                    f"PROSE lists {name!r}, but its labels read as formulas: remove it")]
    kinks = [c for c in CONVENTIONS if c.op == name and op.elementwise]
    return rows + [_at_kink(c) for c in kinks]


def check_labels(names: Sequence[str] | None = None, timeout: float = 300.0) -> list[Row]:
    """Every op's labels (or those in `names`), checked as `check_label` does."""
    deadline = time.monotonic() + timeout
    return [row for name in (rule_names() if names is None else names)
            for row in check_label(name, max(0.0, deadline - time.monotonic()))]
