"""A workload: implementations of one computation, checked against NumPy, then timed."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import graphnn as gn
from benchmarks.timing import median_seconds


def options() -> dict:
    """Compile options for graphnn in every workload: BENCH_GEMM chooses the matrix product,
    BENCH_THREADS the threads of parallel loops and graphnn's GEMM (`threads=`; unset: every
    core), BENCH_CPU the CPU code is generated for (`cpu=`), as `python -m benchmarks --gemm`,
    `--threads` and `--cpu` set them."""
    chosen: dict = {}
    if os.environ.get("BENCH_CPU"):
        chosen["cpu"] = os.environ["BENCH_CPU"]
    if os.environ.get("BENCH_GEMM"):
        chosen["gemm"] = os.environ["BENCH_GEMM"]
    if os.environ.get("BENCH_THREADS"):
        chosen["threads"] = int(os.environ["BENCH_THREADS"])
    return chosen


def gemm_flops(graph: gn.Graph) -> int:
    """Floating-point operations of a graph's matrix products and convolutions (2 per
    multiply-add), which is what a GEMM-bound workload is measured by against sgemm's rate. A
    convolution's gradients with respect to its input and its weights cost what it costs."""
    total = 0
    for node in graph.nodes:
        op = getattr(node.op, "name", node.op)
        if op == "matmul":
            total += 2 * math.prod(node.shape) * node.inputs[0].shape[-1]
        elif op == "conv2d":
            total += 2 * math.prod(node.shape) * math.prod(node.inputs[1].shape[1:])
        elif op == "conv2d_grad_input":
            total += 2 * math.prod(node.inputs[0].shape) * math.prod(node.inputs[1].shape[1:])
        elif op == "conv2d_grad_weight":
            total += 2 * math.prod(node.inputs[1].shape) * math.prod(node.shape[1:])
    return total


# the turns the implementations of a workload take when timed (Workload.time)
ROUNDS = 3


class CheckError(AssertionError):
    """An implementation disagrees with the NumPy reference: it is not timed."""


@dataclass
class Workload:
    name: str
    reference: Callable[[], list[np.ndarray]]          # NumPy, computed once
    implementations: dict[str, Callable[[], object]] = field(default_factory=dict)
    results: dict[str, Callable[[object], list[np.ndarray]]] = field(default_factory=dict)
    rtol: float = 1e-5
    atol: float = 1e-6
    note: str = ""
    # what bounds it, for the fraction of the machine's limit (benchmarks.limits): the GEMM
    # flops it computes, or else the bytes it must read and write; 0 where neither is known
    flops: int = 0
    bytes_moved: int = 0

    def add(self, label: str, run: Callable[[], object],
            result: Callable[[object], list[np.ndarray]] | None = None) -> None:
        """Register an implementation; `result` turns its return value into NumPy arrays."""
        self.implementations[label] = run
        self.results[label] = result or (lambda value: [np.asarray(v) for v in value])

    def check(self) -> None:
        """Every implementation against NumPy (raises CheckError naming the culprit)."""
        want = self.reference()
        for label, run in self.implementations.items():
            got = self.results[label](run())
            if len(got) != len(want):
                raise CheckError(f"{self.name}: {label} returned {len(got)} results, "
                                 f"expected {len(want)}")
            for k, (g, w) in enumerate(zip(got, want)):
                g = np.asarray(g, dtype=np.float64)
                w = np.asarray(w, dtype=np.float64)
                # absolute tolerance relative to the result's scale: float32 sums of many
                # terms round in proportion to their magnitude
                atol = self.atol * max(1.0, float(np.max(np.abs(w), initial=0.0)))
                if g.shape != w.shape or not np.allclose(g, w, rtol=self.rtol, atol=atol):
                    error = np.max(np.abs(g - w)) if g.shape == w.shape else "shape"
                    raise CheckError(f"{self.name}: {label} result {k} differs from NumPy "
                                     f"(max abs difference {error})")

    def time(self, budget: float = 1.0, rounds: int = ROUNDS) -> dict[str, float]:
        """Each implementation's seconds per call: the implementations take turns `rounds`
        times, each round a median over `budget / rounds` seconds
        (`benchmarks.timing.median_seconds`), and each keeps its fastest round. The VMs
        these run on switch between a fast and a slow phase for seconds at a time; timed one
        after the other, a phase change fell on one implementation alone (the ONNX ResNet at
        batch 32: graphnn 10.6 ms in one run, 7.7-8.1 ms in the next two, so 0.73x against
        1.01-1.11x onnxruntime)."""
        best: dict[str, float] = {}
        for _ in range(rounds):
            for label, run in self.implementations.items():
                seconds = median_seconds(run, budget / rounds)
                best[label] = min(best.get(label, seconds), seconds)
        return best


def training_steps(work: Workload, compiled: Callable, reference: Callable,
                   data: list[np.ndarray], params: list[np.ndarray]) -> None:
    """Register a training step's "graphnn" and "numpy" runs: `compiled(*data, *params)` and
    `reference(*data, *params)` both return [loss, *updated parameters]. Each run starts from
    `params` and carries its parameters from call to call, as a training loop does; graphnn
    writes them into one of two preallocated sets of arrays in turn (out=)."""
    work.flops = gemm_flops(compiled.graph)
    sets = [[p.copy() for p in params], [np.empty_like(p) for p in params]]
    loss_out = np.empty((), params[0].dtype)

    def run():
        current, following = sets
        results = compiled(*data, *current, out=[loss_out, *following])
        sets.reverse()
        return results
    work.add("graphnn", run)
    state = [p.copy() for p in params]

    def numpy_run():
        results = reference(*data, *state)
        state[:] = results[1:]
        return results
    work.add("numpy", numpy_run)
