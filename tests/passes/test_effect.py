"""The optimizer's effect, asserted as numbers, on the MLP 784-256-10, the lecture neuron and
the examples whose losses' gradients it shrinks most (logistic regression, the conv layer).

The counts are len(graph.nodes) (inputs and constants included) of the graph holding the
forward outputs and the gradients, as `python -m graphnn optimize FILE` prints them; they are
recorded in docs/optimizer.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from graphnn.cli.optimize import gradient_graph
from graphnn.ir import Node, apply
from graphnn.passes import optimize
from graphnn.passes.cse import duplicates
from graphnn.passes.dce import dead_nodes
from graphnn.passes.report import same_bits

ROOT = Path(__file__).parents[2]
MLP = str(ROOT / "tests/passes/models/mlp.py")
NEURON = str(ROOT / "examples/02_neuron.py")
LOGISTIC = str(ROOT / "examples/03_logistic_regression.py")
CONV = str(ROOT / "examples/05_conv.py")


def _operations(graph: gn.Graph) -> int:
    return sum(n.op not in ("input", "constant") for n in graph.nodes)


@pytest.mark.parametrize("path, before, after, ops_before, ops_after", [
    (MLP, 30, 28, 23, 21),
    (NEURON, 18, 17, 12, 11),
    (LOGISTIC, 31, 19, 26, 14),
    (CONV, 25, 20, 19, 14),
], ids=["mlp_784_256_10", "lecture_neuron", "logistic_regression", "conv_layer"])
def test_fewer_nodes_none_twice_none_dead(path, before, after, ops_before, ops_after):
    graph, feed = gradient_graph(path)
    optimized = optimize(graph)
    assert (len(graph.nodes), len(optimized.nodes)) == (before, after)
    assert (_operations(graph), _operations(optimized)) == (ops_before, ops_after)
    assert len(optimized.nodes) < len(graph.nodes)
    assert duplicates(optimized) == []
    assert dead_nodes(optimized) == []
    for a, b in zip(gn.evaluate(graph, feed), gn.evaluate(optimized, feed)):
        assert same_bits(a, b)


def test_mlp_backward_reads_forward_outputs():
    optimized = optimize(gradient_graph(MLP)[0])
    ops = {n.op: n for n in optimized.nodes}
    assert ops["step"].inputs[0].op == "relu"           # the mask of h, not of x W1 + b1
    assert "size" not in ops and "div" not in ops       # 1 / N folded to 0.015625
    assert "mul %10, 0.015625" in str(optimized)


def _expanded(node: Node, memo: dict) -> Node:
    """node with every composite replaced by its primitives, as lowering computes it."""
    if node not in memo:
        if node.opdef.composite:
            memo[node] = _expanded(node.expansion(), memo)
        else:
            inputs = [_expanded(i, memo) for i in node.inputs]
            memo[node] = node if not inputs else apply(node.op, *inputs, **node.attrs)
    return memo[node]


def test_mlp_softmax_is_computed_once_even_inside_the_composites():
    # the loss (softmax_cross_entropy) and its gradient (softmax) stay one node each; expanded
    # into primitives, interning makes them share max, exp and the sum of exp
    optimized = optimize(gradient_graph(MLP)[0])
    memo: dict = {}
    primitives = gn.Graph([_expanded(o, memo) for o in optimized.outputs])
    assert [n.op for n in primitives.nodes].count("exp") == 1
    assert [n.op for n in primitives.nodes].count("max") == 1
    assert duplicates(primitives) == []


def test_softmax_cross_entropy_gradient_becomes_p_minus_t_for_constant_one_hot():
    z = gn.input("z", shape=(4, 3))
    onehot = np.eye(3)[[0, 2, 1, 1]]
    loss = gn.softmax_cross_entropy(z, onehot)
    optimized = optimize(gn.Graph([loss, gn.grad(loss, z)]))
    assert "sum" not in {n.op for n in optimized.nodes}
    dz = optimized.outputs[1]                 # (p - t) * (1 / N)
    p_minus_t, scale = dz.inputs
    assert (dz.op, p_minus_t.op, float(scale.value)) == ("mul", "sub", 0.25)
    assert [i.op for i in p_minus_t.inputs] == ["softmax", "constant"]


def test_softmax_cross_entropy_gradient_keeps_the_general_form_for_input_targets():
    # with targets fed at run time nothing proves each row sums to 1 (soft labels need not)
    z, t = gn.input("z", shape=(4, 3)), gn.input("t", shape=(4, 3))
    loss = gn.softmax_cross_entropy(z, t)
    optimized = optimize(gn.Graph([loss, gn.grad(loss, z)]))
    assert "sum t {axis=(1,), keepdims=True}" in str(optimized)
