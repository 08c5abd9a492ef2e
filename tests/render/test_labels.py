"""Numbers and tensors as drawing text; op symbols, folded constants and derivative formulas."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.render.labels import font, format_number, literal, shape_text, value_lines
from graphnn.render.symbols import derivative, fold, substitute, symbol


@pytest.mark.parametrize(("value", "text"), [
    (0.7310585786300049, "0.73"), (-0.19661193324148185, "-0.20"), (0.3932238664829637, "0.39"),
    (-2.0, "-2.00"), (0.0, "0.00"), (-0.0, "0.00"), (0.004, "0.004"), (-0.00123, "-0.0012"),
    (1e-9, "1e-09"), (9999.0, "9999.00"), (12345.6, "1.2e+04"), (float("nan"), "nan"),
    (float("inf"), "inf"), (float("-inf"), "-inf"),
])
def test_numbers_keep_two_decimals_or_two_significant_digits(value, text):
    assert format_number(value) == text


def test_precision_is_a_parameter():
    assert format_number(0.7310585786300049, digits=4) == "0.7311"


def test_literals_in_symbols_are_short():
    assert [literal(v) for v in (1.0, -1.0, 0.5, 2.0, 1e-8)] == ["1", "-1", "0.5", "2", "1e-08"]


def test_shapes_read_like_the_slides():
    assert [shape_text(s) for s in ((), (5,), (4, 3))] == ["", "[5]", "[4×3]"]


def test_small_tensors_show_their_values_large_ones_statistics():
    assert value_lines(np.array(2.5)) == ["2.50"]
    assert value_lines(np.array([1.0, -2.0])) == ["[1.00, -2.00]"]
    assert value_lines(np.array([[0.1], [0.2]]).reshape(1, 2, 1, 1)) == ["[0.10, 0.20]"]
    assert value_lines(np.arange(12.0).reshape(3, 4)) == ["mean 5.50 ± 3.45",
                                                          "range [0.00, 11.00]"]
    assert value_lines(np.full((3, 3), 0.5)) == ["all 0.50"]


def test_summaries_count_nan_and_inf_and_drop_rounding_noise():
    lines = value_lines(np.array([1.0, np.nan, np.inf, -1.0, 2.0, 3.0, 4.0]))
    assert lines[-1] == "1 nan, 1 inf"
    noise = np.array([0.1, -0.1, 0.2, -0.2, 0.3, -0.3, 1e-18])
    assert value_lines(noise)[0].startswith("mean 0.00 ±")


def test_markup_is_escaped():
    assert font("[x > 0]", "#000000") == '<font color="#000000">[x &gt; 0]</font>'


def test_lecture_gates_fold_their_constant():
    x = gn.input("x")
    gates = {1.0 / x: "1/x", 1.0 + x: "+1", x * -1.0: "×-1", x - 2.0: "−2", x ** 2.0: "x²",
             x / 4.0: "÷4", gn.maximum(x, 0.0): "max(x, 0)", 3.0 - x: "3−x", x + -3.0: "-3"}
    assert {symbol(node): text for node, text in gates.items()} == \
        {text: text for text in gates.values()}
    assert fold(1.0 / x).derivative == "-1/x²" and fold(2.0 / x).derivative == "-2/x²"
    assert symbol(-x) == "×-1" and symbol(x * x) == "×" and fold(x * x) is None


def test_formulas_use_names_only_when_every_operand_has_one():
    w, x, q = gn.input("w"), gn.input("x"), gn.input("q")
    names = {w: "w", x: "x", q: "q"}
    named = derivative(w * x, 1, names)
    assert (named.symbol, named.formula, named.local) == ("∂out/∂x", "w", True)
    mixed = derivative((w * x) * q, 0, names)            # operand 0 is unnamed
    assert (mixed.symbol, mixed.formula) == ("∂out/∂x", "y")
    sig = derivative(gn.sigmoid(w * x), 0, names)
    assert (sig.symbol, sig.formula) == ("∂σ/∂x", "σ·(1 - σ)")
    f = gn.sigmoid(q, name="f")
    assert derivative(f, 0, {**names, f: "f"}).formula == "f·(1 - f)"


def test_gradient_formulas_of_non_elementwise_ops():
    x, W = gn.input("x", shape=(4, 3)), gn.input("W", shape=(3, 2))
    text = derivative(x @ W, 1, {x: "x", W: "W"})
    assert (text.symbol, text.formula, text.local) == ("∇W", "xᵀ @ g", False)


def test_an_input_called_out_keeps_its_operand_name():
    # max_pool2d_grad(x, out, g): "out" in its labels is the pooled input, not the output
    x, pooled = gn.input("x", shape=(1, 1, 2, 2)), gn.input("p", shape=(1, 1, 1, 1))
    g = gn.input("g", shape=(1, 1, 1, 1))
    node = gn.ops.max_pool2d_grad(x, pooled, g)
    text = derivative(node, 2, {x: "x", pooled: "p", g: "g"})
    assert text.formula == "max_pool2d_select(x, p, G)"


def test_substitution_replaces_whole_words_only():
    assert substitute("2x + exp(x)", {"x": "q"}) == "2q + exp(q)"
    assert substitute("out·(1 - out)", {"out": "f"}) == "f·(1 - f)"
    assert substitute("x·y", {"x": "y", "y": "x"}) == "y·x"
