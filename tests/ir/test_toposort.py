"""Topological order: inputs before users, argument order, no recursion limit."""

from __future__ import annotations

import graphnn as gn
from graphnn.ir import toposort


def test_order_follows_argument_order():
    a, b = gn.input("a"), gn.input("b")
    s = a + b
    p = s * a
    assert toposort([p]) == [a, b, s, p]
    assert toposort([b * a]) == [b, a, b * a]


def test_shared_nodes_appear_once():
    x = gn.input("x")
    y = gn.exp(x)
    z = y * y + y
    order = toposort([z])
    assert order.count(y) == 1 and order[-1] is z


def test_deep_graph_does_not_recurse():
    x = gn.input("x")
    y = x
    for _ in range(5000):
        y = gn.tanh(y)
    assert len(toposort([y])) == 5001
    assert len(gn.grad(y, [x])) == 1
