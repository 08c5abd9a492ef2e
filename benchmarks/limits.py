"""This machine's limits, measured in the same run as the workloads, so every workload can be
read as a fraction of the limit it is bound by:

- copy bandwidth: NumPy's `np.copyto`, a graphnn-compiled copy (`x * 1.0 + 0.0` with out=,
  on all cores and on one), and a JIT-compiled vector copy loop with ordinary and with
  non-temporal stores (which skip reading the destination into the cache first), bytes read
  plus bytes written per second (the write-allocate reads of the destination are not
  counted), on 10M float32 (40 MB each way: beyond the caches);
- FMA peak: a JIT-compiled loop of independent vector FMA chains, as wide as the target's
  vectors (codegen.llvm.target), on one core and on every core at once;
- BLAS sgemm: `np.matmul` of two 1024x1024 float32 matrices, with the BLAS's default threads
  and with one.

Elementwise workloads are bound by memory traffic (their `bytes_moved` over the best copy
bandwidth), matrix-product workloads by arithmetic (their GEMM `flops` over sgemm's rate).

    python -m benchmarks.limits
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass

import numpy as np

import graphnn as gn
from benchmarks.epoch import blas_threads
from benchmarks.timing import median_seconds
from codegen import jit
from codegen.llvm.target import Target
from codegen.native.runtime import available_cores

COPY_ELEMENTS = 10_000_000
GEMM_SIZE = 1024


@dataclass(frozen=True)
class Limits:
    """Rates in bytes/s (copies) and flop/s (FMA, sgemm); `cores` is how many ran the all-core
    figures."""

    copy_numpy: float
    copy_graphnn: float
    copy_graphnn_1: float
    copy_stores: tuple[float, float]          # the vector loop: 1 thread, every core
    copy_streaming: tuple[float, float]       # the same with non-temporal stores
    fma_core: float
    fma_all: float
    sgemm: float
    sgemm_1: float
    cores: int

    @property
    def bandwidth(self) -> float:
        """The copy bandwidth elementwise work is measured against: the best copy."""
        return max(self.copy_numpy, self.copy_graphnn, self.copy_graphnn_1, *self.copy_stores,
                   *self.copy_streaming)

    @property
    def gemm_rate(self) -> float:
        """The sgemm rate GEMM-bound work is measured against: the better thread count (on a
        loaded machine BLAS's own threads can be slower than one)."""
        return max(self.sgemm, self.sgemm_1)

    def lines(self) -> list[str]:
        return [
            f"# limit copy: {self.copy_numpy / 1e9:.1f} GB/s NumPy copyto, graphnn out= "
            f"{self.copy_graphnn / 1e9:.1f} GB/s on {self.cores} threads, "
            f"{self.copy_graphnn_1 / 1e9:.1f} GB/s on 1 (bytes read + written, "
            f"{COPY_ELEMENTS // 1_000_000}M float32)",
            f"# limit copy loop: {self.copy_stores[0] / 1e9:.1f} GB/s on 1 thread, "
            f"{self.copy_stores[1] / 1e9:.1f} on {self.cores}; with non-temporal stores "
            f"{self.copy_streaming[0] / 1e9:.1f} on 1, {self.copy_streaming[1] / 1e9:.1f} on "
            f"{self.cores}",
            f"# limit fma: {self.fma_core / 1e9:.1f} GFLOP/s per core, "
            f"{self.fma_all / 1e9:.1f} on {self.cores} cores (compiled FMA chains)",
            f"# limit sgemm: {self.sgemm / 1e9:.1f} GFLOP/s with BLAS's threads, "
            f"{self.sgemm_1 / 1e9:.1f} on 1 (np.matmul float32 {GEMM_SIZE}^3)",
        ]


def measure(quick: bool = False) -> Limits:
    budget = 0.2 if quick else 0.6
    numpy_copy, graphnn_copy, graphnn_copy_1 = copy_bandwidth(budget)
    cores = available_cores()
    loops = {streaming: tuple(copy_loop_rate(streaming, threads, budget)
                              for threads in (1, cores)) for streaming in (False, True)}
    fma_core = fma_peak(1, budget)
    return Limits(numpy_copy, graphnn_copy, graphnn_copy_1, loops[False], loops[True], fma_core,
                  fma_core if cores == 1 else fma_peak(cores, budget),
                  *sgemm_rates(budget), cores)


def copy_bandwidth(budget: float) -> tuple[float, float, float]:
    """(NumPy, graphnn on every core, graphnn on 1 thread), bytes/s."""
    source = np.random.default_rng(0).normal(size=COPY_ELEMENTS).astype(np.float32)
    target = np.empty_like(source)
    moved = 2 * source.nbytes
    rates = [moved / median_seconds(lambda: np.copyto(target, source), budget)]
    for threads in (None, 1):
        copy = graphnn_copy(COPY_ELEMENTS, threads)
        copy(source, out=target)
        if not np.array_equal(target, source):
            raise AssertionError("the compiled copy does not copy")
        rates.append(moved / median_seconds(lambda copy=copy: copy(source, out=target), budget))
    return rates[0], rates[1], rates[2]


def graphnn_copy(size: int, threads: int | None = None) -> gn.Function:
    """A compiled float32 copy: `x * 1.0 + 0.0` (what the optimizer leaves of it is one
    elementwise loop; + 0.0 stays, as it turns -0.0 into 0.0)."""
    x = gn.input("x", shape=(size,), dtype="float32")
    return gn.compile(x * 1.0 + 0.0, threads=threads)


def copy_ir(lanes: int, streaming: bool) -> str:
    """`void @copy_loop(ptr dst, ptr src, i64 vectors)`: copies `vectors` vectors of `lanes`
    floats, both pointers aligned to the vector size; with `streaming`, the stores are
    non-temporal (a fence after them: such stores are weakly ordered). Without, they are
    volatile: LLVM would otherwise replace the loop by a call of libc's memcpy, which itself
    streams large copies."""
    vector = f"<{lanes} x float>"
    hint = ", !nontemporal !0" if streaming else ""
    store = "store" if streaming else "store volatile"
    return "\n".join([
        "define void @copy_loop(ptr noalias %dst, ptr noalias %src, i64 %vectors) {",
        "entry:", "  %empty = icmp sle i64 %vectors, 0",
        "  br i1 %empty, label %exit, label %loop", "loop:",
        "  %i = phi i64 [ 0, %entry ], [ %next, %loop ]",
        f"  %from = getelementptr inbounds {vector}, ptr %src, i64 %i",
        f"  %v = load {vector}, ptr %from, align {lanes * 4}",
        f"  %to = getelementptr inbounds {vector}, ptr %dst, i64 %i",
        f"  {store} {vector} %v, ptr %to, align {lanes * 4}{hint}",
        "  %next = add i64 %i, 1", "  %done = icmp eq i64 %next, %vectors",
        "  br i1 %done, label %exit, label %loop", "exit:", "  fence seq_cst", "  ret void",
        "}", "!0 = !{i32 1}", ""])


class CopyLoop:
    """The copy loop compiled for `target` (default: this CPU); `copy(dst, src, threads)`
    copies between float32 arrays made by `aligned`, split among `threads` threads."""

    def __init__(self, streaming: bool, target: Target | None = None) -> None:
        target = Target.host() if target is None else target
        self.lanes = target.vector_bits // 32
        text = copy_ir(self.lanes, streaming)
        self._tracker = jit.link_entry(f"benchmark {text}", lambda: text, "copy_loop", target)
        self.loop = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(
            self._tracker["copy_loop"])

    def aligned(self, size: int) -> np.ndarray:
        """An uninitialized float32 array of `size` elements (a whole number of vectors),
        aligned to the vector size."""
        if size % self.lanes:
            raise ValueError(f"{size} elements are not whole vectors of {self.lanes}")
        raw = np.empty(size + self.lanes, np.float32)
        skip = (-raw.ctypes.data % (4 * self.lanes)) // 4
        return raw[skip:skip + size]

    def copy(self, target: np.ndarray, source: np.ndarray, threads: int = 1) -> None:
        vectors = source.size // self.lanes
        bounds = [vectors * k // threads for k in range(threads + 1)]
        step = 4 * self.lanes
        parts = [(target.ctypes.data + step * start, source.ctypes.data + step * start,
                  end - start) for start, end in zip(bounds, bounds[1:])]
        if threads == 1:
            self.loop(*parts[0])
            return
        workers = [threading.Thread(target=self.loop, args=part) for part in parts]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()


def copy_loop_rate(streaming: bool, threads: int, budget: float) -> float:
    """Bytes/s of the copy loop on COPY_ELEMENTS float32, checked first."""
    loop = CopyLoop(streaming)
    source, target = loop.aligned(COPY_ELEMENTS), loop.aligned(COPY_ELEMENTS)
    source[:] = np.random.default_rng(0).normal(size=COPY_ELEMENTS)
    loop.copy(target, source, threads)
    if not np.array_equal(target, source):
        raise AssertionError("the copy loop does not copy")
    return 2 * source.nbytes / median_seconds(lambda: loop.copy(target, source, threads),
                                              budget)


def fma_ir(lanes: int, chains: int) -> str:
    """`float @fma_peak(i64 n)`: `chains` independent accumulators of `lanes` floats, each
    updated n times by a = a * 0.5 + 0.5 (one FMA; the values stay normal, tending to 1), then
    summed, so no update is dead."""
    vector = f"<{lanes} x float>"
    half = f"<{', '.join(['float 5.000000e-01'] * lanes)}>"
    intrinsic = f"@llvm.fma.v{lanes}f32"
    lines = [f"declare {vector} {intrinsic}({vector}, {vector}, {vector})",
             "define float @fma_peak(i64 %n) {", "entry:", "  br label %loop", "loop:",
             "  %i = phi i64 [ 0, %entry ], [ %next, %loop ]"]
    for c in range(chains):
        lines.append(f"  %a{c} = phi {vector} [ zeroinitializer, %entry ], [ %b{c}, %loop ]")
    for c in range(chains):
        lines.append(f"  %b{c} = call {vector} {intrinsic}({vector} %a{c}, {vector} {half}, "
                     f"{vector} {half})")
    lines += ["  %next = add i64 %i, 1", "  %done = icmp sge i64 %next, %n",
              "  br i1 %done, label %exit, label %loop", "exit:"]
    total = "%b0"
    for c in range(1, chains):
        lines.append(f"  %s{c} = fadd {vector} {total}, %b{c}")
        total = f"%s{c}"
    lines += [f"  %r = call float @llvm.vector.reduce.fadd.v{lanes}f32(float 0.0, {vector} "
              f"{total})", "  ret float %r", "}",
              f"declare float @llvm.vector.reduce.fadd.v{lanes}f32(float, {vector})"]
    return "\n".join(lines) + "\n"


class FmaLoop:
    """The FMA loop compiled for `target` (default: this CPU): `loop(n)` runs n iterations of
    `chains` FMAs on vectors of `lanes` floats and returns the sum of the accumulators,
    `chains * lanes * (1 - 0.5 ** n)`."""

    def __init__(self, target: Target | None = None) -> None:
        target = Target.host() if target is None else target
        self.lanes = target.vector_bits // 32
        # enough chains to cover an FMA's latency on two pipes (4-5 cycles x 2), and few
        # enough to stay in registers: 32 vector registers with AVX-512, 16 below it
        self.chains = 20 if target.vector_bits >= 512 else 12
        text = fma_ir(self.lanes, self.chains)
        self._tracker = jit.link_entry(f"benchmark {text}", lambda: text, "fma_peak", target)
        self.loop = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64)(self._tracker["fma_peak"])


def fma_peak(threads: int, budget: float) -> float:
    """FLOP/s of the FMA loop on `threads` threads at once (ctypes releases the GIL)."""
    compiled = FmaLoop()
    loop, lanes, chains = compiled.loop, compiled.lanes, compiled.chains
    start = time.perf_counter()
    loop(100_000)
    iterations = max(1000, int(100_000 * 0.05 / max(time.perf_counter() - start, 1e-6)))

    def together() -> None:
        workers = [threading.Thread(target=loop, args=(iterations,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    seconds = median_seconds(together, budget, repeats=5)
    return 2 * lanes * chains * iterations * threads / seconds


def sgemm_rates(budget: float) -> tuple[float, float]:
    """(BLAS's default threads, 1 thread) flop/s of np.matmul on float32 squares."""
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(GEMM_SIZE, GEMM_SIZE)).astype(np.float32) for _ in range(2))
    flops = 2 * GEMM_SIZE ** 3
    rates = [flops / median_seconds(lambda: np.matmul(a, b), budget)]
    with blas_threads(1):
        rates.append(flops / median_seconds(lambda: np.matmul(a, b), budget))
    return rates[0], rates[1]


def fraction(work_bytes: int, work_flops: int, seconds: float, limits: Limits) -> str:
    """A workload's time as a fraction of the limit it is bound by: "62% sgemm" when it does
    matrix products, "41% copy" when it moves memory, "" when neither is known."""
    if work_flops:
        return f"{work_flops / seconds / limits.gemm_rate:.0%} sgemm"
    if work_bytes:
        return f"{work_bytes / seconds / limits.bandwidth:.0%} copy"
    return ""


if __name__ == "__main__":
    print("\n".join(measure().lines()))
