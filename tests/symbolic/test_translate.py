"""graphnn.symbolic.translate: nodes to SymPy, symbols, exact constants, the size bound."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy

import graphnn as gn
from graphnn.ir import REGISTRY
from graphnn.symbolic import Sigmoid, SymbolicLimitError, to_sympy
from graphnn.symbolic.compare import rational_points, value_at
from graphnn.symbolic.rules import rule_names
from graphnn.symbolic.translate import exact, graph_size
from tests.symbolic.models import mlp_784_256_10, neuron


def test_scalar_inputs_are_real_symbols_named_after_the_input():
    f, (w0, x0, w1, x1, w2) = neuron()
    s = {n: sympy.Symbol(n, real=True) for n in ["w0", "x0", "w1", "x1", "w2"]}
    z = s["w0"] * s["x0"] + s["w1"] * s["x1"] + s["w2"]
    assert to_sympy(f) == Sigmoid(z)
    assert to_sympy(f, functions=False) == 1 / (1 + sympy.exp(-z))
    assert to_sympy(w0) == s["w0"] and to_sympy(w0).is_real


def test_tensor_nodes_are_arrays_of_element_expressions():
    a, b = gn.input("A", shape=(2, 3)), gn.input("B", shape=(3,))
    product = to_sympy(a @ b)
    assert isinstance(product, sympy.Array) and product.shape == (2,)
    symbol = lambda name: sympy.Symbol(name, real=True)  # noqa: E731
    assert product[1] == sum(symbol(f"A_1_{k}") * symbol(f"B_{k}") for k in range(3))
    assert to_sympy(a)[0, 1] == symbol("A_0_1")


def test_constants_and_float_attributes_become_exact_rationals():
    x = gn.input("x")
    assert to_sympy(x * 0.1 + 2.0) == x_symbol() / 10 + 2
    assert to_sympy(gn.leaky_relu(x, alpha=0.01)) == sympy.Piecewise(
        (x_symbol(), x_symbol() > 0), (x_symbol() / 100, True))
    assert exact(float("-inf")) == -sympy.oo and exact(float("nan")) is sympy.nan


def x_symbol():
    return sympy.Symbol("x", real=True)


def test_leaves_stand_for_themselves():
    f, (w0, x0, w1, x1, w2) = neuron()
    z = gn.add(w0 * x0 + w1 * x1, w2, name="z")
    assert to_sympy(gn.sigmoid(z), leaves=[z]) == Sigmoid(sympy.Symbol("z", real=True))


def _random_feed(nodes, point):
    return {n.name: np.vectorize(lambda s: float(point[s]))(gn.symbolic.element_symbols(
        n.name, n.shape)) for n in nodes}


@pytest.mark.parametrize("name", rule_names())
def test_every_op_translates_and_agrees_with_its_reference(name):
    """Each op on its small instance, through the translator (exact attributes, broadcasting
    of elementwise ops, composites): SymPy's value at a rational point equals gn.evaluate."""
    op = REGISTRY[name]
    instance = op.symbolic.instances[0]
    nodes = [gn.input(f"t{k}", shape=s) for k, s in enumerate(instance.shapes)]
    operands = list(nodes)
    if name in ("max_pool2d_grad", "max_pool2d_select"):
        # their `out` operand means max_pool2d(x): the reference reads it, the SymPy form
        # recomputes it from x
        operands[1] = gn.max_pool2d(nodes[0], **instance.attrs)
    out = gn.apply(name, *operands, **instance.attrs)
    expr = np.array(to_sympy(out).tolist() if out.shape else to_sympy(out), dtype=object)
    assert expr.shape == out.shape, name
    symbols = [s for n in nodes for s in gn.symbolic.element_symbols(n.name, n.shape).flat]
    domains = {s: op.domain(k) for k, n in enumerate(nodes)
               for s in gn.symbolic.element_symbols(n.name, n.shape).flat}
    point = rational_points(symbols, 1, seed=3, domains=domains)[0]
    values = np.vectorize(lambda e: float(value_at(e, point)), otypes=[float])(expr)
    expected = gn.evaluate(gn.Graph(out, nodes), _random_feed(nodes, point))[0]
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-12, err_msg=op.name)


def test_a_big_graph_is_refused_before_any_sympy_work():
    loss, _, _ = mlp_784_256_10(batch=64)
    start = time.perf_counter()
    with pytest.raises(SymbolicLimitError) as error:
        to_sympy(loss)
    assert time.perf_counter() - start < 0.5
    message = str(error.value)
    assert "max_ops=20,000" in message and "matmul f64[64,256]" in message
    assert "method='numeric'" in message


def test_graph_size_counts_contractions():
    a, b = gn.input("a", shape=(64, 784)), gn.input("b", shape=(784, 256))
    total, biggest = graph_size([a @ b])
    assert total == 64 * 256 * 784 and biggest.op == "matmul"
    x, w = gn.input("x", shape=(2, 3, 8, 8)), gn.input("w", shape=(4, 3, 3, 3))
    assert graph_size([gn.conv2d(x, w)])[0] == 2 * 4 * 6 * 6 * (3 * 3 * 3)
