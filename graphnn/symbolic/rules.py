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

import numpy as np
import sympy

from graphnn.autodiff import backprop
from graphnn.errors import OpError
from graphnn.ir import REGISTRY, Node, apply, input
from graphnn.opdef import SOURCES, Instance

__all__ = ["SOURCES", "Instance", "check_ops", "check_rule", "instances", "prove_instance",
           "rule_names", "vjp_claim"]
from graphnn.symbolic.compare import Decision, decide, rational_points
from graphnn.symbolic.conventions import check_conventions
from graphnn.symbolic.functions import sigmoid_lemma
from graphnn.symbolic.report import AGREE, DIFFER, MISSING, UNDECIDED, OpsReport, Row
from graphnn.symbolic.translate import translate


def instances(name: str) -> tuple[Instance, ...]:
    """The small instances op `name` declares (Symbolic.instances) for its rules' proofs."""
    return REGISTRY[name].symbolic.instances


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
                   points: int = 3,
                   assume: Callable[..., Mapping[sympy.Symbol, sympy.Expr]] | None = None
                   ) -> list[Row]:
    """Rows proving `claim` on one instance of op `name`: each input element's claimed
    cotangent against sympy.diff of the op's SymPy form (`points` rational points, each
    input's drawn from its domain: OpDef.domains).

    `assume(*input_elements)` gives substitutions made on both sides after differentiating:
    what the claim may take for granted about the inputs (one-hot rows sum to 1).
    """
    op = REGISTRY[name]
    labels = op.input_names(len(instance.shapes))
    inputs = [input(label, shape=s) for label, s in zip(labels, instance.shapes)]
    out = apply(name, *inputs, **instance.attrs)
    seed = input(cotangent_name(labels), shape=out.shape)
    values = translate([out, seed], functions=False)
    claims = claim(out, inputs, seed, values)
    vjp_sum = sympy.Add(*(g * f for g, f in zip(values[seed].flat, values[out].flat)))
    domains = {s: op.domain(k) for k, node in enumerate(inputs) for s in values[node].flat}
    substitutions = assume(*(values[node] for node in inputs)) if assume else None
    chosen = rational_points(vjp_sum.free_symbols | set(values[seed].flat), points, 0, domains)
    shown = instance.describe(labels)
    rows = []
    for node, label, (what, claimed) in zip(inputs, labels, claims):
        decisions = []
        for index in np.ndindex(node.shape):
            if time.monotonic() > deadline:
                decisions.append((_element(label, index), Decision(None, "", "time ran out")))
                break
            exact = sympy.diff(vjp_sum, values[node][index])
            ours = sympy.sympify(claimed[index])
            if substitutions:
                exact, ours = exact.xreplace(substitutions), ours.xreplace(substitutions)
            decisions.append((_element(label, index), decide(exact, ours, chosen)))
        verdict, method, detail = _summarize(label, decisions)
        rows.append(Row(f"{name}: {label}", "sympy.diff", what, verdict, method,
                        f"{shown}: {detail}"))
    return rows


def check_rule(name: str, instances: Sequence[Instance] | None = None,
               timeout: float = 60.0) -> list[Row]:
    """Prove op `name`'s derivative rule on small symbolic shapes: one row per op input.

    `instances` default to the op's own (Symbolic.instances). An op without a SymPy form, or
    without an instance, gets a row whose verdict is "missing".

    >>> [(r.input, r.verdict, r.method) for r in check_rule("mul")]
    [('mul: x', 'agree', 'simplify'), ('mul: y', 'agree', 'simplify')]
    """
    op = REGISTRY.get(name)
    if op is None:
        raise OpError(f"unknown op {name!r}")
    if op.to_sympy is None:
        return [Row(f"{name}: -", "", "", MISSING, "", "the op declares no SymPy form "
                    "(to_sympy=...), so its rule cannot be checked against sympy.diff")]
    chosen = op.symbolic.instances if instances is None else tuple(instances)
    if not chosen and op.symbolic.without:
        return [Row(f"{name}: -", "", "", MISSING, "", op.symbolic.without)]
    if not chosen:
        return [Row(f"{name}: -", "", "", MISSING, "", NO_INSTANCE)]
    deadline = time.monotonic() + timeout
    return [row for instance in chosen for row in prove_instance(name, instance, deadline)]


NO_INSTANCE = ("no small instance to prove the rule on: declare the op's shapes in its OpDef, "
               "symbolic=Symbolic(instances=(Instance(shapes),))")


def rule_names() -> list[str]:
    """Every registered op with a derivative rule to prove (all but inputs and constants)."""
    return sorted(name for name, op in REGISTRY.items()
                  if not op.source and not op.symbolic.without)


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
