"""scale: compile time against graph size (issue 12; issue 17 asks for 5,000 nodes in under
2 s), for two graphs grown to 100, 1,000, 5,000 and 20,000 nodes (inputs and constants
counted, as `len(gn.Graph(y).nodes)`):

- "elementwise chain": y = tanh(y), y * 0.5, y + 0.25, y - 0.125, ... on 1,024 float64 values;
- "tanh/matmul chain": y = tanh(y @ W + b), 16x64 activations, one 64x64 W and b shared.

Each size is compiled in a fresh process with the disk cache off: the seconds from the graph
built to the first result returned, which is checked against gn.evaluate before it counts.

    python -m benchmarks --only scale            # or: python -m benchmarks.workloads.scale
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

import graphnn as gn
from benchmarks.workload import CheckError, options

SIZES = (100, 1_000, 5_000, 20_000)
QUICK_SIZES = (100, 1_000)
KINDS = ("elementwise chain", "tanh/matmul chain")
_LABELS = {"elementwise chain": "elementwise", "tanh/matmul chain": "tanh/matmul"}


def elementwise_chain(nodes: int) -> tuple[list[gn.Node], gn.Node, dict]:
    x = gn.input("x", shape=(1024,))
    y, count = x, 4                     # x and the three constants
    while count < nodes:
        y = (gn.tanh(y), y * 0.5, y + 0.25, y - 0.125)[count % 4]
        count += 1
    return [x], y, {"x": np.linspace(-3.0, 3.0, 1024)}


def matmul_chain(nodes: int) -> tuple[list[gn.Node], gn.Node, dict]:
    x = gn.input("x", shape=(16, 64))
    w, b = gn.input("W", shape=(64, 64)), gn.input("b", shape=(64,))
    y, count = x, 3
    while count < nodes:
        y = gn.tanh(y @ w + b)          # three nodes a block
        count += 3
    rng = np.random.default_rng(0)
    feed = {"x": rng.normal(size=(16, 64)), "W": rng.normal(size=(64, 64)) / 8.0,
            "b": rng.normal(size=64) / 8.0}
    return [x, w, b], y, feed


BUILDERS = {"elementwise chain": elementwise_chain, "tanh/matmul chain": matmul_chain}


def compile_and_check(kind: str, nodes: int) -> float:
    """Seconds from the graph built to gn.compile's first result (checked: CheckError)."""
    inputs, y, feed = BUILDERS[kind](nodes)
    start = time.perf_counter()
    result = gn.compile(y, inputs, **options())(**feed)
    seconds = time.perf_counter() - start
    want = gn.evaluate([y], feed)[0]
    if not np.allclose(result, want, rtol=1e-10, atol=1e-12):
        raise CheckError(f"compile {kind} {nodes} nodes: the compiled result differs from "
                         f"gn.evaluate by up to {np.max(np.abs(result - want))}")
    return seconds


def measure(kind: str, nodes: int) -> float:
    """compile_and_check in a fresh process with the disk cache off."""
    env = {**os.environ, "GRAPHNN_CACHE_DIR": "off"}
    result = subprocess.run([sys.executable, "-m", "benchmarks.workloads.scale", kind,
                             str(nodes)], capture_output=True, text=True, env=env, timeout=1800,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    if result.returncode != 0:
        raise RuntimeError(f"scale benchmark {kind} {nodes} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Rows (workload, implementation, seconds) for the benchmark table."""
    return [(f"scale {_LABELS[kind]} {nodes}", "graphnn", measure(kind, nodes))
            for kind in KINDS for nodes in (QUICK_SIZES if quick else SIZES)]


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(compile_and_check(sys.argv[1], int(sys.argv[2])))
    else:
        for kind, nodes in ((k, n) for k in KINDS for n in SIZES):
            print(f"{kind:<20} {nodes:>6} nodes {compile_and_check(kind, nodes):8.2f} s",
                  flush=True)
