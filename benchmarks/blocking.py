"""What our GEMM's cache blocking is worth on this machine: GFLOP/s of float32 products, each
compiled with the blocking `codegen.native.gemm.blocking` gives for stated cache sizes (KC from
the L1 data size, MC from the L2), side by side in one run.

Every compiled product is first checked against a float64 NumPy product; then each is timed
(`benchmarks.timing.median_seconds`) on one thread by default, where the machine's scheduling
noise is smallest.

    python -m benchmarks.blocking                  # this host's caches and a sweep around them
    python -m benchmarks.blocking --threads 2 --budget 2
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import graphnn as gn
from benchmarks.timing import median_seconds
from codegen.cpu_caches import PORTABLE, CacheSizes, host_sizes
from codegen.llvm.target import Target
from codegen.native.gemm import blocking
from codegen.options import CodegenOptions

# (m, k, n): the MLP's layers at batch 64 and 1024, an LSTM step's gates, a convolution's
# im2col product, and two square ones
SHAPES = ((64, 784, 256), (1024, 784, 256), (1600, 128, 512), (4096, 576, 64), (1024, 1024, 1024))
KIB = 1 << 10
SWEEP = (CacheSizes(24 * KIB, 1024 * KIB), PORTABLE, CacheSizes(32 * KIB, 64 * KIB))


def product(m: int, k: int, n: int, caches: CacheSizes, threads: int):
    """A compiled float32 (m x k) @ (k x n) on our GEMM, blocked for `caches`."""
    a = gn.input("a", shape=(m, k), dtype="float32")
    b = gn.input("b", shape=(k, n), dtype="float32")
    codegen = CodegenOptions(l1_data_cache=caches.l1_data, l2_cache=caches.l2)
    return gn.compile(gn.matmul(a, b), [a, b], gemm="native", threads=threads,
                      options=gn.CompileOptions(codegen=codegen))


def checked(m: int, k: int, n: int, caches: CacheSizes, threads: int):
    """`product`, with its arguments, after checking it against float64 NumPy."""
    rng = np.random.default_rng(m + k + n)
    a = rng.normal(size=(m, k)).astype(np.float32)
    b = rng.normal(size=(k, n)).astype(np.float32)
    compiled = product(m, k, n, caches, threads)
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(compiled(a, b), want, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    return compiled, a, b


def rows(sweep: Sequence[CacheSizes], threads: int, budget: float,
         shapes: Sequence[tuple[int, int, int]] = SHAPES) -> list[str]:
    """A header, then one line per cache size: its blocking, then GFLOP/s per shape."""
    bits = Target.host().vector_bits
    lines = ["caches | blocking | " + " | ".join("x".join(map(str, s)) for s in shapes)]
    for caches in sweep:
        block = blocking("f32", bits, caches)
        rates = []
        for m, k, n in shapes:
            compiled, a, b = checked(m, k, n, caches, threads)
            seconds = median_seconds(lambda f=compiled, x=a, y=b: f(x, y), budget)
            rates.append(f"{2 * m * k * n / seconds / 1e9:.0f}")
        lines.append(f"L1d {caches.l1_data // KIB} KiB, L2 {caches.l2 // KIB} KiB | "
                     f"kc {block.kc}, mc {block.mc} | " + " | ".join(rates))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blocking",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per product")
    args = parser.parse_args(argv)
    sweep = (host_sizes(), *(c for c in SWEEP if c != host_sizes()))
    print("\n".join(rows(sweep, args.threads, args.budget)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
