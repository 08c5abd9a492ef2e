"""Semantics: random graphs from the op table, evaluated before and after optimization.

Every rule of the pipeline is exact (none reassociates floating-point arithmetic), so the
stated tolerance is zero: optimized graphs must give the same bits, with NaN equal to NaN
whatever its sign or payload. Feeds include 0, -0, ±inf, NaN, 1e300 and subnormals, in float64
and float32; the graphs include broadcasting, fan-out and constants the rules look for,
and a quarter of them second-order gradients.
"""

from __future__ import annotations

import pytest

import graphnn as gn
from graphnn.ir import REGISTRY
from graphnn.passes import optimize
from graphnn.passes.report import same_bits
from tests.passes.randomgraphs import (
    BUILDERS,
    ELEMENTWISE,
    GRADIENT_ONLY,
    image_graph,
    random_feed,
    random_graph,
)

SEEDS = range(120)


def _assert_same(graph, optimized, feed, what):
    for k, (a, b) in enumerate(zip(gn.evaluate(graph, feed), gn.evaluate(optimized, feed))):
        assert same_bits(a, b), (f"{what}: output {k} differs\n{graph.text(raw=True)}\n"
                                 f"{optimized.text(raw=True)}\n{a}\n{b}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", SEEDS)
def test_random_graph_keeps_its_values_to_the_bit(seed, dtype):
    graph = random_graph(seed, dtype)
    optimized = optimize(graph)              # checks on: verified after every pass
    for feed_seed in (seed, seed + 10_000):
        _assert_same(graph, optimized, random_feed(graph, feed_seed), f"seed {seed}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_convolution_and_pooling_to_second_order_keep_their_values(dtype):
    graph = image_graph(dtype)
    optimized = optimize(graph)
    assert len(optimized.nodes) < len(graph.nodes)
    for feed_seed in range(3):
        _assert_same(graph, optimized, random_feed(graph, feed_seed), "image graph")


def test_the_generator_covers_the_op_table():
    drawn = set(ELEMENTWISE) | set(BUILDERS) | GRADIENT_ONLY
    assert drawn | {"input", "constant"} == set(REGISTRY)
    graphs = [random_graph(seed) for seed in SEEDS] + [image_graph()]
    assert {node.op for graph in graphs for node in graph.nodes} == set(REGISTRY)


def test_optimizing_twice_changes_nothing():
    for seed in SEEDS:
        once = optimize(random_graph(seed))
        assert str(optimize(once)) == str(once), f"seed {seed}"


def test_the_random_graphs_give_the_rules_work():
    fired = set()
    nodes_before = nodes_after = 0
    for seed in SEEDS:
        graph = random_graph(seed)
        optimized, report = optimize(graph, report=True)
        fired |= {rule for record in report.passes for rule, _ in record.fired}
        nodes_before, nodes_after = nodes_before + len(graph.nodes), \
            nodes_after + len(optimized.nodes)
    assert nodes_after < 0.8 * nodes_before
    assert len(fired) >= 20, sorted(fired)
