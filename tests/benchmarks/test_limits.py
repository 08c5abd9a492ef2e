"""The machine limits the benchmark measures: the kernels it times compute what they claim
(checked on every x86-64 level this CPU runs, forced where the CPU has more), the GEMM flop
count of a workload, and the fractions of a limit the table prints. Nothing here is timed."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from benchmarks import limits
from benchmarks.report import scaling_table, table
from benchmarks.workload import gemm_flops, options
from benchmarks.workloads import mlp
from tests.harness import cpu_levels


@pytest.mark.parametrize("level", [None, *cpu_levels()])
def test_the_fma_loop_computes_its_chains(level):
    from codegen.llvm.target import Target
    loop = limits.FmaLoop(None if level is None else Target.named(level))
    for n in (1, 3, 10):
        # a = a * 0.5 + 0.5 from 0, n times, in every lane of every chain: exact in float32
        assert loop.loop(n) == loop.chains * loop.lanes * (1 - 0.5 ** n)


@pytest.mark.parametrize("level", [None, *cpu_levels()])
@pytest.mark.parametrize("streaming", [False, True], ids=["stores", "non-temporal"])
def test_the_copy_loop_copies(level, streaming):
    from codegen.llvm.target import Target
    loop = limits.CopyLoop(streaming, None if level is None else Target.named(level))
    size = 64 * loop.lanes
    source, target = loop.aligned(size), loop.aligned(size)
    assert source.ctypes.data % (4 * loop.lanes) == 0 and target.size == size
    source[:] = np.random.default_rng(0).normal(size=size)
    for threads in (1, 3):
        target[:] = np.nan
        loop.copy(target, source, threads)
        assert np.array_equal(target, source)
    with pytest.raises(ValueError, match="whole vectors"):
        loop.aligned(size + 1)


def test_the_compiled_copy_copies():
    source = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    for threads in (None, 1):
        target = np.empty_like(source)
        limits.graphnn_copy(1000, threads)(source, out=target)
        assert np.array_equal(target, source)


def test_gemm_flops_count_the_products_of_the_mlp_step():
    step = mlp.graphnn_step(8)
    # forward: 8x784 @ 784x256 and 8x256 @ 256x10; backward: both weight gradients and the
    # hidden layer's input gradient (the data's gradient is not asked for)
    want = 2 * 8 * 784 * 256 * 2 + 2 * 8 * 256 * 10 * 3
    assert gemm_flops(step.graph) == want


def test_gemm_flops_count_a_convolution_and_its_gradients_alike():
    x = gn.input("x", shape=(2, 3, 8, 8))
    w = gn.input("w", shape=(4, 3, 3, 3))
    y = gn.conv2d(x, w, padding=1)
    forward = 2 * (2 * 4 * 8 * 8) * (3 * 3 * 3)
    assert gemm_flops(gn.Graph([y])) == forward
    assert gemm_flops(gn.Graph(gn.grad(gn.sum(y), [x, w]))) == 3 * forward


LIMITS = limits.Limits(copy_numpy=20e9, copy_graphnn=25e9, copy_graphnn_1=15e9,
                       copy_stores=(18e9, 22e9), copy_streaming=(21e9, 24e9), fma_core=1e11,
                       fma_all=2e11, sgemm=80e9, sgemm_1=100e9, cores=2)


def test_a_workload_is_read_against_the_limit_it_is_bound_by():
    # flops against the better sgemm rate; bytes against the best copy; else nothing
    assert limits.fraction(0, 50_000_000, 1e-3, LIMITS) == "50% sgemm"
    assert limits.fraction(10_000_000, 0, 1e-3, LIMITS) == "40% copy"
    assert limits.fraction(0, 0, 1e-3, LIMITS) == ""
    assert any(line.startswith("# limit sgemm: 80.0 GFLOP/s") for line in LIMITS.lines())


def test_the_tables_show_fractions_and_efficiency():
    text = table([("w", "graphnn", 1e-3), ("w", "numpy", 2e-3)], LIMITS, {"w": (0, 10_000_000)})
    assert "40% copy" in text and "20% copy" in text
    scaling = scaling_table({"w": (4e-3, 2.5e-3)}, cores=2)
    assert "1.60x" in scaling and "80%" in scaling


def test_the_thread_count_reaches_the_compile_options(monkeypatch):
    monkeypatch.setenv("BENCH_THREADS", "1")
    monkeypatch.delenv("BENCH_GEMM", raising=False)
    assert options() == {"threads": 1}
    monkeypatch.setenv("BENCH_GEMM", "native")
    assert options() == {"gemm": "native", "threads": 1}
