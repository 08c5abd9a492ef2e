"""The derivative labels of drawings, read back into SymPy and proven against sympy.diff.

Stage: verification of the op table. Input: an op's `derivative` texts, the notation the
renderer writes on edges (`out·(1 - out)`, `[x > y]`, `1/(2·out)`, `g @ bᵀ`). Output: report
rows, one per op input and instance, like `check_rule`'s.

The labels are written by hand, not printed from SymPy, because they are written the way the
lecture writes them: in terms of the op's output (σ' = σ (1 - σ) is `out·(1 - out)`), with
Iverson brackets, and for ops that are not elementwise as the input's gradient in terms of the
upstream gradient g (`∇b = aᵀ @ g`), none of which sympy.diff yields. So each label is read
as a formula and proven like a rule, on the op's small instances (Symbolic.instances):

    label(inputs, out, g)[e]  ==  Σ_j g[j] · ∂f(x)[j] / ∂x_k[e]        for every element e

A label without g is a local derivative (every elementwise label; the losses' labels, whose
output is a scalar), so the gradient it claims is g times it. Elementwise ops are read on
scalar operands. At the op's kinks (OpDef.kinks), a label must also give the number the
drawing shows beside it (graphnn's gradient), unless the kink's `label` says why it does not.
What else the labels need is declared with the op too (OpDef.labels): labels in words
(`in_words`: max routes g, pooling spreads it), size letters (`sizes`), and what a label may
assume of its inputs (`assumes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy

from graphnn.autodiff import grad
from graphnn.errors import OpError
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import REGISTRY, Node, apply, input
from graphnn.opdef import Instance
from graphnn.symbolic.conventions import Convention, conventions, same_value
from graphnn.symbolic.notation import LabelError, each, read_label
from graphnn.symbolic.report import AGREE, BY_DESIGN, DIFFER, MISSING, Row
from graphnn.symbolic.rules import NO_INSTANCE, cotangent_name, prove_instance, rule_names
from graphnn.symbolic.translate import exact, translate

# A label is a formula a person wrote, as easily wrong on one side of a kink as everywhere:
# eight rational points (the rules use three) fall on both sides of the instances' kinks, which
# the wrong-label tests confirm for relu, leaky_relu, elu and maximum.
POINTS = 8

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
    names.update({label: values[i]
                  for label, i in zip(op.input_names(len(node.inputs)), node.inputs)})
    names.update({k: np.asarray(exact(v), dtype=object) for k, v in node.attr_items
                  if isinstance(v, float)})
    names.update({k: np.asarray(sympy.Integer(count(node)), dtype=object)
                  for k, count in op.labels.sizes.items()})
    return names


def label_gradient(node: Node, position: int, values: Mapping[Node, np.ndarray],
                   seed: Node) -> np.ndarray:
    """The gradient the label of `node`'s input at `position` claims, as SymPy elements.

    `values` holds the SymPy elements of the node, its inputs and the upstream gradient `seed`.
    """
    target = node.inputs[position]
    text = node.opdef.derivative_of(position)
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
    for position, node in enumerate(inputs):
        text = out.opdef.derivative_of(position)
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
    chosen = REGISTRY[name].symbolic.instances
    if REGISTRY[name].elementwise and chosen:
        first = chosen[0]
        return (Instance(tuple(() for _ in first.shapes), first.attrs),)
    return chosen


def _at_kink(convention: Convention) -> Row:
    """The label's value at a kink against graphnn's gradient there (drawn beside it)."""
    y, wrt, feed = convention.build()
    ours = [float(v) for v in evaluate(Graph(grad(y, wrt), wrt), feed)]
    seed = input(cotangent_name(y.opdef.input_names(len(y.inputs))))
    values = translate([y], functions=False)
    values[seed] = np.asarray(sympy.S.One, dtype=object)
    kink = {values[i][()]: exact(feed[i.name]) for i in y.inputs}
    theirs = [label_gradient(y, y.inputs.index(w), values, seed)[()].xreplace(kink)
              for w in wrt]
    agree = all(same_value(a, b) for a, b in zip(ours, theirs))
    why = convention.kink.label
    if not why:
        verdict, detail = (AGREE, "the label gives graphnn's gradient") if agree else \
            (DIFFER, "the label reads otherwise than graphnn's gradient, drawn beside it")
    else:
        verdict, detail = (BY_DESIGN, why) if not agree else \
            (DIFFER, f"the kink's label says the label differs here, but it agrees: remove "
                     f"it from {convention.op!r}'s Kink")
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
        return [Row(f"{name}: -", "", "", MISSING, "", NO_INSTANCE)]
    deadline = time.monotonic() + timeout
    try:
        rows = [row for instance in chosen
                for row in prove_instance(name, instance, deadline, _label_claim, POINTS,
                                          op.labels.assumes)]
    except LabelError as error:
        if op.labels.in_words:
            return [Row(f"{name}: -", "", ", ".join(op.derivative), BY_DESIGN, "",
                        "a label in words (Labels.in_words): the rule is proven by "
                        "check_rule")]
        return [Row(f"{name}: -", "", ", ".join(op.derivative), MISSING, "",
                    f"{error}; write it in the notation of graphnn/symbolic/notation.py")]
    if op.labels.in_words:
        return [Row(f"{name}: -", "", ", ".join(op.derivative), DIFFER, "",
                    f"{name!r} declares Labels(in_words=True), but its labels read as "
                    "formulas: remove it")]
    kinks = [c for c in conventions() if c.op == name and op.elementwise]
    return rows + [_at_kink(c) for c in kinks]


def check_labels(names: Sequence[str] | None = None, timeout: float = 300.0) -> list[Row]:
    """Every op's labels (or those in `names`), checked as `check_label` does."""
    deadline = time.monotonic() + timeout
    return [row for name in (rule_names() if names is None else names)
            for row in check_label(name, max(0.0, deadline - time.monotonic()))]
