"""The reverse-mode walker: fan-out, broadcasting, unused inputs, intermediates, errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from tests.support import central_difference


def test_broadcast_operands_get_gradients_of_their_own_shape():
    x = gn.input("x", shape=(4, 3))
    b = gn.input("b", shape=(3,))
    c = gn.input("c", shape=(4, 1))
    s = gn.input("s")
    y = gn.sum(gn.tanh(x * b + c) * s)
    grads = gn.grad(y, [x, b, c, s])
    assert [g.shape for g in grads] == [(4, 3), (3,), (4, 1), ()]
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=sh) for sh in [(4, 3), (3,), (4, 1), ()]]
    feed = dict(zip("xbcs", arrays))
    values = gn.evaluate(grads, feed)

    def f(point):
        return float(gn.evaluate(y, dict(zip("xbcs", point))))

    for k, value in enumerate(values):
        np.testing.assert_allclose(value, central_difference(f, arrays, k), rtol=1e-6,
                                   atol=1e-8)


def test_unused_inputs_get_zeros_of_their_shape():
    x = gn.input("x", shape=(2,))
    unused = gn.input("unused", shape=(3, 2), dtype="float64")
    dx, du = gn.grad(gn.sum(x * x), [x, unused])
    values = gn.evaluate([dx, du], {"x": [1.0, 2.0], "unused": np.zeros((3, 2))})
    assert values[1].shape == (3, 2) and not values[1].any()


def test_gradient_with_respect_to_an_intermediate_node():
    x = gn.input("x")
    h = x * x
    y = gn.exp(h)
    dh, dx = gn.grad(y, [h, x])
    value_h, value_x = gn.evaluate([dh, dx], {"x": 0.5})
    assert value_h == pytest.approx(np.exp(0.25)) and value_x == pytest.approx(np.exp(0.25))


def test_gradient_of_the_output_itself_is_one():
    x = gn.input("x")
    assert float(gn.evaluate(gn.grad(x, x), {"x": 3.0}, allow_extra=True)) == 1.0


def test_single_node_wrt_returns_a_node():
    x = gn.input("x")
    assert isinstance(gn.grad(x * x, x), gn.Node)
    assert isinstance(gn.grad(x * x, [x]), list)


def test_gradients_keep_the_dtype():
    x = gn.input("x", shape=(3,), dtype="float32")
    dx = gn.grad(gn.sum(gn.sigmoid(0.5 * x)), x)
    assert dx.dtype == "float32"
    assert gn.evaluate(dx, {"x": np.zeros(3, np.float32)}).dtype == np.float32


def test_composite_gradient_does_not_double_count_shared_paths():
    # the composite's expansion must stop at its inputs: here both inputs depend on x
    x = gn.input("x", shape=(3,))
    y = gn.mse(x * x, x)
    dx = gn.grad(y, x)
    v = np.array([0.5, -1.0, 2.0])
    expected = 2 * (v * v - v) * (2 * v - 1) / 3
    np.testing.assert_allclose(gn.evaluate(dx, {"x": v}), expected, rtol=1e-12)


def test_gradients_are_graphs():
    x = gn.input("x", shape=(2,))
    dx = gn.grad(gn.sum(gn.sigmoid(x)), x)
    text = str(gn.Graph(dx))
    assert "sigmoid x" in text and "return" in text


def test_errors():
    x = gn.input("x", shape=(3,))
    with pytest.raises(gn.GradError, match=r"scalar output, but y is sigmoid f64\[3\].*gn.sum"):
        gn.grad(gn.sigmoid(x), [x])
    with pytest.raises(gn.GradError, match=r"wrt\[1\] is a float, not a graph node"):
        gn.grad(gn.sum(x), [x, 1.0])
    with pytest.raises(gn.GradError, match="wrt must be a node or a list"):
        gn.grad(gn.sum(x), "x")
    with pytest.raises(gn.GradError, match="needs a graph node"):
        gn.grad(1.0, [x])


@pytest.mark.parametrize("build,expected", [
    # stack([x, x]) reads x twice: each element of x gets both weights, once
    (lambda x: gn.sum(gn.stack([x, x]) * np.array([[1.0], [10.0]])), lambda v: np.full(1, 11.0)),
    # binary_cross_entropy(p, p) = -(p log p + (1 - p) log(1 - p)), whose derivative in p
    # is log((1 - p) / p); through p = σ(x), times σ'(x)
    (lambda x: gn.binary_cross_entropy(gn.sigmoid(x), gn.sigmoid(x)),
     lambda v: -np.log(1 / (1 + np.exp(-v)) / (1 - 1 / (1 + np.exp(-v))))
     * np.exp(-v) / (1 + np.exp(-v)) ** 2),
])
def test_a_composite_given_one_node_twice_counts_its_gradient_once(build, expected):
    # the reproducer (a random graph against PyTorch): the expansion's cotangent of x, already
    # the sum over both positions, was handed to each position and so counted twice
    x = gn.input("x", shape=(1,))
    v = np.array([1.0])
    np.testing.assert_allclose(gn.evaluate(gn.grad(build(x), x), {"x": v}), expected(v),
                               rtol=1e-12)
