"""The test mode: deliberately broken passes are caught after they run, and named."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn import ir
from graphnn.passes import PIPELINE, InvariantError, optimize, verify


def _graph() -> gn.Graph:
    x, w = gn.input("x", shape=(2, 3)), gn.input("w", shape=(3,))
    y = gn.sum(gn.sigmoid(x @ w))
    return gn.Graph([y, *gn.grad(y, [w])])


def _wrong_shape(graph, fired=None, options=None):
    # forge a node the way no apply() call could: sigmoid claiming a shape it does not have
    out = graph.outputs[1]
    forged = ir._make_node(ir.REGISTRY["sigmoid"], (out,), (), (4,), out.dtype, None, (), None)
    return gn.Graph([graph.outputs[0], forged])


def _float32_output(graph, fired=None, options=None):
    return gn.Graph([gn.constant(np.float32(0.0)), *graph.outputs[1:]], graph.inputs)


def _stale_node_list(graph, fired=None, options=None):
    result = gn.Graph(graph.outputs, graph.inputs, graph.name)
    result.nodes = result.nodes + (gn.exp(graph.inputs[0]),)
    return result


def _duplicate_listing(graph, fired=None, options=None):
    result = gn.Graph(graph.outputs, graph.inputs, graph.name)
    result.nodes = result.nodes + result.nodes[-1:]
    return result


def _dropped_input(graph, fired=None, options=None):
    return gn.Graph([gn.constant(0.0), gn.broadcast_to(gn.constant(1.0), (3,))])


def _mixed_dtypes(graph, fired=None, options=None):
    x = graph.outputs[1]
    c = gn.constant(np.ones(3, dtype=np.float32))
    forged = ir._make_node(ir.REGISTRY["mul"], (x, c), (), x.shape, x.dtype, None, (), None)
    return gn.Graph([graph.outputs[0], forged], graph.inputs)


@pytest.mark.parametrize("broken, message", [
    (_wrong_shape, "has shape (4,), but its shape rule gives (3,)"),
    (_float32_output, "output 0 was f64[], is now f32[]"),
    (_stale_node_list, "1 listed node(s) reach no output"),
    (_duplicate_listing, "a node is listed twice"),
    (_dropped_input, "the inputs changed"),
    (_mixed_dtypes, "mixes dtypes: f64[3], f32[3]"),
])
def test_a_broken_pass_is_caught_and_named(broken, message):
    pipeline = PIPELINE[:2] + (("break it", broken),) + PIPELINE[2:]
    with pytest.raises(InvariantError) as caught:
        optimize(_graph(), pipeline=pipeline)
    assert "pass 'break it' broke an invariant" in str(caught.value)
    assert message in str(caught.value)


def test_checks_can_be_turned_off_per_call():
    pipeline = (("break it", _stale_node_list),)
    assert optimize(_graph(), pipeline=pipeline, check=False) is not None


def test_every_pass_keeps_the_invariants_of_the_mlp():
    graph = _graph()
    for name, run in PIPELINE:
        result = run(graph)
        verify.verify(result, graph, after=name)
        graph = result


@pytest.mark.parametrize("environ, expected", [
    ({}, False), ({"GRAPHNN_CHECK_PASSES": ""}, False), ({"GRAPHNN_CHECK_PASSES": "0"}, False),
    ({"GRAPHNN_CHECK_PASSES": "1"}, True), ({"GRAPHNN_CHECK_PASSES": "yes"}, True)])
def test_checks_are_off_by_default_and_on_with_the_environment(environ, expected):
    assert verify.checks_from_environment(environ) is expected
