"""Graph: inputs (default order, explicit lists, validation), outputs, networkx view."""

from __future__ import annotations

import pytest

import graphnn as gn


def test_default_inputs_in_declaration_order():
    b = gn.input("b_first")
    a = gn.input("a_second")
    g = gn.Graph(a * b)
    assert [n.name for n in g.inputs] == ["b_first", "a_second"]


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
