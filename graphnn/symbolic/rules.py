"""Proving every op's derivative rule against `sympy.diff` on small symbolic shapes.

Stage: verification of the op table. Input: an op name (or the whole registry). Output: report
rows, one per op input.

For an op f with inputs x_1..x_n, symbolic elements and a symbolic upstream gradient g, the
rule is right when, for every input element x_k[e],

    graphnn's cotangent of x_k[e]  ==  sum_j g[j] * d f(x)[j] / d x_k[e]

The left side is the gradient graph the walker builds from the op's `vjp` rule (through the
expansion for composites without one, and summed back over broadcast axes), translated to SymPy
with every op's own formula (sigmoid as 1/(1 + exp(-x))); the right side is `sympy.diff` of the
op's SymPy form. An op whose rule is "no gradient" (step, sign) is checked as the gradient 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from graphnn.autodiff import backprop
from graphnn.errors import OpError
from graphnn.ir import REGISTRY, Node, apply, input
from graphnn.symbolic.compare import Decision, decide, rational_points
from graphnn.symbolic.conventions import check_conventions
from graphnn.symbolic.functions import sigmoid_lemma
from graphnn.symbolic.report import AGREE, DIFFER, MISSING, UNDECIDED, OpsReport, Row
from graphnn.symbolic.translate import translate

REAL, POSITIVE, UNIT = (-3.0, 3.0), (0.0, 3.0), (0.0, 1.0)


@dataclass(frozen=True)
class Instance:
    """Small operand shapes (and attributes) on which an op's rule is proven.

    `domains` gives, per input, the range its rational points are drawn from (default REAL):
    POSITIVE for logarithms and roots, UNIT for probabilities.
    """

    shapes: tuple[tuple[int, ...], ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    domains: tuple[tuple[float, float], ...] = ()

    def describe(self, op_inputs: Sequence[str]) -> str:
        shapes = ", ".join(f"{n} {tuple(s)}" for n, s in zip(op_inputs, self.shapes))
        attrs = ", ".join(f"{k}={v}" for k, v in self.attrs.items())
        return f"{shapes}{'; ' + attrs if attrs else ''}"


def _instances(*shapes: tuple[int, ...], **attrs: Any) -> tuple[Instance, ...]:
    return (Instance(tuple(shapes), attrs),)


def _positive(*shapes: tuple[int, ...], domains: tuple) -> tuple[Instance, ...]:
    return (Instance(tuple(shapes), {}, domains),)


NCHW = (1, 1, 3, 3)
INSTANCES: dict[str, tuple[Instance, ...]] = {
    # broadcasting a scalar against a vector also proves the walker's un-broadcasting
    **{name: _instances((2,), ()) for name in ("add", "sub", "mul", "maximum", "minimum")},
    "div": _instances((2,), ()),
    "pow": _positive((2,), (), domains=(POSITIVE, REAL)),
    **{name: _instances((2,)) for name in ("neg", "square", "abs", "exp", "sign", "sigmoid",
                                           "tanh", "relu", "step")},
    "sqrt": _positive((2,), domains=(POSITIVE,)),
    "log": _positive((2,), domains=(POSITIVE,)),
    "greater": _instances((2,), (), tie=0.5),
    "leaky_relu": _instances((2,), alpha=0.1),
    "elu": _instances((2,), alpha=0.5),
    "sum": _instances((2, 3), axis=1),
    "mean": _instances((2, 3), axis=0, keepdims=True),
    "max": _instances((2, 3), axis=1),
    "min": _instances((3,)),
    "size": _instances((2, 3), axis=0),
    "reshape": _instances((2, 3), shape=(3, 2)),
    "transpose": _instances((2, 3)),
    "broadcast_to": _instances((2, 1), shape=(2, 2, 3)),
    "broadcast_like": _instances((2,), (3, 2)),
    "matmul": _instances((2, 3), (3, 2)) + _instances((3,), (3, 2)),
    "conv2d": _instances(NCHW, (1, 1, 2, 2)) + _instances((1, 1, 3, 3), (1, 1, 2, 2),
                                                          stride=2, padding=1),
    "conv2d_grad_input": _instances((1, 1, 2, 2), (1, 1, 2, 2), input_hw=(3, 3)),
    "conv2d_grad_weight": _instances(NCHW, (1, 1, 2, 2), kernel_hw=(2, 2)),
    "max_pool2d": _instances((1, 1, 2, 4)),
    "max_pool2d_grad": _instances((1, 1, 2, 2), (1, 1, 1, 1), (1, 1, 1, 1)),
    "max_pool2d_select": _instances((1, 1, 2, 2), (1, 1, 1, 1), (1, 1, 2, 2)),
    "avg_pool2d": _instances((1, 1, 2, 4)),
    "avg_pool2d_grad": _instances((1, 1, 1, 2), input_hw=(2, 4)),
    "softmax": _instances((3,)),
    "log_softmax": _instances((2, 2), axis=0),
    "mse": _instances((2,), (2,)),
    "binary_cross_entropy": _positive((2,), (2,), domains=(UNIT, REAL)),
    "softmax_cross_entropy": _instances((2, 2), (2, 2)),
}
SOURCES = ("input", "constant")      # nothing to differentiate


def cotangent_name(op_inputs: Sequence[str]) -> str:
    """The upstream gradient's name: g, or G for an op with an input called g."""
    return "G" if "g" in op_inputs else "g"


# A claim about an op instance's gradients, proven by prove_instance: (out, inputs, seed, their
# SymPy elements) -> per input, who claims it (for the report) and the claimed cotangent's
# elements. The vjp rule is one claimant, the drawings' labels (labels.py) another.
Claim = Callable[[Node, list[Node], Node, dict[Node, np.ndarray]], list[tuple[str, np.ndarray]]]


def vjp_claim(out: Node, inputs: list[Node], seed: Node,
              values: dict[Node, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The cotangents the walker builds from the op's `vjp` rule, translated to SymPy."""
    cotangents = backprop(out, seed, inputs)
    grads = [cotangents.get(i) for i in inputs]
    variables = {node: values[node] for node in (*inputs, seed)}
    found = translate([g for g in grads if g is not None], variables, functions=False)
    return [("vjp rule", found[g] if g is not None else np.full(i.shape, sympy.S.Zero))
            for g, i in zip(grads, inputs)]


def _element(label: str, index: tuple[int, ...]) -> str:
    return f"{label}[{','.join(map(str, index))}]" if index else label


def _summarize(op_input: str, decisions: list[tuple[str, Decision]]) -> tuple[str, str, str]:
    """(verdict, method, detail) of one input from its elements' decisions."""
    for label, d in decisions:
        if d.equal is False:
            return DIFFER, d.method, f"{label}: {d.detail}"
    for label, d in decisions:
        if d.equal is None:
            return UNDECIDED, "", f"{label}: {d.detail}"
    methods = {d.method for _, d in decisions}
    method = "rational points" if "rational points" in methods else "simplify"
    return AGREE, method, f"{len(decisions)} elements of {op_input}"


def prove_instance(name: str, instance: Instance, deadline: float, claim: Claim = vjp_claim,
                   points: int = 3, assume: Mapping[sympy.Symbol, sympy.Expr] | None = None
                   ) -> list[Row]:
    """Rows proving `claim` on one instance of op `name`: each input element's claimed
    cotangent against sympy.diff of the op's SymPy form (`points` rational points).

    `assume` substitutes symbols on both sides after differentiating: what the claim may take
    for granted about the inputs (one-hot rows sum to 1).
    """
    op = REGISTRY[name]
    inputs = [input(label, shape=s) for label, s in zip(op.inputs, instance.shapes)]
    out = apply(name, *inputs, **instance.attrs)
    seed = input(cotangent_name(op.inputs), shape=out.shape)
    values = translate([out, seed], functions=False)
    claims = claim(out, inputs, seed, values)
    vjp_sum = sympy.Add(*(g * f for g, f in zip(values[seed].flat, values[out].flat)))
    domains = {s: dom for node, dom in zip(inputs, instance.domains)
               for s in values[node].flat}
    chosen = rational_points(vjp_sum.free_symbols | set(values[seed].flat), points, 0, domains)
    shown = instance.describe(op.inputs)
    rows = []
    for node, label, (what, claimed) in zip(inputs, op.inputs, claims):
        decisions = []
        for index in np.ndindex(node.shape):
            if time.monotonic() > deadline:
                decisions.append((_element(label, index), Decision(None, "", "time ran out")))
                break
            exact = sympy.diff(vjp_sum, values[node][index])
            ours = sympy.sympify(claimed[index])
            if assume:
                exact, ours = exact.xreplace(assume), ours.xreplace(assume)
            decisions.append((_element(label, index), decide(exact, ours, chosen)))
        verdict, method, detail = _summarize(label, decisions)
        rows.append(Row(f"{name}: {label}", "sympy.diff", what, verdict, method,
                        f"{shown}: {detail}"))
    return rows


def check_rule(name: str, instances: Sequence[Instance] | None = None,
               timeout: float = 60.0) -> list[Row]:
    """Prove op `name`'s derivative rule on small symbolic shapes: one row per op input.

    `instances` default to the op's row in INSTANCES. An op without a SymPy form, or without
    an instance, gets a row whose verdict is "missing".

    >>> [(r.input, r.verdict, r.method) for r in check_rule("mul")]
    [('mul: x', 'agree', 'simplify'), ('mul: y', 'agree', 'simplify')]
    """
    op = REGISTRY.get(name)
    if op is None:
        raise OpError(f"unknown op {name!r}")
    if op.to_sympy is None:
        return [Row(f"{name}: -", "", "", MISSING, "", "the op declares no SymPy form "
                    "(to_sympy=...), so its rule cannot be checked against sympy.diff")]
    chosen = INSTANCES.get(name, ()) if instances is None else tuple(instances)
    if not chosen:
        return [Row(f"{name}: -", "", "", MISSING, "", "no small instance to prove the rule "
                    "on: add the op's shapes to INSTANCES in graphnn/symbolic/rules.py")]
    deadline = time.monotonic() + timeout
    return [row for instance in chosen for row in prove_instance(name, instance, deadline)]


def rule_names() -> list[str]:
    """Every registered op with a derivative rule to prove (all but inputs and constants)."""
    return sorted(set(REGISTRY) - set(SOURCES))


def lemma_rows() -> list[Row]:
    """Facts the symbolic checks rely on: σ's SymPy derivative is that of 1/(1 + e^-x)."""
    zero = sigmoid_lemma() == 0
    return [Row("Sigmoid.fdiff", "d/dx 1/(1 + exp(-x))", "σ(x)*(1 - σ(x))",
                AGREE if zero else DIFFER, "simplify",
                "the σ function used in formulas has the right derivative" if zero else
                "the σ function's derivative is wrong: every symbolic check using it is void")]


def check_ops(names: Sequence[str] | None = None, timeout: float = 300.0) -> OpsReport:
    """Prove every op's derivative rule (or those in `names`) and check the conventions.

    The report has a row per op input (verdict and whether simplification or rational points
    decided), the conventions at non-differentiable points, and the σ lemma; `.ok` is True
    when every rule agrees with sympy.diff and every convention holds as declared.

    >>> report = check_ops(["mul", "relu"])
    >>> report.ok, [r.method for r in report.rules]
    (True, ['simplify', 'simplify', 'simplify'])
    """
    deadline = time.monotonic() + timeout
    rows = []
    for name in rule_names() if names is None else names:
        rows += check_rule(name, timeout=max(0.0, deadline - time.monotonic()))
    return OpsReport(rows, check_conventions(), lemma_rows())
