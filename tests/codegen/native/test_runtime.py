"""Parallel loops: identical results to serial loops, concurrent callers, grain, fork."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from codegen import loops
from codegen.jit import compile_kernel
from codegen.native import runtime
from codegen.native.runtime import MAX_THREADS, available_cores, thread_count
from tests.codegen.support import NUMPY, compiled
from tests.harness import run_in_threads

ROOT = Path(__file__).parents[3]


def rowwise(parallel: bool, n: int = 300, m: int = 257) -> loops.Kernel:
    """Softmax-like rows: a reduction and an elementwise pass per row."""
    x = loops.Buffer("x", "f32", (n, m))
    out = loops.Buffer("out", "f32", (n, m))
    total = loops.Buffer("total", "f32", (n,))

    def row(i):
        return [loops.store(total, i, loops.reduce_sum(m, lambda k: loops.exp(x[i, k]))),
                loops.loop(m, lambda j: loops.store(out, (i, j), loops.tanh(x[i, j]) / total[i]),
                           name="j")]

    name = "rows_parallel" if parallel else "rows_serial"
    return loops.Kernel(name, [x], [out], [total], [loops.loop(n, row, parallel=parallel)])


def elementwise(parallel: bool, n: int = 200_003) -> loops.Kernel:
    x = loops.Buffer("x", "f64", (n,))
    out = loops.Buffer("out", "f64", (n,))
    body = loops.loop(n, lambda i: loops.store(out, i, 1.0 / (1.0 + loops.exp(-x[i]))),
                      parallel=parallel)
    return loops.Kernel(f"sigmoid_{'parallel' if parallel else 'serial'}", [x], [out],
                        body=[body])


@pytest.mark.parametrize("make", [rowwise, elementwise])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_parallel_equals_serial_bit_for_bit(make, threads):
    serial, parallel = compiled(make(False)), compiled(make(True))
    spec = serial.kernel.inputs[0]
    x = np.random.default_rng(0).standard_normal(spec.shape).astype(NUMPY[spec.dtype])
    assert "graphnn_parallel_for" in parallel.llvm_ir
    np.testing.assert_array_equal(parallel(x, threads=threads), serial(x))


@pytest.mark.parametrize("blas", [True, False])
def test_parallel_batched_gemm(blas):
    batch, m, n, k = 16, 33, 17, 29
    a, b = loops.Buffer("a", "f64", (batch, m, k)), loops.Buffer("b", "f64", (batch, k, n))
    c = loops.Buffer("c", "f64", (batch, m, n))
    body = loops.loop(batch, lambda q: loops.Gemm(
        c, a, b, m, n, k, a_offset=q * (m * k), b_offset=q * (k * n), c_offset=q * (m * n)),
        name="q", parallel=True)
    kernel = compiled(loops.Kernel("bmm_parallel", [a, b], [c], body=[body]), blas)
    rng = np.random.default_rng(1)
    av, bv = rng.standard_normal(a.shape), rng.standard_normal(b.shape)
    np.testing.assert_allclose(kernel(av, bv, threads=2), av @ bv, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
def test_memory_written_before_inside_and_after_a_parallel_loop(threads):
    """A temp zeroed before a parallel loop, accumulated into by it, read after it: the read
    must see the workers' writes (LLVM once forwarded the zeros past the loop, believing the
    call could not touch a noalias buffer reached through the caller's pointer array)."""
    n, m = 2, 8
    x = loops.Buffer("x", "f64", (n, m))
    out = loops.Buffer("out", "f64", (m,))
    partial = loops.Buffer("partial", "f64", (n, m))
    zero = loops.loop(n * m, lambda k: loops.store(partial, (k,), 0.0))
    accumulate = loops.loop(n, lambda t: loops.loop(m, lambda j: loops.store(
        partial, (t, j), partial[t, j] + 2.0 * x[t, j]), name="j"), name="t", parallel=True)
    total = loops.loop(m, lambda j: loops.store(out, j, loops.reduce_sum(
        n, lambda t: partial[t, j])), name="j")
    kernel = compiled(loops.Kernel("zero_accumulate_read", [x], [out], [partial],
                                   [zero, accumulate, total]))
    xv = np.random.default_rng(3).standard_normal((n, m))
    np.testing.assert_allclose(kernel(xv, threads=threads), 2.0 * xv.sum(axis=0), rtol=1e-12)


def test_two_python_threads_call_one_kernel_concurrently():
    kernel = compiled(rowwise(True))
    serial = compiled(rowwise(False))
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((300, 257)).astype(np.float32) for _ in range(2)]
    expected = [serial(x) for x in inputs]
    failures: list[str] = []
    barrier = threading.Barrier(2)

    def worker(index: int) -> None:
        barrier.wait()
        bound = kernel.bind(inputs[index], threads=2)
        for repeat in range(30):
            got = kernel(inputs[index]) if repeat % 2 else bound()[0]
            if not np.array_equal(got, expected[index]):
                failures.append(f"thread {index} repeat {repeat}")

    threads = run_in_threads(worker, timeout=60)
    assert not any(t.is_alive() for t in threads), "a concurrent call hung"
    assert not failures, failures


def test_small_extents_run_inline():
    # 64 cheap iterations are far below the grain: the runtime calls the body directly
    kernel = compiled(elementwise(True, n=64))
    assert "i64 64, i64 " in kernel.llvm_ir  # extent 64, then the grain
    grain = int(kernel.llvm_ir.split("i64 64, i64 ")[1].split(",")[0])
    assert grain >= 64
    x = np.linspace(-5, 5, 64)
    np.testing.assert_array_equal(kernel(x, threads=64), compiled(elementwise(False, 64))(x))


@pytest.mark.parametrize("threads,error", [(0, ValueError), (-1, ValueError), (True, TypeError),
                                           (2.0, TypeError), ("2", TypeError)])
def test_thread_counts_are_validated(threads, error):
    kernel = compiled(elementwise(True, n=64))
    with pytest.raises(error, match="threads must be a positive int or None"):
        kernel(np.zeros(64), threads=threads)
    with pytest.raises(error, match="threads must be a positive int or None"):
        kernel.bind(np.zeros(64), threads=threads)
    bound = kernel.bind(np.zeros(64))
    with pytest.raises(error, match="threads must be a positive int or None"):
        bound.threads = threads
    with pytest.raises(error, match="threads must be a positive int or None"):
        compile_kernel(elementwise(True, n=64), threads=threads)


def test_thread_counts_beyond_the_pool_are_clamped():
    bound = compiled(elementwise(True, n=64)).bind(np.zeros(64))
    bound.threads = 3
    assert bound.threads == 3
    for huge in (MAX_THREADS + 1, 1 << 62, 2**63 - 1, 1 << 64, np.int64(1 << 62)):
        bound.threads = huge
        assert bound.threads == MAX_THREADS
    bound.threads = None                                    # back to the kernel's own count
    assert bound.threads == bound.compiled.threads
    assert compile_kernel(elementwise(True, n=64), threads=2).threads == 2
    assert compile_kernel(elementwise(True, n=64), threads=1 << 64).threads == MAX_THREADS
    assert thread_count(None) == min(available_cores(), MAX_THREADS)


# A thread count stored straight into the argument array, past every Python check: native code
# clamps it (the kernel's entry and the native GEMM's), so none of these may crash the process.
RAW_COUNTS = """
import numpy as np
from codegen import loops
from codegen.jit import compile_kernel
from codegen.native.runtime import MAX_THREADS, available_cores, thread_count
a, b = loops.Buffer("a", "f32", (64, 48)), loops.Buffer("b", "f32", (48, 40))
c = loops.Buffer("c", "f32", (64, 40))
kernel = compile_kernel(loops.Kernel("product", [a, b], [c], body=[
    loops.Gemm(c, a, b, 64, 40, 48)]), gemm="native")
x, y = np.ones((64, 48), np.float32), np.ones((48, 40), np.float32)
bound = kernel.bind(x, y)
for raw in (0, -1, -(1 << 63), 1 << 62, 2**63 - 1, 2**64 - 1):
    bound._arguments[len(bound._arguments) - 1] = raw
    (out,) = bound()
    assert (out == 48.0).all(), raw
    print("ok", raw, flush=True)
"""


def test_native_code_clamps_any_thread_count_it_is_handed():
    result = subprocess.run([sys.executable, "-c", RAW_COUNTS], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    assert result.stdout.count("ok") == 6


def test_parallel_loops_only_at_top_level():
    x = loops.Buffer("x", "f64", (4, 4))
    inner = loops.loop(4, lambda j: loops.store(x, (0, j), 1.0), name="j", parallel=True)
    with pytest.raises(loops.KernelError, match="not at the top level"):
        loops.Kernel("nested", [], [x], body=[loops.loop(4, lambda i: inner)])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_runs_parallel_kernels():
    kernel = compiled(elementwise(True))
    x = np.random.default_rng(3).standard_normal(200_003)
    expected = kernel(x, threads=2)  # the parent's pool now has workers
    pid = os.fork()
    if pid == 0:  # child: the pool was reset at fork; new workers are started on demand
        ok = np.array_equal(kernel(x, threads=2), expected)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


COUNT_IR = r"""
define void @count(ptr %args, i64 %start, i64 %end) {
entry:
  %slot = getelementptr ptr, ptr %args, i64 1
  %hits = load ptr, ptr %slot
  br label %loop
loop:
  %i = phi i64 [%start, %entry], [%next, %loop]
  %p = getelementptr i64, ptr %hits, i64 %i
  %h = atomicrmw add ptr %p, i64 1 monotonic
  %next = add i64 %i, 1
  %done = icmp sge i64 %next, %end
  br i1 %done, label %exit, label %loop
exit:
  ret void
}
"""


def test_runtime_runs_every_iteration_once_under_contention():
    # Drive graphnn_parallel_for directly with grain 1 from three Python threads at once:
    # random extents and thread counts, every iteration must run exactly once, nothing hangs.
    import ctypes

    from codegen import jit
    from codegen.llvm.target import Target

    tracker = jit.link_entry("test count", lambda: COUNT_IR, "count", Target.host())
    run = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                           ctypes.c_int64, ctypes.c_int64)(
        jit._parallel_symbols()["graphnn_parallel_for"])
    failures: list[tuple[int, int]] = []

    def caller(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for repeat in range(400):
            hits = np.zeros(int(rng.integers(1, 300)), np.int64)
            args = (ctypes.c_void_p * 2)(0, hits.ctypes.data)
            run(tracker["count"], ctypes.addressof(args), hits.size, 1, int(rng.integers(1, 5)))
            if not (hits == 1).all():
                failures.append((seed, repeat))

    threads = run_in_threads(caller, 3, timeout=120)
    assert not any(t.is_alive() for t in threads), "parallel_for hung"
    assert not failures, failures


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_default_thread_count_follows_the_cpu_affinity():
    # A process pinned to one core (taskset, a container's cpuset) uses one thread by default,
    # however many cores the machine has; checked in a child so this process keeps its cores.
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from tests.codegen.native.test_runtime import elementwise; "
            "from codegen.jit import compile_kernel; "
            "print(compile_kernel(elementwise(True)).threads)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_the_futex_facts_are_chosen_by_machine_and_probed_here():
    assert runtime.futex_syscall("x86_64") == 202 and runtime.futex_syscall("aarch64") == 98
    assert runtime.futex_syscall("sparc64") is None                  # not known: serial
    assert "@futex_wait" not in runtime.runtime_ir("sparc64")
    assert "@graphnn_parallel_for" in runtime.runtime_ir("sparc64")
    number = runtime.futex_syscall()
    if number is not None:                  # a machine the pool runs on: its probe passed
        assert runtime.futex_works(number)
        assert f"i64 {number}, ptr %word, i64 {runtime.FUTEX_WAKE_PRIVATE}" in \
            runtime.runtime_ir()


# The pool's portable path, forced: the futex probe fails, so the process links the serial
# runtime, and parallel loops run inline on the caller's thread with the same results.
SERIAL_SCRIPT = """
import os
import numpy as np
from codegen.native import runtime
runtime.futex_works = lambda number: False
from codegen import jit
from tests.codegen.native.test_runtime import elementwise
assert "@futex_wait" not in runtime.runtime_ir()
x = np.random.default_rng(5).standard_normal(200_003)
parallel = jit.compile_kernel(elementwise(True))
serial = jit.compile_kernel(elementwise(False))
tasks = len(os.listdir("/proc/self/task"))
assert np.array_equal(parallel(x, threads=4), serial(x))
assert len(os.listdir("/proc/self/task")) == tasks         # no worker thread was started
print("ok")
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_a_failing_futex_probe_runs_parallel_loops_serially():
    result = subprocess.run([sys.executable, "-c", SERIAL_SCRIPT], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
