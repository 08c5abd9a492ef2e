"""Each pass on a small graph (golden text before/after), and the properties each one promises."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import graphnn as gn
from graphnn.ir import REGISTRY, toposort
from graphnn.ops import size
from graphnn.options import CompileOptions
from graphnn.passes import (
    PIPELINE,
    eliminate_dead,
    fold_constants,
    merge_common,
    reuse_forward,
    simplify,
)
from graphnn.passes.cse import duplicates
from graphnn.passes.dce import dead_nodes
from graphnn.passes.rewrite import exactly_commutative
from tests.passes.support import stable


def _run(run, graph, golden, name):
    graph = stable(graph)
    fired: Counter = Counter()
    after = run(graph, fired)
    rules = "".join(f"# {rule}: {times}\n" for rule, times in fired.items())
    # the raw text: the printed form leaves out the x * 1 the passes are shown removing
    before, after_text = graph.text(raw=True), after.text(raw=True)
    golden(f"passes/{name}.txt", f"{before}\n\n{after_text}\n{rules}")
    return after, fired


def test_merge_common(golden):
    x, y = gn.input("x", shape=(3,)), gn.input("y", shape=(3,))
    with gn.scope("layer"):
        scoped = gn.exp(x)
    graph = gn.Graph([gn.exp(x), gn.exp(x, name="e"), scoped, x * y, y * x,
                      gn.maximum(x, y), gn.maximum(y, x)])
    after, fired = _run(merge_common, graph, golden, "merge_common")
    assert len(set(map(id, after.outputs))) == 4      # exp, x * y, and the two maxima
    assert fired["same value, other name or scope -> one node"] == 2
    assert fired["y op x -> x op y (commutative)"] == 1
    assert duplicates(graph) and not duplicates(after)
    assert merge_common(after) is after


def test_maximum_is_not_commutative_to_the_bit():
    # why merge_common keeps maximum(x, y) and maximum(y, x) apart
    assert np.signbit(np.maximum(0.0, -0.0)) != np.signbit(np.maximum(-0.0, 0.0))
    assert {n for n, op in REGISTRY.items() if exactly_commutative(op)} == {
        "add", "mul", "equal", "not_equal", "logical_and", "logical_or"}


def test_equal_constants_from_different_scopes_merge():
    with gn.scope("a"):
        first = gn.constant(np.arange(3.0))
    with gn.scope("b"):
        second = gn.constant(np.arange(3.0))
    assert first is not second
    x = gn.input("x", shape=(3,))
    fired: Counter = Counter()
    after = merge_common(gn.Graph([x * first, x * second]), fired)
    assert after.outputs[0] is after.outputs[1]
    assert fired == {"equal constants -> one constant": 1, "same value, other name or scope "
                     "-> one node": 1}


def test_eliminate_dead(golden):
    x = gn.input("x", shape=(4, 3))
    seed = gn.ops.broadcast_like(gn.constant(1.0), gn.exp(x))     # exp read for its shape only
    graph = gn.Graph([seed * gn.sum(x) / size(gn.tanh(x), axis=0)])
    after, fired = _run(eliminate_dead, graph, golden, "eliminate_dead")
    assert {n.op for n in after.nodes}.isdisjoint({"exp", "tanh", "size", "broadcast_like"})


def test_eliminate_dead_keeps_broadcast_like_when_like_is_read():
    x = gn.input("x", shape=(4, 3))
    e = gn.exp(x)
    graph = gn.Graph([gn.ops.broadcast_like(gn.constant(1.0), e) * e])
    assert eliminate_dead(graph) is graph


def test_eliminate_dead_drops_listed_nodes_no_output_reaches():
    x = gn.input("x", shape=(2,))
    graph = gn.Graph([gn.exp(x)])
    graph.nodes = graph.nodes + (gn.log(x),)      # a stale node list, as a buggy pass leaves
    assert [n.op for n in dead_nodes(graph)] == ["log"]
    fired: Counter = Counter()
    after = eliminate_dead(graph, fired)
    assert dead_nodes(after) == [] and fired["unreachable node -> removed"] == 1


def test_fold_constants(golden):
    x = gn.input("x", shape=(2, 3), dtype="float32")
    c = gn.constant(np.arange(6.0).reshape(2, 3), dtype="float32")
    graph = gn.Graph([x * gn.exp(c) + gn.sum(c) * 0.5, x * gn.broadcast_to(gn.constant(
        np.ones((1, 3)), dtype="float32"), (2, 3))])
    after, _ = _run(fold_constants, graph, golden, "fold_constants")
    assert all(n.dtype == "float32" for n in after.nodes)


def test_fold_keeps_big_broadcasts_as_splats():
    x = gn.input("x", shape=(784, 256), dtype="float32")
    one = gn.reshape(gn.constant(1.0, dtype="float32"), (1, 1))
    after = fold_constants(gn.Graph([x * gn.broadcast_to(one, (784, 256)) * 2.0]))
    limit = CompileOptions().fold_limit
    assert max(n.value.size for n in after.nodes if n.op == "constant") <= limit
    assert "broadcast_to 1.0 {shape=(784, 256)}" in str(after)


def test_fold_does_not_materialize_views_or_grow_constants():
    a = gn.constant(np.arange(400.0).reshape(20, 20))
    column, row = gn.constant(np.arange(300.0)[:, None]), gn.constant(np.arange(300.0)[None])
    graph = gn.Graph([gn.sum(gn.transpose(a), axis=0), column @ row])
    after = fold_constants(graph)
    # a transpose is a strided view: a later sum adds in memory order, so folding it into a
    # contiguous array could change the last bit; an outer product would grow 600 -> 90000
    assert [n.op for n in after.nodes if n.op in ("transpose", "matmul")] == \
        ["transpose", "matmul"]


def test_reuse_forward(golden):
    x = gn.input("x", shape=(2, 3))
    h = gn.relu(x)
    graph = gn.Graph([h, *gn.grad(gn.sum(h * h), [x])])
    after, fired = _run(reuse_forward, graph, golden, "reuse_forward")
    (step,) = [n for n in after.nodes if n.op == "step"]
    assert step.inputs == (h,)


@pytest.mark.parametrize("op, alpha", [("leaky_relu", 0.0), ("leaky_relu", -0.5),
                                       ("elu", -1.0)])
def test_reuse_forward_declines_where_the_mask_of_the_output_differs(op, alpha):
    x = gn.input("x", shape=(3,))
    h = gn.apply(op, x, alpha=alpha)
    graph = gn.Graph([h, gn.grad(gn.sum(h), x)])
    assert reuse_forward(graph) is graph


def test_simplify_sigmoid_from_primitives(golden):
    z = gn.input("z", shape=(3,))
    f = gn.sum(1.0 / (1.0 + gn.exp(-z)))
    graph = gn.Graph([f, gn.grad(f, z)])
    after, fired = _run(simplify, graph, golden, "simplify_sigmoid_primitives")
    assert [n.op for n in after.nodes].count("neg") == 1       # the forward's -z only
    assert simplify(after) is after


def test_rewritten_nodes_keep_their_scope_and_name():
    x, y = gn.input("x", shape=(3,)), gn.input("y", shape=(3,))
    with gn.scope("layer"):
        p = gn.mul(-x, y, name="p")
    after = simplify(gn.Graph([p]))
    (out,) = after.outputs
    assert (out.op, out.name, out.scope) == ("neg", "p", ("layer",))
    assert out.inputs[0].scope == ("layer",)


def test_every_pass_returns_the_graph_it_cannot_improve():
    x = gn.input("x", shape=(3,))
    graph = gn.Graph([gn.exp(x)])
    for _, run in PIPELINE:
        assert run(graph).text(raw=True) == graph.text(raw=True)
    assert toposort(graph.outputs) == list(graph.nodes)
