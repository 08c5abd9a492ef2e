"""derivative_formula: short plain text and LaTeX for learners, never a page of exponentials."""

from __future__ import annotations

import pytest

import graphnn as gn
from graphnn.symbolic import derivative_formula
from tests.symbolic.models import logistic_regression, neuron


def test_the_neurons_derivative_reads_like_the_lecture():
    f, (w0, x0, w1, x1, w2) = neuron()
    formula = derivative_formula(f, w0)
    assert formula.text == "f*x0*(1 - f)"
    assert formula.latex == r"f x_{0} \left(1 - f\right)"
    assert formula.where == {"f": "σ(w0*x0 + w1*x1 + w2)"}
    assert str(formula) == "f*x0*(1 - f)   where f = σ(w0*x0 + w1*x1 + w2)"


def test_an_unnamed_sigmoid_is_written_with_sigma_not_exponentials():
    w0, x0 = gn.input("w0"), gn.input("x0")
    formula = derivative_formula(gn.sigmoid(w0 * x0 + 1.0), w0)
    assert formula.text == "x0*(1 - σ(w0*x0 + 1))*σ(w0*x0 + 1)"
    assert r"\sigma\left(w_{0} x_{0} + 1\right)" in formula.latex
    assert "exp" not in formula.text and formula.where == {}


def test_local_derivatives_for_edge_labels():
    f, (w0, x0, w1, x1, w2) = neuron()
    z = gn.add(w0 * x0 + w1 * x1, w2, name="z")
    assert derivative_formula(gn.sigmoid(z, name="s"), z).text == "s*(1 - s)"
    assert derivative_formula(gn.tanh(z), z).text == "1 - tanh(z)**2"
    assert derivative_formula(w0 * x0, x0).text == "w0"


def test_logistic_regression_simplifies_to_a_minus_y():
    loss, (w, b) = logistic_regression()
    assert derivative_formula(loss, b).text == "a - y"
    assert derivative_formula(loss, w, index=(2,)).text == "x_2*(a - y)"


def test_tensors_need_an_element():
    x = gn.input("x", shape=(2,))
    with pytest.raises(gn.GradError, match="pick one element with index"):
        derivative_formula(gn.sum(x * x), x)
    with pytest.raises(gn.GradError, match="output_index"):
        derivative_formula(x * 2.0, x, index=(0,))
    assert derivative_formula(x * 3.0, x, index=(1,), output_index=(1,)).text == "3"
    with pytest.raises(gn.GradError, match="does not depend on"):
        derivative_formula(gn.sum(x), gn.input("unused"))
