"""distributed: what graphnn on a Dask cluster costs (docs/distributed.md quotes these figures).

1. Data-parallel training steps (`fit(..., client=)`'s ParallelStep) of the digits MLP
   (64-64-10) and the lecture MLP (784-256-10), ReLU, softmax cross-entropy, SGD, float32, at
   global batches of 256 and 4096, on a LocalCluster of 1 and of 2 worker processes (one thread
   each), against the single-process compiled step (one thread). Each step is split into
   - compute: the slowest worker's shard function (forward, backward, its part of the batch);
   - update: the optimizer's compiled update on the driver;
   - serialization: pickling the parameters out to each worker and the gradients back (the
     bytes a step moves: 2 x workers x parameter bytes), timed on the driver;
   - communication: the rest (scheduling the actor calls, the network, waiting).
2. Batch inference with `f.map_blocks`: one relu(x @ w) over 65,536 rows of 64 features cut
   into 1 to 256 chunks, with dask's threads and on the 2-worker cluster; the overhead per chunk
   is the time added per extra chunk.

    python -m benchmarks.distributed [--quick]

Timings are medians; the machine's load changes them (the first line prints it).
"""

from __future__ import annotations

import argparse
import logging
import pickle
import statistics
import time
from collections.abc import Callable

import numpy as np

import graphnn as gn
from benchmarks.epoch import blas_threads
from benchmarks.report import header
from graphnn import nn

MODELS = {"digits MLP 64-64-10": (64, 64, 10), "MLP 784-256-10": (784, 256, 10)}
BATCHES = (256, 4096)
CHUNKS = (1, 4, 16, 64, 256)
INFERENCE_ROWS = 65_536


def _model(sizes: tuple[int, int, int]) -> nn.Sequential:
    features, hidden, classes = sizes
    return nn.Sequential([nn.Dense(hidden, "relu"), nn.Dense(classes)], input_shape=(features,),
                         seed=0, compile_options={"threads": 1})


def _data(sizes: tuple[int, int, int], rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((rows, sizes[0]), dtype=np.float32)
    return x, nn.one_hot(rng.integers(0, sizes[2], rows), sizes[2])


def _median(call: Callable[[], object], repeats: int) -> float:
    call()                                                  # warm: compile, caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def single_step(sizes: tuple[int, int, int], batch: int, repeats: int) -> float:
    """Seconds of one compiled training step in this process."""
    model = _model(sizes)
    step = nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(0.1), seed=0)
    x, t = _data(sizes, batch)
    return _median(lambda: step(x, t), repeats)


def _serialization(arrays: list[np.ndarray], workers: int) -> float:
    """Pickling `arrays` out to each worker and same-sized gradients back, and unpickling."""
    started = time.perf_counter()
    for _ in range(2 * workers):
        pickle.loads(pickle.dumps(arrays, protocol=5))
    return time.perf_counter() - started


def parallel_step(client, sizes: tuple[int, int, int], batch: int, repeats: int) -> dict:
    """The parts of one data-parallel step on `client`'s workers (see the module docstring)."""
    from graphnn.distributed import ShardGroup
    from graphnn.nn.parallel import ParallelStep

    model = _model(sizes)
    step = nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(0.1), seed=0)
    x, t = _data(sizes, 2 * batch)
    group = ShardGroup(client, x, t, batch, step.loss.correct)
    try:
        parallel = ParallelStep(step, group, batch)
        batches = [np.arange(batch), np.arange(batch, 2 * batch)]
        parallel.reserve(batches)
        parallel(batches[0])                                # warm: the workers' first calls
        parallel.timings.clear()
        for k in range(repeats):
            parallel(batches[k % 2])
        total, compute, update = (statistics.median(c) for c in zip(*parallel.timings))
    finally:
        group.close()
    params = [model.values[p.name] for p in model.trainable]
    serialization = _serialization(params, len(group.workers))
    return {"total": total, "compute": compute, "update": update,
            "serialization": serialization,
            "communication": max(total - compute - update - serialization, 0.0),
            "bytes": 2 * len(group.workers) * sum(p.nbytes for p in params)}


def _inference(chunks: int, compute: Callable[..., object]) -> float:
    import dask.array as da

    rows = INFERENCE_ROWS // chunks
    x = gn.input("x", shape=(rows, 64), dtype="float32")
    w = gn.input("w", shape=(64, 32), dtype="float32")
    f = gn.compile(gn.relu(x @ w), threads=1)
    data = da.random.default_rng(0).random((INFERENCE_ROWS, 64), dtype=np.float32,
                                           chunks=rows).persist()
    weights = np.ones((64, 32), np.float32)
    return _median(lambda: compute(f.map_blocks(data, weights)), 5)


def inference(client) -> dict[str, dict[int, float]]:
    """map_blocks seconds per chunk count, with threads and on the cluster."""
    import dask

    with dask.config.set(scheduler="threads"):
        threaded = {k: _inference(k, lambda a: a.compute()) for k in CHUNKS}
    cluster = {k: _inference(k, lambda a: client.compute(a, sync=True)) for k in CHUNKS}
    return {"threads": threaded, "2 workers": cluster}


def _cluster(workers: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return cluster, Client(cluster)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f}"


def training_table(repeats: int, batches: tuple[int, ...]) -> list[str]:
    lines = [f"{'model':<20} {'batch':>5} {'where':<10} {'step ms':>8} {'compute':>8} "
             f"{'update':>8} {'serial.':>8} {'comm.':>8} {'MB/step':>8}"]
    single = {(name, b): single_step(sizes, b, repeats) for name, sizes in MODELS.items()
              for b in batches}
    for (name, b), seconds in single.items():
        lines.append(f"{name:<20} {b:>5} {'1 process':<10} {_ms(seconds)}")
    for workers in (1, 2):
        cluster, client = _cluster(workers)
        with cluster, client:
            for name, sizes in MODELS.items():
                for b in batches:
                    p = parallel_step(client, sizes, b, repeats)
                    lines.append(f"{name:<20} {b:>5} {f'{workers} worker':<10} "
                                 f"{_ms(p['total'])} {_ms(p['compute'])} {_ms(p['update'])} "
                                 f"{_ms(p['serialization'])} {_ms(p['communication'])} "
                                 f"{p['bytes'] / 1e6:8.2f}")
    return lines


def inference_table() -> list[str]:
    cluster, client = _cluster(2)
    with cluster, client:
        found = inference(client)
    lines = [f"{'map_blocks, 65536 rows':<24} " + " ".join(f"{k:>8}" for k in CHUNKS) +
             f" {'ms/chunk':>9}"]
    for where, times in found.items():
        per_chunk = (times[CHUNKS[-1]] - times[CHUNKS[0]]) / (CHUNKS[-1] - CHUNKS[0])
        lines.append(f"{where:<24} " + " ".join(_ms(times[k]) for k in CHUNKS) +
                     f" {_ms(per_chunk):>9}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 256 only, fewer repeats")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 15
    import scipy.linalg.cython_blas  # noqa: F401 (load graphnn's BLAS so that the limit reaches it)
    with blas_threads(1) as threads:          # the workers' BLAS has one thread (dask's nanny)
        print(f"{header()}\n# {threads}")
        print("\n".join(training_table(repeats, BATCHES[:1] if args.quick else BATCHES)))
        print()
        print("\n".join(inference_table()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
