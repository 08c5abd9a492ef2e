"""The benchmark's correctness checks: every workload's implementations agree with NumPy, and
a wrong implementation is caught before it could be timed. Nothing here is timed."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from benchmarks.report import table
from benchmarks.workload import CheckError, Workload
from benchmarks.workloads import conv, elementwise, lstm, mathchain, mlp, neuron, scale, transformer


@pytest.fixture(autouse=True)
def numpy_only(monkeypatch):
    """The peers are checked when the benchmark runs; here graphnn against NumPy suffices."""
    monkeypatch.setenv("BENCH_PEERS", "none")


BUILDERS = {
    "neuron": lambda: neuron.build(quick=True),
    "elementwise": lambda: elementwise.build(100_000, with_out=True, quick=True),
    "mlp": lambda: mlp.build(64, quick=True),
    "conv": lambda: conv.build(4, 2, 4, 8, quick=True),
    "math chain": lambda: mathchain.build(10_000, "new math", quick=True),
    "exp/tanh chain": lambda: mathchain.build(10_000, "exp/tanh", quick=True),
    # the sequence workloads at small sizes: the same step, checked against BPTT and the
    # encoder layer's backward pass written out in NumPy
    "lstm": lambda: lstm.build(batch=3, steps=4, features=5, units=6),
    "transformer": lambda: transformer.build(batch=2, length=5, dim=8, heads=2),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_every_implementation_agrees_with_numpy(name):
    work = BUILDERS[name]()
    assert {"graphnn", "numpy"} <= set(work.implementations)
    work.check()


def test_a_wrong_implementation_is_caught():
    work = BUILDERS["elementwise"]()
    work.add("broken", lambda: work.implementations["numpy"]() * 1.001, lambda r: [r])
    with pytest.raises(CheckError, match="broken result 0 differs from NumPy"):
        work.check()


def test_a_wrong_shape_or_count_is_caught():
    work = Workload("toy", lambda: [np.zeros(3)])
    work.add("short", lambda: [np.zeros(2)])
    with pytest.raises(CheckError, match="short result 0 differs"):
        work.check()
    work = Workload("toy", lambda: [np.zeros(3)])
    work.add("extra", lambda: [np.zeros(3), np.zeros(3)])
    with pytest.raises(CheckError, match="returned 2 results, expected 1"):
        work.check()


def test_table_reports_ratios_to_graphnn():
    text = table([("w", "graphnn", 0.002), ("w", "numpy", 0.01)])
    assert "5.00x" in text and "1.00x" in text and "2.00 ms" in text


@pytest.mark.parametrize("kind", scale.KINDS)
def test_the_scale_graphs_have_the_size_they_are_named_by(kind):
    for nodes in (100, 1_000):
        _, y, _ = scale.BUILDERS[kind](nodes)
        assert nodes <= len(gn.Graph(y).nodes) < nodes + 3


@pytest.mark.parametrize("kind", scale.KINDS)
def test_the_scale_workload_checks_its_compiled_result(kind):
    assert scale.compile_and_check(kind, 100) > 0


def test_the_scale_workload_catches_a_wrong_result(monkeypatch):
    evaluate = gn.evaluate
    monkeypatch.setattr(gn, "evaluate", lambda outputs, feed: [
        value * 1.001 for value in evaluate(outputs, feed)])
    with pytest.raises(CheckError, match="differs from gn.evaluate"):
        scale.compile_and_check("elementwise chain", 100)


def test_implementations_are_timed_in_turns_each_keeping_its_fastest_round(monkeypatch):
    # a slow phase of the machine that falls on one implementation's turn must not decide
    # the ratio: the implementations alternate, and each keeps its best round
    import benchmarks.workload as workload

    calls: list[str] = []
    medians = {"graphnn": iter([3.0, 1.0, 2.0]), "peer": iter([1.5, 2.5, 2.0])}

    def fake_median(run, budget):
        run()
        return next(medians[calls[-1]])
    monkeypatch.setattr(workload, "median_seconds", fake_median)
    work = Workload("w", lambda: [])
    work.add("graphnn", lambda: calls.append("graphnn"))
    work.add("peer", lambda: calls.append("peer"))
    assert work.time(0.3, rounds=3) == {"graphnn": 1.0, "peer": 1.5}
    assert calls == ["graphnn", "peer"] * 3
