"""`python -m benchmarks [--quick] [--only NAME ...] [--threads] [--env]`: the machine and
its measured limits, then every workload, checked, then timed; a table of medians, ratios (peer
time / graphnn time: above 1 means graphnn is faster) and fractions of the machine's limits."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from benchmarks import distributed, epoch, limits
from benchmarks.report import Rows, header, scaling_table, table
from benchmarks.workload import Workload
from benchmarks.workloads import compile as compile_workload
from benchmarks.workloads import (
    conv,
    elementwise,
    lstm,
    mathchain,
    mlp,
    neuron,
    onnx_models,
    scale,
    transformer,
)
from benchmarks.workloads import export as export_workload
from codegen.native.runtime import available_cores

WORKLOADS = {
    "neuron": lambda quick: [neuron.build(quick)],
    "elementwise": lambda quick: [elementwise.build(n, out, quick) for n in
                                  ((1_000_000,) if quick else (1_000_000, 10_000_000))
                                  for out in (False, True)],
    "mlp": lambda quick: [mlp.build(b, quick) for b in ((64,) if quick else (64, 1024))],
    "conv": lambda quick: [conv.build(64, 1, 8, 28, quick)] +
    ([] if quick else [conv.build(32, 16, 32, 32, quick)]),
    "lstm": lambda quick: [lstm.build(quick)],
    "transformer": lambda quick: [transformer.build(quick)],
}


OTHERS = ["compile", "epoch", "scale", "export", "mathchain", "onnx", "distributed"]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.gemm:
        os.environ["BENCH_GEMM"] = args.gemm
    if args.cpu:
        os.environ["BENCH_CPU"] = args.cpu
    print(header())
    if args.env:
        return 0
    chosen = args.only or [*WORKLOADS, *OTHERS[:-1]]
    measured = limits.measure(quick=args.quick)
    print("\n".join(measured.lines()))
    rows: Rows = []
    bounds: dict[str, tuple[int, int]] = {}
    for name in chosen:
        if name in WORKLOADS:
            for work in WORKLOADS[name](args.quick):
                rows += _measure(work, 0.3 if args.quick else 1.5)
                bounds[work.name] = (work.flops, work.bytes_moved)
        else:
            rows += _other(name, args.quick)
        if os.environ.get("BENCH_PROGRESS"):
            print(table(rows, measured, bounds), file=sys.stderr)
    print(table(rows, measured, bounds))
    if args.threads:
        print()
        print(scaling_table(scaling([n for n in chosen if n in WORKLOADS], args.quick),
                            available_cores()))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter timing")
    parser.add_argument("--only", nargs="*", choices=[*WORKLOADS, *OTHERS],
                        help="run only these workloads (scale: compile time against graph "
                             "size, 100 to 20,000 nodes; export: C calls of exported code; "
                             "mathchain: the new math functions against exp/tanh; "
                             "onnx: imported models against onnxruntime; "
                             "distributed: Dask clusters, its own tables, only when named)")
    parser.add_argument("--gemm", choices=("auto", "blas", "native", "loops"),
                        help="how graphnn runs matrix products (default: gn.compile's)")
    parser.add_argument("--cpu", help="the CPU graphnn generates code for (gn.compile's cpu=: "
                                      "host, x86-64-v3 for the AVX2 kernels, x86-64-v4)")
    parser.add_argument("--env", action="store_true",
                        help="print the machine and graphnn's kernel choices for it, and stop")
    parser.add_argument("--threads", action="store_true",
                        help="also time graphnn on 1 thread and on every core (threads=, BLAS "
                             "limited alike): speed-up and parallel efficiency per workload")
    return parser


def _other(name: str, quick: bool) -> Rows:
    """The workloads timed by their own modules."""
    repeats = 1 if quick else 3
    if name == "distributed":           # starts LocalClusters; prints its own tables
        distributed.main(["--quick"] if quick else [])
        return []
    runs = {
        "compile": lambda: compile_workload.run(repeats=repeats),
        "epoch": lambda: epoch.run(repeats=repeats, quick=quick),   # whole epochs
        "scale": lambda: scale.run(quick=quick),        # one compile per size, fresh processes
        "mathchain": lambda: mathchain.run(quick=quick),            # two workloads, a ratio
        "onnx": lambda: onnx_models.run(quick=quick),   # BLAS limited to onnxruntime's threads
        "export": lambda: export_workload.run(repeats=repeats, quick=quick),   # timed in C
    }
    return runs[name]()


def _measure(work: Workload, budget: float) -> Rows:
    work.check()
    return [(work.name, label, seconds) for label, seconds in work.time(budget).items()]


def scaling(names: list[str], quick: bool) -> dict[str, tuple[float, float]]:
    """graphnn's median per workload on 1 thread (BLAS too) and on every core, each compiled
    with that `threads=`, checked, and timed back to back."""
    cores = available_cores()
    times: dict[str, tuple[float, float]] = {}
    for name in names:
        with _environment(BENCH_PEERS="none", BENCH_THREADS="1"):
            single = WORKLOADS[name](quick)
        with _environment(BENCH_PEERS="none", BENCH_THREADS=str(cores)):
            every = WORKLOADS[name](quick)
        for one, many in zip(single, every):
            one.check()
            many.check()
            with epoch.blas_threads(1):
                alone = one.time(0.3 if quick else 1.0)["graphnn"]
            times[one.name] = (alone, many.time(0.3 if quick else 1.0)["graphnn"])
    return times


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the workloads built inside (and restored after)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


if __name__ == "__main__":
    sys.exit(main())
