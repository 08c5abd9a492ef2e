"""onnx: imported-model inference against onnxruntime, float32.

The models of tests/onnx/zoo.py (an MLP, a small CNN, a ResNet-style network), exported as
other frameworks export them, are imported with `gn.onnx.load` and compiled; each runs at
batch 1 and 32 next to an onnxruntime session of the same model, both with the same number of
threads (BENCH_THREADS, default 1) in this one process, and NumPy's and SciPy's BLAS (which
graphnn calls for matrix products) limited to as many (threadpoolctl): a BLAS left at its
default thread count on a loaded machine made calls 100-600x slower in whole 16 ms scheduler
slices. Each result is checked against onnxruntime's before anything is timed. Then every
convolution of the ResNet-style network alone, by kind (1x1, 3x3, strided, depthwise) at
batch 32: where the network's time goes.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import graphnn as gn
from benchmarks.epoch import blas_threads
from benchmarks.workload import Workload, options


def threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "1"))


def _session(proto):
    import onnxruntime
    settings = onnxruntime.SessionOptions()
    settings.intra_op_num_threads = threads()
    settings.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(proto.SerializeToString(), settings,
                                        providers=["CPUExecutionProvider"])


def _workload(label: str, proto, batch: int | None, note: str) -> Workload:
    """graphnn's compiled import and onnxruntime on one random input; the reference (checked
    before timing) is onnxruntime's result."""
    model = gn.onnx.load(proto, batch=batch)
    x = np.random.default_rng(0).normal(0, 1, model.inputs[0].shape).astype(np.float32)
    session = _session(proto)
    feed = {"x": x}
    work = Workload(label, lambda: session.run(None, feed), rtol=1e-4, atol=1e-4, note=note)
    compiled = model.compile(threads=threads(), **options())
    work.add("graphnn", lambda: compiled(x))
    work.add("onnxruntime", lambda: session.run(None, feed))
    return work


def build(quick: bool = False) -> list[Workload]:
    """The three models at batch 1 and 32, then the ResNet's convolutions by kind (none when
    onnx or onnxruntime is not installed)."""
    try:
        import onnxruntime  # noqa: F401

        from tests.onnx.zoo import MODELS, conv_layers
    except ImportError:
        print("# onnx: onnx or onnxruntime is not installed, skipped", file=sys.stderr)
        return []
    works = [_workload(f"onnx {name} batch {batch}", build_model(), batch,
                       f"imported {name}, {threads()} thread(s)")
             for name, build_model in MODELS.items() for batch in (1, 32)]
    seen: dict[str, int] = {}
    for kind, proto in conv_layers(MODELS["resnet"](), batch=8 if quick else 32):
        seen[kind] = seen.get(kind, 0) + 1
        shape = "x".join(str(d.dim_value) for d in
                         proto.graph.input[0].type.tensor_type.shape.dim[1:])
        works.append(_workload(f"onnx conv {kind} #{seen[kind]} {shape}", proto, None,
                               f"one Conv of the resnet, {kind}"))
    return works


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Every workload checked, then timed, with BLAS limited to the benchmark's threads."""
    rows = []
    with blas_threads(threads()):
        for work in build(quick):
            work.check()
            rows += [(work.name, label, seconds)
                     for label, seconds in work.time(0.3 if quick else 1.5).items()]
    return rows
