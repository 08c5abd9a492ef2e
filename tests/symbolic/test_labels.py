"""The drawings' derivative labels (OpDef.derivative and the folded gates' texts) read into
SymPy and proven against sympy.diff, generated from the op registry and the fold table: a
wrong label fails, and so does a new label nobody checks."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import sympy

from graphnn.ir import REGISTRY, apply, input
from graphnn.opdef import Symbolic
from graphnn.render.symbols import _FOLDS, fold
from graphnn.symbolic import check_label, decide, translate
from graphnn.symbolic.notation import LabelError, read_label
from graphnn.symbolic.report import AGREE, BY_DESIGN, DIFFER, MISSING
from graphnn.symbolic.rules import rule_names

X = sympy.Symbol("x", real=True)


def _scalar(value):
    return np.asarray(value, dtype=object)


def test_every_label_is_checked():
    # but those of the ops on ints and bools, which the symbolic checks cannot build
    labeled = {name for name, op in REGISTRY.items()
               if op.derivative and not op.symbolic.without}
    assert labeled == set(rule_names()), "an op with labels the test below never visits"


def _reads_otherwise(name, row):
    """Whether the op declares its labels in words, or the row is a kink whose Kink.label
    says the label reads otherwise there."""
    op = REGISTRY[name]
    return op.labels.in_words or any(row.input == f"{name} at {k.where}" and k.label
                                     for k in op.kinks)


@pytest.mark.parametrize("name", rule_names())
def test_label_matches_sympy_diff(name):
    """Fails for a wrong label, an unreadable one not declared prose, an op without an
    instance, and a label that reads otherwise at a kink without saying why."""
    rows = check_label(name)
    assert rows, f"no rows for {name}"
    for row in rows:
        expected = BY_DESIGN if _reads_otherwise(name, row) else AGREE
        assert row.verdict == expected, f"{row.input}: {row.verdict}: {row.detail}"


def _patch(monkeypatch, name, *texts):
    """Replace an op's labels (OpDefs are frozen; nodes share the object)."""
    monkeypatch.setitem(REGISTRY[name].__dict__, "derivative", texts)


def _patch_facet(monkeypatch, name, facet, **changes):
    """Replace fields of one of an op's facet groups (labels, symbolic) or of its kinks."""
    op = REGISTRY[name]
    if facet == "kinks":
        value = tuple(dataclasses.replace(k, **changes) for k in op.kinks)
    else:
        value = dataclasses.replace(getattr(op, facet), **changes)
    monkeypatch.setitem(op.__dict__, facet, value)


# the slips a person makes writing a derivative by hand
WRONG = [
    ("sigmoid", ("out",)),                                  # σ' = σ
    ("tanh", ("1 + out²",)),                                 # sign
    ("relu", ("1",)),                                        # wrong for x < 0 only
    ("maximum", ("[x > y]", "[x > y]")),                     # the other input's bracket
    ("leaky_relu", ("1 if x > 0 else 0",)),                  # alpha forgotten
    ("elu", ("1 if x > 0 else out",)),                       # alpha forgotten
    ("div", ("1/y", "x/y²")),                                # sign
    ("pow", ("y·x^(y-1)", "log(x)")),                        # out forgotten
    ("mean", ("broadcast(g)",)),                             # 1/N forgotten
    ("softmax", ("out·g",)),                                 # the Σ g·out term forgotten
    ("mse", ("(pred - target)/n", "-2(pred - target)/n")),   # the 2 forgotten
    ("matmul", ("g @ bᵀ", "aᵀ @ g / 2")),
    ("softmax_cross_entropy", ("softmax(logits) - onehot", "-log_softmax(logits)/N")),
]


@pytest.mark.parametrize("name, texts", WRONG, ids=[name for name, _ in WRONG])
def test_a_wrong_label_is_caught_with_a_counterexample(monkeypatch, name, texts):
    _patch(monkeypatch, name, *texts)
    failures = [r for r in check_label(name) if r.verdict == DIFFER]
    assert any(r.method == "rational points" and ": at " in r.detail for r in failures)


def test_a_label_wrong_only_at_the_kink_is_caught(monkeypatch):
    # 1 - [0 > x] is relu's [x > 0] everywhere but at 0, where the drawing shows relu'(0) = 0
    _patch(monkeypatch, "relu", "1 - [0 > x]")
    rule, kink = check_label("relu")
    assert rule.verdict == AGREE
    assert (kink.input, kink.verdict, kink.reference, kink.graphnn) == \
        ("relu at x = 0", DIFFER, "1", "0")


def test_a_stale_prose_or_kink_declaration_fails(monkeypatch):
    # a prose label that became a formula, a kink exception where the label agrees
    _patch_facet(monkeypatch, "exp", "labels", in_words=True)
    (row,) = check_label("exp")
    assert row.verdict == DIFFER and "'exp' declares Labels(in_words=True)" in row.detail
    _patch_facet(monkeypatch, "relu", "kinks", label="no reason")
    assert check_label("relu")[-1].verdict == DIFFER


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.labels.assumes))
def test_every_assumption_is_needed(monkeypatch, name):
    _patch_facet(monkeypatch, name, "labels", assumes=None)
    assert any(row.verdict == DIFFER for row in check_label(name))


def test_a_label_in_words_is_refused_unless_declared_prose(monkeypatch):
    _patch(monkeypatch, "exp", "g routed somewhere")
    (row,) = check_label("exp")
    assert row.verdict == MISSING and "unknown name 'routed'" in row.detail
    _patch(monkeypatch, "exp", "exp(x, x)")
    (row,) = check_label("exp")
    assert row.verdict == MISSING and "cannot read the label 'exp(x, x)'" in row.detail


def test_an_op_without_an_instance_fails(monkeypatch):
    monkeypatch.setitem(REGISTRY["exp"].__dict__, "symbolic", Symbolic())
    (row,) = check_label("exp")
    assert row.verdict == MISSING and "symbolic=Symbolic(instances=" in row.detail


@pytest.mark.parametrize("text, value", [
    ("-x/y²", -X / sympy.Symbol("y") ** 2),
    ("3x²", 3 * X ** 2),
    ("1/(2√x)", 1 / (2 * sympy.sqrt(X))),
    ("2(x - 1)/4", (X - 1) / 2),
    ("x(1 - x)", X * (1 - X)),                     # a variable before "(" multiplies
    ("x^-2", X ** -2),
    ("1 if x > 0 else 1 - x", sympy.Piecewise((1, X > 0), (1 - X, True))),
    ("[x < 2]", sympy.Piecewise((1, X < 2), (0, True))),
])
def test_the_notation_reads_as_written(text, value):
    names = {"x": _scalar(X), "y": _scalar(sympy.Symbol("y"))}
    assert read_label(text, names)[0][()] == value


@pytest.mark.parametrize("text, why", [
    ("1 if x > 0", "'if' without 'else'"), ("(x", "expected ')'"), ("x +", "ends too early"),
    ("x y)", "unexpected ')'"), ("log x", "unknown name 'log'"),
])
def test_the_notation_refuses_what_it_cannot_read(text, why):
    with pytest.raises(LabelError, match=f"cannot read the label .*{re.escape(why)}"):
        read_label(text, {"x": _scalar(X), "y": _scalar(X)})


def test_vectors_are_rows_so_a_transposed_vector_times_a_row_is_an_outer_product():
    a, g = np.array([1, 2, 3], dtype=object), np.array([10, 20], dtype=object)
    value, _ = read_label("aᵀ @ g", {"a": a, "g": g})
    assert value.tolist() == [[10, 20], [20, 40], [30, 60]]


# ---------------------------------------------------------------------------------------------
# The renderer's folded gates (1/x, +1, x², max(x, 0)) carry derivative texts of their own.

def _fold_cases():
    for (op, position), _rule in sorted(_FOLDS.items(), key=str):
        constants = (2.0, 3.0, 0.5, 1.5, -1.0) if op == "pow" else (2.0, -3.0, 0.5)
        for side in ((0, 1) if position is None else (position,)):
            for c in constants:
                yield op, side, c


def _fold_decision(op, side, c):
    x = input("x")
    node = apply(op, c, x) if side == 0 else apply(op, x, c)
    folded = fold(node)
    assert folded is not None and folded.position == side
    exact = sympy.diff(translate([node], functions=False)[node][()], X)
    label, _ = read_label(folded.derivative, {"x": _scalar(X)})
    # both sides of the constant (for max and min gates), positive x for fractional powers
    xs = (1 / 7, 5 / 3, 13 / 5) if op == "pow" else (c - 1 / 7, c + 1 / 7, 5 / 3)
    points = [{X: sympy.Rational(v).limit_denominator(100)} for v in xs]
    return folded.derivative, decide(exact, label[()], points)


@pytest.mark.parametrize("op, side, c", list(_fold_cases()))
def test_folded_gate_label_matches_sympy_diff(op, side, c):
    text, decision = _fold_decision(op, side, c)
    assert decision.equal, f"{op} with {c} at {side}: {text!r}: {decision.detail}"


def test_a_wrong_folded_gate_label_is_caught(monkeypatch):
    monkeypatch.setitem(_FOLDS, ("div", 0), lambda c, t: (f"{t}/x", f"{t}/x²"))   # sign
    _, decision = _fold_decision("div", 0, 2.0)
    assert decision.equal is False
