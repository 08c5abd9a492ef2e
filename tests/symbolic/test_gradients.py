"""check_gradients on whole graphs: the course's examples verified end to end, wrong rules
caught, the big MLP refused promptly and verified numerically instead."""

from __future__ import annotations

import time

import numpy as np
import pytest

import graphnn as gn
from graphnn.ir import REGISTRY
from graphnn.symbolic import SymbolicLimitError, check_gradients
from graphnn.symbolic.report import AGREE, DIFFER, UNDECIDED
from tests.symbolic.models import (
    NEURON_FEED,
    logistic_regression,
    mlp_2_4_1,
    mlp_784_256_10,
    neuron,
)


def _wrong_sigmoid(monkeypatch):
    monkeypatch.setitem(REGISTRY["sigmoid"].__dict__, "vjp", lambda g, out, x: (g * out,))


def test_lecture_neuron():
    f, inputs = neuron()
    report = check_gradients(f, inputs, feed=NEURON_FEED)
    assert report.ok and report.method == "symbolic"
    assert [r.reference for r in report.rows] == ["f*x0*(1 - f)", "f*w0*(1 - f)",
                                                  "f*x1*(1 - f)", "f*w1*(1 - f)", "f*(1 - f)"]
    assert {r.method for r in report.rows} == {"simplify"}
    # the lecture's numbers, from SymPy and from graphnn's gradient graph
    lecture = [-0.196612, 0.393224, -0.393224, -0.589836, 0.196612]
    np.testing.assert_allclose([r.at_feed for r in report.rows],
                               np.transpose([lecture, lecture]), atol=1e-6)
    text = str(report)
    assert "note: where f = σ(w0*x0 + w1*x1 + w2)" in text
    assert text.endswith("OK: all 5 derivatives agree (decided by simplify)")


def test_logistic_regression_gradient_is_x_times_a_minus_y():
    loss, wrt = logistic_regression()
    report = check_gradients(loss, wrt)
    assert report.ok
    assert [r.reference for r in report.rows] == ["x_0*(a - y)", "x_1*(a - y)", "x_2*(a - y)",
                                                  "a - y"]


def test_mlp_2_4_1():
    loss, wrt = mlp_2_4_1()
    report = check_gradients(loss, wrt)
    assert report.ok and len(report.rows) == 8 + 4 + 4 + 1
    assert report.rows[0].input == "W1[0,0]" and report.rows[-1].input == "b2[0]"
    assert "where out_0_0 = σ(W2_0_0*h_0_0 + W2_1_0*h_0_1 + W2_2_0*h_0_2 + W2_3_0*h_0_3 + " \
        "b2_0)" in str(report)


def test_a_wrong_rule_is_caught_in_a_users_graph(monkeypatch):
    _wrong_sigmoid(monkeypatch)
    f, inputs = neuron()
    report = check_gradients(f, inputs)
    assert not report.ok and {r.verdict for r in report.rows} == {DIFFER}
    row = report.rows[0]
    assert (row.reference, row.graphnn) == ("f*x0*(1 - f)", "f*x0")
    assert "  w0: at w0 = " in str(report) and str(report).endswith("FAILED: 5 differ (of 5)")


def test_the_big_mlp_is_refused_promptly_with_advice():
    loss, wrt, _ = mlp_784_256_10(batch=64)
    start = time.perf_counter()
    with pytest.raises(SymbolicLimitError) as error:
        check_gradients(loss, wrt)
    assert time.perf_counter() - start < 0.5
    assert "Raise max_ops" in str(error.value) and "method='numeric'" in str(error.value)


def test_the_big_mlp_is_verified_numerically():
    loss, wrt, feed = mlp_784_256_10(batch=8)
    report = check_gradients(loss, wrt, feed=feed, method="numeric", samples=6)
    assert report.ok and report.method == "numeric"
    assert [r.input for r in report.rows] == ["W1", "b1", "W2", "b2"]
    assert report.rows[0].detail.startswith("6 of 200,704 elements; worst W1[")
    assert "|graphnn - differences| = " in report.rows[0].detail


def test_auto_falls_back_to_numeric_and_says_why():
    loss, wrt, feed = mlp_784_256_10(batch=2)
    report = check_gradients(loss, wrt, feed=feed, method="auto", samples=3)
    assert report.ok and report.method == "numeric"
    assert report.notes[0].startswith("not checked symbolically: this graph with its gradient "
                                      "is too large for SymPy")


def test_numeric_check_catches_a_wrong_rule(monkeypatch):
    _wrong_sigmoid(monkeypatch)
    loss, wrt = mlp_2_4_1(batch=3)
    report = check_gradients(loss, wrt, method="numeric")
    assert not report.ok and {r.verdict for r in report.rows} == {DIFFER}
    assert "inputs not in the feed were drawn from N(0, 1)" in report.notes[0]


def test_numeric_check_runs_in_float64_for_float32_graphs():
    x = gn.input("x", shape=(3,), dtype="float32")
    y = gn.sum(gn.exp(x) * gn.tanh(x))
    report = check_gradients(y, x, feed={"x": np.array([0.1, -0.7, 1.3], dtype="float32")},
                             method="numeric")
    assert report.ok, str(report)


def test_feeds_may_use_input_nodes_as_keys():
    x = gn.input("q", shape=(2,))
    report = check_gradients(gn.sum(x * x), x, feed={x: np.array([1.0, 2.0])}, method="numeric")
    assert report.ok and report.notes == [] and report.rows[0].reference == "+4 at q[1]"


def test_inputs_that_would_share_a_symbol_are_an_error():
    a, b = gn.input("x_0"), gn.input("x", shape=(1,))
    with pytest.raises(gn.GraphnnError, match="input 'x_0' f64\\[\\] and input 'x' f64\\[1\\] "
                       "both give the SymPy symbol x_0"):
        check_gradients(a * gn.sum(b), [a, b])


def test_the_partial_bound():
    x = gn.input("x", shape=(30,))
    with pytest.raises(SymbolicLimitError, match="30 partial derivatives.*max_partials=10"):
        check_gradients(gn.sum(x * x), x, max_partials=10)


def test_the_time_limit_leaves_the_rest_undecided():
    f, inputs = neuron()
    report = check_gradients(f, inputs, timeout=0.0)
    assert not report.ok and {r.verdict for r in report.rows} == {UNDECIDED}
    assert "raise timeout=" in report.rows[0].detail


def test_gradients_with_respect_to_an_intermediate_node():
    f, (w0, x0, w1, x1, w2) = neuron()
    z = w0 * x0 + w1 * x1 + w2            # interned: the node inside f
    report = check_gradients(f, [z, w2])
    assert report.ok and [r.reference for r in report.rows] == ["f*(1 - f)", "f*(1 - f)"]


def test_kinks_and_ties_in_a_graph_agree_almost_everywhere():
    x, y = gn.input("x", shape=(3,)), gn.input("y", shape=(3,))
    loss = gn.max(gn.maximum(x, y) + gn.relu(x) + gn.abs(y))
    report = check_gradients(loss, [x, y])
    assert report.ok and {r.verdict for r in report.rows} == {AGREE}


def test_bad_calls_say_what_was_expected():
    x = gn.input("x", shape=(2,))
    with pytest.raises(gn.GradError, match="scalar graph node y, got input 'x' f64\\[2\\]"):
        check_gradients(x, x)
    with pytest.raises(gn.OpError, match="method must be one of symbolic, numeric, auto"):
        check_gradients(gn.sum(x), x, method="exact")
