"""epoch: the time of one training epoch of the lecture's 784-256-10 ReLU MLP (softmax
cross-entropy, SGD at learning rate 0.1) on 60,000 synthetic MNIST-shaped float32 examples in
batches of 256, for graphnn, hand-written NumPy and PyTorch eager (when installed).

Every implementation first takes one step on a small batch from the same parameters and is
checked against NumPy in float64; then whole epochs are timed and the median reported. BLAS
threads (NumPy's and SciPy's OpenBLAS, which graphnn calls) are limited to `threads` through
threadpoolctl when it is installed, and PyTorch gets the same number: on a loaded machine a
multi-threaded BLAS can be many times slower than a single thread.

    python benchmarks/epoch.py [--threads N] [--repeats R] [--samples N]

or, from the benchmark runner, `measure(...)`, which returns the numbers (`run()` gives them as
rows of the runner's table).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np

import graphnn as gn
from graphnn import nn

LR = 0.1
SIZES = (784, 256, 10)


def synthetic(samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped data: pixels uniform in [0, 1), one-hot labels of 10 random classes."""
    rng = np.random.default_rng(seed)
    x = rng.random((samples, SIZES[0]), dtype=np.float32)
    t = np.eye(SIZES[2], dtype=np.float32)[rng.integers(0, SIZES[2], samples)]
    return x, t


def initial(seed: int = 1) -> list[np.ndarray]:
    """w1, b1, w2, b2: the lecture's randn * 0.01 weights, zero biases."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((784, 256)) * 0.01).astype(np.float32),
            np.zeros(256, np.float32),
            (rng.standard_normal((256, 10)) * 0.01).astype(np.float32),
            np.zeros(10, np.float32)]


# -- NumPy --------------------------------------------------------------------------------------

def numpy_step(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> float:
    """One SGD step, forward and backward written out by hand; updates params in place."""
    w1, b1, w2, b2 = params
    n = x.shape[0]
    z1 = x @ w1
    z1 += b1
    h = np.maximum(z1, 0, out=z1)                     # relu in place: z1 is not needed again
    z2 = h @ w2
    z2 += b2
    z2 -= z2.max(axis=1, keepdims=True)
    e = np.exp(z2)
    total = e.sum(axis=1, keepdims=True)
    loss = float(-(t * (z2 - np.log(total))).sum() / n)
    dz2 = e / total
    dz2 -= t
    dz2 /= n
    dh = dz2 @ w2.T
    dh *= h > 0
    w2 -= LR * (h.T @ dz2)
    b2 -= LR * dz2.sum(axis=0)
    w1 -= LR * (x.T @ dh)
    b1 -= LR * dh.sum(axis=0)
    return loss


def numpy_epoch(params: list[np.ndarray], x: np.ndarray, t: np.ndarray, batch: int) -> None:
    for start in range(0, x.shape[0], batch):
        numpy_step(params, x[start:start + batch], t[start:start + batch])


# -- graphnn ------------------------------------------------------------------------------------

def graphnn_model(params: list[np.ndarray], **compile_options) -> nn.Sequential:
    model = nn.Sequential([nn.Dense(256, "relu"), nn.Dense(10)], input_shape=(784,),
                          compile_options=compile_options)
    model.set_parameters(dict(zip(["dense1_w", "dense1_b", "dense2_w", "dense2_b"], params)))
    return model


def graphnn_epoch(step: nn.TrainStep, x: np.ndarray, t: np.ndarray, batch: int) -> None:
    for start in range(0, x.shape[0], batch):
        step(x[start:start + batch], t[start:start + batch])


def graphnn_parameters(model: nn.Sequential) -> list[np.ndarray]:
    return [model.values[k] for k in ("dense1_w", "dense1_b", "dense2_w", "dense2_b")]


# -- PyTorch ------------------------------------------------------------------------------------

def torch_setup(torch, params: list[np.ndarray]):
    """Parameters as leaf tensors (a copy), torch.optim.SGD, and the step function."""
    leaves = [torch.tensor(p, requires_grad=True) for p in params]
    optimizer = torch.optim.SGD(leaves, lr=LR)
    functional = torch.nn.functional

    def step(x, t) -> float:
        w1, b1, w2, b2 = leaves
        logits = torch.relu(x @ w1 + b1) @ w2 + b2
        loss = functional.cross_entropy(logits, t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()
    return leaves, step


def torch_epoch(step, x, labels, batch: int) -> None:
    for start in range(0, x.shape[0], batch):
        step(x[start:start + batch], labels[start:start + batch])


# -- checking and timing ------------------------------------------------------------------------

class CheckError(AssertionError):
    """An implementation's step disagrees with NumPy's float64 step: it is not timed."""


def _reference_step(x: np.ndarray, t: np.ndarray) -> tuple[float, list[np.ndarray]]:
    params = [p.astype(np.float64) for p in initial()]
    loss = numpy_step(params, x.astype(np.float64), t.astype(np.float64))
    return loss, params


def _check(label: str, loss: float, params: list[np.ndarray], want) -> None:
    want_loss, want_params = want
    if not np.isclose(loss, want_loss, rtol=1e-5):
        raise CheckError(f"{label}: loss {loss} differs from NumPy's {want_loss}")
    for name, got, expected in zip(("w1", "b1", "w2", "b2"), params, want_params):
        # float32 against float64: a few ulps of the updated parameters
        if not np.allclose(got, expected, rtol=1e-4, atol=1e-6):
            error = float(np.max(np.abs(got - expected)))
            raise CheckError(f"{label}: updated {name} differs from NumPy's (max {error:.3g})")


@contextlib.contextmanager
def blas_threads(threads: int | None) -> Iterator[str]:
    """Limit NumPy's and SciPy's BLAS to `threads` (threadpoolctl), yielding a description."""
    if threads is None:
        yield "BLAS threads: library default"
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield "BLAS threads: not limited (threadpoolctl is not installed)"
        return
    with threadpool_limits(limits=threads, user_api="blas"):
        yield f"BLAS threads: {threads}"


def _optional_torch(threads: int | None):
    """PyTorch set to `threads`, or None when it is not installed or left out by BENCH_PEERS
    (a comma-separated list of peers, as for `python -m benchmarks`: "none" leaves all out)."""
    chosen = os.environ.get("BENCH_PEERS")
    if chosen is not None and "torch" not in chosen.split(","):
        return None
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    torch.set_num_threads(threads or os.cpu_count() or 1)
    return torch


def _implementations(x: np.ndarray, t: np.ndarray, batch: int, threads: int | None, check):
    """label -> a function running one epoch, after each passed its check step (on the first
    64 examples)."""
    xs, ts = x[:64], t[:64]
    runs = {}

    for label, gemm in (("graphnn", "auto"), ("graphnn native", "native")):
        model = graphnn_model(initial(), threads=threads, gemm=gemm)
        step = nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(lr=LR))
        check(label, step(xs, ts), graphnn_parameters(model))
        runs[label] = functools.partial(graphnn_epoch, step, x, t, batch)

    params = initial()
    check("numpy", numpy_step(params, xs, ts), params)
    runs["numpy"] = lambda: numpy_epoch(params, x, t, batch)

    torch = _optional_torch(threads)
    if torch is not None:
        leaves, torch_step = torch_setup(torch, initial())
        tx, labels = torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))
        loss = torch_step(tx[:64], labels[:64])
        check("torch eager", loss, [p.detach().numpy() for p in leaves])
        runs["torch eager"] = lambda: torch_epoch(torch_step, tx, labels, batch)
    return runs


def measure(samples: int = 60_000, batch: int = 256, repeats: int = 3,
            threads: int | None = 1) -> dict:
    """Check, then time epochs of every implementation available.

    Returns {"workload", "settings", "load_average", "epochs": {label: [seconds, ...]},
    "median": {label: seconds}, "ratio": {label: median / graphnn's median}}.
    A warm-up epoch (compilation of both batch sizes, caches, page faults) is not timed.
    """
    x, t = synthetic(samples)
    want = _reference_step(x[:64], t[:64])

    def check(label, loss, params):
        _check(label, loss, params, want)

    # built (and compiled) first: threadpoolctl limits the BLAS libraries loaded at the time,
    # and SciPy's, which graphnn calls, may be loaded by the first compilation
    runs = _implementations(x, t, batch, threads, check)
    with blas_threads(threads) as blas:
        epochs: dict[str, list[float]] = {label: [] for label in runs}
        for run in runs.values():
            run()                                           # warm up
        for _ in range(repeats):        # round robin: a change of load hits every label alike
            for label, run in runs.items():
                start = time.perf_counter()
                run()
                epochs[label].append(time.perf_counter() - start)
    median = {label: statistics.median(times) for label, times in epochs.items()}
    return {"workload": f"epoch: 784-256-10 MLP, SGD lr {LR}, {samples} samples, batch {batch}",
            "settings": f"{blas}; torch and graphnn threads: {threads or 'all cores'}",
            "load_average": os.getloadavg()[0], "epochs": epochs, "median": median,
            "ratio": {label: m / median["graphnn"] for label, m in median.items()}}


# -- where graphnn's step spends its time -------------------------------------------------------

def _interleaved(calls: dict[str, Callable[[], object]], rounds: int = 40) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved round by round."""
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(rounds):
        for label, call in calls.items():
            for _ in range(3):
                start = time.perf_counter()
                call()
                times[label].append(time.perf_counter() - start)
    return {label: statistics.median(ts) for label, ts in times.items()}


def _products(batch: int, options: dict) -> Callable[[], None]:
    """The step's five matrix products, each compiled alone (same shapes and transposes)."""
    a, b = gn.input("a", (batch, 784), "float32"), gn.input("b", (784, 256), "float32")
    c, d = gn.input("c", (batch, 256), "float32"), gn.input("d", (256, 10), "float32")
    e = gn.input("e", (batch, 10), "float32")
    products = [(a @ b, [a, b]), (c @ d, [c, d]), (e @ gn.transpose(d), [e, d]),
                (gn.transpose(a) @ c, [a, c]), (gn.transpose(c) @ e, [c, e])]
    rng = np.random.default_rng(0)
    calls = []
    for node, inputs in products:
        function = gn.compile(node, inputs, **options)
        arrays = [rng.random(i.shape, dtype=np.float32) for i in inputs]
        out = np.empty(node.shape, np.float32)
        calls.append(functools.partial(function, *arrays, out=out))
    return lambda: [call() for call in calls]


@contextlib.contextmanager
def _cache_setting(value: str | None) -> Iterator[None]:
    """GRAPHNN_CACHE_DIR set to `value` inside the block (unchanged when None)."""
    saved = os.environ.get("GRAPHNN_CACHE_DIR")
    if value is not None:
        os.environ["GRAPHNN_CACHE_DIR"] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("GRAPHNN_CACHE_DIR", None)
        else:
            os.environ["GRAPHNN_CACHE_DIR"] = saved


def breakdown(batch: int = 256, threads: int | None = 1, gemm: str = "auto") -> dict:
    """Where one training step of graphnn goes, in median seconds per step: the whole
    TrainStep call, the compiled function called directly, its five matrix products compiled
    alone, and NumPy's step with its two large products, for comparison; and the compile
    time of the step (without and with the disk cache)."""
    x, t = synthetic(batch)
    options = {"threads": threads, "gemm": gemm}
    seconds: dict[str, float] = {}
    for label, cache in (("compile", "off"), ("load from cache", None)):
        with _cache_setting(cache):
            start = time.perf_counter()
            step = nn.TrainStep(graphnn_model(initial(), **options), "softmax_cross_entropy",
                                nn.SGD(lr=LR))
            step(x, t)
            seconds[label] = time.perf_counter() - start
    compiled = step._compiled[batch]            # a diagnostic: the step's own parts
    current = {**step.model.values, **step.slots}
    arrays = [x, t, *(current[n] for n in compiled.graph.buffers),
              *compiled.scalars.values()]
    out = [compiled.loss, compiled.output,
           *(np.empty_like(current[n]) for n in compiled.graph.buffers)]
    params, w1 = initial(), initial()[0]
    dh = np.random.default_rng(0).random((batch, 256), dtype=np.float32)
    with blas_threads(threads):
        seconds.update(_interleaved({
            "TrainStep call": lambda: step(x, t),
            "compiled function call": lambda: compiled.function(*arrays, out=out),
            "its matrix products alone": _products(batch, options),
            "numpy step": lambda: numpy_step(params, x, t),
            "numpy's two large products": lambda: (x @ w1, x.T @ dh),
        }))
    return seconds


def run(repeats: int = 3, quick: bool = False) -> list[tuple[str, str, float]]:
    """Rows (workload, implementation, median seconds) for `python -m benchmarks`' table;
    `quick` times a tenth of the epoch."""
    result = measure(samples=6_000 if quick else 60_000, repeats=repeats)
    name = "epoch 784-256-10" + (" (6k samples)" if quick else "")
    return [(name, label, seconds) for label, seconds in result["median"].items()]


def report(result: dict) -> str:
    """The measurements as a table: median epoch time and ratio to graphnn (above 1: graphnn
    is faster)."""
    lines = [f"# {result['workload']}", f"# {result['settings']}; load average "
             f"{result['load_average']:.2f} on {os.cpu_count()} cores",
             f"{'implementation':<14} {'median epoch':>13} {'vs graphnn':>11}   all epochs"]
    for label, seconds in result["median"].items():
        every = ", ".join(f"{s:.3f}" for s in result["epochs"][label])
        lines.append(f"{label:<14} {seconds:>11.3f} s {result['ratio'][label]:>10.2f}x   "
                     f"{every}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS, PyTorch and graphnn threads (0: library defaults)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per implementation")
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--breakdown", action="store_true",
                        help="also show where one graphnn step spends its time")
    args = parser.parse_args(argv)
    threads = args.threads or None
    print(report(measure(args.samples, args.batch, args.repeats, threads)))
    if args.breakdown:
        for label, seconds in breakdown(args.batch, threads).items():
            unit = (seconds, "s") if seconds > 0.1 else (seconds * 1e3, "ms")
            print(f"{label:<28} {unit[0]:8.3f} {unit[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
