"""graphnn.symbolic.rules: every op's derivative rule proven against sympy.diff (generated from
the op registry), and wrong or unprovable rules caught with a clear report."""

from __future__ import annotations

import pytest

from graphnn.ir import REGISTRY, apply
from graphnn.opdef import Symbolic
from graphnn.symbolic import check_ops, check_rule
from graphnn.symbolic.report import AGREE, DIFFER, MISSING
from graphnn.symbolic.rules import SOURCES, rule_names


def test_every_registered_op_has_a_rule_to_prove():
    excused = {name: op.symbolic.without for name, op in REGISTRY.items()
               if op.symbolic.without}
    assert set(rule_names()) == set(REGISTRY) - set(SOURCES) - set(excused)
    # only int and bool values excuse an op: the symbolic checks build float inputs
    assert all("int" in why or "bool" in why for why in excused.values()), excused
    assert all(REGISTRY[name].symbolic.instances for name in rule_names()), \
        "an op without instances to prove its rule on"


@pytest.mark.parametrize("name", rule_names())
def test_rule_matches_sympy_diff(name):
    """Fails for an op without a SymPy form or without a small instance, too."""
    rows = check_rule(name)
    assert rows, f"no rows for {name}"
    for row in rows:
        assert row.verdict == AGREE, f"{row.input}: {row.verdict}: {row.detail}"
        assert row.method in ("simplify", "rational points")


def _patch(monkeypatch, name, facet, value):
    """Replace one facet of a registered op (OpDefs are frozen; nodes share the object)."""
    monkeypatch.setitem(REGISTRY[name].__dict__, facet, value)


def test_a_wrong_rule_is_caught_with_a_counterexample(monkeypatch):
    # the classic slip: sigmoid' = sigma instead of sigma (1 - sigma)
    _patch(monkeypatch, "sigmoid", "vjp", lambda g, out, x: (g * out,))
    report = check_ops(["sigmoid"])
    assert not report.ok
    (row,) = report.failures
    assert (row.input, row.verdict, row.method) == ("sigmoid: x", DIFFER, "rational points")
    assert row.detail.startswith("x (2,): x[0]: at g_0 = ")
    assert "SymPy 0." in row.detail and "graphnn 0." in row.detail
    text = str(report)
    assert "sigmoid: x" in text and row.detail in text and text.endswith("FAILED: 1 rows")


def test_a_wrong_rule_of_a_composite_is_caught(monkeypatch):
    # softmax's rule without the sum(g p) term
    _patch(monkeypatch, "softmax", "vjp", lambda g, out, x, axis: (out * g,))
    (row,) = check_rule("softmax")
    assert row.verdict == DIFFER and "x[0]" in row.detail


def test_an_op_without_a_sympy_form_fails(monkeypatch):
    _patch(monkeypatch, "tanh", "to_sympy", None)
    (row,) = check_rule("tanh")
    assert row.verdict == MISSING and "declares no SymPy form" in row.detail
    assert not check_ops(["tanh"]).ok


def test_an_op_without_a_small_instance_fails(monkeypatch):
    _patch(monkeypatch, "exp", "symbolic", Symbolic())
    (row,) = check_rule("exp")
    assert row.verdict == MISSING and "symbolic=Symbolic(instances=" in row.detail


def test_a_changed_convention_is_caught_by_the_conventions_check(monkeypatch):
    # relu'(0) = 1/2 (the max gate's split) still agrees with sympy.diff almost everywhere,
    # so the rule proof passes at rational points; the declared convention relu'(0) = 0 fails
    _patch(monkeypatch, "relu", "vjp", lambda g, out, x: (g * apply("above", x, 0.0,
                                                                    tie=0.5),))
    (rule,) = check_rule("relu")
    assert (rule.verdict, rule.method) == (AGREE, "rational points")
    report = check_ops(["relu"])
    (failure,) = report.failures
    assert failure.input == "relu at x = 0" and failure.graphnn == "1/2"
    assert failure.detail == "declared 'agree', but the two differ"


def test_check_ops_reports_rules_conventions_and_the_sigmoid_lemma():
    report = check_ops(["mul", "maximum"])
    assert report.ok and [r.input for r in report.rules] == ["mul: x", "mul: y", "maximum: x",
                                                            "maximum: y"]
    assert [r.verdict for r in report.lemmas] == [AGREE]
    assert "max at three tied" in str(report) and repr(report).startswith("<OpsReport OK")
