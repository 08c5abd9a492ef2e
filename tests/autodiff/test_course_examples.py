"""The worked examples of the course notes, with the numbers the lecture gives."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn

NEURON = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def test_add_then_multiply():
    # f = (x + y) z at x = -2, y = 5, z = -4
    x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    f = (x + y) * z
    values = gn.evaluate([f, *gn.grad(f, [x, y, z])], {"x": -2.0, "y": 5.0, "z": -4.0})
    assert [float(v) for v in values] == [-12.0, -4.0, -4.0, 3.0]


def _neuron_inputs():
    return [gn.input(name) for name in NEURON]


def _neuron_sigmoid():
    w0, x0, w1, x1, w2 = _neuron_inputs()
    return gn.sigmoid(w0 * x0 + w1 * x1 + w2)


def _neuron_primitives():
    w0, x0, w1, x1, w2 = _neuron_inputs()
    return 1.0 / (1.0 + gn.exp(-(w0 * x0 + w1 * x1 + w2)))


@pytest.mark.parametrize("build", [_neuron_sigmoid, _neuron_primitives])
def test_neuron(build):
    f = build()
    values = gn.evaluate([f, *gn.grad(f, _neuron_inputs())], NEURON)
    # lecture: f = 0.73, df/dw0 = -0.20, df/dx0 = 0.39, df/dw1 = -0.39, df/dx1 = -0.59,
    # df/dw2 = 0.20 (to three places: 0.731, -0.196, 0.393, -0.393, -0.590, 0.196)
    expected = [0.731, -0.196, 0.393, -0.393, -0.590, 0.196]
    np.testing.assert_allclose([float(v) for v in values], expected, atol=1e-3)
    s = 1 / (1 + np.exp(-1.0))          # the neuron's pre-activation is 1
    exact = [s] + [s * (1 - s) * d for d in (-1.0, 2.0, -2.0, -3.0, 1.0)]
    np.testing.assert_allclose([float(v) for v in values], exact, rtol=1e-14)


def test_logistic_regression_gradient_is_a_minus_y():
    x = gn.input("x", shape=(3,))
    w = gn.input("w", shape=(3,))
    y = gn.input("y")
    z = gn.sum(w * x)
    a = gn.sigmoid(z)
    loss = gn.binary_cross_entropy(a, y)
    dz, dw = gn.grad(loss, [z, w])
    feed = {"x": [0.5, -1.0, 2.0], "w": [0.1, 0.4, -0.3], "y": 1.0}
    a_value, dz_value, dw_value = gn.evaluate([a, dz, dw], feed)
    np.testing.assert_allclose(dz_value, a_value - 1.0, rtol=1e-12)
    np.testing.assert_allclose(dw_value, np.array(feed["x"]) * (a_value - 1.0), rtol=1e-12)


def test_add_distributes_the_upstream_gradient():
    x, y = gn.input("x"), gn.input("y")
    g = gn.input("g")               # upstream gradient, as a weight on the output
    dx, dy = gn.grad((x + y) * g, [x, y])
    # dx = dy = g: x and y are fed, though the gradients do not read them
    assert gn.evaluate([dx, dy], {"x": 3.0, "y": -1.0, "g": 2.5}, allow_extra=True) == [2.5, 2.5]


def test_mul_swaps_its_inputs():
    x, y = gn.input("x"), gn.input("y")
    dx, dy = gn.grad(x * y * 2.0, [x, y])
    assert gn.evaluate([dx, dy], {"x": 3.0, "y": -1.0}) == [-2.0, 6.0]


def test_max_routes_to_the_larger_input():
    x, y = gn.input("x"), gn.input("y")
    dx, dy = gn.grad(gn.maximum(x, y) * 2.0, [x, y])
    assert gn.evaluate([dx, dy], {"x": 4.0, "y": 1.0}) == [2.0, 0.0]
    assert gn.evaluate([dx, dy], {"x": 1.0, "y": 4.0}) == [0.0, 2.0]


def test_a_node_used_twice_adds_its_gradients():
    x = gn.input("x")
    y = x * 3.0
    dx = gn.grad(y + y * y, x)      # y fans out to two uses: d/dy = 1 + 2y, times 3
    assert float(gn.evaluate(dx, {"x": 2.0})) == (1 + 2 * 6.0) * 3.0


def test_second_derivative_of_sigmoid():
    x = gn.input("x")
    s = gn.sigmoid(x)
    second = gn.grad(gn.grad(s, x), x)
    for value in (-3.0, -0.5, 0.0, 0.7, 4.0):
        sv = 1 / (1 + np.exp(-value))
        np.testing.assert_allclose(gn.evaluate(second, {"x": value}),
                                   sv * (1 - sv) * (1 - 2 * sv), rtol=1e-12, atol=1e-16)
