"""What a drawing contains: composites collapsed or expanded, folded constants, scopes."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from graphnn.render.scene import build_scene, expand_composites, top_scopes


def _ops(scene):
    return [n.op for n in scene.drawn if n.inputs]


def test_ids_follow_the_topological_order():
    x, y = gn.input("x"), gn.input("y")
    scene = build_scene([(x + y) * x])
    assert [scene.ids[n] for n in scene.nodes] == [f"n{k}" for k in range(len(scene.nodes))]
    assert [n.op for n in scene.nodes] == ["input", "input", "add", "mul"]


def test_composites_are_one_node_unless_expanded():
    p, t = gn.input("p", shape=(3,)), gn.input("t", shape=(3,))
    loss = gn.mse(p, t, name="loss")
    assert _ops(build_scene([loss])) == ["mse"]
    expanded = build_scene([loss], expand=True)
    assert _ops(expanded) == ["neg", "add", "square", "mean"]
    assert expanded.outputs[0].name == "loss"              # the name moves to the expansion
    assert expanded.node_for(loss) is expanded.outputs[0]


def test_expansion_goes_through_nested_composites_and_keeps_users():
    logits, onehot = gn.input("z", shape=(2, 3)), gn.input("t", shape=(2, 3))
    loss = gn.softmax_cross_entropy(logits, onehot) * 2.0
    outputs, _, mapping = expand_composites([loss])
    ops = {n.op for n in gn.Graph(outputs).nodes}
    assert not ops & {"softmax_cross_entropy", "log_softmax", "sub"}
    assert outputs[0].op == "mul" and mapping[loss] is outputs[0]
    feed = {"z": np.arange(6.0).reshape(2, 3), "t": np.eye(3)[[0, 2]]}
    np.testing.assert_allclose(gn.evaluate(outputs[0], feed), gn.evaluate(loss, feed),
                               rtol=1e-12)


def test_expanded_nodes_keep_the_scope_of_their_composite():
    p = gn.input("p", shape=(2,))
    with gn.scope("head"):
        loss = gn.mse(p, np.zeros(2))
    scene = build_scene([loss * 1.0], expand=True)
    inner = [n for n in scene.nodes if n.op in ("square", "mean")]
    assert inner and all(scene.scopes[n] == ("head",) for n in inner)


def test_scalar_constants_fold_into_gates_and_disappear():
    x = gn.input("x")
    scene = build_scene([1.0 / (1.0 + gn.exp(-x))])
    assert [scene.folds[n].symbol if n in scene.folds else n.opdef.symbol
            for n in scene.drawn if n.inputs] == ["×-1", "exp", "+1", "1/x"]
    assert all(n.op != "constant" for n in scene.drawn)
    assert len(scene.edges) == 4                 # x -> ×-1 -> exp -> +1 -> 1/x


def test_array_constants_stay_drawn():
    x = gn.input("x", shape=(2,))
    scene = build_scene([x * np.array([1.0, 2.0])])
    assert [n.op for n in scene.drawn] == ["input", "constant", "mul"]


def test_scopes_and_collapsing():
    x = gn.input("x", shape=(2, 3))
    with gn.scope("layer1"):
        w = gn.input("w", shape=(3, 3))
        h = gn.relu(x @ w)
    with gn.scope("layer2"):
        y = gn.sum(h * 2.0)
    scene = build_scene([y])
    assert top_scopes(scene) == ["layer1", "layer2"] and not scene.groups
    collapsed = build_scene([y], collapse=["layer1"])
    assert {n.op for n in collapsed.groups} == {"matmul", "relu"}
    assert w in collapsed.drawn                  # a layer's weights stay visible
    everything = build_scene([y], collapse=True)
    assert {n.op for n in everything.groups} == {"matmul", "relu", "mul"}
    assert y in everything.drawn                 # and so do outputs
