"""The numbers on a drawing agree with gn.evaluate and gn.grad, edge by edge."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.render.annotate import annotate, backward_scopes
from graphnn.render.scene import build_scene


def _numbers(outputs, feed, wrt, **scene_options):
    scene = build_scene(outputs, **scene_options)
    return scene, annotate(scene.nodes, scene.edges, scene.outputs[0], feed, wrt)


def test_values_and_gradients_match_evaluate_and_grad():
    x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    a = x * y
    f = gn.tanh(a + a * z) / (1.0 + gn.exp(-y))            # a fans out
    feed = {"x": 0.3, "y": -1.2, "z": 2.0}
    scene, numbers = _numbers([f], feed, [x, y, z])
    for node in scene.nodes:     # one feed for every node: allow_extra
        np.testing.assert_allclose(numbers.values[node],
                                   gn.evaluate(node, feed, allow_extra=True), rtol=1e-15)
    for node in (x, y, z, a):
        np.testing.assert_allclose(numbers.grads[node],
                                   gn.evaluate(gn.grad(f, node), feed, allow_extra=True),
                                   rtol=1e-12)


def test_fan_out_adds_and_the_chain_rule_holds_on_every_scalar_edge():
    x, y = gn.input("x"), gn.input("y")
    a = x * 3.0
    f = gn.sigmoid(a + a * a - y * x)
    scene, numbers = _numbers([f], {"x": 0.4, "y": -0.7}, [x, y])
    for node in scene.nodes:
        flows = [numbers.flow[(e.consumer, e.position)] for e in scene.fan_out(node)
                 if (e.consumer, e.position) in numbers.flow]
        if flows:
            np.testing.assert_allclose(sum(flows), numbers.grads[node], rtol=1e-12)
    assert len(scene.fan_out(a)) == 3 and len(scene.fan_out(x)) == 2
    for (consumer, position), local in numbers.local.items():
        upstream = numbers.grads[consumer]
        np.testing.assert_allclose(upstream * local, numbers.flow[(consumer, position)],
                                   rtol=1e-12)


def test_max_routes_and_mul_swaps():
    x, y = gn.input("x"), gn.input("y")
    m = gn.maximum(x, y)
    f = m * y
    _, numbers = _numbers([f], {"x": 4.0, "y": 1.0}, [x, y])
    assert float(numbers.local[(m, 0)]) == 1.0 and float(numbers.local[(m, 1)]) == 0.0
    assert float(numbers.flow[(m, 1)]) == 0.0                 # the smaller input gets nothing
    assert float(numbers.local[(f, 0)]) == 1.0 and float(numbers.local[(f, 1)]) == 4.0


def test_broadcast_operands_receive_gradients_of_their_own_shape():
    x, b = gn.input("x", shape=(4, 2)), gn.input("b", shape=(2,))
    s = x + b
    loss = gn.sum(s * s)
    _, numbers = _numbers([loss], {"x": np.ones((4, 2)), "b": np.array([1.0, -1.0])}, [b])
    assert numbers.flow[(s, 1)].shape == (2,)
    np.testing.assert_allclose(numbers.grads[b], [16.0, 0.0])
    assert (s, 0) not in numbers.flow                         # x is not differentiated


def test_composites_drawn_as_one_node_pass_gradients_through_their_expansion():
    p, t = gn.input("p", shape=(3,)), gn.input("t", shape=(3,))
    loss = gn.mse(p, t)
    feed = {"p": np.array([1.0, 2.0, 3.0]), "t": np.zeros(3)}
    _, numbers = _numbers([loss], feed, [p])
    np.testing.assert_allclose(numbers.flow[(loss, 0)], 2 * feed["p"] / 3, rtol=1e-15)
    _, expanded = _numbers([loss], feed, [p], expand=True)
    np.testing.assert_allclose(expanded.grads[p], numbers.grads[p], rtol=1e-15)


def test_without_a_feed_only_the_structure_is_known():
    x, y = gn.input("x"), gn.input("y")
    f = x * y
    _, numbers = _numbers([f], None, [x])
    assert not numbers.values and not numbers.grads
    assert numbers.carries_gradient == {(f, 0)}


def test_gradients_need_a_scalar_output():
    x = gn.input("x", shape=(3,))
    with pytest.raises(gn.GradError, match="scalar output"):
        _numbers([x * 2.0], {"x": np.ones(3)}, [x])


def test_backward_nodes_belong_to_the_layer_whose_rule_built_them():
    x = gn.input("x", shape=(2, 3))
    with gn.scope("layer1"):
        w = gn.input("w", shape=(3, 4))
        h = gn.tanh(x @ w)
    loss = gn.sum(h)
    scopes = backward_scopes(loss, [w])
    assert scopes[gn.grad(loss, w)] == ("∇ layer1",)
    assert scopes[1.0 - h * h] == ("layer1",)          # tanh' from forward values alone
    assert set(scopes.values()) == {("∇ layer1",), ("layer1",), ()}
