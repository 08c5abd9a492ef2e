"""Graph: inputs (default order, explicit lists, validation), outputs, networkx view."""

from __future__ import annotations

import pytest

import graphnn as gn


def test_default_inputs_in_the_order_the_graph_reaches_them():
    # depth first from the outputs, each node's arguments in order: not the declaration order
    b = gn.input("b_first")
    a = gn.input("a_second")
    assert [n.name for n in gn.Graph(a * b).inputs] == ["a_second", "b_first"]
    x, w, y = gn.input("x", shape=(2, 3)), gn.input("w", shape=(3,)), gn.input("y", shape=(2,))
    loss = gn.mse(gn.tanh(x @ w), y)
    assert [n.name for n in gn.Graph([loss, y * 2.0]).inputs] == ["x", "w", "y"]
    assert [n.name for n in gn.Graph([y * 2.0, loss]).inputs] == ["y", "x", "w"]


def test_the_default_input_order_does_not_depend_on_what_was_built_before():
    # interned nodes: declaring w first (for an unrelated graph) used to put it first here
    w = gn.input("w")
    unrelated = gn.Graph(w * 3.0)
    x = gn.input("x")
    assert [n.name for n in gn.Graph(x * w).inputs] == ["x", "w"]
    assert [n.name for n in gn.Graph(w * x).inputs] == ["w", "x"]
    assert unrelated.inputs == (w,)


def test_explicit_inputs_fix_the_order_and_may_add_unused_ones():
    a, b, c = gn.input("a"), gn.input("b"), gn.input("c")
    g = gn.Graph(a + b, inputs=[b, a, c])
    assert [n.name for n in g.inputs] == ["b", "a", "c"]


def test_explicit_inputs_must_cover_the_outputs():
    a, b = gn.input("a"), gn.input("b")
    with pytest.raises(gn.InputError, match="depend on input 'b', which is not among"):
        gn.Graph(a + b, inputs=[a])
    with pytest.raises(gn.OpError, match="must be nodes made by gn.input"):
        gn.Graph(a + b, inputs=[a, a + b])
    with pytest.raises(gn.InputError, match="listed twice"):
        gn.Graph(a + b, inputs=[a, b, a])


def test_outputs_validation():
    with pytest.raises(gn.OpError, match="at least one output"):
        gn.Graph([])
    with pytest.raises(gn.OpError, match="output 0 is a float"):
        gn.Graph([1.0])
    a = gn.input("a")
    assert gn.Graph(a).output is a
    with pytest.raises(gn.OpError, match="has 2 outputs"):
        _ = gn.Graph([a, a * 2.0]).output


def test_networkx_view():
    x = gn.input("x")
    g = gn.Graph(x * x).to_networkx()
    assert g.number_of_nodes() == 2 and g.number_of_edges() == 2
    assert g.nodes[1]["op"] == "mul"


def test_repr_is_short():
    assert repr(gn.Graph(gn.input("x") * 2.0)) == "<Graph f: 1 inputs, 3 nodes, 1 outputs>"
