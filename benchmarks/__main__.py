"""`python -m benchmarks [--quick] [--only NAME ...]`: every workload, checked, then timed; a
table of medians and ratios (peer time / graphnn time: above 1 means graphnn is faster)."""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks import distributed, epoch
from benchmarks.report import machine_line, table
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter timing")
    parser.add_argument("--only", nargs="*",
                        choices=[*WORKLOADS, "compile", "epoch", "scale", "export", "mathchain",
                                 "onnx", "distributed"],
                        help="run only these workloads (scale: compile time against graph "
                             "size, 100 to 20,000 nodes; export: C calls of exported code; "
                             "mathchain: the new math functions against exp/tanh; "
                             "onnx: imported models against onnxruntime; "
                             "distributed: Dask clusters, its own tables, only when named)")
    parser.add_argument("--gemm", choices=("auto", "blas", "native", "loops"),
                        help="how graphnn runs matrix products (default: gn.compile's)")
    args = parser.parse_args(argv)
    if args.gemm:
        os.environ["BENCH_GEMM"] = args.gemm
    chosen = args.only or [*WORKLOADS, "compile", "epoch", "scale", "export", "mathchain",
                           "onnx"]
    print(machine_line())
    rows: list[tuple[str, str, float]] = []
    for name in chosen:
        if name == "distributed":           # starts LocalClusters; prints its own tables
            distributed.main(["--quick"] if args.quick else [])
            continue
        if name == "compile":
            rows += compile_workload.run(repeats=1 if args.quick else 3)
            continue
        if name == "epoch":                 # whole epochs, timed by its own module
            rows += epoch.run(repeats=1 if args.quick else 3, quick=args.quick)
            continue
        if name == "scale":                 # one compile per size, in fresh processes
            rows += scale.run(quick=args.quick)
            continue
        if name == "mathchain":             # two workloads and their ratio
            rows += mathchain.run(quick=args.quick)
            continue
        if name == "onnx":                  # BLAS limited to the threads onnxruntime gets
            rows += onnx_models.run(quick=args.quick)
            continue
        if name == "export":                # C calls, timed by a harness in C
            rows += export_workload.run(repeats=1 if args.quick else 3, quick=args.quick)
            continue
        for work in WORKLOADS[name](args.quick):
            rows += _measure(work, 0.3 if args.quick else 1.5)
        if os.environ.get("BENCH_PROGRESS"):
            print(table(rows), file=sys.stderr)
    print(table(rows))
    return 0


def _measure(work: Workload, budget: float) -> list[tuple[str, str, float]]:
    work.check()
    return [(work.name, label, seconds) for label, seconds in work.time(budget).items()]


if __name__ == "__main__":
    sys.exit(main())
